// Print vitest's JSON results as plain lines, one per run, then the closing line over all of
// them: "tests: N passed, N failed, N skipped". Arguments: LABEL=FILE.json (or just FILE.json).
import { readFileSync } from 'node:fs'
const total = { passed: 0, failed: 0, skipped: 0, runs: 0, empty: false }
const args = process.argv.slice(2)
for (const arg of args) {
  const [label, file] = arg.includes('=') ? arg.split('=', 2) : ['', arg]
  let r
  try {
    r = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    console.log(`${label || file}: no results (${error.code ?? error.message})`)
    total.empty = true
    continue
  }
  const skipped = r.numPendingTests + r.numTodoTests
  total.passed += r.numPassedTests
  total.failed += r.numFailedTests
  total.skipped += skipped
  total.empty ||= r.numTotalTests === 0
  if (args.length > 1) console.log(`${label || file}: passed ${r.numPassedTests}, failed ${r.numFailedTests}, skipped ${skipped} of ${r.numTotalTests}`)
}
console.log(`tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`)
if (total.failed > 0 || total.empty) process.exit(1)

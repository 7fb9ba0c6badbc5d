// Many processes, one cache: origin requests and throughput for 1, 2 and 4 processes sharing
// one SQLite file (and one cacache folder), each making the same number of requests over the
// same URLs against a slow origin on 127.0.0.1. Usage: npm run build && node bench/processes.mjs
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 500)
const URLS = Number(process.env.BENCH_URLS ?? 50)
const DELAY = Number(process.env.BENCH_ORIGIN_MS ?? 100)
const worker = new URL('../test/workers/stress-worker.mjs', import.meta.url).pathname

let originRequests = 0
const server = http.createServer((req, res) => {
  originRequests++
  const i = Number(req.url.split('/').pop())
  const body = createHash('sha256').update(`body-${i}`).digest('hex').repeat(64)
  setTimeout(() => {
    res.writeHead(200, { 'cache-control': 'max-age=3600', 'content-type': 'text/plain' })
    res.end(body)
  }, DELAY)
})
await new Promise((ok) => server.listen(0, '127.0.0.1', ok))
const base = `http://127.0.0.1:${server.address().port}`

function run(backend, name, seed) {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [worker, base, backend, name, String(REQUESTS), String(URLS), '16', String(seed)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (c) => (out += c))
    child.on('exit', (code) => (code === 0 ? ok(JSON.parse(out.trim().split('\n').pop())) : fail(new Error(`worker exited ${code}`))))
  })
}

const rows = []
for (const backend of ['sqlite', 'filesystem']) {
  for (const processes of [1, 2, 4]) {
    const dir = mkdtempSync(join(tmpdir(), 'fetchcache-procs-'))
    const before = originRequests
    const t = performance.now()
    const results = await Promise.all(Array.from({ length: processes }, (_, i) => run(backend, join(dir, 'shared'), i + 1)))
    const ms = performance.now() - t
    rmSync(dir, { recursive: true, force: true })
    const total = processes * REQUESTS
    const errors = results.reduce((s, r) => s + r.failures + r.mismatches + r.backendErrors, 0)
    rows.push({ backend, processes, total, origin: originRequests - before, errors, ms, rps: total / (ms / 1000) })
  }
}
server.close()

console.log(`\n${REQUESTS} requests per process over ${URLS} URLs, origin delay ${DELAY} ms, 16 in flight per process\n`)
console.log('| backend | processes | requests | origin requests | errors | wall time (ms) | requests/s |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const r of rows) {
  console.log(`| ${r.backend} | ${r.processes} | ${r.total} | ${r.origin} | ${r.errors} | ${r.ms.toFixed(0)} | ${r.rps.toFixed(0)} |`)
}

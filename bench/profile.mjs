// CPU profile of one contender x scenario, summarised: where the hit path spends its time.
//
//   node bench/profile.mjs [contender] [scenario-mode] [size] [ops]
//   node bench/profile.mjs fc-fetch-sqlite seq 1024 20000
//   node bench/profile.mjs fc-interceptor-sqlite-request seq 1024
//   node bench/profile.mjs fc-fetch-sqlite seq 1048576 1000
//   node bench/profile.mjs fc-fetch-sqlite miss 1024 3000
//   node bench/profile.mjs cold                      (process start to first hit, 10,000 entries)
//   PROFILE_FOCUS=responseFrom,lookup node bench/profile.mjs ...   (time inside those, by callee)
//
// Starts the origin, runs bench/contender.mjs under `node --cpu-prof`, then prints the top
// functions by self time and the fetchcache (dist/) functions by inclusive time, with their
// dist/ location and the matching src/ line where one is found. Build first (npm run build).
import { fork, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = dirname(fileURLToPath(import.meta.url))
const ROOT = join(HERE, '..')
const [contender = 'fc-fetch-sqlite', mode = 'seq', size = '1024', ops = '20000'] = process.argv.slice(2)
const TOP = Number(process.env.PROFILE_TOP ?? 30)

const origin = fork(join(HERE, 'origin.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
const port = await new Promise((resolve) => origin.once('message', (m) => resolve(m.port)))
const dir = mkdtempSync(join(os.tmpdir(), 'fetchcache-prof-'))
const base = `http://127.0.0.1:${port}`
const cfg = { mode, contender, origin: base, size: Number(size), ops: Number(ops), warmup: 500, timeMs: 10_000 }
const node = (args, interval = 100) =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${interval}`, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
    let s = ''
    child.stdout.on('data', (d) => (s += d))
    child.on('close', () => resolve(s))
  })
let out
if (contender === 'cold') {
  // `node bench/profile.mjs cold`: process start to first hit from a 10,000-entry store.
  const name = join(dir, 'store', 'cache')
  const setup = spawn(process.execPath, [join(HERE, 'contender.mjs'), JSON.stringify({ mode: 'setup-store', origin: base, name, total: 10_000, real: 1, size: 1024 })], { cwd: ROOT, stdio: 'ignore' })
  await new Promise((r) => setup.on('close', r))
  out = await node([join(HERE, 'cold.mjs'), 'fetchcache', name, `${base}/json/1024?i=0`], 50)
} else {
  out = await node([join(HERE, 'contender.mjs'), JSON.stringify(cfg)])
}
origin.kill()
const result = out.split('\n').find((l) => l.startsWith('RESULT ')) ?? out.trim()
console.log(contender === 'cold' ? `cold start: ${result}` : `${contender} ${mode} ${size} B: ${result}`)

const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
if (!file) {
  console.error('no profile written')
  process.exit(1)
}
const prof = JSON.parse(readFileSync(join(dir, file), 'utf8'))
rmSync(dir, { recursive: true, force: true })

const byId = new Map(prof.nodes.map((n) => [n.id, n]))
const parent = new Map()
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const self = new Map()
let total = 0
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i] ?? 0
  total += dt
  self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt)
}

const where = (cf) => {
  const url = cf.url ? cf.url.replace(/^file:\/\//, '') : ''
  const file = url.startsWith(ROOT) ? relative(ROOT, url) : url.replace(/^.*node_modules\//, 'node_modules/') || '(native)'
  return `${file}:${cf.lineNumber + 1}`
}
const fnKey = (cf) => `${cf.functionName || '(anonymous)'} ${where(cf)}`

/** src/ line of a dist/ function, by its name: dist mirrors src closely. */
const srcCache = new Map()
function srcLine(cf) {
  const url = (cf.url ?? '').replace(/^file:\/\//, '')
  if (!url.startsWith(join(ROOT, 'dist'))) return ''
  const src = join(ROOT, 'src', relative(join(ROOT, 'dist'), url)).replace(/\.js$/, '.ts')
  if (!existsSync(src)) return ''
  if (!srcCache.has(src)) srcCache.set(src, readFileSync(src, 'utf8').split('\n'))
  const lines = srcCache.get(src)
  const name = cf.functionName
  if (!name) return ''
  const n = name.replace(/[$]/g, '\\$&')
  const patterns = [
    new RegExp(`function\\s*\\*?\\s*${n}\\b`),
    new RegExp(`^\\s*(export\\s+)?(public\\s+|private\\s+|protected\\s+)?(static\\s+)?(async\\s+)?(\\*\\s*)?(get\\s+|set\\s+)?${n}\\s*(<[^>]*>)?\\(`),
    new RegExp(`(const|let|var)\\s+${n}\\s*=`),
    new RegExp(`class\\s+${n}\\b`),
  ]
  for (const re of patterns) {
    const i = lines.findIndex((l) => re.test(l) && !/^\s*(\/\/|\*)/.test(l))
    if (i !== -1) return ` → ${relative(ROOT, src)}:${i + 1}`
  }
  return ''
}

const selfBy = new Map()
for (const [id, t] of self) {
  const n = byId.get(id)
  const k = fnKey(n.callFrame)
  const e = selfBy.get(k) ?? { t: 0, cf: n.callFrame }
  e.t += t
  selfBy.set(k, e)
}
const ms = (t) => (t / 1000).toFixed(1).padStart(8)
const share = (t) => `${((100 * t) / total).toFixed(1).padStart(5)}%`

console.log(`\nsampled ${(total / 1e6).toFixed(2)} s\n\nTop ${TOP} by self time:`)
for (const [k, e] of [...selfBy].sort((a, b) => b[1].t - a[1].t).slice(0, TOP)) console.log(`${ms(e.t)} ms ${share(e.t)}  ${k}${srcLine(e.cf)}`)

// Self time by package / file: what a cold start spends importing.
const pkgOf = (cf) => {
  const url = (cf.url ?? '').replace(/^file:\/\//, '')
  const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url)
  if (m) return `node_modules/${m[1]}`
  if (url.startsWith(ROOT)) return relative(ROOT, url).replace(/^(dist|bench)\/.*$/, '$1/')
  if (url.startsWith('node:')) return 'node: internals'
  return cf.functionName ? `(${cf.functionName})` : '(native)'
}
const byPkg = new Map()
for (const [id, t] of self) {
  const k = pkgOf(byId.get(id).callFrame)
  byPkg.set(k, (byPkg.get(k) ?? 0) + t)
}
console.log('\nSelf time by package:')
for (const [k, t] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${ms(t)} ms ${share(t)}  ${k}`)

// Inclusive time of fetchcache's own functions (each sample counted once per function).
const incl = new Map()
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i] ?? 0
  const seen = new Set()
  for (let id = prof.samples[i]; id !== undefined; id = parent.get(id)) {
    const cf = byId.get(id).callFrame
    if (!(cf.url ?? '').includes('/dist/')) continue
    const k = fnKey(cf)
    if (seen.has(k)) continue
    seen.add(k)
    const e = incl.get(k) ?? { t: 0, cf }
    e.t += dt
    incl.set(k, e)
  }
}
console.log(`\nfetchcache (dist/) functions by inclusive time:`)
for (const [k, e] of [...incl].sort((a, b) => b[1].t - a[1].t).slice(0, TOP)) console.log(`${ms(e.t)} ms ${share(e.t)}  ${k}${srcLine(e.cf)}`)

// PROFILE_FOCUS=responseFrom,lookup: where the time inside those functions goes (callees, inclusive).
for (const focus of (process.env.PROFILE_FOCUS ?? '').split(',').filter(Boolean)) {
  const under = new Map()
  let inFocus = 0
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i] ?? 0
    // Walk up to the outermost frame named `focus`; charge the frame just below it.
    let child
    let hit
    let below
    for (let id = prof.samples[i]; id !== undefined; id = parent.get(id)) {
      const cf = byId.get(id).callFrame
      // Only the project's own functions (dist/, bench/): node has its own `run`, `get`, …
      if (cf.functionName === focus && (cf.url ?? '').startsWith(`file://${ROOT}/`) && !(cf.url ?? '').includes('/node_modules/')) {
        hit = cf
        below = child
      }
      child = cf
    }
    if (!hit) continue
    inFocus += dt
    const k = below ? fnKey(below) : '(self)'
    const e = under.get(k) ?? { t: 0, cf: below ?? hit }
    e.t += dt
    under.set(k, e)
  }
  console.log(`\ninside ${focus} (${ms(inFocus).trim()} ms), by direct callee:`)
  for (const [k, e] of [...under].sort((a, b) => b[1].t - a[1].t).slice(0, TOP)) console.log(`${ms(e.t)} ms ${((100 * e.t) / inFocus).toFixed(1).padStart(5)}%  ${k}${k === '(self)' ? '' : srcLine(e.cf)}`)
}
process.exit(0)

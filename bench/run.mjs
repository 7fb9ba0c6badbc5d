// `npm run bench`: the benchmark of issue 5.
//
// Starts the origin (bench/origin.mjs) in its own process, builds the pre-populated SQLite
// stores once, then runs every contender x scenario as a fresh `node bench/contender.mjs`
// process, interleaved in a shuffled order that changes every round. Each process reports its
// own p50/p99/ops/s; the table shows the median over rounds of those figures. Prints one
// markdown table plus the targets and writes them to bench/RESULTS.md (quick or partial runs:
// bench/RESULTS.partial.md, so a smoke test never replaces the full results).
//
// Environment:
//   BENCH_ROUNDS=5        rounds (each contender x scenario once per round)
//   BENCH_OPS=n           measured ops per hit process (default 1500; a tenth at 1 MiB; 3x with 64 in flight)
//   BENCH_QUICK=1         smoke test in about a minute: 1 round, few ops, 20,000-entry large store,
//                         300 misses and 300 disk entries
//   BENCH_BIG_STORE=n     entries in the large store (default 200,000)
//   BENCH_ONLY=a,b        only the scenarios whose id contains one of these strings
//   BENCH_CONTENDERS=a,b  only these contenders (plus the floors and undici's cache)
//   Redis rows run when redis-server is installed: one server on a free loopback port, no
//   persistence, started here and stopped at the end (or FETCHCACHE_BENCH_REDIS=redis://…).
import { execFileSync, fork, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CONTENDERS } from './contenders.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
const ROOT = join(HERE, '..')
const env = process.env
const int = (v, d) => (v === undefined || v === '' ? d : Math.max(1, Math.floor(Number(v))))
const QUICK = env.BENCH_QUICK === '1'
const ROUNDS = int(env.BENCH_ROUNDS, QUICK ? 1 : 5)
const OPS = env.BENCH_OPS ? int(env.BENCH_OPS) : undefined
const BIG = int(env.BENCH_BIG_STORE, QUICK ? 20_000 : 200_000)
const COLD_SPAWNS = QUICK ? 3 : 5
const ONLY = env.BENCH_ONLY ? env.BENCH_ONLY.split(',') : undefined
const KiB = 1024
const MiB = 1024 * KiB

const log = (...a) => process.stderr.write(`${a.join(' ')}\n`)

// ---------------------------------------------------------------------------------------------
// Contenders and scenarios

const fc = await import('fetchcache')
const TIERED = typeof fc.TieredBackend === 'function'
const { startBenchRedis } = await import('./redis.mjs')
const redis = typeof fc.RedisBackend === 'function' ? await startBenchRedis() : undefined
if (redis) env.FETCHCACHE_BENCH_REDIS = redis.url
const REDIS = redis ? ['fc-fetch-redis', 'fc-interceptor-redis-request'] : []
const HIT = [
  'fc-fetch-sqlite',
  'fc-fetch-memory',
  ...(TIERED ? ['fc-fetch-tiered'] : []),
  ...REDIS,
  'fc-interceptor-sqlite-request',
  'fc-interceptor-memory-request',
  'fc-install-sqlite-fetch',
  'node-fetch',
  'undici-request',
  'undici-fetch',
  'undici-cache-request',
  'undici-cache-fetch',
  'mfh',
  'floor-sqlite',
  'floor-memory',
]
// node-fetch-agent7 is what createCachedFetch's misses ride on minus the cache (Node's fetch into an undici 7 Agent).
const MISS = HIT.filter((c) => !c.startsWith('floor')).flatMap((c) => (c === 'node-fetch' ? [c, 'node-fetch-agent7'] : [c]))
const STORE = ['fc-fetch-sqlite', 'fc-interceptor-sqlite-request']
const KEEP = env.BENCH_CONTENDERS ? new Set([...env.BENCH_CONTENDERS.split(','), 'floor-sqlite', 'floor-memory', 'undici-cache-fetch', 'undici-cache-request', 'node-fetch']) : undefined
const pick = (list) => (KEEP ? list.filter((c) => KEEP.has(c)) : list)

const q = (quick, full) => (QUICK ? quick : full)
const MISSES = q(300, 1000)
const DISK_N = q(300, 1000)
const SCENARIOS = [
  { id: 'seq-1k', title: 'sequential hits, 1 KiB', mode: 'seq', size: KiB, ops: OPS ?? q(200, 1500), warmup: q(50, 200), timeMs: q(500, 1500), contenders: pick(HIT) },
  { id: 'seq-32k', title: 'sequential hits, 32 KiB', mode: 'seq', size: 32 * KiB, ops: OPS ?? q(200, 1500), warmup: q(50, 200), timeMs: q(500, 1500), contenders: pick(HIT) },
  { id: 'seq-1m', title: 'sequential hits, 1 MiB', mode: 'seq', size: MiB, ops: Math.ceil((OPS ?? q(200, 1500)) / 10), warmup: q(10, 150), timeMs: q(500, 1500), contenders: pick(HIT) },
  { id: 'conc64', title: '64 hits in flight, 1 KiB', mode: 'conc', size: KiB, concurrency: 64, ops: (OPS ?? q(200, 1500)) * 3, warmup: q(128, 512), timeMs: q(500, 1500), contenders: pick(HIT) },
  { id: 'miss-store', title: `miss and store, ${MISSES.toLocaleString('en')} fresh URLs, 1 KiB`, mode: 'miss', size: KiB, ops: MISSES, warmup: q(50, 100), timeMs: 10_000, contenders: pick(MISS) },
  { id: 'store-1k', title: 'hits in a 1,000-entry store, 1 KiB (100 URLs round-robin)', mode: 'seq', size: KiB, urls: 100, store: 'small', ops: OPS ?? q(200, 1500), warmup: q(50, 200), timeMs: q(500, 1500), contenders: STORE },
  { id: 'store-big', title: `hits in a ${BIG.toLocaleString('en')}-entry store, 1 KiB (100 URLs round-robin)`, mode: 'seq', size: KiB, urls: 100, store: 'big', ops: OPS ?? q(200, 1500), warmup: q(50, 200), timeMs: q(500, 1500), contenders: STORE },
  { id: 'cold', title: 'process start to first hit, 10,000-entry SQLite store (ms)', mode: 'cold', contenders: ['undici-import', 'fc-cold'] },
].filter((s) => !ONLY || ONLY.some((o) => s.id.includes(o)))

const COLD_LABELS = {
  'undici-import': 'node: import undici only',
  'fc-cold': 'node: import fetchcache, open store, one hit',
}

// ---------------------------------------------------------------------------------------------
// Processes

const tmp = mkdtempSync(join(os.tmpdir(), 'fetchcache-bench-'))
let origin
let cleaned = false
function cleanup() {
  if (cleaned) return
  cleaned = true
  try {
    origin?.kill()
    redis?.stop()
  } catch {}
  rmSync(tmp, { recursive: true, force: true })
}
process.on('exit', cleanup)
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    cleanup()
    process.exit(130)
  })
}

origin = fork(join(HERE, 'origin.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
const port = await new Promise((resolve, reject) => {
  origin.once('message', (m) => resolve(m.port))
  origin.once('exit', (code) => reject(new Error(`origin exited (${code})`)))
})
const ORIGIN = `http://127.0.0.1:${port}`
let countId = 0
function originRequests() {
  const id = ++countId
  return new Promise((resolve) => {
    const on = (m) => {
      if (m.id !== id) return
      origin.off('message', on)
      resolve(m.requests)
    }
    origin.on('message', on)
    origin.send({ op: 'count', id })
  })
}

/** Run one contender process; resolves with its RESULT json (or { error }). */
function runNode(args, timeoutMs = 120_000) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      const line = out.split('\n').find((l) => l.startsWith('RESULT '))
      if (!line) return resolve({ error: `exit ${code}: ${err.trim().split('\n').slice(-3).join(' | ') || 'no output'}` })
      const r = JSON.parse(line.slice(7))
      if (r.error) r.error += ` | ${err.trim().split('\n').slice(-2).join(' | ')}`
      resolve(r)
    })
  })
}

/** Spawn to first stdout line, in µs (the child exits right after). */
function coldOnce(args) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint()
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let t1
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => {
      if (t1 === undefined && String(d).includes('\n')) t1 = process.hrtime.bigint()
      out += d
    })
    child.stderr.on('data', (d) => (err += d))
    child.on('close', (code) => {
      if (t1 === undefined || code !== 0) resolve({ error: `exit ${code}: ${err.trim().split('\n').slice(-2).join(' | ')}` })
      else resolve({ us: Number(t1 - t0) / 1e3, line: out.trim() })
    })
  })
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]
}
const fmtUs = (v) => (!Number.isFinite(v) ? '—' : v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(1))
const fmtOps = (v) => (!Number.isFinite(v) ? '—' : Math.round(v).toLocaleString('en'))
const fmtX = (v) => (!Number.isFinite(v) ? '—' : `${v.toFixed(2)}x`)
const fmtBytes = (b) => (b >= MiB ? `${(b / MiB).toFixed(2)} MiB` : `${(b / KiB).toFixed(1)} KiB`)

function shuffle(list, seed) {
  const a = [...list]
  let s = seed >>> 0 || 1
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32)
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1))
    ;[a[i], a[j]] = [a[j], a[i]]
  }
  return a
}

// ---------------------------------------------------------------------------------------------
// Run

const started = Date.now()
log(`fetchcache bench: ${ROUNDS} round(s)${QUICK ? ', quick mode' : ''}; origin ${ORIGIN}; temp ${tmp}`)

// Pre-populated stores, built once per run and reused by every round.
const stores = {}
const needs = new Set(SCENARIOS.flatMap((s) => (s.store ? [s.store] : s.mode === 'cold' ? ['cold'] : [])))
const STORE_SPECS = { small: { total: 1000, real: 100 }, big: { total: BIG, real: 100 }, cold: { total: 10_000, real: 1 } }
const setups = {}
for (const which of Object.keys(STORE_SPECS).filter((w) => needs.has(w))) {
  const { total, real } = STORE_SPECS[which]
  const name = join(tmp, `store-${which}`, 'cache')
  log(`building the ${total.toLocaleString('en')}-entry store (${real} real URLs)…`)
  const r = await runNode([join(HERE, 'contender.mjs'), JSON.stringify({ mode: 'setup-store', origin: ORIGIN, name, total, real, size: KiB })], 300_000)
  if (r.error) throw new Error(`building the ${which} store failed: ${r.error}`)
  log(`  ${r.total} entries, ${fmtBytes(r.fileBytes)}, ${(r.elapsedMs / 1000).toFixed(1)} s${r.batched ? '' : ' (not batched: backend.db unreachable)'}`)
  stores[which] = name
  setups[which] = r
}

const jobs = SCENARIOS.flatMap((s) => s.contenders.map((c) => ({ s, c })))
const results = {} // results[scenario][contender] = per-round records
const record = (s, c, r) => (((results[s] ??= {})[c] ??= []).push(r))
const problems = []

for (let round = 1; round <= ROUNDS; round++) {
  const order = shuffle(jobs, round * 7919 + 17)
  let k = 0
  for (const { s, c } of order) {
    k++
    const tag = `[round ${round}/${ROUNDS} ${String(k).padStart(3)}/${order.length}] ${s.id.padEnd(10)} ${c.padEnd(30)}`
    if (s.mode === 'cold') {
      const times = []
      for (let i = 0; i < COLD_SPAWNS; i++) {
        const args = c === 'undici-import' ? [join(HERE, 'cold.mjs'), 'undici'] : [join(HERE, 'cold.mjs'), 'fetchcache', stores.cold, `${ORIGIN}/json/${KiB}?i=0`]
        const before = await originRequests()
        const r = await coldOnce(args)
        const reqs = (await originRequests()) - before
        if (r.error) {
          problems.push(`${s.id} ${c}: ${r.error}`)
          continue
        }
        if (c === 'fc-cold' && (reqs > 0 || !/; hit/.test(r.line))) problems.push(`${s.id} ${c}: not a hit (${r.line}; ${reqs} origin requests)`)
        times.push(r.us)
      }
      if (times.length) record(s.id, c, { p50: pct(times, 0.5), p99: pct(times, 0.99), opsPerSec: NaN, n: times.length, originRequests: 0 })
      log(`${tag} p50 ${fmtUs(pct(times, 0.5))} µs over ${times.length} spawns`)
      continue
    }
    const cfg = { mode: s.mode, contender: c, origin: ORIGIN, size: s.size, ops: s.ops, warmup: s.warmup, timeMs: s.timeMs, concurrency: s.concurrency, urls: s.urls, name: s.store ? stores[s.store] : undefined }
    const before = await originRequests()
    const t0 = Date.now()
    const r = await runNode([join(HERE, 'contender.mjs'), JSON.stringify(cfg)])
    const took = ((Date.now() - t0) / 1000).toFixed(1)
    r.originRequests = (await originRequests()) - before
    if (r.error) {
      problems.push(`${s.id} ${c} (round ${round}): ${r.error}`)
      log(`${tag} ERROR ${r.error}`)
      continue
    }
    record(s.id, c, r)
    log(`${tag} p50 ${fmtUs(r.p50).padStart(7)} µs  p99 ${fmtUs(r.p99).padStart(7)} µs  ${fmtOps(r.opsPerSec).padStart(7)}/s  n=${r.n}  origin=${r.originRequests}  ${took} s  ${String(r.status ?? '').slice(0, 40)}`)
  }
}

// Disk bytes per 1,000 entries of 32 KiB: deterministic, measured once.
const diskResults = {}
if (!ONLY || ONLY.some((o) => 'disk'.includes(o))) {
  for (const c of ['fc-fetch-sqlite', 'mfh']) {
    const r = await runNode([join(HERE, 'contender.mjs'), JSON.stringify({ mode: 'disk', contender: c, origin: ORIGIN, size: 32 * KiB, ops: DISK_N })])
    if (r.error) problems.push(`disk ${c}: ${r.error}`)
    else diskResults[c] = r
    log(`disk ${c}: ${r.error ?? `${r.bytes} bytes in ${r.files} files for ${r.bodyBytes} body bytes`}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Aggregate: medians over rounds of the per-round figures

const agg = {}
for (const [sid, byC] of Object.entries(results)) {
  agg[sid] = {}
  for (const [c, rs] of Object.entries(byC)) {
    agg[sid][c] = {
      p50: median(rs.map((r) => r.p50)),
      p99: median(rs.map((r) => r.p99)),
      ops: median(rs.map((r) => r.opsPerSec)),
      rounds: rs.length,
      originRequests: median(rs.map((r) => r.originRequests)),
      status: rs[rs.length - 1].status,
    }
  }
}
const get = (sid, c) => agg[sid]?.[c]

/** Cost ratio: our cost over the reference's (below 1 = faster). Latency for hits, 1/throughput for conc64 and misses. */
function cost(sid, c, ref) {
  const a = get(sid, c)
  const b = get(sid, ref)
  if (!a || !b) return NaN
  if (sid === 'conc64' || sid === 'miss-store') return b.ops / a.ops
  return a.p50 / b.p50
}

function floorOf(c) {
  const b = CONTENDERS[c]?.backend
  if (b === 'sqlite' || b === 'floor-sqlite' || b === 'disk') return 'floor-sqlite'
  if (b === 'memory' || b === 'floor-memory') return 'floor-memory'
  return undefined
}

function notes(sid, c, a) {
  const out = []
  const meta = CONTENDERS[c]
  const status = String(a.status ?? '')
  const cached = meta && meta.backend !== 'none' && !meta.backend.startsWith('floor')
  if (sid !== 'miss-store' && cached) {
    const hit = /; hit|hit \(age|cache-status: hit/.test(status)
    if (!hit) out.push(`⚠ last response not a hit: ${status.slice(0, 60)}`)
    const allowed = SCENARIOS.find((s) => s.id === sid)?.urls ?? 1
    if (a.originRequests > allowed + 1) out.push(`⚠ ${a.originRequests} origin requests`)
  }
  if (sid.startsWith('store') && meta?.backend === 'sqlite') out.push('x floor: seq-1k SQLite floor')
  if (c === 'node-fetch-agent7') out.push("diagnostic: the transport under createCachedFetch's misses, no cache")
  if (c === 'fc-fetch-tiered' && sid === 'seq-1m') out.push('1 MiB + metadata exceeds the memory tier (entries up to 1 MiB): served from SQLite')
  if (a.rounds < ROUNDS) out.push(`${a.rounds}/${ROUNDS} rounds`)
  return out.join('; ')
}

const rows = []
for (const s of SCENARIOS) {
  for (const c of s.contenders) {
    const a = get(s.id, c)
    if (!a) {
      rows.push(`| ${s.id} | ${CONTENDERS[c]?.label ?? COLD_LABELS[c] ?? c} | — | — | — | — | — | — | failed: see notes below |`)
      continue
    }
    if (s.mode === 'cold') {
      const base = get('cold', 'undici-import')
      const note = c === 'fc-cold' && base ? `+${((a.p50 - base.p50) / 1000).toFixed(1)} ms over importing undici` : `median of ${COLD_SPAWNS} spawns per round`
      rows.push(`| ${s.id} | ${COLD_LABELS[c]} | ${fmtUs(a.p50)} | ${fmtUs(a.p99)} | — | — | — | — | ${note} |`)
      continue
    }
    const fl = floorOf(c)
    const flRatio = s.mode === 'miss' || !fl ? NaN : s.id.startsWith('store') ? (get('seq-1k', fl) ? a.p50 / get('seq-1k', fl).p50 : NaN) : cost(s.id, c, fl)
    rows.push(
      `| ${s.id} | ${CONTENDERS[c].label} | ${fmtUs(a.p50)} | ${fmtUs(a.p99)} | ${fmtOps(a.ops)} | ${fmtX(flRatio)} | ${fmtX(cost(s.id, c, 'undici-cache-fetch'))} | ${fmtX(cost(s.id, c, 'undici-cache-request'))} | ${notes(s.id, c, a)} |`,
    )
  }
}
for (const [c, r] of Object.entries(diskResults)) {
  rows.push(`| disk-32k | ${CONTENDERS[c].label} | — | — | — | — | — | — | ${fmtBytes(r.bytes)} for ${r.entries.toLocaleString('en')} x 32 KiB = ${(r.bytes / r.bodyBytes).toFixed(3)}x body bytes (${r.files} files, ${fmtBytes(r.allocated)} allocated) |`)
}

// ---------------------------------------------------------------------------------------------
// Targets

const targets = []
function target(text, value, shown, pass) {
  targets.push(`- **${Number.isFinite(value) ? (pass ? 'PASS' : 'MISS') : 'N/A '}** ${text}: ${Number.isFinite(value) ? shown : 'not measured'}`)
}
{
  const r = cost('seq-1k', 'fc-fetch-sqlite', 'floor-sqlite')
  target('`createCachedFetch` SQLite hit, 1 KiB, at most 1.3x the SQLite floor', r, `${fmtX(r)} (p50 ${fmtUs(get('seq-1k', 'fc-fetch-sqlite')?.p50)} µs vs ${fmtUs(get('seq-1k', 'floor-sqlite')?.p50)} µs)`, r <= 1.3)
  const f = 1 / cost('seq-1k', 'fc-fetch-sqlite', 'undici-cache-fetch')
  target("`createCachedFetch` SQLite hit, 1 KiB, at least 2x faster than undici's MemoryCacheStore through undici `fetch`", f, `${fmtX(f)} faster (p50 ${fmtUs(get('seq-1k', 'undici-cache-fetch')?.p50)} µs vs ${fmtUs(get('seq-1k', 'fc-fetch-sqlite')?.p50)} µs)`, f >= 2)
  const i = cost('seq-1k', 'fc-interceptor-sqlite-request', 'undici-cache-request')
  target("`cacheInterceptor` + `request` SQLite hit, 1 KiB, no slower than undici's MemoryCacheStore through `request`", i, `${fmtX(i)} its p50 (${fmtUs(get('seq-1k', 'fc-interceptor-sqlite-request')?.p50)} µs vs ${fmtUs(get('seq-1k', 'undici-cache-request')?.p50)} µs)`, i <= 1)
  const m = cost('seq-1m', 'fc-fetch-sqlite', 'floor-sqlite')
  target('`createCachedFetch` SQLite hit, 1 MiB, at most 1.5x the SQLite floor', m, `${fmtX(m)} (p50 ${fmtUs(get('seq-1m', 'fc-fetch-sqlite')?.p50)} µs vs ${fmtUs(get('seq-1m', 'floor-sqlite')?.p50)} µs)`, m <= 1.5)
  const cc = get('conc64', 'fc-fetch-sqlite') && get('conc64', 'undici-cache-fetch') ? get('conc64', 'fc-fetch-sqlite').ops / get('conc64', 'undici-cache-fetch').ops : NaN
  target("64 in flight: `createCachedFetch` SQLite hits/s at least 1.5x undici's cache through `fetch`", cc, `${fmtX(cc)} (${fmtOps(get('conc64', 'fc-fetch-sqlite')?.ops)}/s vs ${fmtOps(get('conc64', 'undici-cache-fetch')?.ops)}/s)`, cc >= 1.5)
  const ms = get('miss-store', 'fc-fetch-sqlite') && get('miss-store', 'node-fetch') ? get('miss-store', 'fc-fetch-sqlite').ops / get('miss-store', 'node-fetch').ops : NaN
  target('Miss-and-store: `createCachedFetch` (SQLite) at least 0.85x the throughput of Node `fetch` with no cache', ms, `${fmtX(ms)} (${fmtOps(get('miss-store', 'fc-fetch-sqlite')?.ops)}/s vs ${fmtOps(get('miss-store', 'node-fetch')?.ops)}/s)`, ms >= 0.85)
  const ms2 = get('miss-store', 'fc-interceptor-sqlite-request') && get('miss-store', 'undici-request') ? get('miss-store', 'fc-interceptor-sqlite-request').ops / get('miss-store', 'undici-request').ops : NaN
  target('Miss-and-store: `cacheInterceptor` + `request` (SQLite) at least 0.85x the throughput of undici `request` with no cache', ms2, `${fmtX(ms2)} (${fmtOps(get('miss-store', 'fc-interceptor-sqlite-request')?.ops)}/s vs ${fmtOps(get('miss-store', 'undici-request')?.ops)}/s)`, ms2 >= 0.85)
  const big = get('store-big', 'fc-fetch-sqlite') && get('store-1k', 'fc-fetch-sqlite') ? get('store-big', 'fc-fetch-sqlite').p50 / get('store-1k', 'fc-fetch-sqlite').p50 : NaN
  target(`${BIG.toLocaleString('en')} entries: \`createCachedFetch\` hit p50 within 1.3x of the 1,000-entry figure`, big, `${fmtX(big)} (${fmtUs(get('store-big', 'fc-fetch-sqlite')?.p50)} µs vs ${fmtUs(get('store-1k', 'fc-fetch-sqlite')?.p50)} µs)${BIG !== 200_000 ? ` — NB: ${BIG.toLocaleString('en')}, not 200,000, entries in this run` : ''}`, big <= 1.3)
  const d = diskResults['fc-fetch-sqlite'] ? diskResults['fc-fetch-sqlite'].bytes / diskResults['fc-fetch-sqlite'].bodyBytes : NaN
  target('Disk: at most 1.05x the body bytes at 32 KiB per entry (SQLite file)', d, `${fmtX(d)} (${diskResults['fc-fetch-sqlite']?.bytes?.toLocaleString('en')} bytes for ${diskResults['fc-fetch-sqlite']?.bodyBytes?.toLocaleString('en')} body bytes)`, d <= 1.05)
  const cold = get('cold', 'fc-cold') && get('cold', 'undici-import') ? (get('cold', 'fc-cold').p50 - get('cold', 'undici-import').p50) / 1000 : NaN
  target('Cold start to first hit (10,000-entry store) no more than 15 ms above importing undici alone', cold, `+${cold.toFixed(1)} ms (${(get('cold', 'fc-cold')?.p50 / 1000).toFixed(1)} ms vs ${(get('cold', 'undici-import')?.p50 / 1000).toFixed(1)} ms)`, cold <= 15)
}

// ---------------------------------------------------------------------------------------------
// Report

function git(...args) {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return ''
  }
}
function version(pkg) {
  try {
    return JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version
  } catch {
    return '?'
  }
}
const cpus = os.cpus()
const dirty = git('status', '--porcelain', '--', 'src') !== ''
const settings = [env.BENCH_QUICK && 'BENCH_QUICK=1', env.BENCH_ROUNDS && `BENCH_ROUNDS=${ROUNDS}`, env.BENCH_OPS && `BENCH_OPS=${OPS}`, env.BENCH_BIG_STORE && `BENCH_BIG_STORE=${BIG}`, env.BENCH_ONLY && `BENCH_ONLY=${env.BENCH_ONLY}`, env.BENCH_CONTENDERS && `BENCH_CONTENDERS=${env.BENCH_CONTENDERS}`].filter(Boolean)
const command = `${settings.length ? `${settings.join(' ')} ` : ''}npm run bench`
const minutes = ((Date.now() - started) / 60000).toFixed(1)

const md = [
  '# fetchcache benchmark',
  '',
  `Command: \`${command}\` (${ROUNDS} round${ROUNDS === 1 ? '' : 's'}, ${minutes} min)  `,
  `Machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}  `,
  `Date: ${new Date().toISOString()}  `,
  `fetchcache: ${git('rev-parse', '--short', 'HEAD') || 'unknown commit'}${dirty ? ' with uncommitted changes in src/' : ''}; undici ${version('undici')}, make-fetch-happen ${version('make-fetch-happen')}, better-sqlite3 ${version('better-sqlite3')}`,
  '',
  'Every cell is the median over rounds of one fresh process\'s figure (p50 and p99 of per-operation latency, operations per second). ' +
    'An operation is one request with the whole body read (`arrayBuffer()`). Ratios are costs relative to the column\'s reference, from medians of the same run: ' +
    'p50 latency for hits, inverse throughput for `conc64` and `miss-store`; below 1.00x is faster than the reference. ' +
    '"x floor" compares SQLite- and disk-backed contenders with the SQLite floor and memory-backed ones with the Map floor. ' +
    'No-cache contenders go to the origin on every operation.',
  '',
  '| scenario | contender | p50 (µs) | p99 (µs) | ops/s | x floor | x undici-cache-fetch | x undici-cache-request | notes |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ...rows,
  '',
  '## Targets (issue 5)',
  '',
  ...targets,
  '',
  '## Setup',
  '',
  ...SCENARIOS.map((s) => `- \`${s.id}\`: ${s.title}${s.ops ? `; ${s.ops} measured ops, ${s.warmup} warm-up ops, at most ${s.timeMs / 1000} s per process` : `; ${COLD_SPAWNS} spawns of each per round`}`),
  `- \`disk-32k\`: ${DISK_N.toLocaleString('en')} misses of 32 KiB bodies stored, cache closed, file sizes summed (SQLite: \`cache.sqlite*\`; make-fetch-happen: the whole cacache folder). Measured once per run.`,
  ...Object.entries(setups).map(([w, r]) => `- store \`${w}\`: ${r.total.toLocaleString('en')} entries (${r.real} real misses + ${r.fillers.toLocaleString('en')} filler rows through \`SQLiteBackend.set\`), ${fmtBytes(r.fileBytes)}, built in ${(r.elapsedMs / 1000).toFixed(1)} s`),
  '- Floors: `floor-sqlite` is a prepared better-sqlite3 `SELECT body … WHERE key = ?` (WAL) plus `new Response(body, { headers })` and `arrayBuffer()`; `floor-memory` is the same over a `Map`.',
  "- undici's `MemoryCacheStore` is sized so that nothing is evicted (maxCount 1,000,000, maxSize 1 GiB, maxEntrySize 8 MiB).",
  ...(TIERED ? [] : ['- No tiered backend is exported by this build (`TieredBackend`): that contender is left out.']),
  ...(problems.length ? ['', '## Problems', '', ...problems.map((p) => `- ${p}`)] : []),
  '',
].join('\n')

process.stdout.write(`\n${md}`)
// A quick or partial run must not overwrite the full results the README quotes.
const OUT = QUICK || ONLY || KEEP ? 'RESULTS.partial.md' : 'RESULTS.md'
writeFileSync(join(HERE, OUT), md)
log(`wrote bench/${OUT} (${minutes} min)`)
cleanup()
process.exit(0)

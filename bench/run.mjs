// `npm run bench`: the benchmark of issues 5 and 14.
//
// Starts the origin (bench/origin.mjs) in its own process, builds the pre-populated SQLite
// stores once, then runs every contender x scenario as a fresh `node bench/contender.mjs`
// process, interleaved in a shuffled order that changes every round. Each process reports its
// own p50/p90/p99/ops/s; the table shows the median over rounds of those figures, and the goals
// (bench/goals.mjs) are ratios of medians from this same run. Prints one markdown table plus
// the goals and writes them to bench/RESULTS.md (quick or partial runs: bench/RESULTS.partial.md,
// so a smoke test never replaces the full results).
//
// Environment:
//   BENCH_ROUNDS=5        rounds (each contender x scenario once per round)
//   BENCH_OPS=n           measured ops per hit process (default 1500, 20,000 for seq-1k; a tenth
//                         at 1 MiB; 3x with 64 in flight); contenders without a cache do at most 1500
//   BENCH_QUICK=1         smoke test in a few minutes: 1 round, few ops, 20,000-entry large store
//   BENCH_BIG_STORE=n     entries in the large store (default 200,000)
//   BENCH_ONLY=a,b        only the scenarios whose id contains one of these strings
//   BENCH_CONTENDERS=a,b  only these contenders (plus the floors, undici's cache and the no-cache clients)
//   BENCH_BASELINE=dir    also run the fetchcache contenders of the goals over the build in
//                         dir/dist (e.g. the commit before a change): "[baseline build]" rows,
//                         interleaved with the others, and a before/after table
//   BENCH_BASELINE_CONTENDERS=a,b  which contenders run over the baseline too (default: the
//                         SQLite fetch and request() ones, cold start and the processes run)
//   Redis rows run when redis-server is installed: one server on a free loopback port, no
//   persistence, started here and stopped at the end (or FETCHCACHE_BENCH_REDIS=redis://…).
import { execFileSync, fork, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { coldOnce, fmtBytes, fmtOps, fmtUs, fmtX, git, label, median, pct, runNode, shuffle, version } from './lib.mjs'
import os from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { BASE_SUFFIX, CONTENDERS, plain } from './contenders.mjs'
import { beforeAfter, evaluate, goalsTable } from './goals.mjs'
import { coalesced, misses, startSlowOrigin } from './procs.mjs'

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
const BASELINE = env.BENCH_BASELINE ? resolve(env.BENCH_BASELINE) : undefined
if (BASELINE && !existsSync(join(BASELINE, 'dist', 'index.js'))) throw new Error(`BENCH_BASELINE: no ${join(BASELINE, 'dist', 'index.js')} (build it first)`)
const BASE_MODULE = BASELINE ? pathToFileURL(join(BASELINE, 'dist', 'index.js')).href : undefined

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
/** The fetchcache contenders the goals name: these also run over the baseline build. */
const GOAL_FC = new Set((env.BENCH_BASELINE_CONTENDERS ?? 'fc-fetch-sqlite,fc-interceptor-sqlite-request,fc-cold,procs-1,procs-4').split(','))
/** What the goals compare with: kept when BENCH_CONTENDERS narrows the run (no-cache clients only where misses are timed). */
const REFERENCES = ['floor-sqlite', 'floor-memory', 'undici-cache-fetch', 'undici-cache-request']
const MISS_REFERENCES = ['node-fetch', 'node-fetch-agent7', 'undici-request']
const KEEP = env.BENCH_CONTENDERS ? new Set([...env.BENCH_CONTENDERS.split(','), ...REFERENCES]) : undefined
const withBase = (list) => (BASE_MODULE ? list.flatMap((c) => (GOAL_FC.has(c) ? [c, `${c}${BASE_SUFFIX}`] : [c])) : list)
const pick = (list, extra = []) => withBase(KEEP ? list.filter((c) => KEEP.has(c) || extra.includes(c)) : list)
/** Clients without a cache (and make-fetch-happen) time the origin, not a cache: fewer ops will do. */
const capped = new Set(['node-fetch', 'node-fetch-agent7', 'undici-request', 'undici-fetch', 'mfh'])

const q = (quick, full) => (QUICK ? quick : full)
const MISSES = q(300, 1000)
const DISK_N = q(300, 1000)
const hitOps = OPS ?? q(200, 1500)
const SCENARIOS = [
  // The hit goal is a median over 20,000 hits per round, in quick runs too.
  { id: 'seq-1k', title: 'sequential hits, 1 KiB', mode: 'seq', size: KiB, ops: OPS ?? 20_000, warmup: q(1000, 2000), timeMs: 6000, contenders: pick(HIT) },
  { id: 'seq-32k', title: 'sequential hits, 32 KiB', mode: 'seq', size: 32 * KiB, ops: hitOps, warmup: q(50, 200), timeMs: q(500, 1500), contenders: pick(HIT) },
  { id: 'seq-1m', title: 'sequential hits, 1 MiB', mode: 'seq', size: MiB, ops: Math.ceil(hitOps / 10), warmup: q(10, 150), timeMs: q(500, 1500), contenders: pick(HIT) },
  { id: 'conc64', title: '64 hits in flight, 1 KiB', mode: 'conc', size: KiB, concurrency: 64, ops: hitOps * 3, warmup: q(128, 512), timeMs: q(500, 1500), contenders: pick(HIT) },
  { id: 'miss-1k', title: `miss and store, ${MISSES.toLocaleString('en')} fresh URLs, 1 KiB`, mode: 'miss', size: KiB, ops: MISSES, warmup: q(50, 100), timeMs: 10_000, contenders: pick(MISS, MISS_REFERENCES) },
  { id: 'miss-32k', title: `miss and store, ${MISSES.toLocaleString('en')} fresh URLs, 32 KiB`, mode: 'miss', size: 32 * KiB, ops: MISSES, warmup: q(50, 100), timeMs: 10_000, contenders: pick(MISS, MISS_REFERENCES) },
  { id: 'store-1k', title: 'hits in a 1,000-entry store, 1 KiB (100 URLs round-robin)', mode: 'seq', size: KiB, urls: 100, store: 'small', ops: hitOps, warmup: q(50, 200), timeMs: q(500, 1500), contenders: STORE },
  { id: 'store-big', title: `hits in a ${BIG.toLocaleString('en')}-entry store, 1 KiB (100 URLs round-robin)`, mode: 'seq', size: KiB, urls: 100, store: 'big', ops: hitOps, warmup: q(50, 200), timeMs: q(500, 1500), contenders: STORE },
  { id: 'cold', title: 'process start to first response: fetchcache from a 10,000-entry SQLite store, undici request() from the origin (ms)', mode: 'cold', contenders: withBase(['undici-request-cold', 'fc-cold']) },
  { id: 'procs', title: 'processes sharing one SQLite file: misses only (own URLs, 16 in flight, origin 100 ms), and the mixed coalescing run', mode: 'procs', contenders: withBase(['procs-1', 'procs-4']) },
].filter((s) => !ONLY || ONLY.some((o) => s.id.includes(o)))


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

// ---------------------------------------------------------------------------------------------
// Run

const started = Date.now()
const loadAtStart = os.loadavg()
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

const slow = SCENARIOS.some((s) => s.mode === 'procs') ? await startSlowOrigin(100) : undefined
const coalescing = []

for (let round = 1; round <= ROUNDS; round++) {
  const order = shuffle(jobs, round * 7919 + 17)
  let k = 0
  for (const { s, c } of order) {
    k++
    const tag = `[round ${round}/${ROUNDS} ${String(k).padStart(3)}/${order.length}] ${s.id.padEnd(10)} ${c.padEnd(30)}`
    const module = c.endsWith(BASE_SUFFIX) ? BASE_MODULE : undefined
    if (s.mode === 'cold') {
      const times = []
      for (let i = 0; i < COLD_SPAWNS; i++) {
        const url = `${ORIGIN}/json/${KiB}?i=0`
        const args = plain(c) === 'undici-request-cold' ? [join(HERE, 'cold.mjs'), 'undici-request', url] : [join(HERE, 'cold.mjs'), 'fetchcache', stores.cold, url, ...(module ? [module] : [])]
        const before = await originRequests()
        const r = await coldOnce(args)
        const reqs = (await originRequests()) - before
        if (r.error) {
          problems.push(`${s.id} ${c}: ${r.error}`)
          continue
        }
        if (plain(c) === 'fc-cold' && (reqs > 0 || !/; hit/.test(r.line))) problems.push(`${s.id} ${c}: not a hit (${r.line}; ${reqs} origin requests)`)
        times.push(r.us)
      }
      if (times.length) record(s.id, c, { p50: pct(times, 0.5), p90: pct(times, 0.9), p99: pct(times, 0.99), opsPerSec: NaN, n: times.length, originRequests: 0 })
      log(`${tag} p50 ${fmtUs(pct(times, 0.5))} µs over ${times.length} spawns`)
      continue
    }
    if (s.mode === 'procs') {
      const n = Number(plain(c).split('-')[1])
      try {
        const r = await misses(slow, n, { count: q(160, 400), module })
        if (r.errors > 0 || r.stored !== r.total) problems.push(`${s.id} ${c} (round ${round}): ${r.errors} errors, ${r.stored}/${r.total} stored`)
        record(s.id, c, { p50: NaN, p90: NaN, p99: NaN, opsPerSec: r.rps, n: r.total, originRequests: r.originRequests })
        log(`${tag} ${fmtOps(r.rps)} misses/s over ${n} process(es), ${r.total} requests, ${r.originRequests} to the origin`)
      } catch (e) {
        problems.push(`${s.id} ${c} (round ${round}): ${e.message}`)
      }
      if (c === 'procs-4') {
        // Safety next to speed: the shared-URL run of the stress test, once per round.
        const r = await coalesced(slow, 4).catch((e) => ({ error: e.message }))
        if (r.error) problems.push(`procs coalescing (round ${round}): ${r.error}`)
        else coalescing.push(r)
        log(`${tag} coalescing: ${r.error ?? `${r.originRequests} origin requests for ${r.urls} URLs x ${r.processes} processes, ${r.errors} errors`}`)
      }
      continue
    }
    const ops = capped.has(c) ? Math.min(s.ops, 1500) : s.ops
    const cfg = { mode: s.mode, contender: c, origin: ORIGIN, size: s.size, ops, warmup: s.warmup, timeMs: s.timeMs, concurrency: s.concurrency, urls: s.urls, name: s.store ? stores[s.store] : undefined, module }
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
    log(`${tag} p50 ${fmtUs(r.p50).padStart(7)} µs  cpu ${fmtUs(r.cpuPerOp).padStart(6)} µs/op  p99 ${fmtUs(r.p99).padStart(7)} µs  ${fmtOps(r.opsPerSec).padStart(7)}/s  n=${r.n}  origin=${r.originRequests}  ${took} s  ${String(r.status ?? '').slice(0, 40)}`)
  }
}
await slow?.close()

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
      p90: median(rs.map((r) => r.p90)),
      cpu: median(rs.map((r) => r.cpuPerOp)),
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
  if (sid === 'conc64' || sid.startsWith('miss')) return b.ops / a.ops
  return a.p50 / b.p50
}

function floorOf(c) {
  const b = CONTENDERS[plain(c)]?.backend
  if (b === 'sqlite' || b === 'floor-sqlite' || b === 'disk') return 'floor-sqlite'
  if (b === 'memory' || b === 'floor-memory') return 'floor-memory'
  return undefined
}

function notes(sid, c, a) {
  const out = []
  const meta = CONTENDERS[plain(c)]
  const status = String(a.status ?? '')
  const cached = meta && meta.backend !== 'none' && !meta.backend.startsWith('floor')
  if (!sid.startsWith('miss') && cached) {
    const hit = /; hit|hit \(age|cache-status: hit/.test(status)
    if (!hit) out.push(`⚠ last response not a hit: ${status.slice(0, 60)}`)
    const allowed = SCENARIOS.find((s) => s.id === sid)?.urls ?? 1
    if (a.originRequests > allowed + 1) out.push(`⚠ ${a.originRequests} origin requests`)
  }
  if (sid.startsWith('store') && meta?.backend === 'sqlite') out.push('x floor: seq-1k SQLite floor')
  if (capped.has(c) && sid.startsWith('seq')) out.push('at most 1,500 ops')
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
      rows.push(`| ${s.id} | ${label(c)} | — | — | — | — | — | — | — | — | failed: see notes below |`)
      continue
    }
    if (s.mode === 'cold') {
      const base = get('cold', 'undici-request-cold')
      const note = plain(c) === 'fc-cold' && base ? `${a.p50 >= base.p50 ? '+' : ''}${((a.p50 - base.p50) / 1000).toFixed(1)} ms over undici's request() cold path` : `median of ${COLD_SPAWNS} spawns per round`
      rows.push(`| ${s.id} | ${label(c)} | ${fmtUs(a.p50)} | ${fmtUs(a.p90)} | ${fmtUs(a.p99)} | — | — | — | — | — | ${note} |`)
      continue
    }
    if (s.mode === 'procs') {
      rows.push(`| ${s.id} | ${label(c)} | — | — | — | ${fmtOps(a.ops)} | — | — | — | — | ${a.originRequests} origin requests (median) |`)
      continue
    }
    const fl = floorOf(c)
    const flRatio = s.mode === 'miss' || !fl ? NaN : s.id.startsWith('store') ? (get('seq-1k', fl) ? a.p50 / get('seq-1k', fl).p50 : NaN) : cost(s.id, c, fl)
    rows.push(
      `| ${s.id} | ${label(c)} | ${fmtUs(a.p50)} | ${fmtUs(a.p90)} | ${fmtUs(a.p99)} | ${fmtOps(a.ops)} | ${fmtUs(a.cpu)} | ${fmtX(flRatio)} | ${fmtX(cost(s.id, c, 'undici-cache-fetch'))} | ${fmtX(cost(s.id, c, 'undici-cache-request'))} | ${notes(s.id, c, a)} |`,
    )
  }
}
for (const [c, r] of Object.entries(diskResults)) {
  rows.push(`| disk-32k | ${CONTENDERS[c].label} | — | — | — | — | — | — | — | — | ${fmtBytes(r.bytes)} for ${r.entries.toLocaleString('en')} x 32 KiB = ${(r.bytes / r.bodyBytes).toFixed(3)}x body bytes (${r.files} files, ${fmtBytes(r.allocated)} allocated) |`)
}

// ---------------------------------------------------------------------------------------------
// Goals

const goalCtx = { get, disk: diskResults, coalescing, big: BIG }
const goals = evaluate(goalCtx)
const baseGoals = BASE_MODULE ? evaluate(goalCtx, BASE_SUFFIX) : undefined

// ---------------------------------------------------------------------------------------------
// Report

const cpus = os.cpus()
const dirty = git('status', '--porcelain', '--', 'src') !== ''
const loadAtEnd = os.loadavg()
const fmtLoad = (l) => l.map((x) => x.toFixed(2)).join(', ')
const settings = [env.BENCH_BASELINE && `BENCH_BASELINE=${env.BENCH_BASELINE}`, env.BENCH_QUICK && 'BENCH_QUICK=1', env.BENCH_ROUNDS && `BENCH_ROUNDS=${ROUNDS}`, env.BENCH_OPS && `BENCH_OPS=${OPS}`, env.BENCH_BIG_STORE && `BENCH_BIG_STORE=${BIG}`, env.BENCH_ONLY && `BENCH_ONLY=${env.BENCH_ONLY}`, env.BENCH_CONTENDERS && `BENCH_CONTENDERS=${env.BENCH_CONTENDERS}`].filter(Boolean)
const command = `${settings.length ? `${settings.join(' ')} ` : ''}npm run bench`
const minutes = ((Date.now() - started) / 60000).toFixed(1)

const md = [
  '# fetchcache benchmark',
  '',
  `Command: \`${command}\` (${ROUNDS} round${ROUNDS === 1 ? '' : 's'}, ${minutes} min)  `,
  `Machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}  `,
  `Date: ${new Date().toISOString()}; load average (1, 5, 15 min) ${fmtLoad(loadAtStart)} at the start, ${fmtLoad(loadAtEnd)} at the end  `,
  `fetchcache: ${git('rev-parse', '--short', 'HEAD') || 'unknown commit'}${dirty ? ' with uncommitted changes in src/' : ''}; undici ${version('undici')}, make-fetch-happen ${version('make-fetch-happen')}, better-sqlite3 ${version('better-sqlite3')}`,
  '',
  'Every cell is the median over rounds of one fresh process\'s figure (p50, p90 and p99 of per-operation latency, operations per second). ' +
    'An operation is one request with the whole body read (`arrayBuffer()`). Ratios are costs relative to the column\'s reference, from medians of the same run: ' +
    'p50 latency for hits, inverse throughput for `conc64` and the `miss-*` scenarios; below 1.00x is faster than the reference. ' +
    '"x floor" compares SQLite- and disk-backed contenders with the SQLite floor and memory-backed ones with the Map floor. ' +
    'No-cache contenders go to the origin on every operation.',
  '',
  '## Goals (issue 14)',
  '',
  ...goalsTable(goals),
  '',
  ...(baseGoals ? ['## Before and after', '', `Baseline build: \`${BASELINE}\` (${git('-C', BASELINE, 'log', '-1', '--format=%h %s') || (existsSync(join(BASELINE, 'COMMIT')) ? readFileSync(join(BASELINE, 'COMMIT'), 'utf8').trim() : 'not a git checkout')}), run interleaved with this build in the same rounds.`, '', ...beforeAfter(baseGoals, goals), ''] : []),
  '## All results',
  '',
  '| scenario | contender | p50 (µs) | p90 (µs) | p99 (µs) | ops/s | CPU µs/op | x floor | x undici-cache-fetch | x undici-cache-request | notes |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ...rows,
  '',
  '## Setup',
  '',
  ...SCENARIOS.map((s) => `- \`${s.id}\`: ${s.title}${s.ops ? `; ${s.ops} measured ops (clients without a cache and make-fetch-happen: at most 1,500), ${s.warmup} warm-up ops, at most ${s.timeMs / 1000} s per process` : s.mode === 'cold' ? `; ${COLD_SPAWNS} spawns of each per round` : `; ${q(160, 400)} misses per process, once per round, then the stress test's mixed run (4 processes, 500 requests each over 50 URLs)`}`),
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

// One process = one contender x one scenario. Started by run.mjs (or by hand):
//
//   node bench/contender.mjs '{"mode":"seq","contender":"fc-fetch-sqlite","origin":"http://127.0.0.1:PORT","size":1024}'
//
// Modes:
//   seq    sequential hits on `urls` pre-populated URLs (one miss each first, untimed)
//   conc   the same with `concurrency` requests in flight
//   miss   `ops` misses on fresh URLs, each stored (throughput includes the final flush)
//   disk   store `ops` entries of `size` bytes, close, measure the bytes on disk
//   setup-store  build a pre-populated SQLite store at `name` (`real` URLs by real misses,
//                the rest filler rows written through SQLiteBackend.set)
//
// Prints one line `RESULT <json>` on stdout; everything else goes to stderr.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { make } from './contenders.mjs'

const cfg = JSON.parse(process.argv[2] ?? '{}')
const now = () => process.hrtime.bigint()
const us = (a, b) => Number(b - a) / 1e3

/** CPU time (user + system) of this process since `from`, in µs: robust to a busy machine, unlike wall time. */
const cpuSince = (from) => {
  const u = process.cpuUsage(from)
  return u.user + u.system
}

function summarize(lat, n, elapsedNs, cpuUs = NaN) {
  const s = Float64Array.from(lat.subarray(0, n)).sort()
  const pct = (p) => (n === 0 ? NaN : s[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))])
  let sum = 0
  for (let k = 0; k < n; k++) sum += s[k]
  return { n, p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), mean: sum / n, min: s[0], opsPerSec: n / (Number(elapsedNs) / 1e9), elapsedMs: Number(elapsedNs) / 1e6, cpuPerOp: cpuUs / n }
}

const urlFor = (size, q) => `${cfg.origin}/json/${size}?${q}`

/** Sequential: warm up (count- and time-bounded), then time each op. */
async function seq(c, urls, { ops, warmup, timeMs }) {
  const warmEnd = now() + BigInt(Math.min(timeMs, 5000)) * 1_000_000n
  for (let k = 0; k < warmup && now() < warmEnd; k++) await c.op(urls[k % urls.length])
  const lat = new Float64Array(ops)
  let n = 0
  let bytes = 0
  const cpu0 = process.cpuUsage()
  const t0 = now()
  const deadline = t0 + BigInt(timeMs) * 1_000_000n
  while (n < ops) {
    const a = now()
    bytes += await c.op(urls[n % urls.length])
    const b = now()
    lat[n++] = us(a, b)
    if (b > deadline) break
  }
  return { ...summarize(lat, n, now() - t0, cpuSince(cpu0)), bytesPerOp: bytes / n }
}

/** `concurrency` workers, each awaiting its own ops; ops/s is total ops over wall time. */
async function conc(c, urls, { ops, warmup, timeMs, concurrency }) {
  const run = async (count, deadline, lat) => {
    let started = 0
    let n = 0
    const worker = async () => {
      while (started < count && now() < deadline) {
        const k = started++
        const a = now()
        await c.op(urls[k % urls.length])
        if (lat) lat[n] = us(a, now())
        n++
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
    return n
  }
  await run(warmup, now() + BigInt(Math.min(timeMs, 5000)) * 1_000_000n, null)
  const lat = new Float64Array(ops)
  const cpu0 = process.cpuUsage()
  const t0 = now()
  const n = await run(ops, t0 + BigInt(timeMs) * 1_000_000n, lat)
  return summarize(lat, n, now() - t0, cpuSince(cpu0))
}

/** Misses: every URL is new; each response is read whole and stored. */
async function miss(c, { ops, warmup, timeMs, size }) {
  const warmEnd = now() + BigInt(Math.min(timeMs, 5000)) * 1_000_000n
  for (let k = 0; k < warmup && now() < warmEnd; k++) await c.op(urlFor(size, `w=${k}`))
  await c.flush()
  const lat = new Float64Array(ops)
  let n = 0
  const cpu0 = process.cpuUsage()
  const t0 = now()
  const deadline = t0 + BigInt(timeMs) * 1_000_000n
  while (n < ops) {
    const a = now()
    await c.op(urlFor(size, `i=${n}`))
    const b = now()
    lat[n++] = us(a, b)
    if (b > deadline) break
  }
  await c.flush()
  const elapsed = now() - t0
  const cpu = cpuSince(cpu0)
  const status = await c.status(urlFor(size, 'i=0'))
  return { ...summarize(lat, n, elapsed, cpu), status }
}

function du(path) {
  let bytes = 0
  let allocated = 0
  let files = 0
  const walk = (p) => {
    const st = statSync(p)
    if (st.isDirectory()) {
      for (const e of readdirSync(p)) walk(join(p, e))
    } else {
      bytes += st.size
      allocated += st.blocks * 512
      files++
    }
  }
  walk(path)
  return { bytes, allocated, files }
}

async function disk(c, dir, { ops, size }) {
  const t0 = now()
  for (let k = 0; k < ops; k++) await c.op(urlFor(size, `d=${k}`))
  await c.flush()
  const status = await c.status(urlFor(size, 'd=0'))
  await c.close()
  // make-fetch-happen finishes index writes after the body: give them a moment.
  if (c.name === 'mfh') await new Promise((r) => setTimeout(r, 500))
  const elapsedMs = Number(now() - t0) / 1e6
  const where = c.name === 'mfh' ? join(dir, 'cacache') : dir
  const files = c.name === 'mfh' ? null : readdirSync(dir).filter((f) => f.startsWith('cache.sqlite'))
  let usage
  if (files) {
    usage = { bytes: 0, allocated: 0, files: files.length, list: {} }
    for (const f of files) {
      const st = statSync(join(dir, f))
      usage.bytes += st.size
      usage.allocated += st.blocks * 512
      usage.list[f] = st.size
    }
  } else usage = du(where)
  return { ...usage, bodyBytes: ops * size, entries: ops, elapsedMs, status }
}

/** Build a pre-populated store: `real` URLs through real misses, then filler rows. */
async function setupStore() {
  const fc = await import(cfg.module ?? 'fetchcache')
  const t0 = now()
  const f = fc.createCachedFetch({ name: cfg.name })
  for (let k = 0; k < cfg.real; k++) {
    const r = await f(urlFor(cfg.size, `i=${k}`))
    await r.arrayBuffer()
  }
  await f.cache.flush()
  await f.cache.close()
  const backend = new fc.SQLiteBackend({ path: `${cfg.name}.sqlite` })
  let template
  for await (const [key] of backend.entries()) {
    template = await backend.get(key)
    break
  }
  if (!template) throw new Error('setup-store: the real misses stored nothing')
  const filler = randomBytes(cfg.fillerSize ?? cfg.size)
  // The backend keeps its connection private; when reachable, batch the filler rows into
  // transactions (one implicit transaction per row would take minutes for 200,000 rows).
  const db = backend.db && typeof backend.db.exec === 'function' ? backend.db : undefined
  const BATCH = 10_000
  const fillers = cfg.total - cfg.real
  if (db) db.exec('BEGIN')
  for (let k = 0; k < fillers; k++) {
    const key = randomBytes(16).toString('hex')
    const url = `${cfg.origin}/filler/${k}`
    await backend.set(key, { meta: { ...template.meta, key, url, size: filler.byteLength }, body: filler })
    if (db && k % BATCH === BATCH - 1) {
      db.exec('COMMIT')
      db.exec('BEGIN')
    }
  }
  if (db) db.exec('COMMIT')
  await backend.close()
  const size = statSync(`${cfg.name}.sqlite`).size
  return { total: cfg.total, real: cfg.real, fillers, batched: Boolean(db), fileBytes: size, elapsedMs: Number(now() - t0) / 1e6 }
}

async function main() {
  if (cfg.mode === 'setup-store') return setupStore()
  const dir = mkdtempSync(join(tmpdir(), 'fetchcache-bench-c-'))
  try {
    const c = await make(cfg.contender, { dir, name: cfg.name, module: cfg.module })
    const opts = {
      ops: cfg.ops ?? 2000,
      warmup: cfg.warmup ?? 200,
      timeMs: cfg.timeMs ?? 3000,
      concurrency: cfg.concurrency ?? 64,
      size: cfg.size ?? 1024,
    }
    if (cfg.mode === 'miss') {
      const r = await miss(c, opts)
      await c.close()
      return r
    }
    if (cfg.mode === 'disk') return await disk(c, dir, opts)
    const urls = Array.from({ length: cfg.urls ?? 1 }, (_, k) => urlFor(opts.size, `i=${k}`))
    // Pre-populate (one miss per URL, untimed) unless the store already holds them.
    for (const u of urls) await c.op(u)
    await c.flush()
    const r = cfg.mode === 'conc' ? await conc(c, urls, opts) : await seq(c, urls, opts)
    r.status = await c.status(urls[0])
    await c.close()
    return r
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main().then(
  (r) => {
    process.stdout.write(`RESULT ${JSON.stringify(r)}\n`)
    // Keep-alive sockets and timers of some clients would hold the process open.
    process.exit(0)
  },
  (e) => {
    process.stderr.write(`${e?.stack ?? e}\n`)
    process.stdout.write(`RESULT ${JSON.stringify({ error: String(e?.message ?? e) })}\n`)
    process.exit(1)
  },
)

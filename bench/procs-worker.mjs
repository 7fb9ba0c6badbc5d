// One process of the multi-process miss benchmark (bench/procs.mjs): `count` misses on URLs no
// other process asks for, `concurrency` in flight, through createCachedFetch on a shared SQLite
// file; every body checked against the origin's bytes. Prints one JSON line with the wall-clock
// span of its requests (ms since the epoch), so the parent can sum processes over one window.
//
//   node bench/procs-worker.mjs <origin> <name> <count> <concurrency> <prefix> [module URL]
import { createHash } from 'node:crypto'

const [base, name, count, concurrency, prefix, mod] = process.argv.slice(2)
const { createCachedFetch } = await import(mod ?? 'fetchcache')
const expected = (id) => createHash('sha256').update(`body-${id}`).digest('hex')
const errors = []
const f = createCachedFetch({ name, onError: (e) => errors.push(String(e?.cause ?? e)) })
const clock = () => performance.timeOrigin + performance.now()
let next = 0
let mismatches = 0
let failures = 0
let stored = 0
const start = clock()
async function worker() {
  while (next < Number(count)) {
    const id = `${prefix}-${next++}`
    try {
      const res = await f(`${base}/item/${id}`)
      const body = Buffer.from(await res.arrayBuffer())
      if (body.length !== 4096 || body.subarray(0, 64).toString() !== expected(id)) mismatches++
      if (/stored/.test(res.headers.get('cache-status') ?? '')) stored++
    } catch (e) {
      failures++
      errors.push(String(e?.cause ?? e))
    }
  }
}
await Promise.all(Array.from({ length: Number(concurrency) }, worker))
// The misses count once they are stored: the span ends after the last write.
await f.cache.flush()
const end = clock()
await f.cache.close()
console.log(JSON.stringify({ start, end, requests: Number(count), stored, failures, mismatches, backendErrors: errors.length, sampleErrors: errors.slice(0, 3) }))

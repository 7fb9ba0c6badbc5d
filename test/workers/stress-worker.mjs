// One process of the multi-process stress test: N requests over a set of URLs through one
// shared cache, checking every body against the origin's known bytes. Prints one JSON line.
import { createHash } from 'node:crypto'
// FETCHCACHE_DIST: a build of the test's own (a file URL of its index.js) instead of dist/.
const { createCachedFetch } = await import(process.env.FETCHCACHE_DIST ?? '../../dist/index.js')

const [base, backend, name, total, urls, concurrency, seed, extra = '{}'] = process.argv.slice(2)
const expected = (i) => createHash('sha256').update(`body-${i}`).digest('hex')
let state = Number(seed)
const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)

const errors = []
// `extra`: more cache options as JSON (e.g. the memcached servers).
const f = createCachedFetch({ backend, name, ...JSON.parse(extra), onError: (e) => errors.push(String(e?.cause ?? e)) })
let next = 0
let mismatches = 0
let failures = 0
const statuses = {}
async function worker() {
  while (next < Number(total)) {
    next++
    const i = Math.floor(random() * Number(urls))
    try {
      const res = await f(`${base}/item/${i}`)
      const body = Buffer.from(await res.arrayBuffer())
      // The origin's body for item i is the sha256 of "body-i" repeated to 4 KiB.
      if (body.length !== 4096 || body.subarray(0, 64).toString() !== expected(i)) mismatches++
      const kind = (res.headers.get('cache-status') ?? '').replace(/; key=.*/, '').replace(/; ttl=-?\d+/, '')
      statuses[kind] = (statuses[kind] ?? 0) + 1
    } catch (e) {
      failures++
      errors.push(String(e?.cause ?? e))
    }
  }
}
await Promise.all(Array.from({ length: Number(concurrency) }, worker))
await f.cache.close()
console.log(JSON.stringify({ pid: process.pid, failures, mismatches, backendErrors: errors.length, sampleErrors: errors.slice(0, 3), statuses }))

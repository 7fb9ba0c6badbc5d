// The request loop the multi-process workers share (stress-worker.mjs, redis-worker.mjs): N
// requests over a set of URLs through one cached fetch, every body checked against the
// origin's known bytes (test/helpers/origin.ts routeItems: item i is the sha256 of "body-i",
// in hex, repeated to 4 KiB).
import { createHash } from 'node:crypto'

const expected = (i) => createHash('sha256').update(`body-${i}`).digest('hex')

/**
 * Run `total` requests with `concurrency` in flight over `urls` items, picked by a seeded
 * generator; `errors` collects what went wrong. Returns the counts and the Cache-Status kinds seen.
 */
export async function runLoad(f, { base, total, urls, concurrency, seed, errors }) {
  let state = Number(seed)
  const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
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
  return { failures, mismatches, statuses }
}

// One process of the multi-process stress test: N requests over a set of URLs through one
// shared cache, checking every body against the origin's known bytes. Prints one JSON line.
import { runLoad } from './load.mjs'
// FETCHCACHE_DIST: a build of the test's own (a file URL of its index.js) instead of dist/.
const { createCachedFetch } = await import(process.env.FETCHCACHE_DIST ?? '../../dist/index.js')

const [base, backend, name, total, urls, concurrency, seed, extra = '{}'] = process.argv.slice(2)
const errors = []
// `extra`: more cache options as JSON (e.g. the memcached servers).
const f = createCachedFetch({ backend, name, ...JSON.parse(extra), onError: (e) => errors.push(String(e?.cause ?? e)) })
const { failures, mismatches, statuses } = await runLoad(f, { base, total, urls, concurrency, seed, errors })
await f.cache.close()
console.log(JSON.stringify({ pid: process.pid, failures, mismatches, backendErrors: errors.length, sampleErrors: errors.slice(0, 3), statuses }))

// Every way a request can carry a secret, through a cache with NODE_DEBUG=fetchcache: prints
// the Cache-Status values and onError messages as JSON on stdout (debug output goes to stderr).
// node secrets-child.mjs <build dir> <sqlite|filesystem> <cache name> <origin URL>
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const [build, backend, name, origin] = process.argv.slice(2)
const { createCachedFetch, openCache } = await import(pathToFileURL(join(build, 'index.js')).href)
const S = (n) => `SECRET${n}x${'q'.repeat(4)}`
const statuses = []
const errors = []
const f = createCachedFetch({
  name,
  backend,
  allowableMethods: ['GET', 'HEAD', 'POST'],
  ignoredParameters: ['api_key', 'token', 'password', 'x-api-key'],
  matchHeaders: ['authorization', 'cookie'],
  staleIfError: true,
  onError: (e) => errors.push(`${e.message} ${e.cause?.message ?? ''}`),
})
const secretHeaders = { 'x-api-key': S(4), authorization: `Bearer ${S(5)}`, cookie: `sid=${S(6)}` }
const requests = [
  [`/data?api_key=${S(1)}&page=1`, { headers: secretHeaders }],
  [`/data?api_key=${S(1)}&page=1`, { headers: secretHeaders }],
  [`/data?api_key=${S(1)}&page=1`, { headers: { ...secretHeaders, 'if-none-match': '"x"' } }],
  [`/data?api_key=${S(1)}&page=1`, { headers: { ...secretHeaders, range: 'bytes=0-3' } }],
  [`/json?api_key=${S(1)}`, { method: 'POST', headers: { ...secretHeaders, 'content-type': 'application/json' }, body: JSON.stringify({ token: S(2), q: 1 }) }],
  [`/form?api_key=${S(1)}`, { method: 'POST', headers: { ...secretHeaders, 'content-type': 'application/x-www-form-urlencoded' }, body: `password=${S(3)}&q=1` }],
  [`/flaky?api_key=${S(1)}`, { headers: secretHeaders }],
  [`/flaky?api_key=${S(1)}`, { headers: { ...secretHeaders, 'cache-control': 'max-age=0' } }],
  [`/data?api_key=${S(1)}&page=1`, { method: 'PUT', headers: secretHeaders, body: 'x' }],
  // A response that varies on the credentials: stored, then matched, by digest.
  [`/vary?api_key=${S(1)}`, { headers: secretHeaders }],
  [`/vary?api_key=${S(1)}`, { headers: secretHeaders }],
  [`/vary?api_key=${S(1)}`, { headers: { ...secretHeaders, authorization: 'Bearer someone-else' } }],
]
for (const [path, init] of requests) {
  const res = await f(`${origin}${path}`, init)
  statuses.push(res.headers.get('cache-status'))
  await res.arrayBuffer()
  await f.cache.flush()
}
// The WAL before close (closing checkpoints it into the file and removes it).
const wal = existsSync(`${name}.sqlite-wal`) ? readFileSync(`${name}.sqlite-wal`).toString('latin1') : ''
const walSecrets = [1, 2, 3, 4, 5, 6].map(S).filter((s) => wal.includes(s))
await f.cache.close()
const cache = openCache({ name, backend })
const har = JSON.stringify(await cache.toHar())
await cache.close()
process.stdout.write(JSON.stringify({ statuses, errors, har, walBytes: wal.length, walSecrets }))

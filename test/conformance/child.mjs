// The second process of the conformance suite: opens the same store as the test, writes,
// reads and deletes what it is told, and prints what it read as JSON.
// node child.mjs <build dir> <sqlite|file|memcached|redis> <store path, or the backend's options as JSON> <plan JSON>
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const [dir, kind, path, planText] = process.argv.slice(2)
const plan = JSON.parse(planText)
const backend =
  kind === 'sqlite'
    ? new (await import(pathToFileURL(join(dir, 'backends/sqlite.js')).href)).SQLiteBackend({ path })
    : kind === 'memcached'
      ? new (await import(pathToFileURL(join(dir, 'backends/memcached.js')).href)).MemcachedBackend(JSON.parse(path))
    : kind === 'redis'
      ? new (await import(pathToFileURL(join(dir, 'backends/redis.js')).href)).RedisBackend(JSON.parse(path))
      : new (await import(pathToFileURL(join(dir, 'backends/file.js')).href)).FileBackend({ path })

// Must match sharedRecord() in suite.ts.
function record(key) {
  const digest = createHash('sha256').update(key).digest()
  const body = Buffer.concat([Buffer.from(`body of ${key}\n`.repeat(40)), digest, Buffer.from([0, 255, 0])])
  return {
    meta: {
      v: 1, kind: 'response', key, method: 'GET', url: `http://shared.test/${key}`, status: 200, statusText: 'OK',
      headers: { 'content-type': 'application/octet-stream' }, requestHeaders: {}, vary: [], createdAt: 1_700_000_000_000,
      expiresAt: null, initialAge: 0, staleIfErrorUntil: 0, staleWhileRevalidateUntil: 0, mustRevalidate: false, size: body.length, deadAt: null,
    },
    body,
  }
}

const seen = {}
for (const key of plan.writes ?? []) await backend.set(key, record(key))
for (const key of plan.reads ?? []) {
  const r = await backend.get(key)
  seen[key] = r ? Buffer.from(r.body).toString('base64') : null
}
const deleted = plan.deletes ? await backend.delete(plan.deletes) : 0
await backend.close()
process.stdout.write(JSON.stringify({ seen, deleted }))

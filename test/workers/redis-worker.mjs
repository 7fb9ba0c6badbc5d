// One process of the Redis multi-process test: a memory tier in front of a shared Redis.
// Phase 1: N requests over a set of URLs, every body checked against the origin's known bytes.
// Then it obeys JSON commands on stdin (invalidate a URL, watch for a URL to leave its memory
// tier, exit) and answers with JSON lines on stdout.
// node redis-worker.mjs <build dir> <origin> <redis url> <namespace> <total> <urls> <concurrency> <seed>
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { runLoad } from './load.mjs'

const [dir, base, redisUrl, namespace, total, urls, concurrency, seed] = process.argv.slice(2)
const { createCachedFetch, RedisBackend, TieredBackend } = await import(pathToFileURL(join(dir, 'index.js')).href)
const now = () => performance.timeOrigin + performance.now()
const say = (message) => process.stdout.write(`${JSON.stringify(message)}\n`)

const errors = []
// A generous command timeout: 4 processes start at once on a 2-core CI machine (the fault
// tests cover timeouts).
const redis = new RedisBackend({ url: redisUrl, namespace, commandTimeout: 5000 })
const tiered = new TieredBackend({ backend: redis })
await redis.watching
const f = createCachedFetch({ backend: tiered, onError: (e) => errors.push(String(e?.cause ?? e)) })

const { failures, mismatches } = await runLoad(f, { base, total, urls, concurrency, seed, errors })
say({ type: 'ran', failures, mismatches, backendErrors: errors.length, sampleErrors: errors.slice(0, 3) })

async function inMemory(url) {
  let n = 0
  for await (const _ of tiered.front.entries({ urls: [url] })) n++
  return n
}

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line)
  if (command.type === 'invalidate') {
    const res = await f(command.url, { method: 'POST', body: 'x' })
    await res.arrayBuffer()
    say({ type: 'invalidated', at: now(), status: res.status })
  } else if (command.type === 'watch') {
    const had = await inMemory(command.url)
    say({ type: 'watching', had })
    const deadline = now() + 5000
    while ((await inMemory(command.url)) > 0 && now() < deadline) await new Promise((r) => setTimeout(r, 1))
    say({ type: 'observed', at: now(), left: await inMemory(command.url) })
  } else if (command.type === 'exit') {
    await tiered.close()
    say({ type: 'closed', backendErrors: errors.length })
    process.exit(0)
  }
}

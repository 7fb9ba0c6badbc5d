// fetchcache demo: an API-polling pipeline run twice through installCache(), on the default
// SQLite backend, against a local origin with realistic latency. Loopback only.
import { fork } from 'node:child_process'
import { rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { request } from 'undici'
import { installCache, uninstallCache } from 'fetchcache'

const name = resolve(process.argv[2] ?? 'demo-cache/http_cache')
const file = `${name}.sqlite`
for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true })

const origin = fork(new URL('./origin.mjs', import.meta.url))
const { port } = await new Promise((ok) => origin.once('message', ok))
const base = `http://127.0.0.1:${port}`
const ask = (m) => new Promise((ok) => { origin.once('message', ok); origin.send(m) })

/** The pipeline: list pages, then details of some users, then a health check. */
async function poll() {
  const rows = []
  const time = async (label, fn) => {
    const t = performance.now()
    const status = await fn()
    rows.push({ label, status, ms: performance.now() - t })
  }
  for (const page of [1, 2, 3]) {
    await time(`fetch   /api/users?page=${page}`, async () => {
      const res = await fetch(`${base}/api/users?page=${page}`)
      await res.json()
      return res.headers.get('cache-status')
    })
  }
  for (const id of [1, 5, 12, 29]) {
    // undici's own request() goes through the same cache via the global dispatcher.
    await time(`request /api/users/${id}`, async () => {
      const res = await request(`${base}/api/users/${id}`)
      await res.body.json()
      return res.headers['cache-status']
    })
  }
  await time('fetch   /api/status', async () => {
    const res = await fetch(`${base}/api/status`)
    await res.json()
    return res.headers.get('cache-status')
  })
  return rows
}

function print(title, rows) {
  console.log(`\n${title}`)
  for (const r of rows) {
    const status = r.status.replace(/; key="[^"]*"/, '')
    console.log(`  ${r.label.padEnd(28)} ${status.padEnd(42)} ${r.ms.toFixed(1).padStart(7)} ms`)
  }
  const total = rows.reduce((s, r) => s + r.ms, 0)
  console.log(`  ${'total'.padEnd(71)} ${total.toFixed(1).padStart(7)} ms`)
  return total
}

// Pass 1: a cold cache. Pass 2: the cache is closed and reopened from the file, as a new run would.
const results = []
for (const title of ['pass 1: cold cache', 'pass 2: warm cache, reopened from disk']) {
  const cache = installCache({ name })
  const rows = await poll()
  await cache.flush()
  const stats = await cache.stats()
  await uninstallCache()
  results.push({ title, rows, stats, total: print(title, rows) })
}

const { requests } = await ask('count')
const calls = results[0].rows.length * 2
for (const { title, stats } of results) {
  console.log(`${title.split(':')[0]}: hit ratio ${(stats.hitRatio * 100).toFixed(0)}% (${stats.hits} hits, of which ${stats.revalidations} revalidated by a 304; ${stats.misses} misses)`)
}
console.log(`\norigin received ${requests} requests for ${calls} calls`)
console.log(`pass 2 took ${(results[1].total / results[0].total * 100).toFixed(1)}% of pass 1's time`)
console.log(`cache file: ${file}`)
origin.kill()

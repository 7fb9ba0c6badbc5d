import { randomBytes } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { Agent, type Dispatcher, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type CacheInterceptor, type CachedFetch, cacheInterceptor, createCachedFetch } from '../src/index.js'
import { type Closers, composeCache } from './helpers/compose.js'
import { type Origin, startOrigin } from './helpers/origin.js'

let origin: Origin
const closers: Closers = []
const body = randomBytes(64 * 1024)

/** Answer after `ms`, so that concurrent requests overlap for real. */
function slow(ms: number, status: number, headers: Record<string, string>, payload: Buffer | string = body) {
  return (_req: unknown, res: ServerResponse) => {
    setTimeout(() => {
      res.writeHead(status, headers)
      res.end(payload)
    }, ms)
  }
}

function interceptor(options: Parameters<typeof cacheInterceptor>[0] = {}): { ic: CacheInterceptor; dispatcher: Dispatcher } {
  return composeCache(options, closers, { connections: 64 })
}

beforeEach(async () => {
  origin = await startOrigin()
})

afterEach(async () => {
  for (const close of closers.splice(0)) await close()
  await origin.close()
})

async function many(n: number, dispatcher: Dispatcher, path: string) {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const res = await request(origin.url + path, { dispatcher })
      return { status: res.statusCode, cs: String(res.headers['cache-status']), body: Buffer.from(await res.body.arrayBuffer()) }
    }),
  )
}

describe('in-process coalescing', () => {
  it('identical concurrent misses send one origin request; every caller gets the whole body', async () => {
    origin.route('/slow', slow(150, 200, { 'cache-control': 'max-age=60' }))
    const { dispatcher } = interceptor()
    const results = await many(20, dispatcher, '/slow')
    expect(origin.count('/slow')).toBe(1)
    for (const r of results) expect(r.body.equals(body)).toBe(true)
    expect(results.filter((r) => r.cs.includes('collapsed'))).toHaveLength(19)
    expect(results.filter((r) => r.cs.includes('fwd=uri-miss; stored'))).toHaveLength(1)
  })

  it('through createCachedFetch, each caller gets its own readable Response', async () => {
    origin.route('/slow', slow(150, 200, { 'cache-control': 'max-age=60' }))
    const f: CachedFetch = createCachedFetch({ backend: 'memory' })
    closers.push(() => f.cache.close())
    const responses = await Promise.all(Array.from({ length: 10 }, () => f(`${origin.url}/slow`)))
    const bodies = await Promise.all(responses.map(async (r) => Buffer.from(await r.arrayBuffer())))
    expect(origin.count('/slow')).toBe(1)
    for (const b of bodies) expect(b.equals(body)).toBe(true)
  })

  it('an unstorable response is shared with the waiters instead of a stampede', async () => {
    origin.route('/nostore', slow(150, 200, { 'cache-control': 'no-store' }, 'private data'))
    const { dispatcher } = interceptor()
    const results = await many(10, dispatcher, '/nostore')
    expect(origin.count('/nostore')).toBe(1)
    for (const r of results) expect(r.body.toString()).toBe('private data')
    // Nothing was stored: the next request goes to the origin again.
    await many(1, dispatcher, '/nostore')
    expect(origin.count('/nostore')).toBe(2)
  })

  it('when the one request fails, every waiter gets the error', async () => {
    origin.route('/broken', (_req, res) => void setTimeout(() => res.destroy(), 100))
    const { dispatcher } = interceptor()
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => request(`${origin.url}/broken`, { dispatcher }).then((r) => r.body.text())))
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true)
    expect(origin.count('/broken')).toBe(1)
  })

  it('when the one request fails, waiters get stale-if-error content', async () => {
    let broken = false
    origin.route('/flaky', (req, res) => {
      if (broken) setTimeout(() => res.destroy(), 100)
      else slow(0, 200, { 'cache-control': 'max-age=0, stale-if-error=3600', etag: '"x"' })(req, res)
    })
    const { ic, dispatcher } = interceptor()
    await many(1, dispatcher, '/flaky')
    await ic.cache.flush()
    broken = true
    const results = await many(6, dispatcher, '/flaky')
    expect(origin.count('/flaky')).toBe(2)
    for (const r of results) {
      expect(r.status).toBe(200)
      expect(r.body.equals(body)).toBe(true)
      expect(r.cs).toMatch(/fwd=stale.*detail="stale-if-error/)
    }
  })

  it("the leader's caller aborting does not fail the waiters", async () => {
    origin.route('/slow', slow(200, 200, { 'cache-control': 'max-age=60' }))
    const { dispatcher } = interceptor()
    const controller = new AbortController()
    const leader = request(`${origin.url}/slow`, { dispatcher, signal: controller.signal })
    await new Promise((r) => setTimeout(r, 20))
    const waiters = many(5, dispatcher, '/slow')
    controller.abort()
    await expect(leader).rejects.toThrow()
    const results = await waiters
    for (const r of results) expect(r.body.equals(body)).toBe(true)
    expect(origin.count('/slow')).toBeLessThanOrEqual(2)
  })

  it('requests that ask for the origin (no-cache) are not folded into others', async () => {
    origin.route('/slow', slow(100, 200, { 'cache-control': 'max-age=60' }))
    const { dispatcher } = interceptor()
    await Promise.all(Array.from({ length: 3 }, () => request(`${origin.url}/slow`, { dispatcher, headers: { 'cache-control': 'no-cache' } }).then((r) => r.body.text())))
    expect(origin.count('/slow')).toBe(3)
  })
})

describe('leases between processes (SQLite)', () => {
  async function sqliteCache(options: Parameters<typeof cacheInterceptor>[0]) {
    const { SQLiteBackend } = await import('../src/index.js')
    const { tempDir } = await import('./helpers/tmp.js')
    const tmp = tempDir()
    const backend = new SQLiteBackend({ path: `${tmp.dir}/c.sqlite` })
    const made = interceptor({ backend, keyFn: () => 'fixed-key', ...options })
    closers.push(async () => {
      await backend.close()
      tmp.cleanup()
    })
    return { backend, ...made }
  }

  it("a crashed holder's lease expires and the waiter then fetches", async () => {
    origin.route('/x', slow(0, 200, { 'cache-control': 'max-age=60' }))
    const { backend, dispatcher } = await sqliteCache({ lockTimeout: '10s' })
    expect(await backend.leases.acquire('fixed-key', 'crashed-process', 300)).toMatchObject({ held: true })
    const t = performance.now()
    const [r] = await many(1, dispatcher, '/x')
    expect(performance.now() - t).toBeGreaterThanOrEqual(250)
    expect(r?.body.equals(body)).toBe(true)
    expect(origin.count('/x')).toBe(1)
  })

  it('a waiter gives up after lockTimeout and fetches for itself', async () => {
    origin.route('/x', slow(0, 200, { 'cache-control': 'max-age=60' }))
    const { backend, dispatcher } = await sqliteCache({ lockTimeout: 0.3 })
    expect(await backend.leases.acquire('fixed-key', 'slow-process', 60_000)).toMatchObject({ held: true })
    const t = performance.now()
    const [r] = await many(1, dispatcher, '/x')
    const waited = performance.now() - t
    expect(waited).toBeGreaterThanOrEqual(280)
    expect(waited).toBeLessThan(5000)
    expect(r?.status).toBe(200)
    expect(origin.count('/x')).toBe(1)
  })

  it('a waiter serves what the lease holder stored, without contacting the origin', async () => {
    origin.route('/x', slow(0, 200, { 'cache-control': 'max-age=60' }))
    const holder = await sqliteCache({})
    const { backend } = holder
    expect(await backend.leases.acquire('fixed-key', 'other-process', 60_000)).toMatchObject({ held: true })
    const pending = many(1, holder.dispatcher, '/x')
    await new Promise((r) => setTimeout(r, 100))
    // The "other process" stores the response and lets go, as a holder does.
    const other = cacheInterceptor({ backend, keyFn: () => 'fixed-key' })
    const otherDispatcher = new Agent().compose(other)
    await withCacheDisabledLease(otherDispatcher)
    await other.cache.flush()
    await backend.leases.release('fixed-key', 'other-process')
    const [r] = await pending
    expect(r?.cs).toMatch(/collapsed/)
    expect(origin.count('/x')).toBe(1)
    await otherDispatcher.close()
  })
})

/** The other process's fetch: it holds the lease itself, so it goes straight to the origin. */
async function withCacheDisabledLease(dispatcher: Dispatcher): Promise<void> {
  const res = await request(`${origin.url}/x`, { dispatcher, headers: { 'cache-control': 'no-cache' } })
  await res.body.arrayBuffer()
}

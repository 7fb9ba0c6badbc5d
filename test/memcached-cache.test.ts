/**
 * `backend: 'memcached'` as users meet it: options, a cache shared through one real memcached,
 * leases and native expiry, the memory tier's bound, faults (server down, stalled), and the
 * Cache API and CLI saying plainly what a store without listing cannot do.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { type CacheOptions, cacheInfo, createCachedFetch, MemcachedBackend, openCache, TieredBackend } from '../src/index.js'
import { run } from '../src/cli/program.js'
import { rec } from './conformance/suite.js'
import { createClient } from '../src/backends/memcached-client.js'
import { dumpKeys, memcachedAvailable, type MemcachedServer, startMemcached } from './helpers/memcached.js'
import { freePort } from './helpers/net.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'

const available = memcachedAvailable()
let server: MemcachedServer
let origin: Origin
let nsCount = 0
/** A namespace of its own for each cache a test makes. */
const fresh = () => `mc${process.pid}-${nsCount++}:`

beforeAll(async () => {
  origin = await startOrigin()
  if (available) server = await startMemcached()
})
afterAll(async () => {
  await origin?.close()
  await server?.stop()
})

describe('options', () => {
  it.each([
    [{ servers: 'no spaces allowed:11211' }, /memcached servers: expected 'host:port' or a list of them .*got 'no spaces allowed:11211'/],
    [{ servers: [] }, /memcached servers: expected 'host:port'/],
    [{ maxSize: 1000 }, /memcached maxSize: Memcached bounds its memory itself \(memcached -m <MB>\)/],
    [{ maxEntries: 10 }, /memcached maxEntries: Memcached bounds its memory itself/],
    [{ namespace: 'has space:' }, /memcached namespace: expected up to 100 printable ASCII characters without spaces; got 'has space:'/],
    [{ timeoutMs: 0 }, /memcached timeoutMs: expected a positive whole number; got 0/],
    [{ maxItemSize: 100 }, /memcached maxItemSize: expected the servers' item size limit in bytes \(at least 4096\); got 100/],
    [{ memoryTtlMs: -1 }, /memcached.memoryTtlMs: expected a whole number of milliseconds \(0: no memory tier\); got -1/],
    [{ ownsServers: 'yes' }, /memcached ownsServers: expected true or false; got 'yes'/],
    [{ client: {} }, /memcached client: expected a memjs Client \(with get, set, add, delete, flush, close\); got an object without get/],
    [{ servers: 'a:1', client: {} }, /memcached: give servers or client, not both/],
    [{ sever: 'a:1' }, /memcached: unknown option 'sever'/],
  ])('rejects memcached: %j with a ConfigError naming the option', (memcached, message) => {
    const options = { backend: 'memcached', memcached } as CacheOptions
    expect(() => createCachedFetch(options)).toThrow(message)
    expect(() => createCachedFetch(options)).toThrow(expect.objectContaining({ code: 'ERR_FETCHCACHE_CONFIG' }))
  })

  it('rejects memcached options given to another backend, and a bad backend name', () => {
    expect(() => createCachedFetch({ backend: 'sqlite', memcached: '127.0.0.1:11211' })).toThrow(/memcached: only read with backend: 'memcached'/)
    expect(() => createCachedFetch({ backend: 'memcache' as 'memcached' })).toThrow(/backend: expected 'sqlite', 'filesystem', 'memory', 'memcached', 'redis' or a Backend instance; got 'memcache'/)
  })
})

describe.runIf(available)('a cache shared through memcached', () => {
  const made: Array<{ cache: { close(): Promise<void> } }> = []
  const cached = (memcached: NonNullable<CacheOptions['memcached']>, extra: CacheOptions = {}) => {
    const f = createCachedFetch({ backend: 'memcached', memcached, ...extra })
    made.push(f)
    return f
  }
  afterEach(async () => {
    for (const f of made.splice(0)) await f.cache.close()
  })

  it('what one cache stores, another (another process, another machine) serves: the origin sees one request', async () => {
    origin.route('/shared', reply(200, { 'cache-control': 'max-age=600' }, 'shared body'))
    const namespace = fresh()
    const one = cached({ servers: server.address, namespace })
    const two = cached({ servers: [server.address], namespace })
    expect(await (await one(`${origin.url}/shared`)).text()).toBe('shared body')
    await one.cache.flush()
    const res = await two(`${origin.url}/shared`)
    expect(await res.text()).toBe('shared body')
    expect(res.headers.get('cache-status')).toMatch(/^fetchcache; hit/)
    expect(origin.count('/shared')).toBe(1)
  })

  it('the memory tier keeps a copy at most memoryTtlMs: then it sees what another process wrote', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const namespace = fresh()
      const front = new TieredBackend({ backend: new MemcachedBackend({ servers: server.address, namespace }), memory: { maxAgeMs: 1000 } })
      const other = new MemcachedBackend({ servers: server.address, namespace })
      await front.set('k', rec('k', 'first'))
      await other.set('k', rec('k', 'second'))
      // Within the bound this process may still serve its copy…
      expect(Buffer.from((await front.get('k'))!.body).toString()).toBe('first')
      vi.setSystemTime(Date.now() + 1000)
      // …and past it, it asks memcached again.
      expect(Buffer.from((await front.get('k'))!.body).toString()).toBe('second')
      await front.close()
      await other.close()
    } finally {
      vi.useRealTimers()
    }
  })

  it('leases: add takes a free one, the holder may take it again, only the holder releases; both leases and entries expire natively', async () => {
    const namespace = fresh()
    const a = new MemcachedBackend({ servers: server.address, namespace })
    const b = new MemcachedBackend({ servers: server.address, namespace })
    expect(await a.leases.acquire('k', 'A', 10_000)).toBe(true)
    expect(await b.leases.acquire('k', 'B', 10_000)).toBe(false)
    expect(await a.leases.acquire('k', 'A', 10_000)).toBe(true)
    await b.leases.release('k', 'B')
    expect(await b.leases.acquire('k', 'B', 10_000)).toBe(false)
    await a.leases.release('k', 'A')
    expect(await b.leases.acquire('k', 'B', 10_000)).toBe(true)

    // A crashed holder: its lease goes by itself. An entry goes when it is of no use (deadAt).
    expect(await a.leases.acquire('crashed', 'A', 1000)).toBe(true)
    await a.set('dies', rec('dies', 'x', { deadAt: Date.now() + 1000 }))
    await a.set('lives', rec('lives', 'x', { deadAt: null }))
    expect(await b.get('dies')).toBeDefined()
    // Memcached counts whole seconds on its own clock: a 1 s expiry is gone within 2 s.
    await sleep(2500)
    expect(await b.leases.acquire('crashed', 'B', 1000)).toBe(true)
    expect(await b.get('dies')).toBeUndefined()
    expect(await b.get('lives')).toBeDefined()
    await a.close()
    await b.close()
  })

  it('invalidating a URL (deleteMatching({ urls })) turns every entry of it into a miss, in every process', async () => {
    const namespace = fresh()
    const a = new MemcachedBackend({ servers: server.address, namespace })
    const b = new MemcachedBackend({ servers: server.address, namespace })
    await a.set('get', rec('get', 'x', { url: 'http://h/1' }))
    await a.set('variant', rec('variant', 'y', { url: 'http://h/1' }))
    await a.set('other', rec('other', 'z', { url: 'http://h/2' }))
    await b.deleteMatching({ urls: ['http://h/1'] })
    expect(await a.get('get')).toBeUndefined()
    expect(await a.get('variant')).toBeUndefined()
    expect(await a.get('other')).toBeDefined()
    // Written again after the invalidation: a hit.
    await a.set('get', rec('get', 'x2', { url: 'http://h/1' }))
    expect(Buffer.from((await b.get('get'))!.body).toString()).toBe('x2')
    await expect(b.deleteMatching({ urls: ['http://h/2'], expiredAt: Date.now() })).rejects.toMatchObject({ code: 'ERR_FETCHCACHE_UNSUPPORTED' })
    await a.close()
    await b.close()
  })

  it('a URL generation evicted by memcached makes its entries misses, never hits again', async () => {
    const namespace = fresh()
    const b = new MemcachedBackend({ servers: server.address, namespace })
    await b.set('k', rec('k', 'x', { url: 'http://h/evicted' }))
    const raw = await createClient([server.address], 1000)
    const generations = (await dumpKeys(server.port)).filter((k) => k.startsWith(`${namespace}url:`))
    expect(generations).toHaveLength(1)
    await raw.delete(generations[0]!)
    raw.close()
    expect(await b.get('k')).toBeUndefined()
    await b.close()
  })

  it('an unsafe method invalidates its URL (RFC 9111 §4.4) for this process and for others past their memory tier', async () => {
    let version = 1
    origin.route('/inv', (req, res) => {
      if (req.method === 'POST') version++
      res.writeHead(200, { 'cache-control': 'max-age=600' })
      res.end(`v${version}`)
    })
    const namespace = fresh()
    const one = cached({ servers: server.address, namespace })
    const two = cached({ servers: server.address, namespace, memoryTtlMs: 0 })
    expect(await (await one(`${origin.url}/inv`)).text()).toBe('v1')
    await one.cache.flush()
    expect(await (await two(`${origin.url}/inv`)).text()).toBe('v1')
    await (await one(`${origin.url}/inv`, { method: 'POST', body: 'change' })).text()
    expect(await (await one(`${origin.url}/inv`)).text()).toBe('v2')
    expect(await (await two(`${origin.url}/inv`)).text()).toBe('v2')
    expect(origin.seen.filter((r) => r.url === '/inv').map((r) => r.method)).toEqual(['GET', 'POST', 'GET'])
  })

  it('a server that is down never fails a request, and each one waits at most the command timeout; caching resumes when it is back', async () => {
    const down = await startMemcached()
    let body = 'v1'
    origin.route('/down', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600' })
      res.end(body)
    })
    const errors: unknown[] = []
    const f = cached({ servers: down.address, namespace: fresh(), timeoutMs: 300, memoryTtlMs: 0 }, { onError: (e) => errors.push(e) })
    expect(await (await f(`${origin.url}/down`)).text()).toBe('v1')
    await f.cache.flush()
    await down.stop()
    body = 'v2'
    for (let i = 0; i < 5; i++) {
      const t = performance.now()
      const res = await f(`${origin.url}/down`)
      expect(await res.text()).toBe('v2')
      await f.cache.flush()
      // The lookup and the store each wait at most timeoutMs (300); the slack is the busy machine's.
      expect(performance.now() - t).toBeLessThan(2000)
    }
    expect(errors.length).toBeGreaterThan(0)
    expect(String((errors[0] as Error).cause ?? errors[0])).toMatch(/memcached/)
    // Back (empty): after memjs's pause on a dead server, entries are stored and served again.
    await down.start()
    await sleep(2200)
    const before = origin.count('/down')
    await f(`${origin.url}/down`)
    await f.cache.flush()
    const hit = await f(`${origin.url}/down`)
    expect(hit.headers.get('cache-status')).toMatch(/^fetchcache; hit/)
    expect(origin.count('/down')).toBe(before + 1)
    await down.stop()
  }, 30_000)

  it('a server that stalls (up, not answering) never holds a request past the timeout', async () => {
    const stalled = await startMemcached()
    origin.route('/stall', reply(200, { 'cache-control': 'max-age=600' }, 'fresh from origin'))
    const errors: unknown[] = []
    const f = cached({ servers: stalled.address, namespace: fresh(), timeoutMs: 300, memoryTtlMs: 0 }, { onError: (e) => errors.push(e) })
    stalled.pause()
    try {
      const t = performance.now()
      expect(await (await f(`${origin.url}/stall`)).text()).toBe('fresh from origin')
      expect(performance.now() - t).toBeLessThan(2000)
      expect(errors.map((e) => String((e as Error).cause ?? e)).join('\n')).toMatch(/memcached get.*(no answer within 300 ms|timed out)/)
    } finally {
      stalled.resume()
      await stalled.stop()
    }
  })

  it('a server that was never there: requests go to the origin, onError hears why', async () => {
    origin.route('/never', reply(200, { 'cache-control': 'max-age=600' }, 'ok'))
    const errors: unknown[] = []
    const f = cached({ servers: `127.0.0.1:${await freePort()}`, namespace: fresh(), timeoutMs: 300 }, { onError: (e) => errors.push(e) })
    for (let i = 0; i < 3; i++) expect(await (await f(`${origin.url}/never`)).text()).toBe('ok')
    expect(errors.length).toBeGreaterThan(0)
  })
})

describe.runIf(available)('what a store without listing cannot do, said plainly', () => {
  const options = () => ({ backend: 'memcached', memcached: { servers: server.address, namespace: 'cli:', memoryTtlMs: 0 } }) as const

  it('the Cache API: listing, filters, counts and HAR export reject with UnsupportedError; keys and plain GET URLs work', async () => {
    origin.route('/api', reply(200, { 'cache-control': 'max-age=600' }, 'api body'))
    const f = createCachedFetch(options())
    const first = await f(`${origin.url}/api`)
    await first.text()
    const key = cacheInfo(first)!.key!
    await f.cache.flush()
    const cache = f.cache
    const unsupported = [
      ['entries()', async () => { for await (const _ of cache.entries()) break }],
      ['urls()', () => cache.urls()],
      ['stats()', () => cache.stats()],
      ['delete() by URL, expiry or age', () => cache.delete({ urls: [`${origin.url}/api`] })],
      ['delete() by URL, expiry or age', () => cache.delete({ expired: true })],
      ['HAR export', () => cache.toHar()],
      ['resetExpiration()', () => cache.resetExpiration(60)],
    ] as const
    for (const [what, attempt] of unsupported) {
      await expect(attempt()).rejects.toThrow(`${what} is not supported by the memcached backend: it cannot list its keys`)
      await expect(attempt()).rejects.toMatchObject({ code: 'ERR_FETCHCACHE_UNSUPPORTED' })
    }
    await expect(cache.clear()).rejects.toThrow(/clear\(\) is not supported by the memcached backend unless it owns the servers/)
    const res = await cache.get(`${origin.url}/api`)
    expect(await res!.text()).toBe('api body')
    expect(await cache.delete({ keys: [key] })).toBe(1)
    expect(await cache.get(`${origin.url}/api`)).toBeUndefined()
    await cache.close()
  })

  it('openCache on memcached opens without a file to check, and clear() flushes when the servers are the cache\'s alone', async () => {
    const backend = new MemcachedBackend({ servers: server.address, namespace: 'owned:', ownsServers: true })
    await backend.set('k', rec('k', 'x'))
    const cache = openCache({ backend })
    await cache.clear()
    expect(await backend.get('k')).toBeUndefined()
    await cache.close()
    await backend.close()
  })

  describe('the command line', () => {
    let stderr: string
    let stdout: string
    const cli = async (...args: string[]) => {
      stderr = ''
      stdout = ''
      const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true))
      const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true))
      try {
        return await run(['node', 'fetchcache', ...args, '--backend', 'memcached', '--memcached', server.address])
      } finally {
        err.mockRestore()
        out.mockRestore()
      }
    }

    it.each([
      [['ls'], 'entries()'],
      [['purge', '--url', '127.0.0.1/*'], 'entries()'],
      [['purge', '--expired'], 'entries()'],
      [['stats'], 'stats()'],
      [['export', '--har', '-'], 'HAR export'],
    ])('%j exits 2 with one line saying the memcached backend cannot do it', async (args, what) => {
      expect(await cli(...args)).toBe(2)
      expect(stderr).toBe(`error: ${what} is not supported by the memcached backend: it cannot list its keys\n`)
      expect(stdout).toBe('')
    })

    it('get fetches through the memcached cache', async () => {
      origin.route('/cli-get', reply(200, { 'cache-control': 'max-age=600' }, 'via cli'))
      expect(await cli('get', `${origin.url}/cli-get`)).toBe(0)
      expect(await cli('get', `${origin.url}/cli-get`)).toBe(0)
      expect(stdout).toMatch(/fetchcache; hit/)
      expect(origin.count('/cli-get')).toBe(1)
      // The key, as this library computes it: the same cache in this process (a hit).
      const f = createCachedFetch(options())
      const key = cacheInfo(await f(`${origin.url}/cli-get`))?.key
      await f.cache.close()
      expect(key).toBeDefined()
      expect(await cli('show', key!)).toBe(0)
      expect(stdout).toContain(`GET ${origin.url}/cli-get`)
      expect(await cli('show', `${origin.url}/cli-get`)).toBe(2)
      expect(stderr).toMatch(/entries\(\) is not supported by the memcached backend/)
    })
  })
})

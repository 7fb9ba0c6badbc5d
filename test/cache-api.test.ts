/**
 * The Cache inspection and maintenance API: get, entries/urls with filters, delete, clear,
 * resetExpiration, stats, and openCache on an existing store. Entries are written straight to
 * the backend with chosen timestamps (no clock to fake), or through a cached fetch against a
 * real origin on 127.0.0.1 where what the origin saw matters.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Cache } from '../src/inspect/cache.js'
import { createEngine } from '../src/pipeline/create.js'
import { CacheNotFoundError, ConfigError, NEVER_EXPIRE, cacheInterceptor, createCachedFetch, MemoryBackend, openCache } from '../src/index.js'
import type { EntryMeta } from '../src/backends/contract.js'
import { meta } from './helpers/meta.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

const NOW = Date.now()
const MIN = 60_000

function entry(key: string, overrides: Partial<EntryMeta> = {}): EntryMeta {
  return meta({ key, createdAt: NOW - MIN, expiresAt: NOW + 10 * MIN, ...overrides })
}

async function put(cache: Cache, m: EntryMeta, body = 'body'): Promise<void> {
  await cache.engine.backend.set(m.key, { meta: { ...m, size: Buffer.byteLength(body) }, body: Buffer.from(body) })
}

/** A response for storeResponse(). */
const ok = (headers: Record<string, string>, body = 'stored by hand') => ({ status: 200, statusText: 'OK', headers, body: Buffer.from(body) })

async function keys(cache: Cache, filter?: Parameters<Cache['entries']>[0]): Promise<string[]> {
  const out: string[] = []
  for await (const m of cache.entries(filter)) out.push(m.key)
  return out.sort()
}

describe('entries() and urls() filters', () => {
  let cache: Cache
  beforeEach(async () => {
    cache = new Cache(createEngine({ backend: new MemoryBackend() }))
    await put(cache, entry('a', { url: 'https://api.example.com/v1/users?page=1', status: 200 }))
    await put(cache, entry('b', { url: 'https://api.example.com/v1/users/1', status: 404 }))
    await put(cache, entry('c', { url: 'https://api.example.com:8443/v2/items', method: 'POST' }))
    await put(cache, entry('d', { url: 'https://cdn.example.org/app.js', expiresAt: NOW - MIN }))
    await put(cache, entry('e', { url: 'https://cdn.example.org/old.js', createdAt: NOW - 8 * 86_400_000, expiresAt: null }))
    // A Vary marker is bookkeeping, never an entry.
    await put(cache, entry('m', { url: 'https://api.example.com/v1/users/1', kind: 'vary', vary: ['accept'] }))
  })

  it('lists every stored response without a filter, and no Vary markers', async () => {
    expect(await keys(cache)).toEqual(['a', 'b', 'c', 'd', 'e'])
  })

  it('filters by URL glob (without scheme, as a prefix) and RegExp', async () => {
    expect(await keys(cache, { url: 'api.example.com/v1' })).toEqual(['a', 'b'])
    expect(await keys(cache, { url: 'https://api.example.com/v1/users/*' })).toEqual(['b'])
    expect(await keys(cache, { url: '*.example.org/*.js' })).toEqual(['d', 'e'])
    expect(await keys(cache, { url: /\/v2\// })).toEqual(['c'])
  })

  it('filters by host or host name, method and status', async () => {
    expect(await keys(cache, { host: 'cdn.example.org' })).toEqual(['d', 'e'])
    expect(await keys(cache, { host: 'api.example.com:8443' })).toEqual(['c'])
    expect(await keys(cache, { host: 'API.example.com' })).toEqual(['a', 'b', 'c'])
    expect(await keys(cache, { method: 'post' })).toEqual(['c'])
    expect(await keys(cache, { status: 404 })).toEqual(['b'])
    expect(await keys(cache, { status: [200, 404], host: 'api.example.com' })).toEqual(['a', 'b', 'c'])
  })

  it('filters by expiry and age, and combines every field with AND', async () => {
    expect(await keys(cache, { expired: true })).toEqual(['d'])
    expect(await keys(cache, { expired: false })).toEqual(['a', 'b', 'c', 'e'])
    expect(await keys(cache, { olderThan: '7d' })).toEqual(['e'])
    expect(await keys(cache, { olderThan: 30 })).toEqual(['a', 'b', 'c', 'd', 'e'])
    // Seconds as text, as the CLI's --older-than 604800 hands them over: the same as '7d'.
    expect(await keys(cache, { olderThan: '604800' })).toEqual(['e'])
    expect(await keys(cache, { host: 'cdn.example.org', expired: false })).toEqual(['e'])
    expect(await keys(cache, { url: 'api.example.com', status: 404, method: 'GET' })).toEqual(['b'])
  })

  it('urls() gives distinct sorted URLs, and takes the same filter', async () => {
    expect(await cache.urls({ host: 'cdn.example.org' })).toEqual(['https://cdn.example.org/app.js', 'https://cdn.example.org/old.js'])
  })

  it('rejects an olderThan that is not a duration', async () => {
    await expect(keys(cache, { olderThan: '7 days' })).rejects.toThrow(ConfigError)
  })
})

describe('delete()', () => {
  let cache: Cache
  beforeEach(async () => {
    cache = new Cache(createEngine({ backend: new MemoryBackend() }))
    await put(cache, entry('a', { url: 'https://x.test/a?a=1&b=2' }))
    await put(cache, entry('old', { url: 'https://x.test/old', createdAt: NOW - 10 * 86_400_000 }))
    await put(cache, entry('exp', { url: 'https://x.test/exp', expiresAt: NOW - 1000 }))
    await put(cache, entry('v1', { url: 'https://x.test/v', vary: ['accept'] }))
    await put(cache, entry('v2', { url: 'https://x.test/v', vary: ['accept'] }))
    await put(cache, entry('vm', { url: 'https://x.test/v', kind: 'vary', vary: ['accept'] }))
  })

  async function all(): Promise<string[]> {
    const out: string[] = []
    for await (const [key] of cache.engine.backend.entries()) out.push(key)
    return out.sort()
  }

  it('deletes by key and by URL, normalising the URL as keys are', async () => {
    expect(await cache.delete({ keys: ['old', 'nope'] })).toBe(1)
    expect(await cache.delete({ urls: ['https://x.test/a?b=2&a=1#frag'] })).toBe(1)
    expect(await all()).toEqual(['exp', 'v1', 'v2', 'vm'])
  })

  it('deletes every variant of a URL and its Vary marker, counting responses only', async () => {
    expect(await cache.delete({ urls: ['https://x.test/v'] })).toBe(2)
    expect(await all()).toEqual(['a', 'exp', 'old'])
  })

  it('removes a Vary marker once its last variant is gone, not before', async () => {
    await cache.delete({ keys: ['v1'] })
    expect(await all()).toContain('vm')
    await cache.delete({ keys: ['v2'] })
    expect(await all()).not.toContain('vm')
  })

  it('deletes expired entries and entries older than a duration; criteria add up (OR)', async () => {
    expect(await cache.delete({ expired: true })).toBe(1)
    expect(await cache.delete({ olderThan: '7d', keys: ['a'] })).toBe(2)
    expect(await all()).toEqual(['v1', 'v2', 'vm'])
  })

  it('deletes nothing when given nothing', async () => {
    expect(await cache.delete({})).toBe(0)
    expect(await all()).toHaveLength(6)
  })

  it('clear() empties the store', async () => {
    await cache.clear()
    expect(await all()).toEqual([])
  })
})

describe('resetExpiration()', () => {
  it('gives every entry a new expiry from now, with the stale windows a fresh store would give it', async () => {
    const cache = new Cache(createEngine({ backend: new MemoryBackend(), staleIfError: '1d' }))
    // a: its response asks for a one-minute stale-if-error window, longer than nothing but shorter than the option.
    await put(cache, entry('a', { headers: { 'cache-control': 'max-age=60, stale-if-error=172800' }, expiresAt: NOW - 5 * MIN, staleIfErrorUntil: NOW - 4 * MIN, staleWhileRevalidateUntil: 0 }))
    // b: stored with NEVER_EXPIRE, so it had no windows; the staleIfError option must apply once it can expire.
    await put(cache, entry('b', { expiresAt: null, staleIfErrorUntil: null, staleWhileRevalidateUntil: Number.MAX_SAFE_INTEGER }))
    // c: must-revalidate closes both windows (RFC 9111 §4.2.4).
    await put(cache, entry('c', { headers: { 'cache-control': 'max-age=60, must-revalidate' }, mustRevalidate: true, staleIfErrorUntil: 0, staleWhileRevalidateUntil: 0 }))
    const before = Date.now()
    expect(await cache.resetExpiration('1h')).toBe(3)
    const after = Date.now()
    const got = new Map<string, EntryMeta>()
    for await (const m of cache.entries()) got.set(m.key, m)
    const [a, b, c] = [got.get('a')!, got.get('b')!, got.get('c')!]
    expect(a.expiresAt).toBeGreaterThanOrEqual(before + 3_600_000)
    expect(a.expiresAt).toBeLessThanOrEqual(after + 3_600_000)
    // The directive's two days beat the option's one day.
    expect(a.staleIfErrorUntil! - a.expiresAt!).toBe(2 * 86_400_000)
    expect(a.staleWhileRevalidateUntil).toBe(0)
    expect(b.staleIfErrorUntil! - b.expiresAt!).toBe(86_400_000)
    expect(b.staleWhileRevalidateUntil).toBe(0)
    expect([c.staleIfErrorUntil, c.staleWhileRevalidateUntil]).toEqual([0, 0])
    expect(await keys(cache, { expired: true })).toEqual([])
    await cache.resetExpiration(NEVER_EXPIRE)
    for await (const m of cache.entries()) expect(m.expiresAt).toBeNull()
  })

  it('refuses DO_NOT_CACHE and invalid expiries', async () => {
    const cache = new Cache(createEngine({ backend: new MemoryBackend() }))
    await expect(cache.resetExpiration('DO_NOT_CACHE')).rejects.toThrow(/DO_NOT_CACHE/)
    await expect(cache.resetExpiration('soon')).rejects.toThrow(ConfigError)
  })
})

describe('with a real origin', () => {
  let origin: Origin
  let tmp: ReturnType<typeof tempDir>
  beforeEach(async () => {
    tmp = tempDir()
    origin = await startOrigin({
      '/a': reply(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' }, 'alpha'),
      '/b': reply(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' }, 'bravo!'),
      '/live': reply(200, { 'content-type': 'text/plain' }, 'from the origin'),
      '/etag': (req, res) => {
        if (req.headers['if-none-match'] === '"1"') res.writeHead(304, { etag: '"1"', 'cache-control': 'no-cache' }).end()
        else res.writeHead(200, { 'content-type': 'text/plain', etag: '"1"', 'cache-control': 'no-cache' }).end('tagged')
      },
    })
  })
  afterEach(async () => {
    await origin.close()
    tmp.cleanup()
  })

  it('get(url) and get(key) give a Response from storage without contacting the origin', async () => {
    const f = createCachedFetch({ name: join(tmp.dir, 'c') })
    const res = await f(`${origin.url}/a`)
    await res.text()
    await f.cache.flush()
    const seen = origin.seen.length
    const byUrl = await f.cache.get(`${origin.url}/a`)
    expect(byUrl).toBeInstanceOf(Response)
    expect(byUrl!.status).toBe(200)
    expect(await byUrl!.text()).toBe('alpha')
    expect(byUrl!.headers.get('cache-status')).toMatch(/^fetchcache; hit/)
    const [m] = [...(await collect(f.cache))]
    expect(await (await f.cache.get(m!.key))!.text()).toBe('alpha')
    expect(await f.cache.get(`${origin.url}/missing`)).toBeUndefined()
    expect(origin.seen.length).toBe(seen)
    await f.cache.close()
  })

  it('storeResponse() stores by this cache\'s rules, and the cached fetch then serves it without the origin', async () => {
    const f = createCachedFetch({ name: join(tmp.dir, 'c') })
    const url = `${origin.url}/live`
    expect(await f.cache.storeResponse({ method: 'GET', url }, ok({ 'cache-control': 'max-age=600', 'content-type': 'text/plain' }))).toEqual({ stored: true })
    const res = await f(url)
    expect(await res.text()).toBe('stored by hand')
    expect(res.headers.get('cache-status')).toMatch(/^fetchcache; hit/)
    expect(origin.seen).toHaveLength(0)
    await f.cache.close()
  })

  it('stats() counts what the store holds and what this process did, in total and per host', async () => {
    const f = createCachedFetch({ name: join(tmp.dir, 'c') })
    for (const path of ['/a', '/a', '/b', '/etag', '/etag']) {
      await (await f(`${origin.url}${path}`)).text()
      await f.cache.flush()
    }
    await f.cache.flush()
    const s = await f.cache.stats()
    const host = new URL(origin.url).host
    expect(s).toMatchObject({ entries: 3, bytes: 5 + 6 + 6, expired: 1, hits: 2, misses: 3, revalidations: 1, stores: 3, errors: 0 })
    expect(s.hitRatio).toBeCloseTo(2 / 5)
    expect(s.hosts[host]).toMatchObject({ entries: 3, bytes: 17, expired: 1, hits: 2, misses: 3 })
    await f.cache.close()
  })

  it('the same Cache API is on cachedFetch.cache and interceptor.cache', async () => {
    const interceptor = cacheInterceptor({ backend: 'memory' })
    const dispatcher = new Agent().compose(interceptor)
    const { body } = await request(`${origin.url}/b`, { dispatcher })
    await body.text()
    await interceptor.cache.flush()
    expect(await interceptor.cache.urls()).toEqual([`${origin.url}/b`])
    expect((await interceptor.cache.stats()).entries).toBe(1)
    expect(await interceptor.cache.delete({ urls: [`${origin.url}/b`] })).toBe(1)
    await interceptor.cache.close()
    await dispatcher.close()
  })

  it('openCache() opens what a cached fetch stored, without fetching', async () => {
    const name = join(tmp.dir, 'sub', 'store')
    const f = createCachedFetch({ name })
    await (await f(`${origin.url}/a`)).text()
    await f.cache.close()
    const seen = origin.seen.length
    const cache = openCache({ name })
    expect(await cache.urls()).toEqual([`${origin.url}/a`])
    expect(await (await cache.get(`${origin.url}/a`))!.text()).toBe('alpha')
    await cache.close()
    expect(origin.seen.length).toBe(seen)
  })
})

async function collect(cache: Cache): Promise<EntryMeta[]> {
  const out: EntryMeta[] = []
  for await (const m of cache.entries()) out.push(m)
  return out
}

describe('raw entries and the write path: now, getEntry, putEntry, markers, storeResponse', () => {
  it.each<[string, { method?: string; status?: number; headers: Record<string, string> }, RegExp]>([
    ['no-store', { headers: { 'cache-control': 'no-store' } }, /no-store/],
    ['a status outside allowableCodes', { status: 500, headers: {} }, /^status 500 not in allowableCodes$/],
    ['a method outside allowableMethods', { method: 'POST', headers: { 'cache-control': 'max-age=60' } }, /.+/],
  ])('storeResponse() gives the reason it does not store %s, and stores nothing', async (_name, c, reason) => {
    const cache = new Cache(createEngine({ backend: new MemoryBackend() }))
    const result = await cache.storeResponse({ method: c.method ?? 'GET', url: 'https://example.com/x' }, { ...ok(c.headers), status: c.status ?? 200 })
    expect(result.stored).toBe(false)
    expect(result.stored === false && result.reason).toMatch(reason)
    expect(await keys(cache)).toEqual([])
    await cache.close()
  })

  it('getEntry() reads the record at a key, putEntry() puts it back as it was; markers() lists what entries() leaves out', async () => {
    const cache = new Cache(createEngine({ backend: new MemoryBackend() }))
    const url = 'https://example.com/varied'
    const stored = await cache.storeResponse({ method: 'GET', url, headers: { accept: 'text/plain' } }, ok({ 'cache-control': 'max-age=600', vary: 'accept' }))
    expect(stored).toEqual({ stored: true })
    const [variant] = await collect(cache)
    const markers: EntryMeta[] = []
    for await (const m of cache.markers()) markers.push(m)
    expect(markers.map((m) => [m.kind, m.url, m.vary])).toEqual([['vary', url, ['accept']]])
    const record = await cache.getEntry(variant!.key)
    const marker = await cache.getEntry(markers[0]!.key)
    expect(Buffer.from(record!.body).toString()).toBe('stored by hand')
    expect(marker!.meta.kind).toBe('vary')
    expect(await cache.getEntry('no such key')).toBeUndefined()
    await cache.clear()
    await cache.putEntry(marker!)
    await cache.putEntry(record!)
    expect(await cache.getEntry(variant!.key)).toEqual(record)
    expect(await (await cache.get(url))!.text()).toBe('stored by hand')
    await cache.close()
  })

  it('now() is the clock the cache measures ages and expiry with', async () => {
    const cache = new Cache(createEngine({ backend: new MemoryBackend() }))
    const before = Date.now()
    const now = cache.now()
    expect(now).toBeGreaterThanOrEqual(before)
    expect(now).toBeLessThanOrEqual(Date.now())
    await cache.close()
  })
})

describe('openCache()', () => {
  let tmp: ReturnType<typeof tempDir>
  beforeEach(() => {
    tmp = tempDir()
  })
  afterEach(() => tmp.cleanup())

  it('refuses a store that does not exist, and creates nothing', () => {
    const name = join(tmp.dir, 'missing')
    expect(() => openCache({ name })).toThrow(CacheNotFoundError)
    expect(() => openCache({ name })).toThrow(`no cache at ${name}.sqlite`)
    expect(existsSync(`${name}.sqlite`)).toBe(false)
  })

  it('refuses a folder where a SQLite file is expected', () => {
    mkdirSync(join(tmp.dir, 'dir.sqlite'))
    expect(() => openCache({ name: join(tmp.dir, 'dir') })).toThrow('is not a SQLite file')
  })

  it('creates the store with create: true', async () => {
    const name = join(tmp.dir, 'new')
    const cache = openCache({ name, create: true })
    expect(await cache.urls()).toEqual([])
    await cache.close()
    expect(existsSync(`${name}.sqlite`)).toBe(true)
  })

  it('validates options like every front end', () => {
    expect(() => openCache({ name: join(tmp.dir, 'x'), create: true, expireAfter: 'soon' })).toThrow(ConfigError)
  })

  it('needs no file for memory or a Backend instance', async () => {
    const cache = openCache({ backend: new MemoryBackend() })
    expect((await cache.stats()).entries).toBe(0)
    await cache.close()
  })
})

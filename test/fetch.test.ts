import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import zlib from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type CachedFetch, ConfigError, cacheInfo, createCachedFetch, type CachedRequestInit } from '../src/index.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

let origin: Origin
let tmp: ReturnType<typeof tempDir>
const open: CachedFetch[] = []

function cached(options: Parameters<typeof createCachedFetch>[0] = {}): CachedFetch {
  const f = createCachedFetch({ backend: 'sqlite', name: join(tmp.dir, `c${open.length}`), ...options })
  open.push(f)
  return f
}

const binary = randomBytes(100_000)

beforeEach(async () => {
  tmp = tempDir()
  origin = await startOrigin({
    '/json': reply(200, { 'cache-control': 'max-age=60', 'content-type': 'application/json' }, '{"a":1}'),
    '/bin': reply(200, { 'cache-control': 'max-age=60', 'content-type': 'application/octet-stream' }, binary),
    '/gzip': reply(200, { 'cache-control': 'max-age=60', 'content-encoding': 'gzip' }, zlib.gzipSync('gzipped text')),
    '/br': reply(200, { 'cache-control': 'max-age=60', 'content-encoding': 'br' }, zlib.brotliCompressSync('brotli text')),
    '/etag': (req, res) => {
      if (req.headers['if-none-match'] === '"e1"') {
        res.writeHead(304, { etag: '"e1"', 'cache-control': 'max-age=60' })
        res.end()
      } else {
        res.writeHead(200, { etag: '"e1"', 'cache-control': 'max-age=60' })
        res.end('etag body')
      }
    },
    '/redirect': reply(301, { location: '/json', 'cache-control': 'max-age=60' }),
    '/empty': reply(204, { 'cache-control': 'max-age=60' }),
  })
})

afterEach(async () => {
  for (const f of open.splice(0)) await f.cache.close()
  await origin.close()
  tmp.cleanup()
})

async function twice(f: CachedFetch, path: string, init?: Parameters<CachedFetch>[1]) {
  const first = await f(origin.url + path, init)
  const firstBody = Buffer.from(await first.arrayBuffer())
  await f.cache.flush()
  const second = await f(origin.url + path, init)
  const secondBody = Buffer.from(await second.arrayBuffer())
  return { first, firstBody, second, secondBody }
}

describe('createCachedFetch', () => {
  it('answers the second request from the cache with a global Response', async () => {
    const f = cached()
    const { first, second, secondBody } = await twice(f, '/json')
    expect(origin.count('/json')).toBe(1)
    expect(first.headers.get('cache-status')).toMatch(/^fetchcache; fwd=uri-miss; stored; key="[0-9a-f]+"$/)
    expect(second.headers.get('cache-status')).toMatch(/^fetchcache; hit; ttl=60; key=/)
    expect(second.headers.get('age')).toBe('0')
    expect(second.headers.get('content-type')).toBe('application/json')
    expect(secondBody.toString()).toBe('{"a":1}')
    expect(first).toBeInstanceOf(Response)
    expect(second).toBeInstanceOf(Response)
    expect(second.url).toBe(`${origin.url}/json`)
    expect(second.status).toBe(200)
  })

  it('accepts a string, a URL and a Request', async () => {
    const f = cached()
    await (await f(`${origin.url}/json`)).text()
    await f.cache.flush()
    const viaUrl = await f(new URL('/json', origin.url))
    const viaRequest = await f(new Request(`${origin.url}/json`))
    expect(await viaUrl.text()).toBe('{"a":1}')
    expect(await viaRequest.text()).toBe('{"a":1}')
    expect(origin.count('/json')).toBe(1)
  })

  it('returns binary bodies byte for byte', async () => {
    const { firstBody, secondBody } = await twice(cached(), '/bin')
    expect(firstBody.equals(binary)).toBe(true)
    expect(secondBody.equals(binary)).toBe(true)
    expect(origin.count('/bin')).toBe(1)
  })

  it.each(['/gzip', '/br'])('decodes %s on a hit exactly as fetch does on a miss', async (path) => {
    const { first, firstBody, second, secondBody } = await twice(cached(), path)
    expect(origin.count(path)).toBe(1)
    expect(secondBody.equals(firstBody)).toBe(true)
    expect(secondBody.toString()).toMatch(/ text$/)
    expect(second.headers.get('content-encoding')).toBe(first.headers.get('content-encoding'))
  })

  it('revalidates with the stored ETag and serves the stored body on 304', async () => {
    const f = cached()
    await (await f(`${origin.url}/etag`)).text()
    await f.cache.flush()
    const res = await f(`${origin.url}/etag`, { refresh: true })
    expect(await res.text()).toBe('etag body')
    // RFC 9211 §2.2: a fresh entry the request would not use is fwd=request, not fwd=stale.
    expect(res.headers.get('cache-status')).toMatch(/fwd=request; fwd-status=304/)
    expect(origin.seen.at(-1)?.headers['if-none-match']).toBe('"e1"')
    expect(cacheInfo(res)).toMatchObject({ fromCache: true, revalidated: true })
  })

  it('follows a cached redirect through the dispatcher path', async () => {
    const f = cached({ allowableCodes: [200, 301] })
    const { second, secondBody } = await twice(f, '/redirect')
    expect(secondBody.toString()).toBe('{"a":1}')
    expect(second.redirected).toBe(true)
    expect(origin.count('/redirect')).toBe(1)
    expect(origin.count('/json')).toBe(1)
  })

  it('serves a cached 204 with a null body', async () => {
    const { second } = await twice(cached({ allowableCodes: [200, 204] }), '/empty')
    expect(second.status).toBe(204)
    expect(second.body).toBeNull()
    expect(origin.count('/empty')).toBe(1)
  })

  describe('per-request options', () => {
    it('forceRefresh skips the cache and stores the new response', async () => {
      const f = cached()
      await twice(f, '/json', { forceRefresh: true })
      expect(origin.count('/json')).toBe(2)
      const third = await f(`${origin.url}/json`)
      expect(third.headers.get('cache-status')).toMatch(/hit/)
      expect(origin.count('/json')).toBe(2)
    })

    it('onlyIfCached answers 504 on a miss without contacting the origin', async () => {
      const res = await cached()(`${origin.url}/json`, { onlyIfCached: true })
      expect(res.status).toBe(504)
      expect(origin.seen).toHaveLength(0)
    })

    it('expireAfter applies when the server gives no freshness', async () => {
      origin.route('/plain', reply(200, {}, 'plain'))
      const f = cached()
      const { second } = await twice(f, '/plain', { expireAfter: '5m' })
      expect(second.headers.get('cache-status')).toMatch(/hit; ttl=300/)
      expect(origin.count('/plain')).toBe(1)
    })

    it('rejects an unknown cache mode and a bad expireAfter with ConfigError', async () => {
      const f = cached()
      await expect(f(`${origin.url}/json`, { cache: 'sometimes' as 'default' })).rejects.toThrow(ConfigError)
      await expect(f(`${origin.url}/json`, { expireAfter: '5 minutes' })).rejects.toThrow(/expireAfter.*'5 minutes'/)
      expect(origin.seen).toHaveLength(0)
    })
  })

  describe('Fetch standard cache modes', () => {
    // One row per mode and per state of the cache before the request. The route answers 200
    // with "v1", "v2", ... (counting its 200s), an ETag and max-age=60, and 304 to
    // If-None-Match: "e". `origin` lists the If-None-Match of each request the origin saw for
    // this one (undefined: unconditional). `after` is what an only-if-cached request finds
    // stored afterwards ("504": nothing), which shows whether the mode wrote.
    type Before = 'nothing' | 'a fresh entry' | 'a stale entry'
    type After = '504' | `${'v1' | 'v2'} ${'fresh' | 'stale'}`
    interface Row {
      mode: NonNullable<CachedRequestInit['cache']>
      before: Before
      origin: Array<string | undefined>
      status: number
      body: string
      /** null: no Cache-Status at all (the cache stays out of the way). */
      cacheStatus: RegExp | null
      after: After
    }
    const KEY = 'key="[0-9a-f]+"'
    const cs = (text: string) => new RegExp(`^fetchcache; ${text.replace('KEY', KEY)}$`)
    const rows: Row[] = [
      { mode: 'default', before: 'nothing', origin: [undefined], status: 200, body: 'v1', cacheStatus: cs('fwd=uri-miss; stored; KEY'), after: 'v1 fresh' },
      { mode: 'default', before: 'a fresh entry', origin: [], status: 200, body: 'v1', cacheStatus: cs('hit; ttl=60; KEY'), after: 'v1 fresh' },
      { mode: 'default', before: 'a stale entry', origin: ['"e"'], status: 200, body: 'v1', cacheStatus: cs('fwd=stale; fwd-status=304; ttl=60; KEY'), after: 'v1 fresh' },
      // "as if there is no HTTP cache at all": neither read nor written.
      { mode: 'no-store', before: 'nothing', origin: [undefined], status: 200, body: 'v1', cacheStatus: null, after: '504' },
      { mode: 'no-store', before: 'a fresh entry', origin: [undefined], status: 200, body: 'v2', cacheStatus: null, after: 'v1 fresh' },
      { mode: 'no-store', before: 'a stale entry', origin: [undefined], status: 200, body: 'v2', cacheStatus: null, after: 'v1 stale' },
      // Not read, unconditional, and the response is stored.
      { mode: 'reload', before: 'nothing', origin: [undefined], status: 200, body: 'v1', cacheStatus: cs('fwd=uri-miss; stored; KEY'), after: 'v1 fresh' },
      { mode: 'reload', before: 'a fresh entry', origin: [undefined], status: 200, body: 'v2', cacheStatus: cs('fwd=request; stored; KEY'), after: 'v2 fresh' },
      { mode: 'reload', before: 'a stale entry', origin: [undefined], status: 200, body: 'v2', cacheStatus: cs('fwd=request; stored; KEY'), after: 'v2 fresh' },
      // A stored response, fresh or not, is revalidated with its ETag; the 304 renews it.
      { mode: 'no-cache', before: 'nothing', origin: [undefined], status: 200, body: 'v1', cacheStatus: cs('fwd=uri-miss; stored; KEY'), after: 'v1 fresh' },
      // RFC 9211 §2.2: the entry was fresh; the request asked for the origin.
      { mode: 'no-cache', before: 'a fresh entry', origin: ['"e"'], status: 200, body: 'v1', cacheStatus: cs('fwd=request; fwd-status=304; ttl=60; KEY'), after: 'v1 fresh' },
      { mode: 'no-cache', before: 'a stale entry', origin: ['"e"'], status: 200, body: 'v1', cacheStatus: cs('fwd=stale; fwd-status=304; ttl=60; KEY'), after: 'v1 fresh' },
      // Any stored response, stale or not; the origin only on a miss.
      { mode: 'force-cache', before: 'nothing', origin: [undefined], status: 200, body: 'v1', cacheStatus: cs('fwd=uri-miss; stored; KEY'), after: 'v1 fresh' },
      { mode: 'force-cache', before: 'a fresh entry', origin: [], status: 200, body: 'v1', cacheStatus: cs('hit; ttl=60; KEY'), after: 'v1 fresh' },
      { mode: 'force-cache', before: 'a stale entry', origin: [], status: 200, body: 'v1', cacheStatus: cs('hit; ttl=-60; KEY; detail="expired; force-cache"'), after: 'v1 stale' },
      // Any stored response; never the origin: 504 on a miss.
      { mode: 'only-if-cached', before: 'nothing', origin: [], status: 504, body: '', cacheStatus: cs('detail="only-if-cached: not stored"'), after: '504' },
      { mode: 'only-if-cached', before: 'a fresh entry', origin: [], status: 200, body: 'v1', cacheStatus: cs('hit; ttl=60; KEY'), after: 'v1 fresh' },
      { mode: 'only-if-cached', before: 'a stale entry', origin: [], status: 200, body: 'v1', cacheStatus: cs('hit; ttl=-60; KEY; detail="only-if-cached"'), after: 'v1 stale' },
    ]

    const T0 = Date.UTC(2031, 4, 6, 12, 0, 0)
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(T0)
    })
    afterEach(() => {
      vi.useRealTimers()
    })

    it.each(rows)('$mode, with $before stored', async ({ mode, before, ...want }) => {
      let served = 0
      origin.route('/m', (req, res) => {
        // Date from the faked clock, so the stored entry's age is the one the row says.
        const headers = { date: new Date().toUTCString(), etag: '"e"', 'cache-control': 'max-age=60' }
        if (req.headers['if-none-match'] === '"e"') res.writeHead(304, headers).end()
        else res.writeHead(200, headers).end(`v${++served}`)
      })
      const f = cached()
      const url = `${origin.url}/m`
      if (before !== 'nothing') {
        await (await f(url)).text()
        await f.cache.flush()
      }
      if (before === 'a stale entry') vi.setSystemTime(T0 + 120_000)
      const already = origin.seen.length

      const res = await f(url, { cache: mode })
      const body = await res.text()
      await f.cache.flush()
      expect(origin.seen.slice(already).map((r) => r.headers['if-none-match'])).toEqual(want.origin)
      expect([res.status, body]).toEqual([want.status, want.body])
      if (want.cacheStatus === null) expect(res.headers.get('cache-status')).toBeNull()
      else expect(res.headers.get('cache-status')).toMatch(want.cacheStatus)

      const stored = await f(url, { cache: 'only-if-cached' })
      const info = cacheInfo(stored)
      const after = stored.status === 504 ? '504' : `${await stored.text()} ${info?.isExpired ? 'stale' : 'fresh'}`
      expect(after).toBe(want.after)
      expect(origin.seen.length - already).toBe(want.origin.length)
    })
  })

  it('cacheInfo tells a miss from a hit', async () => {
    const { first, second } = await twice(cached(), '/json')
    expect(cacheInfo(first)).toMatchObject({ fromCache: false, revalidated: false })
    const info = cacheInfo(second)
    expect(info?.fromCache).toBe(true)
    expect(info?.isExpired).toBe(false)
    expect(info?.key).toMatch(/^[0-9a-f]{32}$/)
    expect(info?.expiresAt?.getTime()).toBeGreaterThan(Date.now())
    expect(cacheInfo(new Response('x'))).toBeUndefined()
  })

  it('sends misses through a caller-supplied dispatcher, with the cache composed onto it', async () => {
    // The caller's dispatcher sends every request to a second origin, whatever the URL's host,
    // and records what it was asked for. If fetch ignored it, the first origin would answer; if
    // the cache were not composed onto it, nothing would be stored and the second request would
    // reach the second origin again.
    const elsewhere = await startOrigin({ '/json': reply(200, { 'cache-control': 'max-age=60', 'content-type': 'application/json' }, '{"from":"elsewhere"}') })
    const { Agent } = await import('undici')
    const asked: string[] = []
    const agent = new Agent()
    const own = agent.compose((dispatch) => (opts, handler) => {
      asked.push(`${opts.method} ${opts.origin}${opts.path}`)
      return dispatch({ ...opts, origin: elsewhere.url }, handler)
    })
    try {
      const f = cached()
      const init = { dispatcher: own } as unknown as RequestInit
      const { first, firstBody, second, secondBody } = await twice(f, '/json', init)
      expect(asked).toEqual([`GET ${origin.url}/json`])
      expect(elsewhere.count('/json')).toBe(1)
      expect(origin.seen).toHaveLength(0)
      expect(firstBody.toString()).toBe('{"from":"elsewhere"}')
      expect(first.headers.get('cache-status')).toMatch(/^fetchcache; fwd=uri-miss; stored; key=/)
      // Stored under the URL the caller asked for, and answered from the cache.
      expect(secondBody.toString()).toBe('{"from":"elsewhere"}')
      expect(second.headers.get('cache-status')).toMatch(/^fetchcache; hit; /)
      // A request that must go to the origin takes the caller's dispatcher again (the
      // composition is reused, not stacked: one Cache-Status member).
      const reload = await f(`${origin.url}/json`, { ...init, cache: 'reload' })
      expect(await reload.text()).toBe('{"from":"elsewhere"}')
      expect(reload.headers.get('cache-status')).toMatch(/^fetchcache; fwd=request; stored; key="[0-9a-f]+"$/)
      expect(asked).toHaveLength(2)
      expect(elsewhere.count('/json')).toBe(2)
      expect(origin.seen).toHaveLength(0)
    } finally {
      await own.close()
      await elsewhere.close()
    }
  })
})

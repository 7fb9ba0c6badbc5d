import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import zlib from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type CachedFetch, ConfigError, cacheInfo, createCachedFetch } from '../src/index.js'
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
    it('no-store neither reads nor writes', async () => {
      const f = cached()
      await twice(f, '/json', { cache: 'no-store' })
      expect(origin.count('/json')).toBe(2)
      const res = await f(`${origin.url}/json`, { cache: 'only-if-cached' })
      expect(res.status).toBe(504)
    })

    it('reload fetches anew and stores', async () => {
      const f = cached()
      await twice(f, '/json', { cache: 'reload' })
      expect(origin.count('/json')).toBe(2)
      expect((await f(`${origin.url}/json`)).headers.get('cache-status')).toMatch(/hit/)
    })

    it('no-cache revalidates a stored response', async () => {
      const f = cached()
      await twice(f, '/etag', { cache: 'no-cache' })
      expect(origin.count('/etag')).toBe(2)
      expect((await f(`${origin.url}/etag`, { cache: 'no-cache' })).headers.get('cache-status')).toMatch(/fwd=request; fwd-status=304/)
      expect(origin.seen[1]?.headers['if-none-match']).toBe('"e1"')
    })

    it('force-cache and only-if-cached use a stored response', async () => {
      const f = cached()
      await (await f(`${origin.url}/json`)).text()
      await f.cache.flush()
      for (const cache of ['force-cache', 'only-if-cached'] as const) {
        const res = await f(`${origin.url}/json`, { cache })
        expect(res.status).toBe(200)
        expect(await res.text()).toBe('{"a":1}')
      }
      expect(origin.count('/json')).toBe(1)
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

  it('keeps a caller-supplied dispatcher working, with the cache composed onto it', async () => {
    const { Agent } = await import('undici')
    const agent = new Agent()
    const f = cached()
    const init = { dispatcher: agent } as unknown as RequestInit
    await twice(f, '/json', init)
    expect(origin.count('/json')).toBe(1)
    await agent.close()
  })
})

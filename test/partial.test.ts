/**
 * Parts kept and combined (RFC 9111 §3.3–3.4) through createCachedFetch and cacheInterceptor +
 * request(), on real SQLite files, against an origin on 127.0.0.1 that honours Range with a
 * strong ETag: what the origin saw, and the exact bytes the caller got.
 */
import { randomBytes } from 'node:crypto'
import type http from 'node:http'
import { join } from 'node:path'
import { Agent, Client, type Dispatcher, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type CacheOptions, cacheInterceptor, createCachedFetch } from '../src/index.js'
import { type Origin, type SeenRequest, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

interface Got {
  status: number
  headers: Record<string, string>
  body: Buffer
}

interface Front {
  send(path: string, headers?: Record<string, string>): Promise<Got>
  close(): Promise<void>
}

type FrontName = 'fetch' | 'request' | 'Client'

function front(name: FrontName, url: string, file: string, options: CacheOptions = {}): Front {
  if (name === 'fetch') {
    const f = createCachedFetch({ backend: 'sqlite', name: file, ...options })
    return {
      async send(path, headers = {}) {
        const res = await f(url + path, { headers })
        const body = Buffer.from(await res.arrayBuffer())
        await f.cache.flush()
        return { status: res.status, headers: Object.fromEntries(res.headers), body }
      },
      close: () => f.cache.close(),
    }
  }
  const ic = cacheInterceptor({ backend: 'sqlite', name: file, ...options })
  // A Client sends path-only requests: the cache learns its origin from undici (dispatcher-origin.ts).
  const agent: Dispatcher = name === 'Client' ? new Client(url) : new Agent()
  const d = agent.compose(ic)
  // A Client's first path-only request is sent before the cache knows its origin (README, undici
  // Client): one request elsewhere first, so every request of a table row is looked up.
  let learned = name !== 'Client'
  return {
    async send(path, headers = {}) {
      if (!learned) {
        learned = true
        await (await d.request({ path: '/learn-origin', method: 'GET' })).body.dump()
      }
      const res = name === 'Client' ? await d.request({ path, method: 'GET', headers }) : await request(url + path, { dispatcher: d, headers })
      const body = Buffer.from(await res.body.arrayBuffer())
      await ic.cache.flush()
      const h: Record<string, string> = {}
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : v
      return { status: res.statusCode, headers: h, body }
    },
    async close() {
      await ic.cache.close()
      await agent.close()
    },
  }
}

const V1 = randomBytes(1000)
const V2 = randomBytes(1000)

interface Representation {
  body: Buffer
  etag?: string | undefined
  /** Content-Range complete length as sent: the real one unless `*`. */
  total?: '*'
  /** Send this many bytes fewer than the Content-Range names. */
  short?: number
  headers?: http.OutgoingHttpHeaders
}

/** An origin route honouring one `bytes=` range per request (RFC 9110 §14.1.2), 200 without Range. */
function ranged(current: () => Representation) {
  return (req: SeenRequest, res: http.ServerResponse) => {
    const r = current()
    const n = r.body.byteLength
    const base: http.OutgoingHttpHeaders = { 'cache-control': 'max-age=60', 'content-type': 'application/octet-stream', ...(r.etag ? { etag: r.etag } : {}), ...r.headers }
    const m = /^bytes=(\d*)-(\d*)$/.exec(String(req.headers.range ?? ''))
    if (!m) {
      res.writeHead(200, { ...base, 'content-length': n })
      return void res.end(r.body)
    }
    const [start, end] = m[1] === '' ? [n - Number(m[2]), n - 1] : [Number(m[1]), m[2] === '' ? n - 1 : Math.min(Number(m[2]), n - 1)]
    const body = r.body.subarray(start, end + 1 - (r.short ?? 0))
    res.writeHead(206, { ...base, 'content-range': `bytes ${start}-${end}/${r.total ?? n}`, 'content-length': body.byteLength })
    res.end(body)
  }
}

let origin: Origin
let tmp: ReturnType<typeof tempDir>
let open: Front[] = []
let version: Representation

function cache(name: FrontName, options: CacheOptions = {}, file = 'c.sqlite'): Front {
  const f = front(name, origin.url, join(tmp.dir, file), options)
  open.push(f)
  return f
}

beforeEach(async () => {
  tmp = tempDir()
  version = { body: V1, etag: '"v1"' }
  origin = await startOrigin({ '/file': ranged(() => version) })
})

afterEach(async () => {
  vi.useRealTimers()
  for (const f of open) await f.close()
  open = []
  await origin.close()
  tmp.cleanup()
})

/** What the origin saw of the tables' requests (not a Client's first one, which learns its origin). */
const seen = () => origin.seen.filter((s) => s.url !== '/learn-origin')
const ranges = () => seen().map((s) => s.headers.range)

describe.each<FrontName>(['fetch', 'request', 'Client'])('parts through %s', (name) => {
  it('two ranges covering the whole are combined: a plain GET is then a hit with the exact bytes', async () => {
    const c = cache(name)
    const a = await c.send('/file', { range: 'bytes=0-499' })
    expect(a.status).toBe(206)
    expect(a.body.equals(V1.subarray(0, 500))).toBe(true)
    const b = await c.send('/file', { range: 'bytes=500-999' })
    expect(b.status).toBe(206)
    expect(b.headers['content-range']).toBe('bytes 500-999/1000')
    expect(b.body.equals(V1.subarray(500))).toBe(true)
    const whole = await c.send('/file')
    expect(whole.status).toBe(200)
    expect(whole.headers['content-length']).toBe('1000')
    expect(whole.headers['content-range']).toBeUndefined()
    expect(whole.headers['cache-status']).toContain('hit')
    expect(whole.body.equals(V1)).toBe(true)
    // A range of the combined whole is cut from it.
    const cut = await c.send('/file', { range: 'bytes=10-19' })
    expect(cut.body.equals(V1.subarray(10, 20))).toBe(true)
    expect(ranges()).toEqual(['bytes=0-499', 'bytes=500-999'])
  })

  it('a range inside the parts held is a hit; one partly covered goes to the origin as asked, and joins them', async () => {
    const c = cache(name)
    await c.send('/file', { range: 'bytes=0-99' })
    await c.send('/file', { range: 'bytes=200-299' })
    const inside = await c.send('/file', { range: 'bytes=210-259' })
    expect(inside.status).toBe(206)
    expect(inside.headers['content-range']).toBe('bytes 210-259/1000')
    expect(inside.headers['content-length']).toBe('50')
    expect(inside.headers.etag).toBe('"v1"')
    expect(inside.body.equals(V1.subarray(210, 260))).toBe(true)
    const across = await c.send('/file', { range: 'bytes=50-250' })
    expect(across.body.equals(V1.subarray(50, 251))).toBe(true)
    expect(ranges()).toEqual(['bytes=0-99', 'bytes=200-299', 'bytes=50-250'])
    // 0-99, 50-250 and 200-299 are now one run.
    const joined = await c.send('/file', { range: 'bytes=0-299' })
    expect(joined.body.equals(V1.subarray(0, 300))).toBe(true)
    expect(origin.count('/file')).toBe(3)
  })

  it('a changed ETag between parts replaces them: bytes of two versions are never combined', async () => {
    const c = cache(name)
    await c.send('/file', { range: 'bytes=0-499' })
    version = { body: V2, etag: '"v2"' }
    await c.send('/file', { range: 'bytes=500-999' })
    // v1's first half and v2's second half cover the whole, yet are not combined.
    const plain = await c.send('/file')
    expect(plain.body.equals(V2)).toBe(true)
    expect(origin.count('/file')).toBe(3)
  })

  it('parts of the new version complete it after a change', async () => {
    const c = cache(name)
    await c.send('/file', { range: 'bytes=0-499' })
    version = { body: V2, etag: '"v2"' }
    await c.send('/file', { range: 'bytes=500-999' })
    await c.send('/file', { range: 'bytes=0-499' })
    const whole = await c.send('/file')
    expect(whole.headers['cache-status']).toContain('hit')
    expect(whole.headers.etag).toBe('"v2"')
    expect(whole.body.equals(V2)).toBe(true)
    expect(origin.count('/file')).toBe(3)
  })

  it.each<[string, Partial<Representation>]>([
    ['a weak ETag', { etag: 'W/"v1"' }],
    ['no ETag', { etag: undefined }],
    ['an unknown complete length (bytes a-b/*)', { total: '*' }],
    ['response no-store', { headers: { 'cache-control': 'no-store' } }],
    ['a content coding', { headers: { 'content-encoding': 'identity, x-made-up' } }],
  ])('a 206 with %s is not kept', async (_what, change) => {
    version = { body: V1, etag: '"v1"', ...change }
    const c = cache(name)
    const a = await c.send('/file', { range: 'bytes=0-499' })
    const b = await c.send('/file', { range: 'bytes=500-999' })
    expect(Buffer.concat([a.body, b.body]).equals(V1)).toBe(true)
    await c.send('/file', { range: 'bytes=0-9' })
    await c.send('/file')
    expect(ranges()).toEqual(['bytes=0-499', 'bytes=500-999', 'bytes=0-9', undefined])
  })

  it('a 206 whose body is shorter than its Content-Range is passed as sent, and not kept', async () => {
    const c = cache(name)
    version = { body: V1, etag: '"v1"', short: 100 }
    const a = await c.send('/file', { range: 'bytes=0-499' })
    expect(a.body.equals(V1.subarray(0, 400))).toBe(true)
    version = { body: V1, etag: '"v1"' }
    await c.send('/file', { range: 'bytes=500-999' })
    await c.send('/file', { range: 'bytes=0-9' })
    expect(origin.count('/file')).toBe(3)
  })

  it('parts arriving together are both kept', async () => {
    const c = cache(name)
    await Promise.all([c.send('/file', { range: 'bytes=0-499' }), c.send('/file', { range: 'bytes=500-999' })])
    expect((await c.send('/file')).body.equals(V1)).toBe(true)
    expect(origin.count('/file')).toBe(2)
  })

  it('overlapping parts combine into the exact whole', async () => {
    const c = cache(name)
    await c.send('/file', { range: 'bytes=300-599' })
    await c.send('/file', { range: 'bytes=0-399' })
    await c.send('/file', { range: 'bytes=500-' })
    const whole = await c.send('/file')
    expect(whole.body.equals(V1)).toBe(true)
    expect(origin.count('/file')).toBe(3)
  })

  it('a suffix range is kept at its offset: bytes=-10 then bytes=0-989 make the whole', async () => {
    const c = cache(name)
    const tail = await c.send('/file', { range: 'bytes=-10' })
    expect(tail.headers['content-range']).toBe('bytes 990-999/1000')
    expect((await c.send('/file', { range: 'bytes=-5' })).body.equals(V1.subarray(995))).toBe(true)
    await c.send('/file', { range: 'bytes=0-989' })
    expect((await c.send('/file')).body.equals(V1)).toBe(true)
    expect(ranges()).toEqual(['bytes=-10', 'bytes=0-989'])
  })

  it('a resumed download: half, a new process on the same file asks bytes=N-, then the whole is a hit', async () => {
    const first = cache(name)
    await first.send('/file', { range: 'bytes=0-599' })
    await first.close()
    open = []
    const second = cache(name)
    const rest = await second.send('/file', { range: 'bytes=600-' })
    expect(rest.body.equals(V1.subarray(600))).toBe(true)
    expect((await second.send('/file')).body.equals(V1)).toBe(true)
    expect(ranges()).toEqual(['bytes=0-599', 'bytes=600-'])
  })

  it('a 200 to a range request (an origin that ignores Range) is stored whole', async () => {
    origin.route('/whole', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', etag: '"w"' })
      res.end(V1)
    })
    const c = cache(name)
    const got = await c.send('/whole', { range: 'bytes=0-9' })
    expect(got.status).toBe(200)
    expect(got.body.equals(V1)).toBe(true)
    expect((await c.send('/whole')).body.equals(V1)).toBe(true)
    expect((await c.send('/whole', { range: 'bytes=0-9' })).body.equals(V1.subarray(0, 10))).toBe(true)
    expect(origin.count('/whole')).toBe(1)
  })

  it('parts of different credentials are never combined', async () => {
    const c = cache(name)
    await c.send('/file', { range: 'bytes=0-499', authorization: 'Bearer a' })
    await c.send('/file', { range: 'bytes=500-999', authorization: 'Bearer b' })
    await c.send('/file', { authorization: 'Bearer a' })
    await c.send('/file', { range: 'bytes=0-9', authorization: 'Bearer b' })
    expect(origin.count('/file')).toBe(4)
  })

  it('parts of different Vary variants are never combined', async () => {
    version = { body: V1, etag: '"v1"', headers: { vary: 'accept-language' } }
    const c = cache(name)
    await c.send('/file', { range: 'bytes=0-499', 'accept-language': 'en' })
    await c.send('/file', { range: 'bytes=500-999', 'accept-language': 'fr' })
    await c.send('/file', { 'accept-language': 'fr' })
    expect(origin.count('/file')).toBe(3)
    // Same language: combined, and the variant is stored for it.
    await c.send('/file', { range: 'bytes=0-499', 'accept-language': 'de' })
    await c.send('/file', { range: 'bytes=500-999', 'accept-language': 'de' })
    expect((await c.send('/file', { 'accept-language': 'de' })).body.equals(V1)).toBe(true)
    expect(origin.count('/file')).toBe(5)
  })

  it('stale parts are not served: the range goes to the origin', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const c = cache(name)
    await c.send('/file', { range: 'bytes=0-499' })
    expect((await c.send('/file', { range: 'bytes=0-9' })).body.equals(V1.subarray(0, 10))).toBe(true)
    vi.setSystemTime(Date.now() + 61_000)
    expect((await c.send('/file', { range: 'bytes=0-9' })).body.equals(V1.subarray(0, 10))).toBe(true)
    expect(ranges()).toEqual(['bytes=0-499', 'bytes=0-9'])
  })

  it('a complete length over maxEntrySize is not kept', async () => {
    const c = cache(name, { maxEntrySize: 999 })
    await c.send('/file', { range: 'bytes=0-9' })
    await c.send('/file', { range: 'bytes=0-9' })
    expect(origin.count('/file')).toBe(2)
  })
})

describe('kept parts and the rest of the cache', () => {
  function fetcher() {
    const f = createCachedFetch({ backend: 'sqlite', name: join(tmp.dir, 'i.sqlite') })
    open.push({ send: () => Promise.reject(new Error('unused')), close: () => f.cache.close() })
    const get = async (headers: Record<string, string> = {}, init: RequestInit = {}) => {
      const res = await f(`${origin.url}/file`, { headers, ...init })
      const body = Buffer.from(await res.arrayBuffer())
      await f.cache.flush()
      return body
    }
    return { f, get }
  }

  it('are no stored response: entries(), get() and stats() leave them out', async () => {
    const { f, get } = fetcher()
    await get({ range: 'bytes=0-499' })
    const metas = []
    for await (const m of f.cache.entries()) metas.push(m)
    expect(metas).toEqual([])
    expect(await f.cache.get(`${origin.url}/file`)).toBeUndefined()
    expect((await f.cache.stats()).entries).toBe(0)
  })

  it('delete() by URL removes them: a range inside them goes to the origin again', async () => {
    const { f, get } = fetcher()
    await get({ range: 'bytes=0-499' })
    await get({ range: 'bytes=0-9' })
    expect(origin.count('/file')).toBe(1)
    await f.cache.delete({ urls: [`${origin.url}/file`] })
    await get({ range: 'bytes=0-9' })
    expect(origin.count('/file')).toBe(2)
  })

  it('an unsafe method on the URL invalidates them (RFC 9111 §4.4)', async () => {
    const { get } = fetcher()
    origin.route('/file', (req, res) => {
      if (req.method === 'POST') {
        res.writeHead(204)
        return void res.end()
      }
      return ranged(() => version)(req, res)
    })
    await get({ range: 'bytes=0-499' })
    await get({}, { method: 'POST', body: 'x' })
    await get({ range: 'bytes=0-9' })
    expect(seen().map((s) => `${s.method} ${s.headers.range ?? ''}`)).toEqual(['GET bytes=0-499', 'POST ', 'GET bytes=0-9'])
  })
})

describe.each(['memory', 'filesystem'] as const)('parts on the %s backend', (backend) => {
  it('are kept, served and combined', async () => {
    const f = createCachedFetch({ backend, name: join(tmp.dir, 'fs') })
    open.push({ send: () => Promise.reject(new Error('unused')), close: () => f.cache.close() })
    const get = async (headers: Record<string, string> = {}) => {
      const res = await f(`${origin.url}/file`, { headers })
      const body = Buffer.from(await res.arrayBuffer())
      await f.cache.flush()
      return body
    }
    await get({ range: 'bytes=0-99' })
    await get({ range: 'bytes=500-999' })
    expect((await get({ range: 'bytes=600-649' })).equals(V1.subarray(600, 650))).toBe(true)
    await get({ range: 'bytes=100-499' })
    expect((await get()).equals(V1)).toBe(true)
    expect(ranges()).toEqual(['bytes=0-99', 'bytes=500-999', 'bytes=100-499'])
  })
})

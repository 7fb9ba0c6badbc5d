import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { type Dispatcher, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type CacheInterceptor, type CacheOptions, DO_NOT_CACHE } from '../src/index.js'
import { type Closers, composeCache } from './helpers/compose.js'
import { type Origin, type Route, type SeenRequest, startOrigin } from './helpers/origin.js'

/** The faked clock's origin; every test moves time with at(seconds after T0). */
const T0 = Date.UTC(2031, 4, 6, 12, 0, 0)
const at = (seconds: number): void => void vi.setSystemTime(T0 + seconds * 1000)
const httpDate = (ms: number): string => new Date(ms).toUTCString()

let origin: Origin
let ic: CacheInterceptor
let dispatcher: Dispatcher
const closers: Closers = []

/** A fresh interceptor (memory by default) composed on a new Agent; both closed in afterEach. */
function setup(options: CacheOptions = {}): CacheInterceptor {
  ;({ ic, dispatcher } = composeCache(options, closers))
  return ic
}

/** Answer with a Date field from the faked clock (Node's own Date field uses the real one). */
function send(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body = ''): void {
  res.writeHead(status, { date: httpDate(Date.now()), ...headers })
  res.end(body)
}

/** A route with an ETag (and optionally Last-Modified) answering 304 to a matching validator. */
function validated(body: string, headers: OutgoingHttpHeaders, notModified: OutgoingHttpHeaders = headers) {
  return (req: SeenRequest, res: ServerResponse): void => {
    const etag = headers.etag
    const lm = headers['last-modified']
    const match = (etag !== undefined && req.headers['if-none-match'] === etag) || (lm !== undefined && req.headers['if-modified-since'] === lm)
    if (match) send(res, 304, notModified)
    else send(res, 200, headers, body)
  }
}

const ok = (headers: OutgoingHttpHeaders, body: string): Route => (_req, res) => send(res, 200, headers, body)

/** Route `path` to `good` until the returned function is called, then to `bad` (a 500 by default). */
function breakable(path: string, good: Route, bad: Route = (_req, res) => send(res, 500, {}, 'boom')): () => void {
  let broken = false
  origin.route(path, (req, res) => (broken ? bad : good)(req, res))
  return () => void (broken = true)
}

/** A route whose body counts the requests that reached it: "v1", "v2", ... */
function counting(headers: OutgoingHttpHeaders) {
  let n = 0
  return (_req: SeenRequest, res: ServerResponse): void => send(res, 200, headers, `v${++n}`)
}

interface Got {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
  cs: string
}

/** GET through the cache, then wait for whatever it writes. */
async function get(path: string, headers: Record<string, string> = {}): Promise<Got> {
  const res = await request(origin.url + path, { dispatcher, headers })
  const body = await res.body.text()
  await ic.cache.flush()
  return { status: res.statusCode, headers: res.headers, body, cs: String(res.headers['cache-status'] ?? '') }
}

/** Requests to a path and the conditional headers they carried. */
const seen = (path: string) => origin.seen.filter((s) => s.url === path)
const conditional = (path: string) => seen(path).map((s) => ({ inm: s.headers['if-none-match'], ims: s.headers['if-modified-since'] }))

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['Date'] })
  at(0)
  origin = await startOrigin()
})

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  await origin.close()
  vi.useRealTimers()
})

describe('freshness and revalidation', () => {
  it('max-age expires; ETag revalidation gets 304; the stored body is served and freshness renewed', async () => {
    setup()
    origin.route('/e', validated('etag body', { etag: '"v1"', 'cache-control': 'max-age=60' }))
    expect((await get('/e')).cs).toContain('fwd=uri-miss; stored')
    at(30)
    const hit = await get('/e')
    expect(hit.cs).toContain('; hit; ttl=30')
    expect(hit.headers.age).toBe('30')
    expect(seen('/e')).toHaveLength(1)
    at(61)
    const reval = await get('/e')
    expect(seen('/e')).toHaveLength(2)
    expect(conditional('/e')[1]).toEqual({ inm: '"v1"', ims: undefined })
    expect([reval.status, reval.body]).toEqual([200, 'etag body'])
    expect(reval.cs).toMatch(/fwd=stale; fwd-status=304; ttl=60/)
    at(120)
    expect((await get('/e')).cs).toContain('; hit')
    expect(seen('/e')).toHaveLength(2)
    at(122)
    await get('/e')
    expect(seen('/e')).toHaveLength(3)
  })

  it('a 304 merges its header fields into the stored entry', async () => {
    setup()
    const first = { etag: '"m"', 'cache-control': 'max-age=10', 'x-version': '1', 'content-length': '6' }
    origin.route('/m', validated('merged', first, { etag: '"m"', 'cache-control': 'max-age=10', 'x-version': '2' }))
    expect((await get('/m')).headers['x-version']).toBe('1')
    at(11)
    const reval = await get('/m')
    expect([reval.headers['x-version'], reval.headers['content-length'], reval.body]).toEqual(['2', '6', 'merged'])
    at(15)
    const hit = await get('/m')
    expect(hit.cs).toContain('; hit')
    expect([hit.headers['x-version'], hit.headers['content-length'], hit.body]).toEqual(['2', '6', 'merged'])
    expect(seen('/m')).toHaveLength(2)
  })

  it('Age on arrival counts against max-age and is reported on hits', async () => {
    setup()
    origin.route('/age', (_req, res) => send(res, 200, { 'cache-control': 'max-age=60', age: '50' }, 'aged'))
    await get('/age')
    at(5)
    const hit = await get('/age')
    expect(hit.headers.age).toBe('55')
    expect(hit.cs).toContain('; hit; ttl=5')
    at(11)
    expect((await get('/age')).cs).toContain('fwd=stale')
    expect(seen('/age')).toHaveLength(2)
  })

  it('Vary + ETag: each variant revalidates with its own validator', async () => {
    setup()
    origin.route('/vv', (req, res) => {
      const l = String(req.headers['accept-language'])
      validated(`body ${l}`, { etag: `"${l}"`, 'cache-control': 'max-age=10', vary: 'accept-language' })(req, res)
    })
    const lang = (l: string) => get('/vv', { 'accept-language': l })
    await lang('en')
    await lang('fr')
    at(11)
    const fr = await lang('fr')
    const en = await lang('en')
    expect([fr.body, en.body]).toEqual(['body fr', 'body en'])
    expect(conditional('/vv').map((c) => c.inm)).toEqual([undefined, undefined, '"fr"', '"en"'])
    at(15)
    expect((await lang('fr')).cs).toContain('; hit')
    expect((await lang('en')).cs).toContain('; hit')
    expect(seen('/vv')).toHaveLength(4)
  })

  it('Last-Modified revalidation sends If-Modified-Since', async () => {
    setup()
    const lm = httpDate(T0 - 86_400_000)
    origin.route('/lm', validated('lm body', { 'last-modified': lm, 'cache-control': 'max-age=10' }))
    await get('/lm')
    at(5)
    await get('/lm')
    expect(seen('/lm')).toHaveLength(1)
    at(11)
    const r = await get('/lm')
    expect(conditional('/lm')).toEqual([{ inm: undefined, ims: undefined }, { inm: undefined, ims: lm }])
    expect(r.body).toBe('lm body')
    expect(r.cs).toContain('fwd-status=304')
  })

  it('Expires sets freshness relative to Date', async () => {
    setup()
    origin.route('/exp', (_req, res) => send(res, 200, { expires: httpDate(Date.now() + 30_000) }, 'expires'))
    await get('/exp')
    at(29)
    expect((await get('/exp')).cs).toContain('; hit; ttl=1')
    expect(seen('/exp')).toHaveLength(1)
    at(31)
    expect((await get('/exp')).cs).toContain('fwd=stale')
    expect(seen('/exp')).toHaveLength(2)
  })

  it('heuristic freshness: 10% of the time since Last-Modified', async () => {
    setup()
    const lm = httpDate(T0 - 10 * 86_400_000)
    origin.route('/heur', validated('heuristic', { 'last-modified': lm }))
    expect((await get('/heur')).cs).toContain('stored')
    at(23 * 3600)
    expect((await get('/heur')).cs).toContain('; hit')
    expect(seen('/heur')).toHaveLength(1)
    at(25 * 3600)
    const r = await get('/heur')
    expect(seen('/heur')).toHaveLength(2)
    expect(conditional('/heur')[1]?.ims).toBe(lm)
    expect(r.body).toBe('heuristic')
  })

  it('response no-cache: stored, but revalidated on every use', async () => {
    setup()
    origin.route('/nc', validated('no-cache body', { etag: '"n"', 'cache-control': 'no-cache' }))
    expect((await get('/nc')).cs).toContain('stored')
    for (const [i, t] of [1, 2].entries()) {
      at(t)
      const r = await get('/nc')
      expect(r.body).toBe('no-cache body')
      expect(r.cs).toContain('fwd-status=304')
      expect(seen('/nc')).toHaveLength(i + 2)
    }
    expect(conditional('/nc').map((c) => c.inm)).toEqual([undefined, '"n"', '"n"'])
  })

  it('response no-store: never stored', async () => {
    setup()
    origin.route('/ns', counting({ 'cache-control': 'no-store, max-age=60' }))
    const a = await get('/ns')
    expect(a.cs).not.toContain('stored')
    expect([a.body, (await get('/ns')).body]).toEqual(['v1', 'v2'])
  })
})

describe('stale responses', () => {
  it('must-revalidate beats stale-if-error: the 500 reaches the caller', async () => {
    setup({ staleIfError: true })
    const breakIt = breakable('/mr', ok({ 'cache-control': 'max-age=10, must-revalidate, stale-if-error=600' }, 'mr body'))
    await get('/mr')
    breakIt()
    at(20)
    const r = await get('/mr')
    expect([r.status, r.body]).toEqual([500, 'boom'])
    expect(seen('/mr')).toHaveLength(2)
  })

  it('RFC 5861 §4: a 501 is not an error stale-if-error covers; it reaches the caller', async () => {
    setup({ staleIfError: true })
    const breakIt = breakable('/nie', ok({ 'cache-control': 'max-age=10' }, 'fresh body'), (_req, res) => send(res, 501, {}, 'not implemented'))
    await get('/nie')
    breakIt()
    at(20)
    const r = await get('/nie')
    expect([r.status, r.body]).toEqual([501, 'not implemented'])
  })

  it('stale-if-error=60 in the response serves the stale body on a 500, within the window only', async () => {
    setup()
    const breakIt = breakable('/sie', ok({ 'cache-control': 'max-age=10, stale-if-error=60' }, 'good'))
    await get('/sie')
    breakIt()
    at(20)
    const r = await get('/sie')
    expect([r.status, r.body]).toEqual([200, 'good'])
    expect(r.cs).toContain('fwd=stale; fwd-status=500')
    expect(r.cs).toContain('detail="stale-if-error"')
    at(71)
    const late = await get('/sie')
    expect([late.status, late.body]).toEqual([500, 'boom'])
    expect(seen('/sie')).toHaveLength(3)
  })

  it('stale-if-error=60 serves the stale body when the origin drops the connection', async () => {
    setup()
    const breakIt = breakable('/drop', ok({ 'cache-control': 'max-age=10, stale-if-error=60' }, 'kept'), (_req, res) => void res.socket?.destroy())
    await get('/drop')
    breakIt()
    at(20)
    const r = await get('/drop')
    expect([r.status, r.body]).toEqual([200, 'kept'])
    expect(r.cs).toContain('detail="stale-if-error')
    expect(seen('/drop')).toHaveLength(2)
  })

  it('option staleIfError: true serves stale on a 500 and when the origin is gone', async () => {
    setup({ staleIfError: true })
    const breakIt = breakable('/opt', ok({ 'cache-control': 'max-age=10' }, 'stale ok'))
    await get('/opt')
    breakIt()
    at(1000)
    const r = await get('/opt')
    expect([r.status, r.body]).toEqual([200, 'stale ok'])
    expect(r.cs).toContain('fwd-status=500')
    expect(seen('/opt')).toHaveLength(2)
    await origin.close()
    const gone = await get('/opt')
    expect([gone.status, gone.body]).toEqual([200, 'stale ok'])
    expect(gone.cs).toContain('detail="stale-if-error:')
  })

  it('stale-if-error covers a 5xx answering an ETag revalidation', async () => {
    setup()
    const breakIt = breakable('/sv', validated('sv', { etag: '"s"', 'cache-control': 'max-age=10, stale-if-error=60' }), (_req, res) => send(res, 503, {}, 'down'))
    await get('/sv')
    breakIt()
    at(20)
    const r = await get('/sv')
    expect([r.status, r.body]).toEqual([200, 'sv'])
    expect(conditional('/sv')[1]?.inm).toBe('"s"')
    expect(r.cs).toContain('fwd-status=503')
  })

  it('stale-while-revalidate: stale served at once, one background refresh, then the new body', async () => {
    setup()
    origin.route('/swr', counting({ 'cache-control': 'max-age=10, stale-while-revalidate=60' }))
    expect((await get('/swr')).body).toBe('v1')
    at(20)
    const res = await Promise.all([1, 2, 3, 4].map(() => request(origin.url + '/swr', { dispatcher })))
    const bodies = await Promise.all(res.map((r) => r.body.text()))
    expect(bodies).toEqual(['v1', 'v1', 'v1', 'v1'])
    for (const r of res) expect(String(r.headers['cache-status'])).toMatch(/; hit; ttl=-10; key=.*; detail="stale-while-revalidate"$/)
    await ic.cache.flush()
    expect(seen('/swr')).toHaveLength(2)
    at(21)
    const after = await get('/swr')
    expect(after.body).toBe('v2')
    expect(after.cs).toContain('; hit')
    expect(seen('/swr')).toHaveLength(2)
    at(100)
    expect((await get('/swr')).body).toBe('v3')
  })
})

describe('request directives', () => {
  beforeEach(() => {
    setup()
    origin.route('/r', validated('r body', { etag: '"r"', 'cache-control': 'max-age=60' }))
    origin.route('/nv', counting({ 'cache-control': 'max-age=10' }))
  })

  it('Cache-Control: no-cache, and Pragma: no-cache without Cache-Control, revalidate a fresh entry', async () => {
    await get('/r')
    at(5)
    const r = await get('/r', { 'cache-control': 'no-cache' })
    // RFC 9211 §2.2: the stored response was fresh; the request would not have it: fwd=request.
    expect([r.body, r.cs]).toEqual(['r body', expect.stringContaining('fwd=request; fwd-status=304')])
    expect((await get('/r', { pragma: 'no-cache' })).cs).toContain('fwd=request; fwd-status=304')
    at(6)
    expect((await get('/r', { 'cache-control': 'max-age=0' })).cs).toContain('fwd=request; fwd-status=304')
    expect(conditional('/r').map((c) => c.inm)).toEqual([undefined, '"r"', '"r"', '"r"'])
  })

  it('max-age=0 refuses a stored response with any age; a larger max-age accepts it', async () => {
    await get('/r')
    at(5)
    expect((await get('/r', { 'cache-control': 'max-age=10' })).cs).toContain('; hit')
    expect(seen('/r')).toHaveLength(1)
    await get('/r', { 'cache-control': 'max-age=0' })
    expect(seen('/r')).toHaveLength(2)
    expect(conditional('/r')[1]?.inm).toBe('"r"')
  })

  it('max-stale accepts a stale response within its bound', async () => {
    await get('/nv')
    at(20)
    expect((await get('/nv', { 'cache-control': 'max-stale=30' })).body).toBe('v1')
    expect((await get('/nv', { 'cache-control': 'max-stale' })).body).toBe('v1')
    expect(seen('/nv')).toHaveLength(1)
    expect((await get('/nv', { 'cache-control': 'max-stale=5' })).body).toBe('v2')
    expect(seen('/nv')).toHaveLength(2)
    // §5.2.2.2: must-revalidate forbids serving stale even when the request would accept it.
    origin.route('/mrs', counting({ 'cache-control': 'max-age=10, must-revalidate' }))
    await get('/mrs')
    at(40)
    expect((await get('/mrs', { 'cache-control': 'max-stale=3600' })).body).toBe('v2')
  })

  it('min-fresh refuses a response that will not stay fresh long enough', async () => {
    await get('/r')
    at(10)
    expect((await get('/r', { 'cache-control': 'min-fresh=30' })).cs).toContain('; hit')
    expect(seen('/r')).toHaveLength(1)
    await get('/r', { 'cache-control': 'min-fresh=55' })
    expect(seen('/r')).toHaveLength(2)
  })

  it('request no-store: the response is not stored', async () => {
    await get('/nv', { 'cache-control': 'no-store' })
    expect((await get('/nv')).body).toBe('v2')
  })

  it('only-if-cached: 504 on a miss without contacting the origin, the stored response on a hit', async () => {
    const miss = await get('/r', { 'cache-control': 'only-if-cached' })
    expect(miss.status).toBe(504)
    expect(seen('/r')).toHaveLength(0)
    await get('/r')
    const hit = await get('/r', { 'cache-control': 'only-if-cached' })
    expect([hit.status, hit.body]).toEqual([200, 'r body'])
    expect(seen('/r')).toHaveLength(1)
  })
})

describe('expiry options', () => {
  it('cacheControl: false with expireAfter ignores the server no-store and max-age', async () => {
    setup({ cacheControl: false, expireAfter: 60 })
    origin.route('/ns', counting({ 'cache-control': 'no-store' }))
    origin.route('/short', counting({ 'cache-control': 'max-age=1' }))
    await get('/ns')
    await get('/short')
    at(59)
    expect((await get('/ns')).body).toBe('v1')
    expect((await get('/short')).body).toBe('v1')
    at(61)
    expect((await get('/ns')).body).toBe('v2')
    expect((await get('/short')).body).toBe('v2')
  })

  it('expireAfter applies only when the server gives no freshness', async () => {
    setup({ expireAfter: 30 })
    origin.route('/none', counting({}))
    origin.route('/long', counting({ 'cache-control': 'max-age=100' }))
    await get('/none')
    await get('/long')
    at(29)
    expect((await get('/none')).body).toBe('v1')
    at(31)
    expect((await get('/none')).body).toBe('v2')
    at(90)
    expect((await get('/long')).body).toBe('v1')
    expect(seen('/long')).toHaveLength(1)
  })

  it('urlsExpireAfter: the first matching pattern wins, then expireAfter', async () => {
    setup({ expireAfter: 1000, urlsExpireAfter: { '*/api/': 10, '*/api/special': 100 } })
    for (const p of ['/api/special', '/api/other', '/elsewhere']) origin.route(p, counting({}))
    for (const p of ['/api/special', '/api/other', '/elsewhere']) await get(p)
    at(50)
    expect((await get('/api/special')).body).toBe('v2')
    expect((await get('/api/other')).body).toBe('v2')
    expect((await get('/elsewhere')).body).toBe('v1')
  })

  it('DO_NOT_CACHE for a URL pattern bypasses the cache', async () => {
    setup({ urlsExpireAfter: [[/\/private/, DO_NOT_CACHE]] })
    origin.route('/private', counting({ 'cache-control': 'max-age=60' }))
    origin.route('/public', counting({ 'cache-control': 'max-age=60' }))
    const a = await get('/private')
    const b = await get('/private')
    expect([a.body, b.body]).toEqual(['v1', 'v2'])
    expect(b.cs).not.toContain('hit')
    await get('/public')
    expect((await get('/public')).body).toBe('v1')
    expect(await ic.cache.urls()).toEqual([`${origin.url}/public`])
  })
})

describe('304 edge cases', () => {
  it('a 304 restarts the age: Age from the first response no longer counts', async () => {
    setup()
    origin.route('/aged', validated('body', { etag: '"a"', 'cache-control': 'max-age=60', age: '50' }, { etag: '"a"', 'cache-control': 'max-age=60' }))
    await get('/aged')
    at(11)
    const revalidated = await get('/aged')
    expect(revalidated.cs).toMatch(/fwd=stale; fwd-status=304; ttl=60/)
    expect(revalidated.headers.age).toBe('0')
    at(40)
    const hit = await get('/aged')
    expect(hit.cs).toMatch(/hit; ttl=31/)
    expect(seen('/aged')).toHaveLength(2)
  })

  it('a 304 whose ETag selects no stored response is retried without conditions', async () => {
    setup()
    let n = 0
    origin.route('/lb', (req, res) => {
      n++
      if (req.headers['if-none-match']) send(res, 304, { etag: '"other"', 'cache-control': 'max-age=10' })
      else send(res, 200, { etag: n === 1 ? '"one"' : '"two"', 'cache-control': 'max-age=10' }, `body ${n}`)
    })
    await get('/lb')
    at(11)
    const res = await get('/lb')
    expect(res.status).toBe(200)
    expect(res.body).toBe('body 3')
    expect(conditional('/lb')).toEqual([
      { inm: undefined, ims: undefined },
      { inm: '"one"', ims: undefined },
      { inm: undefined, ims: undefined },
    ])
    const next = await get('/lb')
    expect(next.cs).toMatch(/hit/)
    expect(next.body).toBe('body 3')
  })
})

/**
 * Required RFC 9111 rules beyond freshness, one row per rule, through each front end
 * (createCachedFetch, request() on an Agent, a Client): what the origin saw, and the exact
 * status, header values and bytes the caller got.
 */
import type http from 'node:http'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FRONTS, type Harness, harness } from './helpers/fronts.js'
import { type Origin, type SeenRequest, startOrigin } from './helpers/origin.js'

let origin: Origin
let h: Harness | undefined

beforeEach(async () => {
  origin = await startOrigin()
})

afterEach(async () => {
  await h?.close()
  h = undefined
  await origin.close()
})

/** A route answering 304 to any conditional request with `notModified`, else 200 with `full`. */
function conditional(full: http.OutgoingHttpHeaders, notModified: http.OutgoingHttpHeaders, body = 'the stored body') {
  return (req: SeenRequest, res: http.ServerResponse) => {
    if (req.headers['if-none-match'] !== undefined || req.headers['if-modified-since'] !== undefined) {
      res.writeHead(304, notModified)
      res.end()
    } else {
      res.writeHead(200, full)
      res.end(body)
    }
  }
}

describe.each(FRONTS)('through %s', (front) => {
  it('§3.2: a 304 carrying Content-Length does not replace the stored one, nor cut the body', async () => {
    origin.route('/cl', conditional({ etag: '"a"', 'cache-control': 'max-age=0', 'content-length': '15' }, { etag: '"a"', 'cache-control': 'max-age=0', 'content-length': '99' }))
    h = harness(front, origin.url)
    await h.send('/cl')
    const second = await h.send('/cl')
    expect(second).toMatchObject({ status: 200, body: 'the stored body' })
    expect(second.headers['content-length']).toBe('15')
    expect(origin.seen.map((s) => s.headers['if-none-match'])).toEqual([undefined, '"a"'])
  })

  it.each([
    ['no validator', {}],
    ['the same ETag', { etag: '"a"' }],
    ['the same Last-Modified', { 'last-modified': 'Mon, 01 Jan 2001 00:00:00 GMT' }],
  ])('§4.3.4: a 304 to our own conditional request with %s refreshes the stored response', async (_name, validator) => {
    origin.route('/nv', conditional({ etag: '"a"', 'last-modified': 'Mon, 01 Jan 2001 00:00:00 GMT', 'cache-control': 'max-age=0' }, { 'cache-control': 'max-age=60', ...validator }))
    h = harness(front, origin.url)
    await h.send('/nv')
    const second = await h.send('/nv')
    expect(second).toMatchObject({ status: 200, body: 'the stored body' })
    // One request for the 200, one conditional; no unconditional retry. Then fresh for 60 s.
    expect(origin.count('/nv')).toBe(2)
    await h.send('/nv')
    expect(origin.count('/nv')).toBe(2)
  })

  it('§4.3.4: a 304 with a different strong ETag is not applied; the request is sent again plainly', async () => {
    let n = 0
    origin.route('/other', (req, res) => {
      n++
      if (req.headers['if-none-match'] !== undefined) {
        res.writeHead(304, { etag: '"b"', 'cache-control': 'max-age=60' })
        res.end()
      } else {
        res.writeHead(200, { etag: n === 1 ? '"a"' : '"b"', 'cache-control': 'max-age=0' })
        res.end(`body ${n}`)
      }
    })
    h = harness(front, origin.url)
    await h.send('/other')
    const second = await h.send('/other')
    expect(second).toMatchObject({ status: 200, body: 'body 3' })
    expect(origin.seen.map((s) => s.headers['if-none-match'])).toEqual([undefined, '"a"', undefined])
  })

  it('repeated response header lines are joined with ", " on a miss and on a hit', async () => {
    origin.route('/two', (_req, res) => {
      res.setHeader('cache-control', ['s-maxage=3600', 'max-age=60'])
      res.setHeader('x-list', ['a', 'b'])
      res.writeHead(200)
      res.end('two')
    })
    h = harness(front, origin.url)
    const miss = await h.send('/two')
    const hit = await h.send('/two')
    for (const r of [miss, hit]) {
      expect(r.headers['cache-control']).toBe('s-maxage=3600, max-age=60')
      expect(r.headers['x-list']).toBe('a, b')
      expect(r.body).toBe('two')
    }
    expect(origin.count('/two')).toBe(1)
  })

  it.each(['proxy-authentication-info', 'proxy-authenticate', 'keep-alive', 'x-listed'])('§3.1: %s is never stored', async (name) => {
    origin.route('/hop', (_req, res) => {
      res.setHeader('cache-control', 'max-age=60')
      res.setHeader(name, 'secret')
      if (name === 'x-listed') res.setHeader('connection', 'x-listed')
      res.writeHead(200)
      res.end('hop')
    })
    h = harness(front, origin.url)
    await h.send('/hop')
    const hit = await h.send('/hop')
    expect(hit.body).toBe('hop')
    expect(hit.headers['cache-status']).toContain('hit')
    expect(hit.headers[name]).toBeUndefined()
  })
})

/** What a good private cache also reuses: the second request must not reach the origin. */
describe.each(FRONTS)('reused through %s', (front) => {
  const reuse: Array<[string, http.OutgoingHttpHeaders, number, Record<string, string>, Record<string, string>]> = [
    // RFC 9111 §3 default codes: any final status with explicit freshness.
    ...[299, 400, 404, 500, 503, 599].map((status): [string, http.OutgoingHttpHeaders, number, Record<string, string>, Record<string, string>] => [`§3: status ${status} with max-age`, { 'cache-control': 'max-age=60' }, status, {}, {}]),
    ['§4.2.2: 404 with heuristic freshness', { 'last-modified': 'Mon, 01 Jan 2001 00:00:00 GMT' }, 404, {}, {}],
    ['§5.2: MAX-AGE=3600', { 'cache-control': 'MAX-AGE=3600' }, 200, {}, {}],
    ['§5.2.2.3: no-store, must-understand on a 200', { 'cache-control': 'no-store, must-understand, max-age=60' }, 200, {}, {}],
    ['RFC 8246: fresh immutable survives request no-cache', { 'cache-control': 'max-age=60, immutable', etag: '"i"' }, 200, {}, { 'cache-control': 'no-cache' }],
    ['RFC 8246: fresh immutable survives request max-age=0', { 'cache-control': 'max-age=60, immutable', etag: '"i"' }, 200, {}, { 'cache-control': 'max-age=0' }],
    ['§4.1: Vary compares list members without whitespace', { 'cache-control': 'max-age=60', vary: 'foo' }, 200, { foo: '1, 2' }, { foo: ' 1 ,2' }],
    ['§4.1: Vary on Accept-Language ignores case and order', { 'cache-control': 'max-age=60', vary: 'accept-language' }, 200, { 'accept-language': 'en-US, fr;q=0.5' }, { 'accept-language': 'fr; q=0.5, EN-us' }],
  ]
  it.each(reuse)('%s', async (_name, headers, status, first, second) => {
    origin.route('/r', (_req, res) => {
      res.writeHead(status, headers)
      res.end(`status ${status}`)
    })
    h = harness(front, origin.url)
    const a = await h.send('/r', first)
    const b = await h.send('/r', second)
    expect(a).toMatchObject({ status, body: `status ${status}` })
    expect(b).toMatchObject({ status, body: `status ${status}` })
    expect(b.headers['cache-status']).toContain('hit')
    expect(origin.count('/r')).toBe(1)
  })

  it('RFC 8246: a fresh immutable response is reused by fetch cache "no-cache"; "reload" still goes to the origin', async () => {
    if (front !== 'fetch') return
    const { createCachedFetch } = await import('../src/index.js')
    origin.route('/imm', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60, immutable' })
      res.end('imm')
    })
    const f = createCachedFetch({ backend: 'memory' })
    try {
      await (await f(origin.url + '/imm')).text()
      await f.cache.flush()
      expect(await (await f(origin.url + '/imm', { cache: 'no-cache' })).text()).toBe('imm')
      expect(origin.count('/imm')).toBe(1)
      expect(await (await f(origin.url + '/imm', { cache: 'reload' })).text()).toBe('imm')
      expect(origin.count('/imm')).toBe(2)
    } finally {
      await f.cache.close()
    }
  })
})

describe.each(FRONTS)('POST and Content-Location through %s (RFC 9110 §9.3.3, RFC 9111 §4)', (front) => {
  it.each<[string, http.OutgoingHttpHeaders, boolean]>([
    ['explicit freshness and Content-Location equal to the URI: the GET is answered from it', { 'cache-control': 'max-age=60', 'content-location': '/p' }, true],
    ['absolute Content-Location equal to the URI', { 'cache-control': 'max-age=60', 'content-location': 'ABSOLUTE' }, true],
    ['Content-Location of another URI', { 'cache-control': 'max-age=60', 'content-location': '/other' }, false],
    ['no explicit freshness', { 'content-location': '/p', 'last-modified': 'Mon, 01 Jan 2001 00:00:00 GMT' }, false],
    ['no Content-Location', { 'cache-control': 'max-age=60' }, false],
  ])('%s', async (_name, headers, reused) => {
    const h2 = { ...headers }
    if (h2['content-location'] === 'ABSOLUTE') h2['content-location'] = `${origin.url}/p`
    origin.route('/p', (req, res) => {
      res.writeHead(200, req.method === 'POST' ? h2 : { 'cache-control': 'max-age=60' })
      res.end(`${req.method} answer`)
    })
    h = harness(front, origin.url)
    expect((await h.send('/p', {}, { method: 'POST', body: 'x' })).body).toBe('POST answer')
    const got = await h.send('/p')
    expect(got.body).toBe(reused ? 'POST answer' : 'GET answer')
    expect(origin.seen.map((s) => s.method)).toEqual(reused ? ['POST'] : ['POST', 'GET'])
  })
})

describe.each(FRONTS)('Range requests through %s (RFC 9111 §3.4, RFC 9110 §14)', (front) => {
  it.each<[string, number, string, string | undefined]>([
    ['bytes=2-4', 206, 'cde', 'bytes 2-4/10'],
    ['bytes=7-', 206, 'hij', 'bytes 7-9/10'],
    ['bytes=-3', 206, 'hij', 'bytes 7-9/10'],
    ['bytes=5-100', 206, 'fghij', 'bytes 5-9/10'],
    ['bytes=0-0', 206, 'a', 'bytes 0-0/10'],
  ])('%s is cut from the stored response', async (range, status, body, contentRange) => {
    origin.route('/bytes', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' })
      res.end('abcdefghij')
    })
    h = harness(front, origin.url)
    await h.send('/bytes')
    const got = await h.send('/bytes', { range })
    expect(got).toMatchObject({ status, body })
    expect(got.headers['content-range']).toBe(contentRange)
    expect(got.headers['content-length']).toBe(String(body.length))
    expect(origin.count('/bytes')).toBe(1)
  })

  it.each(['bytes=20-', 'bytes=0-1,3-4', 'items=0-1'])('%s the store cannot satisfy goes to the origin with its Range, unstored', async (range) => {
    origin.route('/bytes', (req, res) => {
      if (req.headers.range) {
        res.writeHead(206, { 'content-range': 'bytes 0-1/10', 'cache-control': 'max-age=60' })
        res.end('ab')
      } else {
        res.writeHead(200, { 'cache-control': 'max-age=60' })
        res.end('abcdefghij')
      }
    })
    h = harness(front, origin.url)
    await h.send('/bytes')
    const got = await h.send('/bytes', { range })
    expect(got).toMatchObject({ status: 206, body: 'ab' })
    expect(origin.seen.map((s) => s.headers.range)).toEqual([undefined, range])
    // The 206 did not replace the stored whole.
    expect(await h.send('/bytes')).toMatchObject({ status: 200, body: 'abcdefghij' })
    expect(origin.count('/bytes')).toBe(2)
  })

  it('a range request with nothing stored is forwarded, and its 206 is not stored', async () => {
    origin.route('/bytes', (req, res) => {
      res.writeHead(req.headers.range ? 206 : 200, { 'cache-control': 'max-age=60', ...(req.headers.range ? { 'content-range': 'bytes 0-1/10' } : {}) })
      res.end(req.headers.range ? 'ab' : 'abcdefghij')
    })
    h = harness(front, origin.url)
    expect(await h.send('/bytes', { range: 'bytes=0-1' })).toMatchObject({ status: 206, body: 'ab' })
    expect(await h.send('/bytes')).toMatchObject({ status: 200, body: 'abcdefghij' })
    expect(origin.count('/bytes')).toBe(2)
  })
})

describe('Range with only-if-cached (RFC 9111 §5.2.1.7)', () => {
  it.each(FRONTS)('%s: a range request that the store cannot answer is a 504, not an origin request', async (front) => {
    origin.route('/bytes', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end('abcdefghij')
    })
    h = harness(front, origin.url)
    const got = await h.send('/bytes', { range: 'bytes=0-1', 'cache-control': 'only-if-cached' })
    expect(got.status).toBe(504)
    expect(origin.count('/bytes')).toBe(0)
  })

  it.each(FRONTS.flatMap((front) => [
    [front, 'a range past the end of a stored response', 'bytes=20-30', {}],
    [front, 'a range of a stored content-coded response', 'bytes=0-1', { 'content-encoding': 'x-made-up' }],
  ] as const))('%s: %s is a 504 too: the stored response is there, the origin is never asked', async (front, _what, range, extra) => {
    origin.route('/bytes', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', ...extra })
      res.end('abcdefghij')
    })
    h = harness(front, origin.url)
    await h.send('/bytes')
    expect(origin.count('/bytes')).toBe(1)
    const got = await h.send('/bytes', { range, 'cache-control': 'only-if-cached' })
    expect(got.status).toBe(504)
    expect(origin.count('/bytes')).toBe(1)
  })
})

describe('a Client in offline mode (onlyIfCached) finds what an earlier process stored', () => {
  it('the origin is learned without a request, then the stored response is served', async () => {
    const { Client } = await import('undici')
    const { cacheInterceptor } = await import('../src/index.js')
    const { tempDir } = await import('./helpers/tmp.js')
    const tmp = tempDir()
    origin.route('/c', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end('stored earlier')
    })
    const run = async (options: Parameters<typeof cacheInterceptor>[0]) => {
      const ic = cacheInterceptor({ backend: 'sqlite', name: `${tmp.dir}/c`, ...options })
      const client = new Client(origin.url)
      try {
        const res = await client.compose(ic).request({ path: '/c', method: 'GET' })
        return { status: res.statusCode, body: await res.body.text() }
      } finally {
        await ic.cache.close()
        await client.close()
      }
    }
    try {
      expect(await run({})).toEqual({ status: 200, body: 'stored earlier' })
      expect(await run({ onlyIfCached: true })).toEqual({ status: 200, body: 'stored earlier' })
      expect(origin.count('/c')).toBe(1)
    } finally {
      tmp.cleanup()
    }
  })
})

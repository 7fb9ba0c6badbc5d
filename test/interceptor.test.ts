import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import { Agent, type Dispatcher, fetch, request, stream } from 'undici'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { BackendError, type Backend, type CacheInterceptor, type CacheOptions, cacheInterceptor } from '../src/index.js'
import { type Closers, composeCache } from './helpers/compose.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

let origin: Origin
let ic: CacheInterceptor
let dispatcher: Dispatcher
const closers: Closers = []

/** A fresh interceptor (memory by default) composed on a new Agent; both closed in afterEach. */
function setup(options: CacheOptions = {}): CacheInterceptor {
  ;({ ic, dispatcher } = composeCache(options, closers))
  return ic
}

interface Got {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

interface Init {
  method?: Dispatcher.HttpMethod
  headers?: Record<string, string>
  body?: string
}

async function get(path: string, init: Init = {}, d: Dispatcher = dispatcher): Promise<Got> {
  const res = await request(origin.url + path, { dispatcher: d, ...init })
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) }
}

/** Request, then wait until whatever the response leads the cache to write is written. */
async function got(path: string, init: Init = {}): Promise<Got> {
  const r = await get(path, init)
  await ic.cache.flush()
  return r
}

const cs = (r: Got): string => String(r.headers['cache-status'] ?? '')
const hits = (path: string, method = 'GET'): number => origin.seen.filter((s) => s.url.split('?')[0] === path && s.method === method).length

async function storedUrls(): Promise<string[]> {
  const out: string[] = []
  for await (const m of ic.cache.entries()) out.push(m.url)
  return out
}

beforeEach(async () => {
  origin = await startOrigin()
})

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  await origin.close()
})

describe('miss then hit', () => {
  it('request: origin contacted once, same bytes, Cache-Status and Age', async () => {
    setup()
    origin.route('/a', reply(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }, 'hello a'))
    const first = await got('/a')
    expect(first.status).toBe(200)
    expect(first.body.toString()).toBe('hello a')
    expect(cs(first)).toMatch(/^fetchcache; fwd=uri-miss; stored; key="[0-9a-f]+"$/)
    expect(first.headers.age).toBeUndefined()
    const second = await got('/a')
    expect(origin.count('/a')).toBe(1)
    expect(second.status).toBe(200)
    expect(second.body.equals(first.body)).toBe(true)
    expect(cs(second)).toMatch(/^fetchcache; hit; ttl=(59|60); key="[0-9a-f]+"$/)
    expect(second.headers.age).toMatch(/^\d+$/)
    expect(second.headers['content-type']).toBe('text/plain')
  })

  it('stream: second response comes from the cache', async () => {
    setup()
    origin.route('/s', reply(200, { 'cache-control': 'max-age=60' }, 'streamed body'))
    const viaStream = async (): Promise<{ status: number; status2: string; body: string }> => {
      const chunks: Buffer[] = []
      let status = 0
      let cacheStatus = ''
      await stream(origin.url + '/s', { dispatcher, method: 'GET' }, ({ statusCode, headers }) => {
        status = statusCode
        cacheStatus = String(headers['cache-status'])
        return new Writable({ write(chunk: Buffer, _enc, cb) { chunks.push(chunk); cb() } })
      })
      await ic.cache.flush()
      return { status, status2: cacheStatus, body: Buffer.concat(chunks).toString() }
    }
    const a = await viaStream()
    const b = await viaStream()
    expect(a).toMatchObject({ status: 200, body: 'streamed body' })
    expect(a.status2).toContain('fwd=uri-miss')
    expect(b).toMatchObject({ status: 200, body: 'streamed body' })
    expect(b.status2).toContain('; hit')
    expect(origin.count('/s')).toBe(1)
  })

  it('undici fetch with the dispatcher: second response comes from the cache', async () => {
    setup()
    origin.route('/f', reply(200, { 'cache-control': 'max-age=60' }, 'fetched body'))
    const a = await fetch(origin.url + '/f', { dispatcher })
    expect(await a.text()).toBe('fetched body')
    await ic.cache.flush()
    const b = await fetch(origin.url + '/f', { dispatcher })
    expect(b.status).toBe(200)
    expect(await b.text()).toBe('fetched body')
    expect(b.headers.get('cache-status')).toContain('; hit')
    expect(b.headers.get('age')).toMatch(/^\d+$/)
    expect(origin.count('/f')).toBe(1)
  })
})

describe('bodies', () => {
  it('a random binary body (several chunks) comes back byte-identical', async () => {
    setup()
    const bytes = randomBytes(200_000)
    origin.route('/bin', reply(200, { 'cache-control': 'max-age=60', 'content-type': 'application/octet-stream' }, bytes))
    const a = await got('/bin')
    const b = await got('/bin')
    expect(a.body.equals(bytes)).toBe(true)
    expect(b.body.equals(bytes)).toBe(true)
    expect(cs(b)).toContain('; hit')
    const c = await fetch(origin.url + '/bin', { dispatcher })
    expect(Buffer.from(await c.arrayBuffer()).equals(bytes)).toBe(true)
    expect(origin.count('/bin')).toBe(1)
  })

  it('a gzip body is stored raw: request sees the gzip bytes, fetch decodes them', async () => {
    setup()
    const text = 'hello gzip '.repeat(100)
    const gz = gzipSync(text)
    origin.route('/gz', reply(200, { 'cache-control': 'max-age=60', 'content-encoding': 'gzip', 'content-type': 'text/plain' }, gz))
    const a = await got('/gz')
    const b = await got('/gz')
    expect(a.body.equals(gz)).toBe(true)
    expect(b.body.equals(gz)).toBe(true)
    expect(b.headers['content-encoding']).toBe('gzip')
    expect(cs(b)).toContain('; hit')
    const c = await fetch(origin.url + '/gz', { dispatcher })
    expect(c.headers.get('cache-status')).toContain('; hit')
    expect(await c.text()).toBe(text)
    expect(origin.count('/gz')).toBe(1)
  })
})

describe('methods', () => {
  it('HEAD is cached separately from GET', async () => {
    setup()
    origin.route('/h', reply(200, { 'cache-control': 'max-age=60', 'x-m': 'yes' }, 'head body'))
    expect((await got('/h')).body.toString()).toBe('head body')
    const h1 = await got('/h', { method: 'HEAD' })
    expect(hits('/h', 'HEAD')).toBe(1)
    expect(h1.body.length).toBe(0)
    const h2 = await got('/h', { method: 'HEAD' })
    expect(cs(h2)).toContain('; hit')
    expect(h2.body.length).toBe(0)
    expect(h2.headers['x-m']).toBe('yes')
    const g2 = await got('/h')
    expect(g2.body.toString()).toBe('head body')
    expect(cs(g2)).toContain('; hit')
    expect(origin.seen.map((s) => s.method)).toEqual(['GET', 'HEAD'])
  })

  it('POST is not cached and invalidates the GET of its URL and of a same-origin Location', async () => {
    setup()
    origin.route('/res', (req, res) => {
      if (req.method === 'POST') {
        res.writeHead(201, { location: '/res/item' })
        res.end('created')
      } else reply(200, { 'cache-control': 'max-age=60' }, 'list')(req, res)
    })
    origin.route('/res/item', reply(200, { 'cache-control': 'max-age=60' }, 'item'))
    await got('/res')
    await got('/res/item')
    expect(cs(await got('/res'))).toContain('; hit')
    expect(cs(await got('/res/item'))).toContain('; hit')
    const p1 = await got('/res', { method: 'POST', body: 'x' })
    const p2 = await got('/res', { method: 'POST', body: 'x' })
    expect([p1.status, p2.status]).toEqual([201, 201])
    expect(hits('/res', 'POST')).toBe(2)
    const list = await got('/res')
    const item = await got('/res/item')
    expect(hits('/res')).toBe(2)
    expect(origin.count('/res/item')).toBe(2)
    expect(list.body.toString()).toBe('list')
    expect(item.body.toString()).toBe('item')
    expect(cs(list)).toContain('fwd=uri-miss')
  })

  it('a failed POST (500) does not invalidate', async () => {
    setup()
    origin.route('/keep', (req, res) => {
      if (req.method === 'POST') reply(500, {}, 'boom')(req, res)
      else reply(200, { 'cache-control': 'max-age=60' }, 'kept')(req, res)
    })
    await got('/keep')
    expect((await got('/keep', { method: 'POST', body: 'x' })).status).toBe(500)
    expect(cs(await got('/keep'))).toContain('; hit')
    expect(hits('/keep')).toBe(1)
  })

  it('allowableMethods with POST: keyed by body, JSON key order does not matter', async () => {
    setup({ allowableMethods: ['GET', 'POST'] })
    origin.route('/q', (req, res) => reply(200, { 'cache-control': 'max-age=60' }, `echo ${req.body.toString()}`)(req, res))
    const post = (body: string) => got('/q', { method: 'POST', body, headers: { 'content-type': 'application/json' } })
    const a = await post('{"a":1,"b":2}')
    const b = await post('{"a":1,"b":2}')
    expect(hits('/q', 'POST')).toBe(1)
    expect(cs(b)).toContain('; hit')
    expect(b.body.equals(a.body)).toBe(true)
    const c = await post('{"a":1,"b":3}')
    expect(hits('/q', 'POST')).toBe(2)
    expect(c.body.toString()).toBe('echo {"a":1,"b":3}')
    const d = await post('{"b":2,"a":1}')
    expect(hits('/q', 'POST')).toBe(2)
    expect(d.body.toString()).toBe('echo {"a":1,"b":2}')
  })
})

describe('what is not stored', () => {
  it('a body over maxEntrySize passes through whole but is not stored (with and without Content-Length)', async () => {
    setup({ maxEntrySize: 1000 })
    const big = randomBytes(5000)
    origin.route('/big-cl', reply(200, { 'cache-control': 'max-age=60', 'content-length': String(big.length) }, big))
    origin.route('/big-chunked', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      for (let i = 0; i < big.length; i += 500) res.write(big.subarray(i, i + 500))
      res.end()
    })
    for (const path of ['/big-cl', '/big-chunked']) {
      const a = await got(path)
      const b = await got(path)
      expect(a.body.equals(big)).toBe(true)
      expect(b.body.equals(big)).toBe(true)
      expect(origin.count(path)).toBe(2)
    }
    expect(await storedUrls()).toEqual([])
  })

  it('a body cut off mid-way is not stored', async () => {
    setup()
    let broken = true
    origin.route('/cut', (_req, res) => {
      if (!broken) return reply(200, { 'cache-control': 'max-age=60' }, 'whole')(_req, res)
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '10000' })
      res.write(Buffer.alloc(2000, 1))
      setTimeout(() => res.socket?.destroy(), 20)
    })
    await expect(get('/cut')).rejects.toThrow()
    await ic.cache.flush()
    expect(await storedUrls()).toEqual([])
    broken = false
    const b = await got('/cut')
    expect(origin.count('/cut')).toBe(2)
    expect(b.body.toString()).toBe('whole')
    expect(cs(b)).toContain('fwd=uri-miss')
  })

  it('Vary: * is never served from the cache', async () => {
    setup()
    let n = 0
    origin.route('/star', (req, res) => reply(200, { 'cache-control': 'max-age=60', vary: '*' }, `star ${++n}`)(req, res))
    const a = await got('/star')
    const b = await got('/star')
    expect([a.body.toString(), b.body.toString()]).toEqual(['star 1', 'star 2'])
    expect(cs(a)).not.toContain('stored')
    expect(origin.count('/star')).toBe(2)
  })
})

describe('faults', () => {
  it('a backend that rejects everything: the origin response comes through and onError hears of it', async () => {
    const fail = () => Promise.reject(new Error('disk on fire'))
    const broken: Backend = {
      get: fail,
      set: fail,
      delete: fail,
      clear: fail,
      deleteMatching: fail,
      stats: fail,
      close: () => Promise.resolve(),
      entries: () => ({ [Symbol.asyncIterator]: () => ({ next: fail }) }),
    }
    const onError = vi.fn()
    setup({ backend: broken, onError })
    const bytes = randomBytes(3000)
    origin.route('/x', reply(200, { 'cache-control': 'max-age=60', 'x-custom': 'kept', 'content-type': 'application/octet-stream' }, bytes))
    const a = await got('/x')
    const b = await got('/x')
    for (const r of [a, b]) {
      expect(r.status).toBe(200)
      expect(r.body.equals(bytes)).toBe(true)
      expect(r.headers['x-custom']).toBe('kept')
      expect(r.headers['content-type']).toBe('application/octet-stream')
    }
    expect(origin.count('/x')).toBe(2)
    expect(onError).toHaveBeenCalled()
    // One failed read and one failed write per request.
    expect(onError.mock.calls.length).toBeGreaterThanOrEqual(4)
    for (const [error] of onError.mock.calls) expect(error).toBeInstanceOf(BackendError)
  })
})

describe('keys', () => {
  it('Vary: each Accept-Language variant is stored and served to its own request', async () => {
    setup()
    origin.route('/v', (req, res) => {
      const fr = req.headers['accept-language'] === 'fr'
      reply(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' }, fr ? 'bonjour' : 'hello')(req, res)
    })
    const lang = (l: string) => got('/v', { headers: { 'accept-language': l } })
    expect((await lang('en')).body.toString()).toBe('hello')
    expect((await lang('fr')).body.toString()).toBe('bonjour')
    expect(origin.count('/v')).toBe(2)
    const en = await lang('en')
    const fr = await lang('fr')
    expect(en.body.toString()).toBe('hello')
    expect(fr.body.toString()).toBe('bonjour')
    expect(cs(en)).toContain('; hit')
    expect(cs(fr)).toContain('; hit')
    expect(origin.count('/v')).toBe(2)
  })

  it('POST invalidates every Vary variant and credentialed entry of the URL', async () => {
    setup()
    origin.route('/pv', (req, res) => {
      if (req.method === 'POST') return reply(204, {})(req, res)
      reply(200, { 'cache-control': 'max-age=60', vary: 'accept-language' }, 'x')(req, res)
    })
    const variants: Init[] = [{ headers: { 'accept-language': 'en' } }, { headers: { 'accept-language': 'fr' } }, { headers: { authorization: 'Bearer z' } }]
    for (const v of variants) await got('/pv', v)
    for (const v of variants) expect(cs(await got('/pv', v))).toContain('; hit')
    expect(hits('/pv')).toBe(3)
    await got('/pv', { method: 'DELETE' })
    for (const v of variants) await got('/pv', v)
    expect(hits('/pv')).toBe(6)
  })

  it('different Authorization credentials never share an entry', async () => {
    setup()
    origin.route('/me', (req, res) => reply(200, { 'cache-control': 'max-age=60' }, `user ${req.headers.authorization}`)(req, res))
    const as = (token: string) => got('/me', { headers: { authorization: `Bearer ${token}` } })
    expect((await as('alice')).body.toString()).toBe('user Bearer alice')
    const bob = await as('bob')
    expect(bob.body.toString()).toBe('user Bearer bob')
    expect(cs(bob)).toContain('fwd=uri-miss')
    expect(origin.count('/me')).toBe(2)
    const alice = await as('alice')
    expect(alice.body.toString()).toBe('user Bearer alice')
    expect(cs(alice)).toContain('; hit')
    const anon = await got('/me')
    expect(anon.body.toString()).toBe('user undefined')
    expect(origin.count('/me')).toBe(3)
  })

  it('ignoredParameters: api_key neither splits the key nor is stored', async () => {
    setup({ ignoredParameters: ['api_key'] })
    origin.route('/p', reply(200, { 'cache-control': 'max-age=60' }, 'p body'))
    await got('/p?q=1&api_key=SECRET1')
    const b = await got('/p?api_key=SECRET2&q=1')
    expect(cs(b)).toContain('; hit')
    expect(hits('/p')).toBe(1)
    expect(origin.seen[0]?.url).toBe('/p?q=1&api_key=SECRET1')
    const urls = await storedUrls()
    expect(urls).toEqual([`${origin.url}/p?q=1`])
    expect(urls.join()).not.toMatch(/api_key|SECRET/)
    await got('/p?q=2&api_key=SECRET1')
    expect(hits('/p')).toBe(2)
  })
})

describe('persistence', () => {
  it('a SQLite cache survives to a second interceptor instance', async () => {
    const tmp = tempDir()
    closers.unshift(async () => tmp.cleanup())
    origin.route('/db', reply(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' }, 'persisted'))
    const name = join(tmp.dir, 'c')
    const first = cacheInterceptor({ backend: 'sqlite', name })
    const d1 = new Agent().compose(first)
    const a = await get('/db', {}, d1)
    await first.cache.flush()
    await d1.close()
    await first.cache.close()
    expect(cs(a)).toContain('stored')

    setup({ backend: 'sqlite', name })
    const b = await got('/db')
    expect(origin.count('/db')).toBe(1)
    expect(b.body.toString()).toBe('persisted')
    expect(b.headers['content-type']).toBe('text/plain')
    expect(cs(b)).toContain('; hit')
    expect(await storedUrls()).toEqual([`${origin.url}/db`])
  })
})

describe('Cache-Status for Vary', () => {
  it('reports vary-miss and the variant key when another variant is stored', async () => {
    const origin = await startOrigin({
      '/v': (req, res) => {
        res.writeHead(200, { vary: 'accept-language', 'cache-control': 'max-age=60' })
        res.end(String(req.headers['accept-language']))
      },
    })
    const i = cacheInterceptor({ backend: 'memory' })
    const d = new Agent().compose(i)
    const get = async (lang: string) => {
      const res = await request(`${origin.url}/v`, { dispatcher: d, headers: { 'accept-language': lang } })
      await res.body.text()
      await i.cache.flush()
      return String(res.headers['cache-status'])
    }
    const first = await get('en')
    const second = await get('fr')
    const hit = await get('fr')
    expect(first).toMatch(/fwd=uri-miss; stored/)
    expect(second).toMatch(/fwd=vary-miss; stored/)
    const key = /key="([^"]+)"/.exec(second)?.[1]
    expect(hit).toContain(`hit; ttl=60; key="${key}"`)
    await d.close()
    await i.cache.close()
    await origin.close()
  })
})

describe('the stored method and URL are checked on every read', () => {
  it.each([
    ['url', { url: 'http://127.0.0.1:1/someone-else' }],
    ['method', { method: 'HEAD' }],
  ] as const)('an entry whose stored %s differs from the request is never served (as after a key collision)', async (_what, tamper) => {
    const origin = await startOrigin({ '/a': reply(200, { 'cache-control': 'max-age=60' }, 'for /a') })
    const closers: Closers = []
    const { ic, dispatcher } = composeCache({}, closers)
    try {
      const first = await request(`${origin.url}/a`, { dispatcher })
      await first.body.text()
      await ic.cache.flush()
      const key = /key="([^"]+)"/.exec(String(first.headers['cache-status']))![1]!
      const stored = (await ic.cache.engine.backend.get(key))!
      // The same key now holds a response for something else, as a hash collision would.
      await ic.cache.engine.backend.set(key, { meta: { ...stored.meta, ...tamper }, body: Buffer.from('for someone else') })
      const second = await request(`${origin.url}/a`, { dispatcher })
      expect(await second.body.text()).toBe('for /a')
      expect(origin.count('/a')).toBe(2)
    } finally {
      for (const close of closers) await close()
      await origin.close()
    }
  })
})

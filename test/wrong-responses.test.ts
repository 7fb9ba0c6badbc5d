/**
 * Regression table for "wrong response served" bugs: each row makes two requests that must
 * NOT share a stored response (or, for the Client rows, that must), and asserts on what the
 * origin saw and the exact bytes the caller got. Every row failed before its fix.
 */
import { Client, type Dispatcher, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type CachedFetch, cacheInterceptor, createCachedFetch } from '../src/index.js'
import { type Closers, composeCache } from './helpers/compose.js'
import { type Origin, type SeenRequest, startOrigin } from './helpers/origin.js'

type Init = NonNullable<RequestInit['headers']>

let origin: Origin
const closers: Closers = []

/** Echo a request field in the body, so a wrong reuse shows in the bytes. */
function echo(headers: Record<string, string>, pick: (req: SeenRequest) => string) {
  return (req: SeenRequest, res: import('node:http').ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/plain', ...headers })
    res.end(pick(req))
  }
}

beforeEach(async () => {
  origin = await startOrigin({
    '/q': echo({ 'cache-control': 'max-age=60' }, (r) => `url=${r.url}`),
    '/vary-foo': echo({ 'cache-control': 'max-age=60', vary: 'Foo' }, (r) => `foo=${String(r.headers.foo ?? '-')}`),
    '/who': echo({ 'cache-control': 'max-age=60' }, (r) => `auth=${String(r.headers.authorization ?? '-')} cookie=${String(r.headers.cookie ?? '-')}`),
    '/lang': echo({ 'cache-control': 'max-age=60', vary: 'accept-language user-agent' }, (r) => `lang=${String(r.headers['accept-language'] ?? '-')}`),
    '/c': echo({ 'cache-control': 'max-age=60' }, (r) => `client ${r.url}`),
  })
})

afterEach(async () => {
  for (const close of closers.splice(0)) await close()
  await origin.close()
})

function cachedFetch(): CachedFetch {
  const f = createCachedFetch({ backend: 'memory' })
  closers.push(() => f.cache.close())
  return f
}

async function fetchText(f: CachedFetch, path: string, init?: Parameters<CachedFetch>[1]): Promise<string> {
  const res = await f(origin.url + path, init)
  const text = await res.text()
  await f.cache.flush()
  return text
}

async function undiciText(d: Dispatcher, url: string, opts: Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { method?: Dispatcher.HttpMethod } = {}): Promise<string> {
  const res = await request(url, { dispatcher: d, ...opts })
  return res.body.text()
}

interface Row {
  name: string
  /** Run both requests; return [first body, second body]. */
  run: () => Promise<[string, string]>
  expected: [string, string]
  /** Requests the origin must have seen. */
  originHits: number
  /** Stored URLs the cache must hold afterwards (undici rows), when checked. */
  stored?: () => Promise<string[]>
}

/** A cache interceptor on an Agent, made on first use (inside the test, so afterEach closes it). */
function undiciCache(): { readonly dispatcher: Dispatcher; storedUrls: () => Promise<string[]>; flush: () => Promise<void> } {
  let made: ReturnType<typeof composeCache> | undefined
  const get = () => (made ??= composeCache({}, closers))
  return {
    get dispatcher() {
      return get().dispatcher
    },
    flush: () => get().ic.cache.flush(),
    storedUrls: async () => {
      const out: string[] = []
      for await (const m of get().ic.cache.entries()) out.push(m.url)
      return out.sort()
    },
  }
}

const rows: Row[] = [
  (() => {
    const c = undiciCache()
    return {
      name: 'undici request() query option enters the key and the stored URL',
      run: async () => {
        const a = await undiciText(c.dispatcher, origin.url + '/q', { query: { i: 0 } })
        await c.flush()
        const b = await undiciText(c.dispatcher, origin.url + '/q', { query: { i: 1 } })
        await c.flush()
        return [a, b]
      },
      expected: ['url=/q?i=0', 'url=/q?i=1'],
      originHits: 2,
      stored: async () => (await c.storedUrls()).map((u) => u.slice(origin.url.length)),
    }
  })(),
  (() => {
    const c = undiciCache()
    return {
      name: 'dispatcher.request({ origin, path, query }) keys path and query',
      run: async () => {
        const go = async (path: string, query?: Record<string, unknown>) => (await c.dispatcher.request({ origin: origin.url, path, method: 'GET', ...(query ? { query } : {}) })).body.text()
        const a = await go('/q', { i: 0 })
        await c.flush()
        const b = await go('/q', { i: 1 })
        await c.flush()
        return [a, b]
      },
      expected: ['url=/q?i=0', 'url=/q?i=1'],
      originHits: 2,
      stored: async () => (await c.storedUrls()).map((u) => u.slice(origin.url.length)),
    }
  })(),
  ...(['pairs', 'object', 'Headers'] as const).map((form): Row => {
    const f = (() => {
      let made: CachedFetch | undefined
      return () => (made ??= cachedFetch())
    })()
    const headers = (name: string, value: string): Init => (form === 'pairs' ? [[name, value]] : form === 'object' ? { [name]: value } : new Headers([[name, value]]))
    return {
      name: `fetch headers as ${form}: Vary: Foo matches the absent field only when absent (RFC 9111 §4.1)`,
      run: async () => [await fetchText(f(), '/vary-foo'), await fetchText(f(), '/vary-foo', { headers: headers('Foo', '1') })],
      expected: ['foo=-', 'foo=1'],
      originHits: 2,
    }
  }),
  ...(['pairs', 'object', 'Headers'] as const).flatMap((form): Row[] =>
    (['Authorization', 'Cookie'] as const).map((name): Row => {
      let made: CachedFetch | undefined
      const f = () => (made ??= cachedFetch())
      const headers = (value: string): Init => (form === 'pairs' ? [[name, value]] : form === 'object' ? { [name]: value } : new Headers([[name, value]]))
      const auth = name === 'Authorization'
      return {
        name: `fetch ${name} as ${form}: one caller's response never serves another`,
        run: async () => [await fetchText(f(), '/who'), await fetchText(f(), '/who', { headers: headers('b') })],
        expected: ['auth=- cookie=-', auth ? 'auth=b cookie=-' : 'auth=- cookie=b'],
        originHits: 2,
      }
    }),
  ),
  (() => {
    const c = undiciCache()
    return {
      name: 'undici headers as an iterable of pairs key like an object',
      run: async () => {
        const a = await undiciText(c.dispatcher, origin.url + '/vary-foo')
        await c.flush()
        const b = await undiciText(c.dispatcher, origin.url + '/vary-foo', { headers: new Map([['foo', '1']]) as unknown as Record<string, string> })
        return [a, b]
      },
      expected: ['foo=-', 'foo=1'],
      originHits: 2,
    }
  })(),
  (() => {
    let made: CachedFetch | undefined
    const f = () => (made ??= cachedFetch())
    return {
      name: 'fetch: malformed Vary (no comma) is treated like Vary: * (never reused)',
      run: async () => [await fetchText(f(), '/lang', { headers: { 'accept-language': 'de' } }), await fetchText(f(), '/lang', { headers: { 'accept-language': 'fr' } })],
      expected: ['lang=de', 'lang=fr'],
      originHits: 2,
    }
  })(),
  (() => {
    const c = undiciCache()
    return {
      name: 'undici: malformed Vary is treated like Vary: *, even for the same request',
      run: async () => {
        const a = await undiciText(c.dispatcher, origin.url + '/lang', { headers: { 'accept-language': 'de' } })
        await c.flush()
        const b = await undiciText(c.dispatcher, origin.url + '/lang', { headers: { 'accept-language': 'de' } })
        return [a, b]
      },
      expected: ['lang=de', 'lang=de'],
      originHits: 2,
    }
  })(),
  ...([undefined, 'localhost'] as const).map((givenOrigin): Row => {
    let client: Dispatcher | undefined
    let ic: ReturnType<typeof cacheInterceptor> | undefined
    const make = () => {
      if (!client) {
        ic = cacheInterceptor({ backend: 'memory' })
        const raw = new Client(origin.url)
        client = raw.compose(ic)
        closers.push(() => ic!.cache.close(), () => raw.close())
      }
      return client
    }
    const go = async () => {
      const res = await make().request({ path: '/c?x=1', method: 'GET', ...(givenOrigin ? { origin: givenOrigin } : {}) })
      const text = await res.body.text()
      await ic!.cache.flush()
      return text
    }
    return {
      name: `Client.compose(cacheInterceptor()) with a path-only request${givenOrigin ? ` and origin '${givenOrigin}'` : ''}: the origin comes from the Client`,
      run: async () => [await go(), await go()],
      expected: ['client /c?x=1', 'client /c?x=1'],
      originHits: 1,
      stored: async () => {
        const out: string[] = []
        for await (const m of ic!.cache.entries()) out.push(m.url.slice(origin.url.length))
        return out
      },
    }
  }),
]

describe('wrong responses never served', () => {
  it.each(rows.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
    const got = await row.run()
    expect(got).toEqual(row.expected)
    expect(origin.seen.length).toBe(row.originHits)
    if (row.stored) {
      const stored = await row.stored()
      const want = row.expected[0].startsWith('client') ? ['/c?x=1'] : ['/q?i=0', '/q?i=1']
      expect(stored.sort()).toEqual(want)
    }
  })
})

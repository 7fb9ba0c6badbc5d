/**
 * HAR 1.2 export and import: a cache filled through a real origin goes out as HAR and comes
 * back exactly (same keys, metadata and bytes), replays offline with the origin closed, and
 * HAR files from elsewhere are either stored by this cache's rules or rejected whole.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import zlib from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Cache } from '../src/inspect/cache.js'
import { type Har, HarFormatError, createCachedFetch, MemoryBackend, openCache } from '../src/index.js'
import { harEntry } from '../src/inspect/har/export.js'
import type { CacheRecord } from '../src/backends/contract.js'
import { meta } from './helpers/meta.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe, 0x80])
const JSON_BODY = JSON.stringify({ users: [{ id: 1, name: 'Zoë' }] })

let origin: Origin
let tmp: ReturnType<typeof tempDir>

beforeEach(async () => {
  tmp = tempDir('fetchcache-har-')
  origin = await startOrigin({
    '/users': reply(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'max-age=600' }, JSON_BODY),
    '/gz': reply(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'cache-control': 'max-age=600' }, zlib.gzipSync(JSON_BODY)),
    '/br': reply(200, { 'content-type': 'text/plain', 'content-encoding': 'br', 'cache-control': 'max-age=600' }, zlib.brotliCompressSync('brotli text')),
    '/logo.png': reply(200, { 'content-type': 'image/png', 'cache-control': 'max-age=600' }, PNG),
    '/lang': (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-language': req.headers['accept-language'] ?? 'en', vary: 'Accept-Language', 'cache-control': 'max-age=600' })
      res.end(`hello in ${req.headers['accept-language']}`)
    },
    '/tagged': reply(200, { 'content-type': 'text/plain', etag: '"v1"', 'cache-control': 'no-cache', 'set-cookie': ['a=1', 'b=2'] }, 'revalidate me'),
    '/moved': reply(301, { location: '/users', 'cache-control': 'max-age=600' }),
  })
})

afterEach(async () => {
  await origin.close()
  tmp.cleanup()
})

const PATHS = ['/users?b=2&a=1', '/gz', '/br', '/logo.png', '/tagged', '/moved']
const LANGS = ['en', 'fr']

/** Fill a SQLite cache through the origin; returns the bodies callers got, by request. */
async function fill(name: string): Promise<Map<string, Buffer>> {
  const f = createCachedFetch({ name, allowableCodes: [200, 301] })
  const bodies = new Map<string, Buffer>()
  for (const path of PATHS) {
    const res = await f(`${origin.url}${path}`, { redirect: 'manual' })
    bodies.set(path, Buffer.from(await res.arrayBuffer()))
  }
  for (const lang of LANGS) {
    const res = await f(`${origin.url}/lang`, { headers: { 'accept-language': lang } })
    bodies.set(`/lang ${lang}`, Buffer.from(await res.arrayBuffer()))
  }
  await f.cache.close()
  return bodies
}

async function records(cache: Cache): Promise<Map<string, CacheRecord>> {
  const out = new Map<string, CacheRecord>()
  for await (const [key] of cache.engine.backend.entries()) {
    const r = await cache.engine.backend.get(key)
    out.set(key, { meta: r!.meta, body: Buffer.from(r!.body) })
  }
  return out
}

describe('export', () => {
  it('writes a HAR 1.2 document a viewer can read', async () => {
    const name = join(tmp.dir, 'a')
    await fill(name)
    const cache = openCache({ name })
    const har = await cache.toHar()
    await cache.close()
    expect(har.log.version).toBe('1.2')
    expect(har.log.creator.name).toBe('fetchcache')
    expect(har.log.entries).toHaveLength(PATHS.length + LANGS.length)
    for (const e of har.log.entries) {
      expect(Date.parse(e.startedDateTime)).not.toBeNaN()
      expect(e.request).toMatchObject({ method: 'GET', httpVersion: 'HTTP/1.1', cookies: [], headersSize: -1, bodySize: -1 })
      expect(Array.isArray(e.request.headers) && Array.isArray(e.request.queryString)).toBe(true)
      expect(e.response).toMatchObject({ httpVersion: 'HTTP/1.1', cookies: [], headersSize: -1 })
      expect(typeof e.response.content.mimeType).toBe('string')
      expect(e.timings).toEqual({ send: 0, wait: 0, receive: 0 })
      expect(e.cache).toEqual({})
    }
    const byPath = (p: string) => har.log.entries.find((e) => new URL(e.request.url).pathname === p)!
    // Text as text; the query string as HAR lists it.
    expect(byPath('/users').response.content).toEqual({ size: Buffer.byteLength(JSON_BODY), mimeType: 'application/json; charset=utf-8', text: JSON_BODY })
    expect(byPath('/users').request.queryString).toEqual([{ name: 'a', value: '1' }, { name: 'b', value: '2' }])
    // Content-encoded bodies are shown decoded, as browsers record them; the stored bytes ride in _fetchcache.
    expect(byPath('/gz').response.content.text).toBe(JSON_BODY)
    expect(Buffer.from(byPath('/gz')._fetchcache!.body!, 'base64')).toEqual(zlib.gzipSync(JSON_BODY))
    expect(byPath('/br').response.content.text).toBe('brotli text')
    // Binary as base64.
    expect(byPath('/logo.png').response.content).toMatchObject({ encoding: 'base64', text: PNG.toString('base64'), size: PNG.length })
    expect(byPath('/moved').response.redirectURL).toBe('/users')
    // Repeated fields stay separate HAR headers.
    expect(byPath('/tagged').response.headers.filter((h) => h.name === 'set-cookie').map((h) => h.value)).toEqual(['a=1', 'b=2'])
    // Variants point at the primary key where their Vary marker lives.
    const variants = har.log.entries.filter((e) => e.request.url.endsWith('/lang'))
    expect(variants[0]!._fetchcache!.primaryKey).toBeDefined()
    expect(variants[0]!._fetchcache!.primaryKey).toBe(variants[1]!._fetchcache!.primaryKey)
  })

  it('takes the same filter as entries()', async () => {
    const name = join(tmp.dir, 'a')
    await fill(name)
    const cache = openCache({ name })
    const har = await cache.toHar({ url: `${origin.url}/lang` })
    await cache.close()
    expect(har.log.entries.map((e) => e.response.content.text).sort()).toEqual(['hello in en', 'hello in fr'])
  })
})

describe('export then import', () => {
  it('restores every entry exactly: keys, metadata, Vary markers and byte-identical bodies', async () => {
    const a = join(tmp.dir, 'a')
    await fill(a)
    const source = openCache({ name: a })
    const file = join(tmp.dir, 'fixtures.har')
    writeFileSync(file, JSON.stringify(await source.toHar()))
    const target = openCache({ name: join(tmp.dir, 'b'), create: true })
    const result = await target.importHar(readFileSync(file, 'utf8'))
    expect(result).toEqual({ imported: PATHS.length + LANGS.length, skipped: [] })
    const before = await records(source)
    const after = await records(target)
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort())
    for (const [key, record] of before) {
      if (record.meta.kind === 'vary') {
        expect(after.get(key)!.meta).toMatchObject({ kind: 'vary', vary: record.meta.vary, url: record.meta.url })
        continue
      }
      expect(after.get(key)).toEqual(record)
    }
    await source.close()
    await target.close()
  })

  it('replays offline (onlyIfCached) with the origin closed: same statuses, byte-identical bodies', async () => {
    const a = join(tmp.dir, 'a')
    const bodies = await fill(a)
    const source = openCache({ name: a })
    const har = JSON.stringify(await source.toHar())
    await source.close()
    const b = join(tmp.dir, 'b')
    const target = openCache({ name: b, create: true })
    await target.importHar(har)
    await target.close()
    const seen = origin.seen.length
    await origin.close()

    const offline = createCachedFetch({ name: b, onlyIfCached: true, allowableCodes: [200, 301] })
    for (const path of PATHS) {
      const res = await offline(`${origin.url}${path}`, { redirect: 'manual' })
      expect(res.headers.get('cache-status'), path).toMatch(/^fetchcache; hit/)
      expect(Buffer.from(await res.arrayBuffer()), path).toEqual(bodies.get(path))
    }
    for (const lang of LANGS) {
      const res = await offline(`${origin.url}/lang`, { headers: { 'accept-language': lang } })
      expect(await res.text()).toBe(bodies.get(`/lang ${lang}`)!.toString())
    }
    // The imported variants are listed in their marker: one is selected by Content-Language.
    const byLanguage = await offline(`${origin.url}/lang`, { headers: { 'accept-language': 'de, fr;q=0.5' } })
    expect(byLanguage.headers.get('cache-status')).toMatch(/^fetchcache; hit/)
    expect(await byLanguage.text()).toBe(bodies.get('/lang fr')!.toString())
    expect((await offline(`${origin.url}/never-stored`)).status).toBe(504)
    await offline.cache.close()
    expect(origin.seen.length).toBe(seen)
  })
})

describe('import of HAR files from elsewhere', () => {
  function browserEntry(url: string, status: number, headers: Record<string, string>, content: Har['log']['entries'][number]['response']['content']) {
    return {
      startedDateTime: new Date().toISOString(),
      time: 12,
      request: {
        method: 'GET',
        url,
        httpVersion: 'h2',
        cookies: [],
        headers: [{ name: ':authority', value: 'example.com' }, { name: 'Accept', value: '*/*' }],
        queryString: [],
        headersSize: -1,
        bodySize: 0,
      },
      response: {
        status,
        statusText: '',
        httpVersion: 'h2',
        cookies: [],
        headers: Object.entries(headers).map(([name, value]) => ({ name, value })),
        content,
        redirectURL: '',
        headersSize: -1,
        bodySize: -1,
      },
      cache: {},
      timings: { send: 1, wait: 10, receive: 1 },
    }
  }

  it('stores entries by this cache\'s rules, decoded bodies without Content-Encoding, and lists what it skipped', async () => {
    const har = {
      log: {
        version: '1.2',
        creator: { name: 'WebInspector', version: '537.36' },
        entries: [
          browserEntry(`${origin.url}/api`, 200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', 'Content-Length': '999', 'Cache-Control': 'max-age=300' }, { size: 11, mimeType: 'application/json', text: '{"ok":true}' }),
          browserEntry(`${origin.url}/img`, 200, { 'Content-Type': 'image/png', 'Cache-Control': 'max-age=300' }, { size: PNG.length, mimeType: 'image/png', text: PNG.toString('base64'), encoding: 'base64' }),
          browserEntry(`${origin.url}/private`, 200, { 'Cache-Control': 'no-store' }, { size: 2, mimeType: 'text/plain', text: 'no' }),
          browserEntry(`${origin.url}/revalidated`, 304, {}, { size: 0, mimeType: 'x-unknown' }),
          browserEntry(`${origin.url}/nobody`, 200, { 'Cache-Control': 'max-age=300' }, { size: 5000, mimeType: 'text/html' }),
        ],
      },
    }
    const cache = openCache({ backend: new MemoryBackend() })
    const result = await cache.importHar(har)
    expect(result.imported).toBe(2)
    expect(result.skipped.map((s) => [new URL(s.url).pathname, s.reason])).toEqual([
      ['/private', 'response no-store'],
      ['/revalidated', 'status 304 not in allowableCodes'],
      ['/nobody', 'no response body recorded'],
    ])
    const api = await cache.get(`${origin.url}/api`)
    expect(await api!.text()).toBe('{"ok":true}')
    expect(api!.headers.get('content-encoding')).toBeNull()
    expect(api!.headers.get('content-length')).toBe('11')
    expect(Buffer.from(await (await cache.get(`${origin.url}/img`))!.arrayBuffer())).toEqual(PNG)
    const [m] = await collectMeta(cache, `${origin.url}/api`)
    expect(m!.requestHeaders).toEqual({ accept: '*/*' })
    expect(m!.expiresAt! - m!.createdAt).toBe(300_000)
    await cache.close()
  })

  it('rejects a malformed document whole, naming the bad field, and writes nothing', async () => {
    const cache = openCache({ backend: new MemoryBackend() })
    const good = browserEntry(`${origin.url}/ok`, 200, { 'Cache-Control': 'max-age=60' }, { size: 2, mimeType: 'text/plain', text: 'ok' })
    const bad = { ...good, response: { ...good.response, status: '200' } }
    await expect(cache.importHar({ log: { entries: [good, bad] } })).rejects.toThrow(HarFormatError)
    await expect(cache.importHar({ log: { entries: [good, bad] } })).rejects.toThrow('log.entries[1].response.status: expected a whole number')
    await expect(cache.importHar('{"log": ')).rejects.toThrow(/^not JSON/)
    await expect(cache.importHar({ entries: [] })).rejects.toThrow('HAR.log: expected an object')
    await expect(cache.importHar({ log: { entries: [{ ...good, request: { ...good.request, url: '/relative' } }] } })).rejects.toThrow('not an absolute URL')
    const badBase64 = { ...good, response: { ...good.response, content: { size: 1, mimeType: 'x', text: '***', encoding: 'base64' } } }
    await expect(cache.importHar({ log: { entries: [badBase64] } })).rejects.toThrow('not valid base64')
    expect(await cache.urls()).toEqual([])
    await cache.close()
  })

  it('checks fetchcache\'s own field too before writing anything', async () => {
    const cache = openCache({ backend: new MemoryBackend() })
    const ok = harEntry(meta({ key: 'k1', url: `${origin.url}/one`, size: 3 }), Buffer.from('one'))
    const broken = harEntry(meta({ key: 'k2', url: `${origin.url}/two`, size: 3 }), Buffer.from('two'))
    ;(broken._fetchcache as unknown as Record<string, unknown>).createdAt = 'yesterday'
    await expect(cache.importHar({ log: { entries: [ok, broken] } })).rejects.toThrow('log.entries[1]._fetchcache: entry metadata is missing fields')
    expect(await cache.urls()).toEqual([])
    await cache.close()
  })
})

async function collectMeta(cache: Cache, url: string) {
  const out = []
  for await (const m of cache.entries({ urls: [url] })) out.push(m)
  return out
}

/**
 * Selection by language under Vary: Accept-Language (RFC 9111 §4.1, RFC 9110 §12.5.4, RFC 4647
 * §3.3.1): the pure rules as tables, then rows through createCachedFetch and cacheInterceptor +
 * request() against a real origin and a real SQLite file: what the origin saw, the bytes the
 * caller got.
 */
import type http from 'node:http'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Front, type Harness, harness } from './helpers/fronts.js'
import { type Origin, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'
import { contentLanguageTags, languageQuality, parseAcceptLanguage, rangeMatches } from '../src/rules/language.js'
import { MARKER_VARIANTS, varyMarker } from '../src/backends/entry.js'
import { SQLiteBackend } from '../src/index.js'

describe('rules', () => {
  it.each([
    ['de', 'de', true],
    ['de', 'de-ch', true],
    ['de-de', 'de', false],
    ['de', 'deu', false],
    ['*', 'fr', true],
    ['en-us', 'en-us', true],
    ['en-us', 'en-us-x-y', true],
  ])('RFC 4647 §3.3.1: range %s matches tag %s: %s', (range, tag, expected) => {
    expect(rangeMatches(range, tag)).toBe(expected)
  })

  it.each([
    ['de', [{ range: 'de', q: 1 }]],
    ['DE-de;q=0.5, *;q=0.1', [{ range: 'de-de', q: 0.5 }, { range: '*', q: 0.1 }]],
    ['en ; Q = 0.25 ,, fr', [{ range: 'en', q: 0.25 }, { range: 'fr', q: 1 }]],
    ['en;q=1.000', [{ range: 'en', q: 1 }]],
    ['', []],
    ['en;q=2', undefined],
    ['en;q=0.5555', undefined],
    ['*, en;q=bad', undefined],
    ['en;level=1', undefined],
    ['en_US', undefined],
    ['"en"', undefined],
  ])('RFC 9110 §12.5.4: Accept-Language %j parses as %j', (value, expected) => {
    expect(parseAcceptLanguage(value)).toEqual(expected)
  })

  it.each([
    ['de', 'de', 1],
    ['de-CH', 'de', 1],
    ['de', 'de-DE', 0],
    ['fr', '*', 0],
    ['fr', 'de, *;q=0.2', 0],
    ['de', 'de;q=0', 0],
    ['en-GB', 'en;q=0.5, en-gb;q=0', 0],
    ['en-GB', 'en-gb;q=0, en;q=0.5', 0],
    ['en-US', 'en;q=0.5, en-gb;q=0', 0.5],
    ['fr', '*;q=0.3, fr;q=0.8', 0.8],
    ['fr', 'fr;q=0.8, *', 0.8],
    ['de', 'de;q=0.7, de;q=0', 0],
    ['mi, en', 'en;q=0.4, mi;q=0.9', 0.9],
    ['fr', 'de', 0],
  ])('Content-Language %s under Accept-Language %j: quality %s', (cl, al, q) => {
    expect(languageQuality(contentLanguageTags(cl)!, parseAcceptLanguage(al)!)).toBe(q)
  })

  it.each([
    [undefined, undefined],
    ['', undefined],
    ['de', ['de']],
    ['EN-us, de', ['de', 'en-us']],
    ['en_US', undefined],
    ['de, x y', undefined],
  ])('RFC 9110 §8.5: Content-Language %j reads as %j', (value, expected) => {
    expect(contentLanguageTags(value)).toEqual(expected)
  })

  it('a marker lists its variants newest first, without repeats, bounded; damaged members dropped', () => {
    const base = { v: 1 as const, kind: 'response' as const, method: 'GET', url: 'u', status: 200, statusText: 'OK', headers: {}, requestHeaders: {}, vary: ['accept-language'], createdAt: 0, expiresAt: null, initialAge: 0, staleIfErrorUntil: 0, staleWhileRevalidateUntil: 0, mustRevalidate: false, size: 0 }
    let marker = varyMarker({ ...base, key: 'k0' }, 'p', undefined, { key: 'k0', language: 'de', fields: {} })
    for (let i = 1; i <= MARKER_VARIANTS + 3; i++) marker = varyMarker({ ...base, key: `k${i % 5}` }, 'p', marker, { key: `k${i % 5}`, language: `l${i}`, fields: {} })
    expect(marker.variants!.map((v) => v.key)).toEqual(['k4', 'k3', 'k2', 'k1', 'k0'])
    // A variant rewritten without a language leaves the list; a damaged member is left out.
    const damaged = { ...marker, variants: [...marker.variants!, { key: 'x' }] as never }
    expect(varyMarker({ ...base, key: 'k3' }, 'p', damaged).variants!.map((v) => v.key)).toEqual(['k4', 'k2', 'k1', 'k0'])
    let many = varyMarker({ ...base, key: 'a0' }, 'p')
    for (let i = 1; i <= 40; i++) many = varyMarker({ ...base, key: `a${i}` }, 'p', many, { key: `a${i}`, language: 'de', fields: {} })
    expect(many.variants).toHaveLength(MARKER_VARIANTS)
    expect(many.variants![0]!.key).toBe('a40')
  })
})

let origin: Origin
let h: Harness | undefined
let tmp: ReturnType<typeof tempDir>

beforeEach(async () => {
  origin = await startOrigin()
  tmp = tempDir()
})

afterEach(async () => {
  await h?.close()
  h = undefined
  await origin.close()
  tmp.cleanup()
})

/** A route answering with the Content-Language (and body) the request's `x-lang` asks for; none when absent. */
function byLanguage(vary: string) {
  let n = 0
  return (req: { headers: http.IncomingHttpHeaders }, res: http.ServerResponse) => {
    n++
    const lang = req.headers['x-lang'] as string | undefined
    const headers: http.OutgoingHttpHeaders = { 'cache-control': 'max-age=60', vary }
    if (lang !== undefined) headers['content-language'] = lang
    res.writeHead(200, headers)
    res.end(`body ${n} in ${lang ?? 'none'}`)
  }
}

type Step = [headers: Record<string, string>, body: string, hit: boolean]

const FRONTS_HERE: readonly Front[] = ['fetch', 'request', 'Client']

describe.each(FRONTS_HERE)('through %s on SQLite', (front) => {
  const rows: Array<[name: string, vary: string, steps: Step[]]> = [
    ['exact Accept-Language, as before', 'accept-language', [
      [{ 'accept-language': 'de', 'x-lang': 'de' }, 'body 1 in de', false],
      [{ 'accept-language': 'de' }, 'body 1 in de', true],
    ]],
    ['same tag under another list: de;q=1, fr;q=0.5 gets de', 'accept-language', [
      [{ 'accept-language': 'de', 'x-lang': 'de' }, 'body 1 in de', false],
      [{ 'accept-language': 'de;q=1, fr;q=0.5' }, 'body 1 in de', true],
    ]],
    ['range de matches stored de-CH', 'accept-language', [
      [{ 'accept-language': 'de-CH', 'x-lang': 'de-CH' }, 'body 1 in de-CH', false],
      [{ 'accept-language': 'de' }, 'body 1 in de-CH', true],
    ]],
    ['range de-DE does not match stored de', 'accept-language', [
      [{ 'accept-language': 'de', 'x-lang': 'de' }, 'body 1 in de', false],
      [{ 'accept-language': 'de-DE', 'x-lang': 'de-DE' }, 'body 2 in de-DE', false],
    ]],
    ['* names no language: a variant only * accepts is never selected', 'accept-language', [
      [{ 'accept-language': 'fr', 'x-lang': 'fr' }, 'body 1 in fr', false],
      [{ 'accept-language': 'de, *;q=0.1', 'x-lang': 'de' }, 'body 2 in de', false],
      [{ 'accept-language': '*', 'x-lang': 'it' }, 'body 3 in it', false],
    ]],
    ['q=0 is not acceptable', 'accept-language', [
      [{ 'accept-language': 'fr', 'x-lang': 'fr' }, 'body 1 in fr', false],
      [{ 'accept-language': '*, fr;q=0', 'x-lang': 'de' }, 'body 2 in de', false],
    ]],
    ['the highest q among two stored', 'accept-language', [
      [{ 'accept-language': 'fr', 'x-lang': 'fr' }, 'body 1 in fr', false],
      [{ 'accept-language': 'de', 'x-lang': 'de' }, 'body 2 in de', false],
      [{ 'accept-language': 'de;q=0.4, fr;q=0.9' }, 'body 1 in fr', true],
      [{ 'accept-language': 'de;q=0.9, fr;q=0.4' }, 'body 2 in de', true],
    ]],
    ['equal q: the most recent', 'accept-language', [
      [{ 'accept-language': 'fr', 'x-lang': 'fr' }, 'body 1 in fr', false],
      [{ 'accept-language': 'de', 'x-lang': 'de' }, 'body 2 in de', false],
      [{ 'accept-language': 'fr, de' }, 'body 2 in de', true],
    ]],
    ['no Content-Language: never selected', 'accept-language', [
      [{ 'accept-language': 'de' }, 'body 1 in none', false],
      [{ 'accept-language': 'de, *' }, 'body 2 in none', false],
    ]],
    // undici's fetch sends `Accept-Language: *` when the caller sets none: it names no language, so it selects none.
    front === 'fetch'
      ? ['no Accept-Language from the caller: fetch sends *, which selects nothing', 'accept-language', [
          [{ 'accept-language': 'de', 'x-lang': 'de' }, 'body 1 in de', false],
          [{}, 'body 2 in none', false],
        ]]
      : ['no Accept-Language: nothing selected by language', 'accept-language', [
          [{ 'accept-language': 'de', 'x-lang': 'de' }, 'body 1 in de', false],
          [{}, 'body 2 in none', false],
        ]],
    ['another Vary field differs: never selected', 'accept-language, x-tenant', [
      [{ 'accept-language': 'de', 'x-tenant': 'a', 'x-lang': 'de' }, 'body 1 in de', false],
      [{ 'accept-language': 'de, fr;q=0.5', 'x-tenant': 'b', 'x-lang': 'de' }, 'body 2 in de', false],
      [{ 'accept-language': 'de;q=0.8', 'x-tenant': 'a' }, 'body 1 in de', true],
      [{ 'accept-language': 'de;q=0.8' }, 'body 3 in none', false],
    ]],
    ['Vary: Accept-Language, Authorization: user B never gets user A\'s variant', 'accept-language, authorization', [
      [{ 'accept-language': 'de', authorization: 'Bearer A', 'x-lang': 'de' }, 'body 1 in de', false],
      [{ 'accept-language': 'de, en;q=0.5', authorization: 'Bearer B', 'x-lang': 'de' }, 'body 2 in de', false],
      [{ 'accept-language': 'de;q=0.9', authorization: 'Bearer A' }, 'body 1 in de', true],
      [{ 'accept-language': 'de;q=0.9', authorization: 'Bearer B' }, 'body 2 in de', true],
      [{ 'accept-language': 'de;q=0.9', authorization: 'Bearer C', 'x-lang': 'de' }, 'body 3 in de', false],
    ]],
    ['Vary: Accept-Language alone, Cookie on the request: the key separates users', 'accept-language', [
      [{ 'accept-language': 'de', cookie: 'u=a', 'x-lang': 'de' }, 'body 1 in de', false],
      [{ 'accept-language': 'de;q=0.9', cookie: 'u=b', 'x-lang': 'de' }, 'body 2 in de', false],
      [{ 'accept-language': 'de;q=0.5', cookie: 'u=a' }, 'body 1 in de', true],
    ]],
  ]

  it.each(rows)('%s', async (_name, vary, steps) => {
    origin.route('/l', byLanguage(vary))
    h = harness(front, origin.url, { backend: 'sqlite', name: join(tmp.dir, 'c') })
    let fetched = 0
    for (const [i, [headers, body, hit]] of steps.entries()) {
      const got = await h.send('/l', headers)
      if (!hit) fetched++
      expect({ step: i, status: got.status, body: got.body }).toEqual({ step: i, status: 200, body })
      expect(origin.count('/l')).toBe(fetched)
      expect(got.headers['cache-status']).toMatch(hit ? /; hit; ttl=/ : /; fwd=/)
    }
  })

  it('Vary: Accept-Language, Authorization under a keyFn that leaves credentials out of the key: the record check alone keeps user B from user A\'s variant', async () => {
    origin.route('/l', byLanguage('accept-language, authorization'))
    h = harness(front, origin.url, { backend: 'sqlite', name: join(tmp.dir, 'c'), keyFn: (r) => r.url })
    const a = await h.send('/l', { 'accept-language': 'de', authorization: 'Bearer A', 'x-lang': 'de' })
    const b = await h.send('/l', { 'accept-language': 'de;q=0.9', authorization: 'Bearer B', 'x-lang': 'de' })
    const a2 = await h.send('/l', { 'accept-language': 'de;q=0.8', authorization: 'Bearer A' })
    expect([a.body, b.body, a2.body]).toEqual(['body 1 in de', 'body 2 in de', 'body 1 in de'])
    expect(origin.count('/l')).toBe(2)
  })

  /** The cache over a SQLiteBackend the test can also reach, and its Vary marker. */
  function withBackend() {
    const backend = new SQLiteBackend({ path: join(tmp.dir, 'c.sqlite') })
    h = harness(front, origin.url, { backend })
    const marker = async () => {
      for await (const [key, meta] of backend.entries()) if (meta.kind === 'vary') return (await backend.get(key))!
      throw new Error('no marker')
    }
    return { backend, marker }
  }

  it('a marker written without a variants list (older format) selects exact variants only, as before', async () => {
    origin.route('/l', byLanguage('accept-language'))
    const { backend, marker } = withBackend()
    await h!.send('/l', { 'accept-language': 'de', 'x-lang': 'de' })
    const m = await marker()
    expect(m.meta.variants).toHaveLength(1)
    const { variants: _dropped, ...old } = m.meta
    await backend.set(m.meta.key, { meta: old, body: m.body })
    expect((await h!.send('/l', { 'accept-language': 'de;q=0.9', 'x-lang': 'de' })).body).toBe('body 2 in de')
    expect((await h!.send('/l', { 'accept-language': 'de' })).body).toBe('body 1 in de')
    expect(origin.count('/l')).toBe(2)
    // A list that is not one (damaged, foreign) is no list: a miss, the request unharmed.
    const m2 = await marker()
    await backend.set(m2.meta.key, { meta: { ...m2.meta, variants: 'garbage' as never }, body: m2.body })
    expect((await h!.send('/l', { 'accept-language': 'de;q=0.7', 'x-lang': 'de' })).body).toBe('body 3 in de')
    expect((await marker()).meta.variants).toHaveLength(1)
  })

  it('a listed variant since removed, or replaced by another language, is a miss', async () => {
    origin.route('/l', byLanguage('accept-language'))
    const { backend, marker } = withBackend()
    await h!.send('/l', { 'accept-language': 'de', 'x-lang': 'de' })
    const variantKey = (await marker()).meta.variants![0]!.key
    const stored = (await backend.get(variantKey))!
    // Replaced: the same key now holds a French response (as a racing writer could leave it).
    await backend.set(variantKey, { meta: { ...stored.meta, headers: { ...stored.meta.headers, 'content-language': 'fr' } }, body: stored.body })
    expect((await h!.send('/l', { 'accept-language': 'de;q=0.9', 'x-lang': 'de' })).body).toBe('body 2 in de')
    // Removed: every variant gone, the marker still listing them.
    for await (const [key, meta] of backend.entries()) if (meta.kind === 'response') await backend.delete([key])
    expect((await marker()).meta.variants!.length).toBe(2)
    expect((await h!.send('/l', { 'accept-language': 'de;q=0.8', 'x-lang': 'de' })).body).toBe('body 3 in de')
    expect(origin.count('/l')).toBe(3)
  })
})

/**
 * Cache keys and request normalisation, plus the small parsers beside them: Cache-Control,
 * Cache-Status (RFC 9211), the stored entry format, and 304 handling (RFC 9111 §3.2, §4.3.4).
 */
import { describe, expect, it } from 'vitest'
import { parseCacheControl } from '../src/rules/cache-control.js'
import { formatCacheStatus, parseCacheStatus, type StatusParts } from '../src/rules/cache-status.js'
import { decodeMeta, encodeMeta } from '../src/backends/entry.js'
import { CorruptEntryError } from '../src/util/errors.js'
import { requestKey, variantKey } from '../src/pipeline/key.js'
import { normalizeBody, normalizeUrl } from '../src/pipeline/normalize.js'
import { resolveSettings } from '../src/config/options.js'
import { mergeHeaders, notModifiedMatches } from '../src/rules/policy.js'
import type { CacheOptions, RequestInfoForKey } from '../src/config/types.js'
import { meta } from './helpers/meta.js'

type Req = Partial<RequestInfoForKey> & { text?: string }
const enc = (s: string) => new TextEncoder().encode(s)
const JSON_TYPE = { 'content-type': 'application/json' }
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

function keyOf(req: Req, options: CacheOptions = {}) {
  const { text, ...rest } = req
  return requestKey(
    { method: 'GET', url: 'http://example.com/a', headers: {}, body: text === undefined ? undefined : enc(text), ...rest },
    resolveSettings(options),
  )
}

describe('requestKey: requests that mean the same get the same key', () => {
  it.each<[string, Req, Req, CacheOptions?]>([
    ['sorted query', { url: 'http://example.com/a?b=2&a=1' }, { url: 'http://example.com/a?a=1&b=2' }],
    ['fragment dropped', { url: 'http://example.com/a#top' }, { url: 'http://example.com/a' }],
    ['default http port dropped', { url: 'http://example.com:80/a' }, { url: 'http://example.com/a' }],
    ['default https port dropped', { url: 'https://example.com:443/a' }, { url: 'https://example.com/a' }],
    ['host case', { url: 'http://EXAMPLE.com/a' }, { url: 'http://example.com/a' }],
    ['ignored query parameter', { url: 'http://example.com/a?token=1&x=1' }, { url: 'http://example.com/a?x=1&token=2' }, { ignoredParameters: ['token'] }],
    ['JSON key order', { method: 'POST', headers: JSON_TYPE, text: '{"a":1,"b":{"c":1,"d":[1,2]}}' }, { method: 'POST', headers: JSON_TYPE, text: '{"b":{"d":[1,2],"c":1},"a":1}' }],
    ['ignored JSON body field', { method: 'POST', headers: JSON_TYPE, text: '{"a":1,"ts":1}' }, { method: 'POST', headers: JSON_TYPE, text: '{"ts":2,"a":1}' }, { ignoredParameters: ['ts'] }],
    ['form field order and ignored form field', { method: 'POST', headers: FORM, text: 'a=1&b=2&ts=1' }, { method: 'POST', headers: FORM, text: 'ts=9&b=2&a=1' }, { ignoredParameters: ['ts'] }],
    ['empty body equals no body', { text: '' }, {}],
    ['headers not matched by default', { headers: { accept: 'text/html' } }, { headers: { accept: 'application/json' } }],
    ['matchHeaders list ignores other headers', { headers: { accept: 'a', 'accept-language': 'en' } }, { headers: { accept: 'a', 'accept-language': 'fr' } }, { matchHeaders: ['Accept'] }],
    ['matchHeaders true skips ignored headers', { headers: { 'x-request-id': '1' } }, { headers: { 'x-request-id': '2' } }, { matchHeaders: true, ignoredParameters: ['X-Request-Id'] }],
    ['Authorization listed in ignoredParameters', { headers: { authorization: 'Bearer one' } }, { headers: { authorization: 'Bearer two' } }, { ignoredParameters: ['Authorization'] }],
    ['Cookie listed in ignoredParameters', { headers: { cookie: 'sid=1' } }, {}, { ignoredParameters: ['cookie'] }],
  ])('%s', (_name, a, b, options = {}) => {
    expect(keyOf(a, options).key).toBe(keyOf(b, options).key)
  })
})

describe('requestKey: requests that differ get different keys', () => {
  it.each<[string, Req, Req, CacheOptions?]>([
    ['method', { method: 'GET' }, { method: 'HEAD' }],
    ['path', { url: 'http://example.com/a' }, { url: 'http://example.com/b' }],
    ['query value', { url: 'http://example.com/a?x=1' }, { url: 'http://example.com/a?x=2' }],
    ['non-ignored parameter beside an ignored one', { url: 'http://example.com/a?x=1&token=1' }, { url: 'http://example.com/a?x=2&token=1' }, { ignoredParameters: ['token'] }],
    ['scheme', { url: 'http://example.com/a' }, { url: 'https://example.com/a' }],
    ['body', { method: 'POST', text: 'one' }, { method: 'POST', text: 'two' }],
    ['body vs none', { method: 'POST', text: 'one' }, { method: 'POST' }],
    ['JSON values', { method: 'POST', headers: JSON_TYPE, text: '{"a":1}' }, { method: 'POST', headers: JSON_TYPE, text: '{"a":2}' }],
    ['non-form, non-JSON bodies compare byte for byte', { method: 'POST', text: 'a=1&b=2' }, { method: 'POST', text: 'b=2&a=1' }],
    ['matched header', { headers: { accept: 'text/html' } }, { headers: { accept: 'application/json' } }, { matchHeaders: ['Accept'] }],
    ['matchHeaders true: any header', { headers: { 'x-a': '1' } }, { headers: { 'x-a': '2' } }, { matchHeaders: true }],
    ['Authorization (different credentials)', { headers: { authorization: 'Bearer one' } }, { headers: { authorization: 'Bearer two' } }],
    ['Authorization vs none', { headers: { authorization: 'Bearer one' } }, {}],
    ['Cookie', { headers: { cookie: 'sid=1' } }, { headers: { cookie: 'sid=2' } }],
    ['Proxy-Authorization', { headers: { 'proxy-authorization': 'Basic a' } }, { headers: { 'proxy-authorization': 'Basic b' } }],
    ['Authorization even with matchHeaders false', { headers: { authorization: 'x' } }, { headers: { authorization: 'y' } }, { matchHeaders: false }],
  ])('%s', (_name, a, b, options = {}) => {
    expect(keyOf(a, options).key).not.toBe(keyOf(b, options).key)
  })
})

describe('requestKey: key and url', () => {
  it('returns the normalised URL without ignored parameters', () => {
    const { url } = keyOf({ url: 'http://Example.com:80/p?token=s&b=2&a=1#frag' }, { ignoredParameters: ['token'] })
    expect(url).toBe('http://example.com/p?a=1&b=2')
    expect(keyOf({ url: 'http://example.com/p?token=s' }, { ignoredParameters: ['token'] }).url).toBe('http://example.com/p')
  })

  it('never contains the raw credential', () => {
    const { key } = keyOf({ headers: { authorization: 'Bearer s3cr3t', cookie: 'sid=c00kie' } }, { matchHeaders: true })
    expect(key).toMatch(/^[0-9a-f]{32}$/)
    expect(key).not.toMatch(/s3cr3t|c00kie/)
  })

  it('keyFn overrides the key; the url is still normalised', () => {
    const seen: RequestInfoForKey[] = []
    const keyFn = (r: RequestInfoForKey) => (seen.push(r), `custom:${r.method}`)
    expect(keyOf({ url: 'http://example.com/a?b=1&a=2', method: 'HEAD' }, { keyFn })).toEqual({ key: 'custom:HEAD', url: 'http://example.com/a?a=2&b=1' })
    expect(seen[0]?.url).toBe('http://example.com/a?b=1&a=2')
  })
})

describe('variantKey', () => {
  const vary = ['accept', 'accept-language']
  it.each<[string, Record<string, string>, Record<string, string>, boolean]>([
    ['same values', { accept: 'a', 'accept-language': 'en', other: '1' }, { accept: 'a', 'accept-language': 'en', other: '2' }, true],
    ['different value', { accept: 'a' }, { accept: 'b' }, false],
    ['absent vs empty', {}, { accept: '' }, false],
  ])('%s', (_name, a, b, same) => {
    expect(variantKey('p', vary, a) === variantKey('p', vary, b)).toBe(same)
  })
  it('depends on the primary key', () => {
    expect(variantKey('p1', vary, {})).not.toBe(variantKey('p2', vary, {}))
  })
})

describe('normalizeUrl / normalizeBody', () => {
  it.each<[string, string[], string]>([
    ['http://example.com/a?b=2&a=1&a=0', [], 'http://example.com/a?a=0&a=1&b=2'],
    ['http://example.com:8080/a#x', [], 'http://example.com:8080/a'],
    ['https://example.com:443/a', [], 'https://example.com/a'],
    ['http://example.com/a?api_key=1&q=x', ['api_key'], 'http://example.com/a?q=x'],
  ])('normalizeUrl(%s, %j) → %s', (url, ignored, want) => {
    expect(normalizeUrl(url, new Set(ignored))).toBe(want)
  })

  it.each<[string, string, string | undefined, string[], string | null]>([
    ['JSON sorted deeply', '{"b":[{"y":1,"x":2}],"a":1}', 'application/json; charset=utf-8', [], '{"a":1,"b":[{"x":2,"y":1}]}'],
    ['JSON ignored field', '{"a":1,"ts":5}', 'application/vnd.api+json', ['ts'], '{"a":1}'],
    ['form sorted, ignored field', 'b=2&ts=1&a=1', 'application/x-www-form-urlencoded', ['ts'], 'a=1&b=2'],
    ['invalid JSON kept as bytes', '{nope', 'application/json', [], null],
    ['other types kept as bytes', 'b=2&a=1', 'text/plain', ['a'], null],
  ])('%s', (_name, body, type, ignored, want) => {
    const input = enc(body)
    const out = normalizeBody(input, type, new Set(ignored))
    expect(out).toEqual(want ?? input)
  })
})

describe('parseCacheControl (RFC 9111 §5.2)', () => {
  it.each<[string | string[] | undefined, Record<string, string | true>]>([
    [undefined, {}],
    ['', {}],
    ['max-age=60, no-cache', { 'max-age': '60', 'no-cache': true }],
    ['Max-Age=60,MUST-REVALIDATE', { 'max-age': '60', 'must-revalidate': true }],
    ['private="set-cookie", max-age="30"', { private: 'set-cookie', 'max-age': '30' }],
    ['max-age=10, max-age=20', { 'max-age': '10' }],
    [['no-store', 'max-stale'], { 'no-store': true, 'max-stale': true }],
    [' , ,only-if-cached', { 'only-if-cached': true }],
  ])('%j', (value, want) => {
    expect(Object.fromEntries(parseCacheControl(value))).toEqual(want)
  })
})

describe('Cache-Status (RFC 9211)', () => {
  it.each<[StatusParts, string]>([
    [{ hit: true, ttl: 120, key: 'abc' }, 'fetchcache; hit; ttl=120; key="abc"'],
    [{ fwd: 'uri-miss', stored: true }, 'fetchcache; fwd=uri-miss; stored'],
    [{ fwd: 'stale', fwdStatus: 304, ttl: 60 }, 'fetchcache; fwd=stale; fwd-status=304; ttl=60'],
    [{ hit: true, ttl: -5 }, 'fetchcache; hit; ttl=-5'],
    [{ fwd: 'request', detail: 'forceRefresh' }, 'fetchcache; fwd=request; detail="forceRefresh"'],
    [{}, 'fetchcache'],
  ])('%j ⇄ %s', (parts, text) => {
    expect(formatCacheStatus(parts)).toBe(text)
    expect(parseCacheStatus(text)).toEqual(parts)
  })

  it.each<[StatusParts, string]>([
    [{ hit: true, ttl: Infinity }, 'fetchcache; hit'],
    [{ hit: true, ttl: 1.6 }, 'fetchcache; hit; ttl=2'],
    [{ hit: false, stored: false }, 'fetchcache'],
    [{ detail: 'say "hi"\\' }, 'fetchcache; detail="say hi"'],
  ])('formats %j as %s', (parts, text) => {
    expect(formatCacheStatus(parts)).toBe(text)
  })

  it.each<[string | null | undefined, StatusParts | undefined]>([
    [null, undefined],
    ['', undefined],
    ['othercache; hit', undefined],
    ['othercache; hit, fetchcache; fwd=uri-miss; stored', { fwd: 'uri-miss', stored: true }],
    ['fetchcache; fwd=uri-miss, fetchcache; hit; ttl=3', { hit: true, ttl: 3 }],
  ])('parses %j', (value, want) => {
    expect(parseCacheStatus(value)).toEqual(want)
  })
})

describe('decodeMeta', () => {
  it('round-trips encodeMeta, from a string or bytes', () => {
    const m = meta({ headers: { etag: '"x"', 'set-cookie': ['a=1', 'b=2'] }, expiresAt: null, staleIfErrorUntil: null })
    expect(decodeMeta(encodeMeta(m))).toEqual(m)
    expect(decodeMeta(enc(encodeMeta(m)))).toEqual(m)
  })

  it.each<[string, string, RegExp]>([
    ['not JSON', 'garbage{', /not JSON/],
    ['an array', '[]', /not an object/],
    ['null', 'null', /not an object/],
    ['another version', JSON.stringify({ ...meta(), v: 2 }), /entry format 2 is not 1/],
    ['no version', JSON.stringify({ ...meta(), v: undefined }), /entry format undefined is not 1/],
    ['a missing field', JSON.stringify({ ...meta(), createdAt: undefined }), /missing fields/],
    ['a wrong kind', JSON.stringify({ ...meta(), kind: 'other' }), /missing fields/],
    ['a wrong type', JSON.stringify({ ...meta(), expiresAt: '2025' }), /missing fields/],
  ])('rejects %s with CorruptEntryError', (_name, text, message) => {
    expect(() => decodeMeta(text)).toThrow(CorruptEntryError)
    expect(() => decodeMeta(text)).toThrow(message)
  })
})

describe('mergeHeaders (RFC 9111 §3.2)', () => {
  it('replaces fields the 304 carries, keeps the rest and the framing fields', () => {
    const stored = { etag: '"a"', 'content-length': '10', 'content-encoding': 'gzip', 'cache-control': 'max-age=60', 'x-old': '1' }
    const fresh = { etag: '"a"', 'content-length': '0', 'cache-control': 'max-age=120', date: 'Wed, 01 Jan 2025 00:00:00 GMT', 'set-cookie': ['a=1'] }
    expect(mergeHeaders(stored, fresh)).toEqual({
      etag: '"a"',
      'content-length': '10',
      'content-encoding': 'gzip',
      'cache-control': 'max-age=120',
      'x-old': '1',
      date: 'Wed, 01 Jan 2025 00:00:00 GMT',
      'set-cookie': ['a=1'],
    })
    expect(stored['cache-control']).toBe('max-age=60')
  })
})

describe('notModifiedMatches (RFC 9111 §4.3.4)', () => {
  const LM1 = 'Wed, 01 Jan 2020 00:00:00 GMT'
  const LM2 = 'Thu, 02 Jan 2020 00:00:00 GMT'
  it.each<[string, Record<string, string>, Record<string, string>, boolean]>([
    ['same strong ETag', { etag: '"a"' }, { etag: '"a"' }, true],
    ['different strong ETag', { etag: '"a"' }, { etag: '"b"' }, false],
    ['weak 304 ETag matches the stored strong one (weak comparison)', { etag: '"a"' }, { etag: 'W/"a"' }, true],
    ['same weak ETag', { etag: 'W/"a"' }, { etag: 'W/"a"' }, true],
    ['different weak ETag', { etag: 'W/"a"' }, { etag: 'W/"b"' }, false],
    ['304 ETag but none stored', { 'last-modified': LM1 }, { etag: '"a"', 'last-modified': LM1 }, false],
    ['same Last-Modified', { 'last-modified': LM1 }, { 'last-modified': LM1 }, true],
    ['different Last-Modified', { 'last-modified': LM1 }, { 'last-modified': LM2 }, false],
    ['no validator on either side', {}, {}, true],
  ])('%s', (_name, stored, fresh, want) => {
    expect(notModifiedMatches(stored, fresh)).toBe(want)
  })
})

describe('regressions', () => {
  it.each(['expired; force-cache', 'stale-if-error: connect ECONNREFUSED, retry', 'quote " and back\\slash'])(
    'Cache-Status detail %j survives a round trip',
    (detail) => {
      const parsed = parseCacheStatus(`upstream; hit, ${formatCacheStatus({ hit: true, ttl: 5, detail })}`)
      expect(parsed).toMatchObject({ hit: true, ttl: 5 })
      expect(parsed?.detail).toBe(detail.replace(/["\\]/g, ''))
    },
  )

  it.each([
    ['strong 304 ETag vs stored weak ETag', { etag: 'W/"a"' }, { etag: '"a"' }, false],
    ['weak 304 ETag vs stored strong ETag', { etag: '"a"' }, { etag: 'W/"a"' }, true],
    // Our own conditional request came from this entry: a validator-less 304 is about it (issue 10).
    ['304 without validator vs stored ETag', { etag: '"a"' }, {}, true],
    ['304 without validator vs stored without validator', {}, {}, true],
    ['304 Last-Modified only vs stored ETag and same Last-Modified', { etag: '"a"', 'last-modified': 'x' }, { 'last-modified': 'x' }, true],
  ] as const)('RFC 9111 §4.3.4: %s', (_name, stored, fresh, expected) => {
    expect(notModifiedMatches(stored, fresh)).toBe(expected)
  })

  it('a 304 resets the stored Age (RFC 9111 §5.1) unless it carries its own', () => {
    expect(mergeHeaders({ age: '50', etag: '"a"' }, { etag: '"a"' })).toEqual({ etag: '"a"' })
    expect(mergeHeaders({ age: '50' }, { age: '3' })).toEqual({ age: '3' })
  })
})

/**
 * decideWrite, one row per rule: settings come from resolveSettings (as the cache builds them),
 * the clock is fixed at NOW.
 */
import { describe, expect, it } from 'vitest'
import { decideWrite, invalidationTargets, type WriteDecision } from '../src/rules/decide-write.js'
import { DO_NOT_CACHE, EXPIRE_IMMEDIATELY, NEVER_EXPIRE } from '../src/config/expiry.js'
import { type RequestOptions, resolveSettings } from '../src/config/options.js'
import type { CacheOptions, HeaderMap } from '../src/config/types.js'

const NOW = Date.UTC(2025, 0, 1, 12)
const SEC = 1000
const httpDate = (ms: number) => new Date(ms).toUTCString()
const URL_A = 'http://example.com/a'

interface Row {
  name: string
  settings?: CacheOptions
  options?: RequestOptions
  method?: string
  url?: string
  req?: Record<string, string>
  status?: number
  headers?: HeaderMap
  want: Record<string, unknown>
}

function run(row: Row): WriteDecision {
  return decideWrite({
    method: row.method ?? 'GET',
    url: row.url ?? URL_A,
    requestHeaders: row.req ?? {},
    status: row.status ?? 200,
    headers: row.headers ?? {},
    settings: resolveSettings(row.settings ?? {}),
    options: row.options ?? {},
    now: NOW,
  })
}

const MAX60 = { 'cache-control': 'max-age=60' }
const skip = (reason: RegExp) => ({ action: 'skip', reason: expect.stringMatching(reason) })
const at = (expiresAt: number | null, more: Record<string, unknown> = {}) => ({ action: 'store', expiresAt, ...more })

const skips: Row[] = [
  { name: 'readOnly never stores', settings: { readOnly: true }, headers: MAX60, want: skip(/read-only/) },
  { name: 'method not in allowableMethods', method: 'POST', headers: MAX60, want: skip(/method POST/) },
  { name: '§5.2.1.5 request no-store', req: { 'cache-control': 'no-store' }, headers: MAX60, want: skip(/request no-store/) },
  { name: 'DO_NOT_CACHE as global expireAfter (beats response max-age)', settings: { expireAfter: DO_NOT_CACHE }, headers: MAX60, want: skip(/DO_NOT_CACHE/) },
  { name: 'DO_NOT_CACHE in urlsExpireAfter', settings: { urlsExpireAfter: { 'example.com/private': DO_NOT_CACHE } }, url: 'http://example.com/private/1', headers: MAX60, want: skip(/DO_NOT_CACHE/) },
  { name: 'DO_NOT_CACHE per request', options: { expireAfter: DO_NOT_CACHE }, headers: MAX60, want: skip(/DO_NOT_CACHE/) },
  { name: 'status not in a user-set allowableCodes (taken literally)', settings: { allowableCodes: [200] }, status: 500, headers: MAX60, want: skip(/status 500/) },
  { name: 'user-set allowableCodes: exactly those, even a 404 with max-age', settings: { allowableCodes: [200] }, status: 404, headers: MAX60, want: skip(/status 404/) },
  { name: 'RFC 9111 §3 default: 500 without explicit freshness (not heuristically cacheable)', status: 500, headers: { etag: '"x"', 'last-modified': httpDate(NOW - 1000 * SEC) }, want: skip(/status 500/) },
  { name: 'RFC 9111 §3 default: 206 is never stored as a whole response', status: 206, headers: MAX60, want: skip(/status 206/) },
  { name: 'RFC 9111 §3 default: 304 is never stored', status: 304, headers: MAX60, want: skip(/status 304/) },
  { name: '§5.2.2.3 must-understand with a status not understood', status: 299, headers: { 'cache-control': 'max-age=60, must-understand' }, want: skip(/must-understand/) },
  { name: '§4.2.2 with user-set codes, a 404 without explicit freshness is not stored', settings: { allowableCodes: [200] }, status: 404, headers: { etag: '"x"' }, want: skip(/status 404/) },
  { name: 'cacheControl:false: allowableCodes binds even with max-age', settings: { cacheControl: false }, status: 404, headers: MAX60, want: skip(/status 404/) },
  { name: '§4.1 Vary: * is never stored', headers: { ...MAX60, vary: '*' }, want: skip(/Vary: \*/) },
  { name: '§4.1 Vary listing * among other names is never stored', headers: { ...MAX60, vary: 'Accept, *' }, want: skip(/Vary: \*/) },
  { name: '§5.2.2.5 response no-store', headers: { 'cache-control': 'no-store, max-age=60' }, want: skip(/response no-store/) },
  { name: 'filter returning false', settings: { filter: () => false }, headers: MAX60, want: skip(/filter/) },
  { name: 'Content-Length over maxEntrySize', settings: { maxEntrySize: 10 }, headers: { ...MAX60, 'content-length': '11' }, want: skip(/Content-Length 11/) },
  { name: '§4.2.2 no lifetime and no validator', headers: {}, want: skip(/no freshness lifetime and no validator/) },
]

const stores: Row[] = [
  // Storability
  { name: '§4.2.1 404 with explicit max-age is stored though not in allowableCodes', status: 404, headers: MAX60, want: at(NOW + 60 * SEC) },
  { name: '§4.2.1 301 with Expires is stored though not in allowableCodes', status: 301, headers: { date: httpDate(NOW), expires: httpDate(NOW + 120 * SEC) }, want: at(NOW + 120 * SEC) },
  ...[299, 400, 404, 499, 500, 502, 503, 504, 599].map((status): Row => ({ name: `RFC 9111 §3 default: ${status} with explicit freshness is stored`, status, headers: MAX60, want: at(NOW + 60 * SEC) })),
  ...[200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501].map((status): Row => ({
    name: `RFC 9110 §15.1 default: ${status} gets heuristic freshness (§4.2.2)`,
    status,
    headers: { date: httpDate(NOW), 'last-modified': httpDate(NOW - 1000 * SEC) },
    want: at(NOW + 100 * SEC),
  })),
  { name: 'cacheControl:false default is [200]', settings: { cacheControl: false }, status: 200, headers: {}, want: at(null) },
  { name: '§5.2.2.3 no-store, must-understand with an understood status is stored', headers: { 'cache-control': 'no-store, must-understand, max-age=60' }, want: at(NOW + 60 * SEC) },
  { name: '§5.2.2.7 private is storable in a private cache', headers: { 'cache-control': 'private, max-age=60' }, want: at(NOW + 60 * SEC) },
  { name: 'Content-Length equal to maxEntrySize is stored', settings: { maxEntrySize: 10 }, headers: { ...MAX60, 'content-length': '10' }, want: at(NOW + 60 * SEC) },
  { name: 'filter returning true', settings: { filter: (r) => r.url === URL_A && r.status === 200 }, headers: MAX60, want: at(NOW + 60 * SEC) },

  // Explicit freshness (§4.2.1) and age (§4.2.3)
  { name: '§4.2.1 max-age', headers: MAX60, want: at(NOW + 60 * SEC, { initialAge: 0, mustRevalidate: false, staleIfErrorUntil: 0, staleWhileRevalidateUntil: 0, vary: [] }) },
  { name: '§4.2.3 Age header is subtracted from max-age', headers: { ...MAX60, age: '20' }, want: at(NOW + 40 * SEC, { initialAge: 20 }) },
  { name: '§4.2.3 Age beyond max-age: stored already expired', headers: { ...MAX60, age: '100' }, want: at(NOW, { initialAge: 100 }) },
  { name: '§4.2.1 Expires is taken relative to Date (clock skew)', headers: { date: 'Wed, 01 Jan 2020 00:00:00 GMT', expires: 'Wed, 01 Jan 2020 00:02:00 GMT' }, want: at(NOW + 120 * SEC) },
  { name: '§4.2.3 Age is subtracted from Expires − Date', headers: { date: httpDate(NOW), expires: httpDate(NOW + 120 * SEC), age: '30' }, want: at(NOW + 90 * SEC, { initialAge: 30 }) },
  { name: '§4.2.1 Expires in the past: stored expired', headers: { date: httpDate(NOW), expires: httpDate(NOW - 60 * SEC), etag: '"x"' }, want: at(NOW) },
  { name: '§4.2.1 max-age beats Expires', headers: { ...MAX60, date: httpDate(NOW), expires: httpDate(NOW + 600 * SEC) }, want: at(NOW + 60 * SEC) },

  // no-cache, must-revalidate
  { name: '§5.2.2.4 no-cache: stored expired, must revalidate', headers: { 'cache-control': 'no-cache, max-age=600' }, want: at(NOW, { mustRevalidate: true, staleIfErrorUntil: 0, staleWhileRevalidateUntil: 0 }) },
  { name: '§5.4 Pragma: no-cache without Cache-Control acts as no-cache', headers: { pragma: 'no-cache', etag: '"x"' }, want: at(NOW, { mustRevalidate: true }) },
  { name: '§5.2.2.2 must-revalidate', headers: { 'cache-control': 'max-age=60, must-revalidate' }, want: at(NOW + 60 * SEC, { mustRevalidate: true }) },

  // Precedence: response headers, request max-age, per-request, urlsExpireAfter, expireAfter
  { name: 'response max-age beats expireAfter', settings: { expireAfter: 3600 }, headers: MAX60, want: at(NOW + 60 * SEC) },
  { name: 'response max-age beats per-request expireAfter', options: { expireAfter: 3600 }, headers: MAX60, want: at(NOW + 60 * SEC) },
  { name: 'request max-age is used when the response has none', settings: { expireAfter: 3600 }, req: { 'cache-control': 'max-age=30' }, headers: { etag: '"x"' }, want: at(NOW + 30 * SEC) },
  { name: 'per-request expireAfter beats urlsExpireAfter and expireAfter', settings: { expireAfter: 30, urlsExpireAfter: { 'example.com': 20 } }, options: { expireAfter: 10 }, want: at(NOW + 10 * SEC) },
  { name: 'urlsExpireAfter beats expireAfter', settings: { expireAfter: 30, urlsExpireAfter: { 'example.com': 20 } }, want: at(NOW + 20 * SEC) },
  { name: 'expireAfter when nothing else applies', settings: { expireAfter: 30, urlsExpireAfter: { 'other.org': 20 } }, want: at(NOW + 30 * SEC) },
  { name: 'urlsExpireAfter: first glob match wins', settings: { urlsExpireAfter: [['example.com/a', 10], ['example.com', 20]] }, want: at(NOW + 10 * SEC) },
  { name: 'urlsExpireAfter: later glob matches when the first does not', settings: { urlsExpireAfter: [['example.com/b', 10], ['example.com', 20]] }, want: at(NOW + 20 * SEC) },
  { name: 'urlsExpireAfter: RegExp searched in the full URL', settings: { urlsExpireAfter: [[/^http:\/\/example\.com\/a$/, 40], ['example.com', 20]] }, want: at(NOW + 40 * SEC) },
  { name: 'expireAfter as a duration string', settings: { expireAfter: '5m' }, want: at(NOW + 300 * SEC) },
  { name: 'expireAfter as a Date', settings: { expireAfter: new Date(NOW + 7 * SEC) }, want: at(NOW + 7 * SEC) },
  { name: 'expireAfter NEVER_EXPIRE', settings: { expireAfter: NEVER_EXPIRE }, want: at(null) },
  { name: 'expireAfter EXPIRE_IMMEDIATELY', settings: { expireAfter: EXPIRE_IMMEDIATELY }, want: at(NOW) },

  // Heuristic freshness (§4.2.2)
  { name: '§4.2.2 heuristic: 10% of Date − Last-Modified', headers: { date: httpDate(NOW), 'last-modified': httpDate(NOW - 1000 * SEC) }, want: at(NOW + 100 * SEC) },
  { name: '§4.2.2 heuristic without Date uses the receive time', headers: { 'last-modified': httpDate(NOW - 500 * SEC) }, want: at(NOW + 50 * SEC) },
  { name: '§4.2.2 no lifetime but a validator: stored expired', headers: { etag: '"x"' }, want: at(NOW) },
  { name: '§4.2.2 no lifetime, no validator, staleIfError on: stored for errors', settings: { staleIfError: 60 }, want: at(NOW, { staleIfErrorUntil: NOW + 60 * SEC }) },

  // cacheControl: false
  { name: 'cacheControl:false ignores no-store and max-age, uses expireAfter', settings: { cacheControl: false, expireAfter: 60 }, headers: { 'cache-control': 'no-store, max-age=10, must-revalidate' }, want: at(NOW + 60 * SEC, { initialAge: 0, mustRevalidate: false }) },
  { name: 'cacheControl:false defaults to NEVER_EXPIRE', settings: { cacheControl: false }, headers: { 'cache-control': 'max-age=10', age: '5' }, want: at(null, { initialAge: 0, staleIfErrorUntil: null }) },
  { name: 'cacheControl:false ignores stale-if-error directives', settings: { cacheControl: false, expireAfter: 60 }, headers: { 'cache-control': 'stale-if-error=300' }, want: at(NOW + 60 * SEC, { staleIfErrorUntil: 0 }) },

  // RFC 5861 windows
  { name: 'RFC 5861 §4 stale-if-error directive', headers: { 'cache-control': 'max-age=60, stale-if-error=300' }, want: at(NOW + 60 * SEC, { staleIfErrorUntil: NOW + 360 * SEC }) },
  { name: 'RFC 5861 §4 staleIfError option window', settings: { staleIfError: '10m' }, headers: MAX60, want: at(NOW + 60 * SEC, { staleIfErrorUntil: NOW + 660 * SEC }) },
  { name: 'RFC 5861 §4 the larger of directive and option wins', settings: { staleIfError: 100 }, headers: { 'cache-control': 'max-age=60, stale-if-error=300' }, want: at(NOW + 60 * SEC, { staleIfErrorUntil: NOW + 360 * SEC }) },
  { name: 'RFC 5861 §4 staleIfError: true → null (forever)', settings: { staleIfError: true }, headers: MAX60, want: at(NOW + 60 * SEC, { staleIfErrorUntil: null }) },
  { name: 'RFC 5861 §3 stale-while-revalidate directive', headers: { 'cache-control': 'max-age=60, stale-while-revalidate=30' }, want: at(NOW + 60 * SEC, { staleWhileRevalidateUntil: NOW + 90 * SEC }) },
  { name: 'RFC 5861 §3 staleWhileRevalidate option window', settings: { staleWhileRevalidate: 45 }, headers: MAX60, want: at(NOW + 60 * SEC, { staleWhileRevalidateUntil: NOW + 105 * SEC }) },
  { name: 'RFC 5861 §3 staleWhileRevalidate: true → always', settings: { staleWhileRevalidate: true }, headers: MAX60, want: at(NOW + 60 * SEC, { staleWhileRevalidateUntil: Number.MAX_SAFE_INTEGER }) },
  { name: '§4.2.4 must-revalidate closes both windows', settings: { staleIfError: true, staleWhileRevalidate: true }, headers: { 'cache-control': 'max-age=60, must-revalidate, stale-if-error=300, stale-while-revalidate=30' }, want: at(NOW + 60 * SEC, { staleIfErrorUntil: 0, staleWhileRevalidateUntil: 0, mustRevalidate: true }) },
  { name: '§4.2.4 no-cache closes both windows', settings: { staleIfError: true, staleWhileRevalidate: true }, headers: { 'cache-control': 'no-cache', etag: '"x"' }, want: at(NOW, { staleIfErrorUntil: 0, staleWhileRevalidateUntil: 0 }) },

  // Vary
  { name: '§4.1 Vary names sorted and lower-cased', headers: { ...MAX60, vary: 'Accept-Encoding, Accept,  User-Agent' }, want: at(NOW + 60 * SEC, { vary: ['accept', 'accept-encoding', 'user-agent'] }) },
  { name: '§4.1 repeated Vary fields are combined', headers: { ...MAX60, vary: ['X-B', 'x-a'] }, want: at(NOW + 60 * SEC, { vary: ['x-a', 'x-b'] }) },
]

describe('decideWrite: skip', () => {
  it.each(skips)('$name', (row) => {
    expect(run(row)).toEqual(row.want)
  })
})

describe('decideWrite: store', () => {
  it.each(stores)('$name', (row) => {
    const result = run(row)
    expect(result).toMatchObject(row.want)
    expect(result.reason).not.toBe('')
  })

  it('passes the normalised URL, status and headers to the filter', () => {
    const seen: unknown[] = []
    run({ name: '', settings: { filter: (r) => (seen.push(r), true) }, url: 'http://example.com/f', status: 200, headers: MAX60, want: {} })
    expect(seen).toEqual([{ url: 'http://example.com/f', status: 200, headers: MAX60 }])
  })

  it('allowableMethods admits POST when configured', () => {
    expect(run({ name: '', settings: { allowableMethods: ['GET', 'POST'] }, method: 'POST', headers: MAX60, want: {} })).toMatchObject(at(NOW + 60 * SEC))
  })
})

describe('invalidationTargets (RFC 9111 §4.4)', () => {
  const href = 'http://h.test/items'
  it.each([
    ['201 with same-origin Location', 201, { location: '/items/7' }, [href, 'http://h.test/items/7']],
    ['200 with Content-Location', 200, { 'content-location': 'http://h.test/c' }, [href, 'http://h.test/c']],
    ['cross-origin Location is left alone', 201, { location: 'http://other.test/x' }, [href]],
    ['an error response invalidates nothing', 500, { location: '/items/7' }, []],
    ['a 1xx invalidates nothing', 103, {}, []],
    ['an unparsable Location is ignored', 303, { location: 'http://[bad' }, [href]],
  ] as const)('%s', (_name, status, headers, want) => {
    expect(invalidationTargets(href, status, headers)).toEqual(want)
  })
})

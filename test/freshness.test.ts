/**
 * Invalid dates, Age and odd values never make a response fresh (RFC 9111 §5.3, §4.2.2, §5.1,
 * §4.2.1, §1.2.2). One row per header value: first as a pure rule (freshness.ts,
 * http-date.ts), then end to end through createCachedFetch, cacheInterceptor with request(),
 * and a Client, asserting how many requests the origin saw and the bytes the caller got.
 */
import { Client, type Dispatcher, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cacheInterceptor, createCachedFetch } from '../src/index.js'
import { freshness } from '../src/rules/freshness.js'
import { parseHttpDate } from '../src/rules/http-date.js'
import type { HeaderMap } from '../src/config/types.js'
import { type Origin, startOrigin } from './helpers/origin.js'

const NOW = Date.UTC(2026, 5, 15, 12)
const H = 3600 * 1000
const imf = (ms: number) => new Date(ms).toUTCString()
const OLD_LM = 'Mon, 01 Jan 2001 00:00:00 GMT'

describe('parseHttpDate (RFC 9110 §5.6.7)', () => {
  const rows: Array<[string, number | undefined]> = [
    ['Sun, 06 Nov 1994 08:49:37 GMT', Date.UTC(1994, 10, 6, 8, 49, 37)],
    ['Sunday, 06-Nov-94 08:49:37 GMT', Date.UTC(1994, 10, 6, 8, 49, 37)],
    ['Sun Nov  6 08:49:37 1994', Date.UTC(1994, 10, 6, 8, 49, 37)],
    ['Sun Nov 16 08:49:37 1994', Date.UTC(1994, 10, 16, 8, 49, 37)],
    ['Sun, 06 Nov 1994 08:49:37 UTC', undefined],
    ['Sun 06 Nov 1994 08:49:37 GMT', undefined],
    ['Sun,  06 Nov 1994 08:49:37 GMT', undefined],
    ['Sun, 06  Nov 1994 08:49:37 GMT', undefined],
    ['Sun, 06-Nov-1994 08:49:37 GMT', undefined],
    ['Sun, 06 Nov 1994 8:49:37 GMT', undefined],
    ['Sun, 31 Nov 1994 08:49:37 GMT', undefined],
    ['Sun, 06 Nov 1994 24:00:00 GMT', undefined],
    ['sun, 06 nov 1994 08:49:37 gmt', undefined],
    ['0', undefined],
    ['-1', undefined],
    ['', undefined],
    ['2026-06-15T13:00:00Z', undefined],
    ['1781528400', undefined],
    // year = 4DIGIT: years 0000-0099 are those years, not 1900-1999 (found by test/hostile-headers.test.ts).
    ['Mon, 01 Jan 0001 00:00:00 GMT', -62135596800000],
    ['Thu Dec 31 23:59:59 0099', -59011459201000],
  ]
  it.each(rows)('%j → %s', (value, want) => {
    expect(parseHttpDate(value, NOW)).toBe(want)
  })
  it('two-digit years more than 50 years ahead are the past century', () => {
    expect(parseHttpDate('Saturday, 01-Jan-94 00:00:00 GMT', NOW)).toBe(Date.UTC(1994, 0, 1))
    expect(parseHttpDate('Monday, 01-Jan-70 00:00:00 GMT', NOW)).toBe(Date.UTC(2070, 0, 1))
    expect(parseHttpDate('Friday, 01-Jan-50 00:00:00 GMT', NOW)).toBe(Date.UTC(2050, 0, 1))
  })
  it('several Expires lines are no single date', () => {
    expect(parseHttpDate([imf(NOW), imf(NOW)], NOW)).toBeUndefined()
  })
})

interface Row {
  name: string
  /** Response headers, given the moment the response is made. */
  headers: (now: number) => HeaderMap
  /** Freshness lifetime minus Age in seconds, as freshness() computes it at NOW. */
  fresh: number
  status?: number
}

const rows: Row[] = [
  // §5.3 invalid Expires means already expired.
  { name: 'Expires with UTC instead of GMT', headers: (n) => ({ expires: imf(n + H).replace('GMT', 'UTC') }), fresh: 0 },
  { name: 'Expires without the comma', headers: (n) => ({ expires: imf(n + H).replace(',', '') }), fresh: 0 },
  { name: 'Expires with several spaces', headers: (n) => ({ expires: imf(n + H).replace(' ', '   ') }), fresh: 0 },
  { name: 'Expires with dashes', headers: (n) => ({ expires: imf(n + H).replace(/(\d\d) (\w\w\w) (\d{4})/, '$1-$2-$3') }), fresh: 0 },
  { name: 'Expires with a one-digit hour', headers: (n) => ({ expires: imf(n + 24 * H).replace(/ \d\d:/, ' 9:') }), fresh: 0 },
  { name: 'Expires: 0', headers: () => ({ expires: '0' }), fresh: 0 },
  { name: 'Expires in ISO 8601', headers: (n) => ({ expires: new Date(n + H).toISOString() }), fresh: 0 },
  { name: 'empty Expires with an old Last-Modified (no heuristic)', headers: () => ({ expires: '', 'last-modified': OLD_LM }), fresh: 0 },
  { name: 'valid Expires an hour ahead', headers: (n) => ({ date: imf(n), expires: imf(n + H) }), fresh: 3600 },
  { name: 'Expires in RFC 850 format', headers: (n) => ({ expires: 'Monday, 15-Jun-26 13:00:00 GMT', date: imf(n) }), fresh: (Date.UTC(2026, 5, 15, 13) - NOW) / 1000 },
  { name: 'Expires in asctime format', headers: (n) => ({ expires: 'Mon Jun 15 13:00:00 2026', date: imf(n) }), fresh: (Date.UTC(2026, 5, 15, 13) - NOW) / 1000 },
  // §4.2.2 / RFC 9110 §6.6.1: an invalid Date is ignored (the time of receipt stands in).
  // Years 0000-0099 once read as 1900-1999: an Expires in year 99 after a Date of 1970 was 29 years fresh.
  { name: 'Expires in year 0099, Date in 1970', headers: () => ({ date: 'Thu, 01 Jan 1970 00:00:00 GMT', expires: 'Thu, 31 Dec 0099 23:59:59 GMT' }), fresh: 0 },
  { name: 'Date: 0 with a valid Expires an hour ahead', headers: (n) => ({ date: '0', expires: imf(n + H) }), fresh: 3600 },
  // §4.2.2: an invalid Last-Modified gives no heuristic freshness.
  { name: 'Last-Modified: 0', headers: () => ({ 'last-modified': '0' }), fresh: 0 },
  { name: 'Last-Modified in ISO 8601', headers: () => ({ 'last-modified': '2001-01-01T00:00:00Z' }), fresh: 0 },
  { name: 'Last-Modified in the future', headers: (n) => ({ 'last-modified': imf(n + H) }), fresh: 0 },
  { name: 'valid Last-Modified 10 days ago: 10% heuristic', headers: (n) => ({ date: imf(n), 'last-modified': imf(n - 240 * H) }), fresh: 24 * 3600 },
  // §5.1 Age is delta-seconds: anything else is ignored.
  { name: 'Age: 7200.0 is invalid, ignored', headers: () => ({ 'cache-control': 'max-age=3600', age: '7200.0' }), fresh: 3600 },
  { name: 'Age: 7200 ages a max-age=3600 response out', headers: () => ({ 'cache-control': 'max-age=3600', age: '7200' }), fresh: 0 },
  { name: 'max-age=0 with Age: -60', headers: () => ({ 'cache-control': 'max-age=0', age: '-60' }), fresh: 0 },
  // RFC 8246: immutable alone states no lifetime.
  { name: 'Cache-Control: immutable alone', headers: () => ({ 'cache-control': 'immutable' }), fresh: 0 },
  // §5.2: directive names are case-insensitive; §4.2.1 max-age beats Last-Modified heuristics.
  { name: 'MAX-AGE=0 with an old Last-Modified', headers: () => ({ 'cache-control': 'MAX-AGE=0', 'last-modified': OLD_LM }), fresh: 0 },
  { name: 'MAX-AGE=3600 is max-age', headers: () => ({ 'cache-control': 'MAX-AGE=3600' }), fresh: 3600 },
  // §4.2.1 repeated directives: the first occurrence, and an invalid one means stale.
  { name: 'max-age=bad, max-age=60', headers: () => ({ 'cache-control': 'max-age=bad, max-age=60' }), fresh: 0 },
  { name: 'max-age=60, max-age=3600 (first wins)', headers: () => ({ 'cache-control': 'max-age=60, max-age=3600' }), fresh: 60 },
  { name: 'max-age=60s is not delta-seconds', headers: () => ({ 'cache-control': 'max-age=60s' }), fresh: 0 },
  { name: 'max-age=-1', headers: () => ({ 'cache-control': 'max-age=-1' }), fresh: 0 },
  { name: 'bare max-age', headers: () => ({ 'cache-control': 'max-age' }), fresh: 0 },
  { name: 'max-age="60" (quoted form accepted, §5.2)', headers: () => ({ 'cache-control': 'max-age="60"' }), fresh: 60 },
  { name: 'max-age=bad with a valid Expires: max-age governs, stale', headers: (n) => ({ 'cache-control': 'max-age=bad', expires: imf(n + H) }), fresh: 0 },
]

describe('freshness (RFC 9111 §4.2)', () => {
  it.each(rows.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const f = freshness(row.status ?? 200, row.headers(NOW), NOW)
    expect(Math.max(0, f.lifetime - f.initialAge)).toBeCloseTo(row.fresh, 3)
  })
})

/** End to end: a row is reused without the origin only if fresh > 0. */
describe.each(['fetch', 'request', 'Client'] as const)('end to end through %s', (front) => {
  let origin: Origin
  let n = 0
  const paths = new Map<string, Row>()
  let send: (path: string) => Promise<string>
  let close: () => Promise<void>

  beforeAll(async () => {
    origin = await startOrigin()
    for (const row of rows) {
      const path = `/r${n++}`
      paths.set(row.name, { ...row, name: path })
      origin.route(path, (_req, res) => {
        const h = row.headers(Date.now())
        res.writeHead(row.status ?? 200, h as Record<string, string>)
        res.end(`body of ${path}`)
      })
    }
    if (front === 'fetch') {
      const f = createCachedFetch({ backend: 'memory' })
      send = async (path) => {
        const t = await (await f(origin.url + path)).text()
        await f.cache.flush()
        return t
      }
      close = () => f.cache.close()
    } else {
      const ic = cacheInterceptor({ backend: 'memory' })
      const base: Dispatcher = front === 'Client' ? new Client(origin.url) : new (await import('undici')).Agent()
      const d = base.compose(ic)
      send = async (path) => {
        const res = front === 'Client' ? await d.request({ path, method: 'GET' }) : await request(origin.url + path, { dispatcher: d })
        const t = await res.body.text()
        await ic.cache.flush()
        return t
      }
      close = async () => {
        await ic.cache.close()
        await base.close()
      }
    }
  })

  afterAll(async () => {
    await close()
    await origin.close()
  })

  it.each(rows.filter((r) => !r.name.includes('format')).map((r) => [r.name, r] as const))('%s', async (name) => {
    const row = paths.get(name)!
    expect(await send(row.name)).toBe(`body of ${row.name}`)
    expect(await send(row.name)).toBe(`body of ${row.name}`)
    expect(origin.count(row.name)).toBe(row.fresh > 0 ? 1 : 2)
  })
})

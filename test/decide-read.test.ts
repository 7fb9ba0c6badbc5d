/**
 * decideRead and staleIfErrorAllows, one row per rule. The stored entry (test/helpers/meta.ts)
 * was received at CREATED and is fresh for 60 s: at FRESH it is 30 s old with 30 s left; at
 * STALE it has been expired for 20 s.
 */
import { describe, expect, it } from 'vitest'
import { parseCacheControl } from '../src/rules/cache-control.js'
import { asksForOrigin, bypassReason, currentAge, decideRead, type ReadModes, remainingTtl, requestDirectives, staleIfErrorAllows, uselessAt } from '../src/rules/decide-read.js'
import type { EntryMeta } from '../src/backends/contract.js'
import { meta } from './helpers/meta.js'

const CREATED = 1_000_000
const EXPIRES = 1_060_000
const FRESH = CREATED + 30_000
const STALE = EXPIRES + 20_000
const ETAG = { headers: { etag: '"v1"' } }
const LAST_MODIFIED = { headers: { 'last-modified': 'Wed, 01 Jan 2020 00:00:00 GMT' } }

interface Row {
  name: string
  /** Overrides of the stored entry; null: nothing stored. */
  entry: Partial<EntryMeta> | null
  cc?: string
  pragma?: boolean
  modes?: ReadModes
  now: number
  want: Record<string, unknown>
}

const rows: Row[] = [
  // Nothing stored
  { name: '§4 miss → fetch (fwd=uri-miss)', entry: null, now: FRESH, want: { action: 'fetch', fwd: 'uri-miss' } },
  { name: '§5.2.1.7 miss in onlyIfCached mode → gateway-timeout', entry: null, modes: { onlyIfCached: true }, now: FRESH, want: { action: 'gateway-timeout' } },
  { name: '§5.2.1.7 miss with only-if-cached directive → 504', entry: null, cc: 'only-if-cached', now: FRESH, want: { action: 'gateway-timeout' } },
  { name: '§5.2.1.7 miss with staleOk still fetches', entry: null, modes: { staleOk: true }, now: FRESH, want: { action: 'fetch', fwd: 'uri-miss' } },

  // Freshness (§4.2)
  { name: '§4.2 fresh response → serve with remaining ttl', entry: {}, now: FRESH, want: { action: 'serve', stale: false, ttl: 30 } },
  { name: '§4.2 fresh response with validator is still served without contacting the origin', entry: ETAG, now: FRESH, want: { action: 'serve', stale: false, ttl: 30 } },
  { name: '§4.2 a response whose expiry is now is stale', entry: ETAG, now: EXPIRES, want: { action: 'revalidate', ttl: 0 } },
  { name: '§4.3 expired with ETag → revalidate', entry: ETAG, now: STALE, want: { action: 'revalidate', ttl: -20, fwd: 'stale' } },
  { name: '§4.3 expired with Last-Modified → revalidate', entry: LAST_MODIFIED, now: STALE, want: { action: 'revalidate', ttl: -20 } },
  { name: '§4.3 expired without validator → fetch (fwd=stale)', entry: {}, now: STALE, want: { action: 'fetch', fwd: 'stale' } },
  { name: 'NEVER_EXPIRE (expiresAt null) stays fresh forever', entry: { expiresAt: null }, now: 10 ** 13, want: { action: 'serve', stale: false, ttl: Infinity } },

  // RFC 8246 immutable: a fresh immutable response survives reloads, not a forced refresh
  ...(['no-cache', 'max-age=0'] as const).map((cc): Row => ({ name: `RFC 8246 fresh immutable, request ${cc} → serve`, entry: { headers: { etag: '"v1"', 'cache-control': 'max-age=60, immutable' } }, cc, now: FRESH, want: { action: 'serve', stale: false } })),
  { name: 'RFC 8246 fresh immutable, Pragma: no-cache → serve', entry: { headers: { etag: '"v1"', 'cache-control': 'max-age=60, immutable' } }, pragma: true, now: FRESH, want: { action: 'serve', stale: false } },
  { name: 'RFC 8246 fresh immutable, refresh mode (fetch no-cache) → serve', entry: { headers: { etag: '"v1"', 'cache-control': 'max-age=60, immutable' } }, modes: { refresh: true }, now: FRESH, want: { action: 'serve', stale: false } },
  { name: 'RFC 8246 fresh immutable, forceRefresh (fetch reload) → fetch', entry: { headers: { etag: '"v1"', 'cache-control': 'max-age=60, immutable' } }, modes: { forceRefresh: true }, now: FRESH, want: { action: 'fetch', fwd: 'request' } },
  { name: 'cacheControl:false ignores immutable: request no-cache → revalidate', entry: { headers: { etag: '"v1"', 'cache-control': 'max-age=60, immutable' } }, cc: 'no-cache', modes: { ignoreResponseDirectives: true }, now: FRESH, want: { action: 'revalidate' } },
  { name: 'RFC 8246 stale immutable, request no-cache → revalidate', entry: { headers: { etag: '"v1"', 'cache-control': 'max-age=60, immutable' } }, cc: 'no-cache', now: STALE, want: { action: 'revalidate' } },

  // Request no-cache, Pragma, refresh and forceRefresh modes
  { name: '§5.2.1.4 request no-cache on a fresh entry with validator → revalidate', entry: ETAG, cc: 'no-cache', now: FRESH, want: { action: 'revalidate', ttl: 30, fwd: 'request' } },
  { name: '§5.2.1.4 request no-cache without validator → fetch (fwd=request)', entry: {}, cc: 'no-cache', now: FRESH, want: { action: 'fetch', fwd: 'request' } },
  { name: '§5.4 Pragma: no-cache → revalidate', entry: ETAG, pragma: true, now: FRESH, want: { action: 'revalidate', ttl: 30, fwd: 'request' } },
  { name: '§5.4 Pragma: no-cache without validator → fetch (fwd=request)', entry: {}, pragma: true, now: FRESH, want: { action: 'fetch', fwd: 'request' } },
  { name: 'refresh mode (fetch no-cache) revalidates a fresh entry', entry: ETAG, modes: { refresh: true }, now: FRESH, want: { action: 'revalidate', ttl: 30, fwd: 'request' } },
  { name: 'refresh mode without validator → fetch (fwd=request)', entry: {}, modes: { refresh: true }, now: FRESH, want: { action: 'fetch', fwd: 'request' } },
  { name: 'forceRefresh mode (fetch reload) fetches even a fresh entry', entry: ETAG, modes: { forceRefresh: true }, now: FRESH, want: { action: 'fetch', fwd: 'request' } },

  // §5.2.1.1 max-age
  { name: '§5.2.1.1 request max-age rejects an older response', entry: ETAG, cc: 'max-age=10', now: FRESH, want: { action: 'revalidate', ttl: 30, fwd: 'request' } },
  { name: '§5.2.1.1 request max-age accepts a response exactly that old', entry: {}, cc: 'max-age=30', now: FRESH, want: { action: 'serve', stale: false, ttl: 30 } },
  { name: '§5.2.1.1 request max-age counts the Age it arrived with (§4.2.3)', entry: { ...ETAG, initialAge: 25 }, cc: 'max-age=50', now: FRESH, want: { action: 'revalidate', ttl: 30 } },
  { name: '§5.2.1.1 request max-age=0 without validator → fetch (RFC 9211 §2.2 fwd=request: fresh, but the request refused it)', entry: {}, cc: 'max-age=0', now: FRESH, want: { action: 'fetch', fwd: 'request' } },
  { name: '§5.2.1.1 request max-age applies to NEVER_EXPIRE entries', entry: { ...ETAG, expiresAt: null }, cc: 'max-age=10', now: FRESH, want: { action: 'revalidate', ttl: Infinity } },

  // §5.2.1.3 min-fresh
  { name: '§5.2.1.3 min-fresh rejects a response fresh for less', entry: ETAG, cc: 'min-fresh=40', now: FRESH, want: { action: 'revalidate', ttl: 30, fwd: 'request' } },
  { name: '§5.2.1.3 min-fresh accepts a response fresh for exactly that long', entry: {}, cc: 'min-fresh=30', now: FRESH, want: { action: 'serve', stale: false, ttl: 30 } },

  // §5.2.1.2 max-stale
  { name: '§5.2.1.2 max-stale=N serves a response stale by at most N', entry: ETAG, cc: 'max-stale=30', now: STALE, want: { action: 'serve', stale: true, ttl: -20 } },
  { name: '§5.2.1.2 max-stale=N serves a response stale by exactly N', entry: ETAG, cc: 'max-stale=20', now: STALE, want: { action: 'serve', stale: true, ttl: -20 } },
  { name: '§5.2.1.2 max-stale=N does not serve a response stale by more', entry: ETAG, cc: 'max-stale=10', now: STALE, want: { action: 'revalidate', ttl: -20 } },
  { name: '§5.2.1.2 max-stale without a value serves any staleness', entry: {}, cc: 'max-stale', now: EXPIRES + 10 ** 9, want: { action: 'serve', stale: true, ttl: -(10 ** 6) } },
  { name: '§5.2.2.2 must-revalidate blocks max-stale', entry: { ...ETAG, mustRevalidate: true }, cc: 'max-stale', now: STALE, want: { action: 'revalidate', ttl: -20 } },
  { name: '§5.2.2.2 must-revalidate blocks max-stale=N (no validator → fetch)', entry: { mustRevalidate: true }, cc: 'max-stale=60', now: STALE, want: { action: 'fetch', fwd: 'stale' } },

  // §5.2.1.7 only-if-cached, onlyIfCached mode, staleOk (force-cache)
  { name: '§5.2.1.7 only-if-cached directive serves a fresh entry', entry: {}, cc: 'only-if-cached', now: FRESH, want: { action: 'serve', stale: false, ttl: 30 } },
  { name: '§5.2.1.7 only-if-cached directive with a stale entry → gateway-timeout', entry: ETAG, cc: 'only-if-cached', now: STALE, want: { action: 'gateway-timeout' } },
  { name: '§5.2.1.7 only-if-cached with max-stale serves the stale entry', entry: ETAG, cc: 'only-if-cached, max-stale=60', now: STALE, want: { action: 'serve', stale: true, ttl: -20 } },
  { name: '§5.2.1.7 only-if-cached rejects an entry too old for request max-age', entry: ETAG, cc: 'only-if-cached, max-age=5', now: FRESH, want: { action: 'gateway-timeout' } },
  { name: 'onlyIfCached mode serves a stale entry, marked stale', entry: {}, modes: { onlyIfCached: true }, now: STALE, want: { action: 'serve', stale: true, ttl: -20 } },
  { name: 'onlyIfCached mode serves a fresh entry as fresh', entry: {}, modes: { onlyIfCached: true }, now: FRESH, want: { action: 'serve', stale: false, ttl: 30 } },
  { name: 'onlyIfCached mode wins over forceRefresh (never contacts the origin)', entry: {}, modes: { onlyIfCached: true, forceRefresh: true }, now: FRESH, want: { action: 'serve', stale: false } },
  { name: 'staleOk (force-cache) serves a stale entry', entry: ETAG, modes: { staleOk: true }, now: STALE, want: { action: 'serve', stale: true, ttl: -20 } },
  { name: 'staleOk (force-cache) serves a fresh entry as fresh', entry: ETAG, modes: { staleOk: true }, now: FRESH, want: { action: 'serve', stale: false, ttl: 30 } },

  // RFC 5861 §3 stale-while-revalidate
  { name: 'RFC 5861 §3 within stale-while-revalidate → serve-and-refresh', entry: { ...ETAG, staleWhileRevalidateUntil: EXPIRES + 30_000 }, now: STALE, want: { action: 'serve-and-refresh', ttl: -20 } },
  { name: 'RFC 5861 §3 stale-while-revalidate without validator → serve-and-refresh', entry: { staleWhileRevalidateUntil: EXPIRES + 30_000 }, now: STALE, want: { action: 'serve-and-refresh', ttl: -20 } },
  { name: 'RFC 5861 §3 past the stale-while-revalidate window → revalidate', entry: { ...ETAG, staleWhileRevalidateUntil: EXPIRES + 10_000 }, now: STALE, want: { action: 'revalidate', ttl: -20 } },
  { name: 'RFC 5861 §3 window end is exclusive', entry: { ...ETAG, staleWhileRevalidateUntil: STALE }, now: STALE, want: { action: 'revalidate', ttl: -20 } },
  { name: 'RFC 5861 §3 a fresh entry is served, not refreshed', entry: { staleWhileRevalidateUntil: EXPIRES + 30_000 }, now: FRESH, want: { action: 'serve', stale: false, ttl: 30 } },
  { name: '§5.2.2.2 must-revalidate blocks stale-while-revalidate', entry: { ...ETAG, mustRevalidate: true, staleWhileRevalidateUntil: EXPIRES + 30_000 }, now: STALE, want: { action: 'revalidate', ttl: -20 } },
]

describe('decideRead', () => {
  it.each(rows)('$name', ({ entry, cc, pragma, modes, now, want }) => {
    const result = decideRead({
      entry: entry === null ? undefined : meta(entry),
      cc: parseCacheControl(cc),
      pragmaNoCache: pragma ?? false,
      modes: modes ?? {},
      now,
    })
    expect(result).toMatchObject(want)
    expect(typeof result.reason).toBe('string')
  })

  it('gives the decision a reason naming the rule', () => {
    const r = decideRead({ entry: meta(ETAG), cc: parseCacheControl('max-age=10'), pragmaNoCache: false, modes: {}, now: FRESH })
    expect(r.reason).toBe('older than request max-age 10')
  })
})

describe('currentAge and remainingTtl (§4.2.3)', () => {
  it.each([
    { name: 'age is time stored', entry: {}, now: FRESH, age: 30, ttl: 30 },
    { name: 'age adds the Age it arrived with', entry: { initialAge: 15 }, now: FRESH, age: 45, ttl: 30 },
    { name: 'a clock that went backwards does not make age negative', entry: {}, now: CREATED - 5_000, age: 0, ttl: 65 },
    { name: 'ttl is negative once stale', entry: {}, now: STALE, age: 80, ttl: -20 },
    { name: 'NEVER_EXPIRE has infinite ttl', entry: { expiresAt: null }, now: STALE, age: 80, ttl: Infinity },
  ])('$name', ({ entry, now, age, ttl }) => {
    expect(currentAge(meta(entry), now)).toBe(age)
    expect(remainingTtl(meta(entry), now)).toBe(ttl)
  })
})

describe('staleIfErrorAllows (RFC 5861 §4)', () => {
  it.each([
    { name: 'null window: serve stale on error forever', entry: { staleIfErrorUntil: null }, now: 10 ** 13, want: true },
    { name: 'inside the window', entry: { staleIfErrorUntil: STALE + 1 }, now: STALE, want: true },
    { name: 'window end is exclusive', entry: { staleIfErrorUntil: STALE }, now: STALE, want: false },
    { name: 'past the window', entry: { staleIfErrorUntil: STALE - 1 }, now: STALE, want: false },
    { name: '0: never', entry: { staleIfErrorUntil: 0 }, now: STALE, want: false },
    { name: '§5.2.2.2 must-revalidate forbids it even with a null window', entry: { staleIfErrorUntil: null, mustRevalidate: true }, now: STALE, want: false },
  ])('$name', ({ entry, now, want }) => {
    expect(staleIfErrorAllows(meta(entry), now)).toBe(want)
  })
})

describe('only-if-cached with a request that needs the origin', () => {
  it.each([
    ['no-cache, only-if-cached', {}],
    ['only-if-cached', { refresh: true }],
    ['only-if-cached', { forceRefresh: true }],
  ] as const)('§5.2.1.7 "%s" with modes %j answers 504 instead of contacting the origin', (header, modes) => {
    const action = decideRead({ entry: meta({ ...ETAG }), cc: parseCacheControl(header), pragmaNoCache: false, modes, now: FRESH })
    expect(action.action).toBe('gateway-timeout')
  })
})

describe('RFC 5861 §4: which failures stale-if-error covers', () => {
  const entry = meta({ staleIfErrorUntil: null })
  it.each([
    [undefined, true],
    [500, true],
    [502, true],
    [503, true],
    [504, true],
    [501, false],
    [505, false],
    [404, false],
  ] as const)('status %s → %s', (status, want) => {
    expect(staleIfErrorAllows(entry, STALE, status)).toBe(want)
  })
})

describe('bypassReason: requests the cache stays out of', () => {
  const allow = new Set(['GET', 'HEAD'])
  it.each([
    ['GET', {}, undefined],
    ['POST', {}, 'method POST not cacheable'],
    ['GET', { 'if-none-match': '"a"' }, 'request carries if-none-match'],
    ['GET', { 'if-modified-since': 'x' }, 'request carries if-modified-since'],
    // RFC 9111 §3.4: a single byte range of a GET may be cut from a stored response.
    ['GET', { range: 'bytes=0-1' }, undefined],
    ['GET', { range: 'bytes=0-1,3-4' }, 'request carries range'],
    ['GET', { range: 'bytes=0-1', 'if-range': '"a"' }, 'request carries if-range'],
    ['HEAD', { range: 'bytes=0-1' }, 'request carries range'],
  ] as const)('%s %j → %s', (method, headers, want) => {
    expect(bypassReason(method, headers, allow)).toBe(want)
  })
})

describe('requestDirectives and asksForOrigin (RFC 9111 §5.2.1.4, §5.4)', () => {
  it.each([
    [{}, {}, false],
    [{ 'cache-control': 'no-cache' }, {}, true],
    [{ pragma: 'no-cache' }, {}, true],
    [{ pragma: 'no-cache', 'cache-control': 'max-age=5' }, {}, false],
    [{}, { refresh: true }, true],
    [{}, { forceRefresh: true }, true],
    [{}, { staleOk: true }, false],
  ] as const)('%j with modes %j → %s', (headers, modes, want) => {
    const { cc, pragmaNoCache } = requestDirectives(headers)
    expect(asksForOrigin(cc, pragmaNoCache, modes)).toBe(want)
  })
})

describe('uselessAt: when an entry can serve nothing and is evicted first', () => {
  it.each([
    ['never expires', { expiresAt: null }, null],
    ['stale-if-error without limit', { staleIfErrorUntil: null }, null],
    ['has an ETag: can still be revalidated (§4.3.1)', { headers: { etag: '"a"' }, staleIfErrorUntil: 0 }, null],
    ['has Last-Modified', { headers: { 'last-modified': 'Wed, 01 Jan 2020 00:00:00 GMT' } }, null],
    ['no validator: the latest of expiry and stale windows', { staleIfErrorUntil: EXPIRES + 5_000, staleWhileRevalidateUntil: EXPIRES + 9_000 }, EXPIRES + 9_000],
    ['no validator, no windows', {}, EXPIRES],
  ] as const)('%s', (_name, overrides, want) => {
    expect(uselessAt(meta(overrides as Partial<EntryMeta>))).toBe(want)
  })
})

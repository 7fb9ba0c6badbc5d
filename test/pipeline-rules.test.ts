/**
 * The rules the pipeline used to hold itself, now pure functions in src/rules: one row per rule.
 * Vary selection and the stored-method/URL guard (RFC 9111 §4, §4.1), sharing an unstored
 * response (§4.1), a 304's effect (§4.3.4), the expiry precedence (§4.2.1, §4.2.2, §5.2.2.4),
 * hop-by-hop fields (§3.1), Cache-Status appending (RFC 9211 §2), the fast path's reach.
 */
import { describe, expect, it } from 'vitest'
import { appendCacheStatus } from '../src/rules/cache-status.js'
import { forbidsOrigin, requestDirectives } from '../src/rules/decide-read.js'
import { type ExpiryInput, chooseExpiry, configuredExpiry } from '../src/rules/expiry.js'
import { fastPathMayServe, fastPathMayTry } from '../src/rules/fast-path.js'
import { stripHopByHop } from '../src/rules/headers.js'
import { decideRevalidated } from '../src/rules/revalidated.js'
import { mayShareUnstored, selectable, varyNames, type Wanted } from '../src/rules/vary.js'
import type { WriteDecision } from '../src/rules/decide-write.js'
import { meta } from './helpers/meta.js'

const URL_A = 'http://127.0.0.1/a'

describe('selectable (RFC 9111 §4, §4.1)', () => {
  const want: Wanted = { method: 'GET', url: URL_A, headers: { 'accept-language': 'de' } }
  it.each<[string, Parameters<typeof meta>[0], Partial<{ [K in keyof Wanted]: Wanted[K] | undefined }>, boolean]>([
    ['same method and URL, no Vary', {}, {}, true],
    ['another method (key collision)', { method: 'HEAD' }, {}, false],
    ['another URL (key collision)', { url: 'http://127.0.0.1/b' }, {}, false],
    ['another URL, but a key function decides (url undefined)', { url: 'http://127.0.0.1/b' }, { url: undefined }, true],
    ['a Vary marker is never served', { kind: 'vary' }, {}, false],
    ['Vary field matches', { vary: ['accept-language'], requestHeaders: { 'accept-language': 'de' } }, {}, true],
    ['Vary field differs', { vary: ['accept-language'], requestHeaders: { 'accept-language': 'fr' } }, {}, false],
    ['Vary field absent in the request that stored it, present now', { vary: ['accept-language'], requestHeaders: {} }, {}, false],
    ['Vary field absent on both sides', { vary: ['x-absent'], requestHeaders: {} }, {}, true],
    ['Vary: * never matches', { vary: ['*'] }, {}, false],
  ])('%s', (_name, stored, request, expected) => {
    expect(selectable(meta(stored), { ...want, ...request } as Wanted)).toBe(expected)
  })
})

describe('mayShareUnstored: a coalesced unstorable response (RFC 9111 §4.1)', () => {
  it.each<[string, Record<string, string>, Record<string, string>, Record<string, string>, boolean]>([
    ['no Vary: shared', {}, { a: '1' }, { a: '2' }, true],
    ['Vary fields equal: shared', { vary: 'A' }, { a: '1' }, { a: '1' }, true],
    ['Vary fields differ: not shared', { vary: 'A' }, { a: '1' }, { a: '2' }, false],
    ['Vary: *: shared with no one', { vary: '*' }, {}, {}, false],
  ])('%s', (_name, headers, answered, request, expected) => {
    expect(mayShareUnstored(headers, answered, request)).toBe(expected)
  })
  it('varyNames lower-cases and sorts', () => {
    expect(varyNames({ vary: 'User-Agent, Accept' })).toEqual(['accept', 'user-agent'])
  })
})

describe('decideRevalidated (RFC 9111 §4.3.4)', () => {
  const NOW = 2_000_000
  const stored = meta({ headers: { etag: '"a"', 'content-length': '5', 'cache-control': 'max-age=60' } })
  const store: WriteDecision = { action: 'store', reason: 'r', expiresAt: NOW + 120_000, initialAge: 0, staleIfErrorUntil: 0, staleWhileRevalidateUntil: 0, mustRevalidate: false, vary: [] }
  const skip: WriteDecision = { action: 'skip', reason: 'response no-store' }
  it.each<[string, Record<string, string>, WriteDecision, boolean, string, number | null]>([
    ['a 304 for another validator: ask again plainly', { etag: '"b"' }, store, true, 'retry', null],
    ['matching 304: update freshness, keep framing', { etag: '"a"', 'content-length': '0', 'cache-control': 'max-age=120' }, store, true, 'update', NOW + 120_000],
    ['matching 304 whose fields forbid storing: drop', { etag: '"a"', 'cache-control': 'no-store' }, skip, true, 'drop', NOW],
    ['matching 304 on a cache that may not write: serve once, keep the stored one', { etag: '"a"' }, skip, false, 'serve-only', NOW],
    // §4.1: the entry was keyed and selected by its old Vary (found by test/hostile-headers-e2e.test.ts).
    ['matching 304 that adds a Vary: serve once, drop', { etag: '"a"', vary: 'x-v' }, { ...store, vary: ['x-v'] }, true, 'drop', NOW],
  ])('%s', (_name, notModified, decision, writable, action, expiresAt) => {
    const r = decideRevalidated({ stored: stored, notModified, decide: () => decision, writable, now: NOW })
    expect(r.action).toBe(action)
    if (r.action === 'retry') return
    expect(r.meta.expiresAt).toBe(expiresAt)
    expect(r.meta.createdAt).toBe(NOW)
    expect(r.meta.headers['content-length']).toBe('5')
  })
  it('§4.1 a matching 304 that changes the Vary drops the entry; the same Vary updates it', () => {
    const variant = meta({ headers: { etag: '"a"', vary: 'x-v' }, vary: ['x-v'], requestHeaders: { 'x-v': '1' } })
    const changed = decideRevalidated({ stored: variant, notModified: { etag: '"a"', vary: 'accept' }, decide: () => ({ ...store, vary: ['accept'] }), writable: true, now: NOW })
    expect(changed.action).toBe('drop')
    const same = decideRevalidated({ stored: variant, notModified: { etag: '"a"', vary: 'X-V' }, decide: () => ({ ...store, vary: ['x-v'] }), writable: true, now: NOW })
    expect(same.action).toBe('update')
  })
})

describe('chooseExpiry: the expiry precedence, one row per step', () => {
  const NOW = 1_000_000
  const base: ExpiryInput = { cacheControl: true, configured: undefined, noCache: false, freshness: { explicit: false, lifetime: 0, initialAge: 0 }, requestMaxAge: undefined, now: NOW }
  it.each<[string, Partial<ExpiryInput>, number | null, boolean]>([
    ['§5.2.2.4 response no-cache beats everything', { noCache: true, freshness: { explicit: true, lifetime: 60, initialAge: 0 }, configured: 600 }, NOW, false],
    ['§4.2.1 response lifetime minus its Age beats request max-age and expireAfter', { freshness: { explicit: true, lifetime: 60, initialAge: 10 }, requestMaxAge: 5, configured: 600 }, NOW + 50_000, false],
    ['request max-age beats expireAfter', { requestMaxAge: 5, configured: 600 }, NOW + 5_000, false],
    ['expireAfter beats the heuristic', { configured: 600, freshness: { explicit: false, lifetime: 99, initialAge: 0 } }, NOW + 600_000, false],
    ['§4.2.2 heuristic last', { freshness: { explicit: false, lifetime: 99, initialAge: 0 } }, NOW + 99_000, true],
    ['cacheControl off: expireAfter', { cacheControl: false, configured: 600, freshness: undefined }, NOW + 600_000, false],
    ['cacheControl off, nothing configured: never expires', { cacheControl: false, freshness: undefined }, null, false],
  ])('%s', (_name, input, expiresAt, heuristic) => {
    const c = chooseExpiry({ ...base, ...input })
    expect(c.expiresAt).toBe(expiresAt)
    expect(c.heuristic).toBe(heuristic)
  })
  it('per-request expireAfter beats the URL\'s settings', () => {
    expect(configuredExpiry({ expireAfter: 10 }, 600)).toBe(10)
    expect(configuredExpiry({}, 600)).toBe(600)
  })
})

describe('headers kept, Cache-Status appended', () => {
  it('§3.1: hop-by-hop fields and those Connection names are not stored', () => {
    expect(stripHopByHop({ connection: 'x-conn', 'x-conn': '1', 'keep-alive': 't', 'transfer-encoding': 'chunked', etag: '"a"' })).toEqual({ etag: '"a"' })
  })
  it.each<[string, string | string[] | undefined, string]>([
    ['alone', undefined, 'fetchcache; hit'],
    ['after an upstream cache', 'cdn; hit', 'cdn; hit, fetchcache; hit'],
    ['after several', ['a; fwd=miss', 'b; hit'], 'a; fwd=miss, b; hit, fetchcache; hit'],
  ])('RFC 9211 §2: %s', (_name, existing, expected) => {
    expect(appendCacheStatus(existing, 'fetchcache; hit')).toBe(expected)
  })
})

describe('fast path reach', () => {
  it.each<[string, { method: string; hasBody: boolean; aborted: boolean }, boolean]>([
    ['GET', { method: 'GET', hasBody: false, aborted: false }, true],
    ['HEAD', { method: 'HEAD', hasBody: false, aborted: false }, true],
    ['POST', { method: 'POST', hasBody: false, aborted: false }, false],
    ['a body', { method: 'GET', hasBody: true, aborted: false }, false],
    ['an aborted signal (fetch must reject)', { method: 'GET', hasBody: false, aborted: true }, false],
  ])('may try %s: %s', (_name, r, expected) => {
    expect(fastPathMayTry(r)).toBe(expected)
  })
  it.each<[string, number, boolean]>([
    ['a 200', 200, true],
    ['a 301 (fetch follows redirects itself)', 301, false],
    ['a 308', 308, false],
  ])('may serve %s', (_name, status, expected) => {
    expect(fastPathMayServe({ action: 'serve', reason: '', stale: false, ttl: 1 }, status, false)).toBe(expected)
    expect(fastPathMayServe({ action: 'serve', reason: '', stale: false, ttl: 1 }, status, true)).toBe(false)
    expect(fastPathMayServe({ action: 'revalidate', reason: '', ttl: 0, fwd: 'stale' }, status, false)).toBe(false)
  })
})

describe('forbidsOrigin: may a request not reach the origin (RFC 9111 §5.2.1.7)', () => {
  it.each<[string, string | undefined, boolean, boolean]>([
    ['nothing asked', undefined, false, false],
    ['only-if-cached', 'only-if-cached', false, true],
    ['only-if-cached among others, any case', 'max-age=0, Only-If-Cached', false, true],
    ['the onlyIfCached option or fetch mode', undefined, true, true],
    ['a look-alike directive', 'not-only-if-cached-really', false, false],
    ['no-cache is not offline', 'no-cache', false, false],
  ])('%s', (_name, cacheControl, onlyIfCached, expected) => {
    const { cc } = requestDirectives(cacheControl === undefined ? {} : { 'cache-control': cacheControl })
    expect(forbidsOrigin(cc, { onlyIfCached })).toBe(expected)
  })
})

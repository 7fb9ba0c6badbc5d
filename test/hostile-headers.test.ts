/**
 * Hostile headers, pure rules (issue 11): random Cache-Control, Expires, Date, Age, Vary, ETag
 * and Last-Modified values (test/helpers/hostile.ts) through src/rules. Properties: nothing
 * throws, and nothing RFC 9111 forbids is decided — a no-store response stored (§5.2.2.5), a
 * Vary `*` / malformed / mismatched response selected (§4.1), a no-cache response served
 * unvalidated (§5.2.2.4), a response fresher than its max-age / Expires allows (§4.2.1, §5.3).
 * Seeded and capped, so CI is repeatable; fast-check prints the seed and the shrunk case.
 * End to end through a real origin: test/hostile-headers-e2e.test.ts.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseCacheControl } from '../src/rules/cache-control.js'
import { decideRead, requestDirectives } from '../src/rules/decide-read.js'
import { decideWrite, type WriteDecision } from '../src/rules/decide-write.js'
import { freshness } from '../src/rules/freshness.js'
import { parseHttpDate } from '../src/rules/http-date.js'
import { notModifiedMatches, validatorHeaders } from '../src/rules/policy.js'
import { selectable, varyMatches, varyNames } from '../src/rules/vary.js'
import { resolveSettings } from '../src/config/options.js'
import type { EntryMeta } from '../src/backends/contract.js'
import { allowedFreshness, cacheControl, dateValue, directivesOf, etag, forbidsStore, forms, type Hostile, headerJunk, headersOf, hostile, ownFreshness, vary } from './helpers/hostile.js'

const NOW = Date.UTC(2026, 5, 15, 12)
const SEED = 20261202
const RUNS = { seed: SEED, numRuns: 1000 }

/**
 * Counts the runs of a property that reach its assertion (past its `if (…) return`), so that a
 * generator that stops producing the interesting case fails the test instead of passing empty.
 */
function reached(): { hit: () => void; atLeast: (share: number) => void } {
  let n = 0
  return { hit: () => void n++, atLeast: (share) => expect(n).toBeGreaterThanOrEqual(RUNS.numRuns * share) }
}
const URL_A = 'http://example.com/a'
const SETTINGS = resolveSettings({})

function write(h: Hostile, req: Record<string, string> = {}, now = NOW): WriteDecision {
  return decideWrite({ method: 'GET', url: URL_A, requestHeaders: req, status: h.status, headers: headersOf(h), settings: SETTINGS, options: {}, now })
}

/** The entry the pipeline would write for a store decision (src/pipeline/store.ts). */
function stored(h: Hostile, d: Extract<WriteDecision, { action: 'store' }>, req: Record<string, string> = {}): EntryMeta {
  return {
    v: 1, kind: 'response', key: 'k', method: 'GET', url: URL_A, status: h.status, statusText: '', headers: headersOf(h), requestHeaders: req,
    vary: d.vary, createdAt: NOW, expiresAt: d.expiresAt, initialAge: d.initialAge, staleIfErrorUntil: d.staleIfErrorUntil,
    staleWhileRevalidateUntil: d.staleWhileRevalidateUntil, mustRevalidate: d.mustRevalidate, size: 0,
  }
}

/** Request Cache-Control a client may send (read modes, such as force-cache, are left out: they ask for stale). */
const requestCc = fc.option(fc.constantFrom('no-cache', 'max-age=0', 'max-age=10', 'min-fresh=5', 'only-if-cached', 'MAX-AGE=bad', 'no-store'), { nil: undefined })

describe('hostile headers: pure rules never throw', () => {
  it('parseHttpDate reads a generated date as the instant it was built from, and an invalid one as nothing', () => {
    fc.assert(fc.property(dateValue(NOW, 20000), (d) => {
      expect(parseHttpDate(d.text, NOW)).toBe(d.ms)
    }), { seed: SEED, numRuns: 2000 })
  })

  it('parseHttpDate reads any four-digit year (RFC 9110 §5.6.7 year = 4DIGIT), 0000 to 9999', () => {
    const any = fc.date({ min: new Date('0000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
    fc.assert(fc.property(any, fc.constantFrom('imf', 'asctime') as fc.Arbitrary<'imf' | 'asctime'>, (d, form) => {
      const ms = Math.floor(d.getTime() / 1000) * 1000
      expect(parseHttpDate(forms(ms)[form], NOW)).toBe(ms)
    }), { seed: SEED, numRuns: 2000 })
  })

  it('parseCacheControl, varyNames, freshness, validators: no throw on any value', () => {
    fc.assert(fc.property(hostile(NOW), headerJunk, (h, junk) => {
      const headers = headersOf(h)
      parseCacheControl(h.cacheControl)
      parseCacheControl(junk)
      varyNames(headers)
      varyNames({ vary: junk })
      const f = freshness(h.status, headers, NOW)
      expect(Number.isFinite(f.lifetime) && f.lifetime >= 0).toBe(true)
      expect(Number.isFinite(f.initialAge) && f.initialAge >= 0).toBe(true)
      notModifiedMatches(headers, { etag: junk })
      notModifiedMatches({ etag: junk, 'last-modified': junk }, headers)
    }), RUNS)
  })

  it('decideWrite, then decideRead and the validators of what it stored: no throw', () => {
    // The request's own Cache-Control is as hostile as the response's.
    fc.assert(fc.property(hostile(NOW), fc.option(cacheControl, { nil: undefined }), fc.integer({ min: 0, max: 10 ** 7 }), (h, cc, later) => {
      const d = write(h, cc === undefined ? {} : { 'cache-control': cc })
      if (d.action !== 'store') return
      const entry = stored(h, d)
      const { cc: rcc, pragmaNoCache } = requestDirectives(cc === undefined ? {} : { 'cache-control': cc })
      decideRead({ entry, cc: rcc, pragmaNoCache, modes: {}, now: NOW + later })
      const v = validatorHeaders(entry, {}, NOW + later)
      for (const value of Object.values(v)) expect(typeof value).toBe('string')
    }), { seed: SEED, numRuns: 300 })
  })
})

describe('hostile headers: nothing RFC 9111 forbids', () => {
  it('§5.2.2.5 a response with no-store, in any case, is never stored (unless must-understand, §5.2.2.3)', () => {
    fc.assert(fc.property(hostile(NOW), (h) => {
      if (forbidsStore(h)) expect(write(h).action).toBe('skip')
    }), RUNS)
  })

  it('§5.2.2.5 the same with no-store forced in among the other directives', () => {
    const withNoStore = fc.tuple(hostile(NOW), fc.constantFrom('no-store', 'NO-STORE', 'No-Store', ' no-store ', 'no-store=1'), fc.boolean())
    fc.assert(fc.property(withNoStore, ([h, ns, first]) => {
      const cc = h.cacheControl === undefined || h.cacheControl === '' ? ns : first ? `${ns}, ${h.cacheControl}` : `${h.cacheControl}, ${ns}`
      const c = { ...h, cacheControl: cc }
      if (!directivesOf(cc).has('must-understand')) expect(write(c).action).toBe('skip')
    }), RUNS)
  })

  it('§5.2.1.5 a request with no-store never gets the response stored', () => {
    fc.assert(fc.property(hostile(NOW), fc.constantFrom('no-store', 'NO-STORE', 'max-age=5, no-store'), (h, cc) => {
      expect(write(h, { 'cache-control': cc }).action).toBe('skip')
    }), RUNS)
  })

  it('§4.1 Vary `*` or a malformed Vary is never stored, and a stored entry with one is never selected', () => {
    const malformed = fc.constantFrom('*', 'x-v, *', 'accept language', 'x-v;q=1', '"x-v"', 'x-v/1', 'a b')
    fc.assert(fc.property(hostile(NOW), malformed, (h, v) => {
      expect(write({ ...h, vary: v }).action).toBe('skip')
      // An entry written before malformed values were read as `*` keeps the raw names.
      const raw = v.split(',').map((s) => s.trim().toLowerCase())
      const entry: EntryMeta = { ...stored(h, { action: 'store', reason: '', expiresAt: null, initialAge: 0, staleIfErrorUntil: 0, staleWhileRevalidateUntil: 0, mustRevalidate: false, vary: raw }), requestHeaders: {} }
      expect(selectable(entry, { method: 'GET', url: URL_A, headers: {} })).toBe(false)
    }), RUNS)
  })

  it('§4.1 a request whose Vary-named field differs from the stored one is never selected', () => {
    const token = fc.stringMatching(/^[a-z0-9]{1,6}$/)
    const field = fc.constantFrom('accept', 'accept-language', 'x-v', 'user-agent')
    fc.assert(fc.property(vary, field, token, fc.option(token, { nil: undefined }), fc.constantFrom('', ' ', ', '), (v, name, a, b, ws) => {
      const names = varyNames({ vary: `${v}, ${name}` })
      const storedReq = { [name]: a }
      // Absent, or another token however padded: a different value after §4.1 normalisation.
      const request: Record<string, string> = b === undefined ? {} : { [name]: ws + (b === a ? `${b}x` : b) + ws }
      expect(varyMatches(names, storedReq, request)).toBe(false)
      const d = write({ status: 200, cacheControl: 'max-age=60', pragma: undefined, expires: undefined, date: undefined, lastModified: undefined, age: undefined, vary: `${v}, ${name}`, etag: undefined }, storedReq)
      if (d.action !== 'store') return
      expect(selectable({ ...stored({ status: 200 } as Hostile, d), requestHeaders: storedReq }, { method: 'GET', url: URL_A, headers: request })).toBe(false)
    }), RUNS)
  })

  it('§5.2.2.4 a stored response with no-cache (or §5.4 Pragma alone) is never served without revalidation', () => {
    const stores = reached()
    const noCache = fc.tuple(hostile(NOW), fc.constantFrom('no-cache', 'NO-CACHE', 'no-cache="set-cookie"', ' No-Cache'), fc.boolean())
    fc.assert(fc.property(noCache, requestCc, fc.integer({ min: 0, max: 10 ** 8 }), ([h, nc, pragma], cc, later) => {
      const c: Hostile = pragma ? { ...h, cacheControl: undefined, pragma: nc.trim() } : { ...h, cacheControl: h.cacheControl ? `${h.cacheControl}, ${nc}` : nc }
      const d = write(c)
      if (d.action !== 'store') return
      stores.hit()
      const { cc: rcc, pragmaNoCache } = requestDirectives(cc === undefined ? {} : { 'cache-control': cc })
      // Even a request that takes any staleness (max-stale, §5.2.1.2): no-cache is must-revalidate.
      const anyStale = { cc: parseCacheControl(cc === undefined ? 'max-stale' : `${cc}, max-stale`), pragmaNoCache }
      for (const r of [{ cc: rcc, pragmaNoCache }, anyStale]) {
        const got = decideRead({ entry: stored(c, d), ...r, modes: {}, now: NOW + later })
        expect(['serve', 'serve-and-refresh']).not.toContain(got.action)
      }
    }), RUNS)
    stores.atLeast(0.1)
  })

  it('§4.2.1, §4.2.2, §5.3: freshness is what max-age, else Expires, else 10% since Last-Modified give; an invalid one gives none', () => {
    fc.assert(fc.property(hostile(NOW), (h) => {
      const f = freshness(h.status, headersOf(h), NOW)
      expect(Math.max(0, f.lifetime - f.initialAge)).toBeCloseTo(ownFreshness(h, NOW), 6)
      const allowed = allowedFreshness(h, NOW)
      const d = write(h)
      if (d.action === 'store' && d.expiresAt !== null) expect(d.expiresAt).toBeLessThanOrEqual(NOW + allowed * 1000 + 1e-3)
    }), RUNS)
  })

  it('§4.2: once the oracle says stale, decideRead never serves the entry as fresh', () => {
    const stale = reached()
    fc.assert(fc.property(hostile(NOW), fc.integer({ min: 0, max: 10 ** 8 }), (h, later) => {
      const allowed = allowedFreshness(h, NOW)
      const d = write(h)
      if (d.action !== 'store' || later < allowed * 1000) return
      stale.hit()
      const got = decideRead({ entry: stored(h, d), cc: new Map(), pragmaNoCache: false, modes: {}, now: NOW + later })
      expect(got.action === 'serve' && !got.stale).toBe(false)
    }), RUNS)
    stale.atLeast(0.1)
  })

  it('§4.3.4 a 304 with a strong ETag refreshes only an entry with the same strong ETag', () => {
    // The risky pairs are near ones: the same value weak, padded, or unrelated.
    const pair = etag.chain((b) => fc.tuple(fc.oneof(fc.constant(b), fc.constant(`W/${b.trim()}`), fc.constant(` ${b} `), etag), fc.constant(b)))
    const near = reached()
    fc.assert(fc.property(pair, ([a, b]) => {
      const m = notModifiedMatches({ etag: a }, { etag: b })
      if (a !== b && a.trim() !== b.trim() && a.trim().replace(/^W\//, '') === b.trim().replace(/^W\//, '')) near.hit()
      if (!b.trim().startsWith('W/') && m) expect(a.trim()).toBe(b.trim())
    }), RUNS)
    near.atLeast(0.1)
  })
})

describe('hostile headers: the oracle agrees with hand-checked rows', () => {
  it.each([
    ['max-age=bad, max-age=60', 0],
    ['MAX-AGE="60"', 60],
    ['max-age=60, max-age=3600', 60],
    ['max-age = 1e3', 0],
  ] as const)('%s → %d', (cc, want) => {
    expect(allowedFreshness({ status: 200, cacheControl: cc } as Hostile, NOW)).toBe(want)
  })
})

/**
 * decideRead: what to do with a request, given what the cache holds. Pure: a function of
 * (request directives, stored entry, settings, per-request options, now). Every front end only
 * switches on the returned action; every rule cites RFC 9111.
 */
import { type Directives, parseCacheControl, seconds } from './cache-control.js'
import { hasValidator } from './policy.js'
import { answerableRange } from './range.js'
import type { EntryMeta } from '../backends/contract.js'

/** The per-request modes, from options and from the Fetch standard's `cache` modes. */
export interface ReadModes {
  /** Skip the cache for reading; store the response (`forceRefresh`, fetch `reload`). */
  forceRefresh?: boolean
  /** Revalidate even if fresh (`refresh`, fetch `no-cache`). */
  refresh?: boolean
  /** Use any stored response, stale or not; fetch on a miss (fetch `force-cache`). */
  staleOk?: boolean
  /** Use any stored response; 504 on a miss (`onlyIfCached`, fetch `only-if-cached`). */
  onlyIfCached?: boolean
  /** The cache ignores the server's caching headers (`cacheControl: false`): `immutable` too. */
  ignoreResponseDirectives?: boolean
}

export interface ReadInput {
  entry: EntryMeta | undefined
  /** The request's Cache-Control directives. */
  cc: Directives
  /** `Pragma: no-cache` without Cache-Control (RFC 9111 §5.4). */
  pragmaNoCache: boolean
  modes: ReadModes
  now: number
}

export type ReadAction =
  | { action: 'serve'; reason: string; stale: boolean; ttl: number }
  | { action: 'serve-and-refresh'; reason: string; ttl: number }
  | { action: 'revalidate'; reason: string; ttl: number; fwd: 'request' | 'stale' }
  | { action: 'fetch'; reason: string; fwd: 'uri-miss' | 'vary-miss' | 'request' | 'stale' }
  | { action: 'gateway-timeout'; reason: string }

/** Current age (RFC 9111 §4.2.3): the age it arrived with plus the time it has been stored. */
export function currentAge(entry: EntryMeta, now: number): number {
  return entry.initialAge + Math.max(0, now - entry.createdAt) / 1000
}

/** Seconds of freshness left (negative once stale; Infinity for NEVER_EXPIRE). */
export function remainingTtl(entry: EntryMeta, now: number): number {
  return entry.expiresAt === null ? Infinity : (entry.expiresAt - now) / 1000
}

/** Past its freshness lifetime now (RFC 9111 §4.2): remainingTtl(entry, now) <= 0. */
export function isExpired(entry: EntryMeta, now: number): boolean {
  return entry.expiresAt !== null && entry.expiresAt <= now
}

export function decideRead({ entry, cc, pragmaNoCache, modes, now }: ReadInput): ReadAction {
  const onlyIfCachedDirective = cc.has('only-if-cached')
  if (entry === undefined) {
    // RFC 9111 §5.2.1.7: only-if-cached and nothing stored → 504 (Gateway Timeout).
    if (forbidsOrigin(cc, modes)) return { action: 'gateway-timeout', reason: 'only-if-cached: not stored' }
    return { action: 'fetch', reason: 'not stored', fwd: 'uri-miss' }
  }
  const ttl = remainingTtl(entry, now)
  if (modes.onlyIfCached) return { action: 'serve', reason: 'only-if-cached', stale: ttl <= 0, ttl }
  // RFC 8246 immutable: a fresh immutable response is not revalidated on a reload (request
  // no-cache, Pragma, max-age=0, fetch "no-cache"); only a forced refresh (fetch "reload",
  // forceRefresh) goes to the origin: "unless explicitly overridden by the user".
  // Read only when it could matter (a reload, or a request max-age): a plain hit parses nothing.
  const immutable = () => !modes.forceRefresh && !modes.ignoreResponseDirectives && ttl > 0 && isImmutable(entry)
  const wantsOrigin = asksForOrigin(cc, pragmaNoCache, modes) && !immutable()
  // §5.2.1.7: only-if-cached forbids contacting the origin, so a request that must (no-cache,
  // a forced refresh) cannot be satisfied from the store either.
  if (wantsOrigin && onlyIfCachedDirective) return { action: 'gateway-timeout', reason: 'only-if-cached, but the request needs the origin' }
  if (modes.forceRefresh) return { action: 'fetch', reason: 'forceRefresh', fwd: 'request' }
  const validator = hasValidator(entry.headers)
  // RFC 9211 §2.2 fwd: `request` when the stored response was fresh but the request did not
  // allow its use (no-cache, max-age, min-fresh, a refresh), `stale` when it was stale.
  const fwd = ttl > 0 ? 'request' : 'stale'
  // RFC 9111 §5.2.1.4 request no-cache and §5.4 Pragma: no-cache: validate before use.
  if (wantsOrigin) {
    return validator
      ? { action: 'revalidate', reason: 'request asks to revalidate', ttl, fwd }
      : { action: 'fetch', reason: 'request asks to revalidate; no validator', fwd }
  }
  let fresh = ttl > 0
  let why = 'fresh'
  const maxAge = seconds(cc, 'max-age')
  // §5.2.1.1 max-age: the client will not accept a response older than this.
  if (fresh && maxAge !== undefined && currentAge(entry, now) > maxAge && !immutable()) {
    fresh = false
    why = `older than request max-age ${maxAge}`
  }
  const minFresh = seconds(cc, 'min-fresh')
  // §5.2.1.3 min-fresh: the response must stay fresh for at least this long.
  if (fresh && minFresh !== undefined && ttl < minFresh) {
    fresh = false
    why = `fresh for less than request min-fresh ${minFresh}`
  }
  if (fresh) return { action: 'serve', reason: 'fresh', stale: false, ttl }
  if (ttl > 0) why = why === 'fresh' ? 'stale' : why
  else why = 'expired'
  // Fetch "force-cache": any stored response, stale or not.
  if (modes.staleOk) return { action: 'serve', reason: `${why}; force-cache`, stale: true, ttl }
  // §5.2.1.2 max-stale, unless the response forbids serving stale (§5.2.2.2 must-revalidate).
  const maxStale = cc.get('max-stale')
  if (maxStale !== undefined && !entry.mustRevalidate) {
    const limit = maxStale === true ? Infinity : (seconds(cc, 'max-stale') ?? 0)
    if (-ttl <= limit) return { action: 'serve', reason: `${why}; within request max-stale`, stale: true, ttl }
  }
  // §5.2.1.7 only-if-cached: a stored response that satisfies the request, else 504.
  if (onlyIfCachedDirective) return { action: 'gateway-timeout', reason: `only-if-cached: ${why}` }
  // RFC 5861 §3 stale-while-revalidate: serve stale now, refresh in the background.
  if (!entry.mustRevalidate && now < entry.staleWhileRevalidateUntil && ttl <= 0) {
    return { action: 'serve-and-refresh', reason: `${why}; within stale-while-revalidate`, ttl }
  }
  // §4.3: a stale response with a validator is revalidated; without one it is fetched anew.
  if (validator) return { action: 'revalidate', reason: why, ttl, fwd }
  return { action: 'fetch', reason: `${why}; no validator`, fwd }
}

function isImmutable(entry: EntryMeta): boolean {
  const v = entry.headers['cache-control']
  return v !== undefined && parseCacheControl(v).has('immutable')
}

/**
 * RFC 5861 §4 stale-if-error: may this stale entry stand in for an error? An error is a network
 * failure (`status` undefined) or "a 500, 502, 503, or 504 HTTP response status code".
 */
export function staleIfErrorAllows(entry: EntryMeta, now: number, status?: number): boolean {
  if (status !== undefined && status !== 500 && status !== 502 && status !== 503 && status !== 504) return false
  // RFC 9111 §4.2.4: must-revalidate / no-cache forbid serving it stale.
  if (entry.mustRevalidate) return false
  return entry.staleIfErrorUntil === null || now < entry.staleIfErrorUntil
}

/**
 * The request's own caching directives: Cache-Control, and Pragma: no-cache when there is no
 * Cache-Control (RFC 9111 §5.4).
 */
export function requestDirectives(headers: Readonly<Record<string, string>>): { cc: Directives; pragmaNoCache: boolean } {
  const value = headers['cache-control']
  return { cc: parseCacheControl(value), pragmaNoCache: value === undefined && /no-cache/i.test(headers.pragma ?? '') }
}

/**
 * The request insists on the origin (no-cache §5.2.1.4, Pragma §5.4, refresh/forceRefresh):
 * it is never answered from storage unvalidated, nor folded into another request.
 */
export function asksForOrigin(cc: Directives, pragmaNoCache: boolean, modes: ReadModes): boolean {
  return modes.forceRefresh === true || modes.refresh === true || cc.has('no-cache') || pragmaNoCache
}

/**
 * May the request not reach the origin at all? RFC 9111 §5.2.1.7 only-if-cached (the request
 * directive, or the `onlyIfCached` option / fetch mode). Asked before a key exists too: a
 * Client's first path-only request is then never sent (front/interceptor.ts).
 */
export function forbidsOrigin(cc: Directives, modes: ReadModes): boolean {
  return modes.onlyIfCached === true || cc.has('only-if-cached')
}

/** Request fields that make a request conditional or partial. */
const CONDITIONAL = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range']

/**
 * Does the cache stay out of this request altogether? A method the user did not allow, or a
 * conditional or range request the client makes itself: RFC 9111 §4.3.2 lets a cache answer
 * those from storage, but forwarding them is always correct and keeps 304/206 handling with
 * the client that asked.
 */
export function bypassReason(method: string, headers: Readonly<Record<string, string>>, allowableMethods: ReadonlySet<string>): string | undefined {
  if (!allowableMethods.has(method)) return `method ${method} not cacheable`
  for (const name of CONDITIONAL) {
    // A single byte range of a GET may be cut from a stored response (rules/range.ts, RFC 9111 §3.4).
    if (name === 'range' && answerableRange(method, headers) !== undefined) continue
    if (headers[name] !== undefined) return `request carries ${name}`
  }
  return undefined
}

/**
 * From when (ms) a stored entry can serve no request at all, and may be evicted before any
 * other: expired (§4.2), past its stale-if-error and stale-while-revalidate windows (RFC 5861),
 * and with no validator. An expired entry with an ETag or Last-Modified stays useful: it can be
 * revalidated and answered by a 304 instead of a full transfer (RFC 9111 §4.3.1).
 * null: never (no expiry, stale-if-error without limit, or a validator).
 */
export function uselessAt(meta: EntryMeta): number | null {
  if (meta.expiresAt === null || meta.staleIfErrorUntil === null || hasValidator(meta.headers)) return null
  return Math.max(meta.expiresAt, meta.staleIfErrorUntil, meta.staleWhileRevalidateUntil)
}

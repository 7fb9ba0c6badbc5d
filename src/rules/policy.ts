/**
 * The one module that wraps http-cache-semantics. It answers the questions whose rules the
 * library already encodes (freshness lifetime with heuristics, Age, validators); the decision
 * functions in decide-*.ts turn the answers into actions.
 */
import { createRequire } from 'node:module'
import type CachePolicy from 'http-cache-semantics'
import { headerValue, parseCacheControl } from './cache-control.js'
import type { EntryMeta, HeaderMap } from '../backends/contract.js'

/**
 * CachePolicy with an injected clock, so a faked Date.now and our own `now` agree. Loaded on
 * first use (a miss or a revalidation): a process that only serves hits never pays its import.
 */
interface Clocked {
  new (req: CachePolicy.Request, res: CachePolicy.Response, options: CachePolicy.Options): CachePolicy
  clock: number
}
let Policy: Clocked | undefined
function clocked(): Clocked {
  if (Policy) return Policy
  const Base = createRequire(import.meta.url)('http-cache-semantics') as typeof CachePolicy
  Policy = class ClockedPolicy extends Base {
    static clock = 0
    now(): number {
      return ClockedPolicy.clock
    }
  }
  return Policy
}

function plain(headers: HeaderMap): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) out[k] = Array.isArray(v) ? v.join(', ') : v
  return out
}

const UNDERSTOOD = new Set([200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501])

function policyFor(method: string, url: string, requestHeaders: Record<string, string>, status: number, headers: HeaderMap, now: number): CachePolicy {
  const ClockedPolicy = clocked()
  ClockedPolicy.clock = now
  return new ClockedPolicy(
    // Methods the user allowed (POST included) are read as GET: storability by method is the
    // user's `allowableMethods` decision, not http-cache-semantics' default.
    { method: method === 'HEAD' ? 'HEAD' : 'GET', url, headers: requestHeaders },
    // Storability is decided in decide-write.ts; give the library a status it understands so
    // that it computes a lifetime for any status the user allowed.
    { status: UNDERSTOOD.has(status) ? status : 200, headers: plain(headers) },
    { shared: false },
  )
}

export interface Freshness {
  /** The response states its own lifetime: max-age or Expires (RFC 9111 §4.2.1). */
  explicit: boolean
  /** Freshness lifetime in seconds, explicit or heuristic (§4.2.2). */
  lifetime: number
  /** Age the response had on arrival, from its Age header (§4.2.3), in seconds. */
  initialAge: number
}

export function freshness(method: string, url: string, requestHeaders: Record<string, string>, status: number, headers: HeaderMap, now: number): Freshness {
  const policy = policyFor(method, url, requestHeaders, status, headers, now)
  const cc = parseCacheControl(headers['cache-control'])
  const explicit = cc.has('max-age') || headers.expires !== undefined
  // maxAge() is 0 for responses it deems unstorable (e.g. 200s to methods it would not cache);
  // the caller has already decided storability, so only the lifetime matters here.
  return { explicit, lifetime: policy.maxAge(), initialAge: policy.age() }
}

export function hasValidator(headers: HeaderMap): boolean {
  return headers.etag !== undefined || headers['last-modified'] !== undefined
}

/**
 * Conditional request headers for revalidating a stored entry (RFC 9111 §4.3.1): If-None-Match
 * with the entity tag, If-Modified-Since with Last-Modified, weak validators only where allowed.
 */
export function validatorHeaders(meta: EntryMeta, requestHeaders: Record<string, string>, now: number): Record<string, string> {
  const policy = policyFor(meta.method, meta.url, meta.requestHeaders, meta.status, meta.headers, now)
  const all = policy.revalidationHeaders({ method: meta.method, url: meta.url, headers: requestHeaders })
  const out: Record<string, string> = {}
  const inm = all['if-none-match']
  const ims = all['if-modified-since']
  if (typeof inm === 'string') out['if-none-match'] = inm
  if (typeof ims === 'string') out['if-modified-since'] = ims
  return out
}

/**
 * Does a 304 refer to the stored response? RFC 9111 §4.3.4: a strong ETag must match; with
 * weak ETags the weak comparison; else Last-Modified; with no validator on either side, yes.
 */
export function notModifiedMatches(stored: HeaderMap, fresh: HeaderMap): boolean {
  const a = headerValue(stored, 'etag')?.trim()
  const b = headerValue(fresh, 'etag')?.trim()
  const isWeak = (v: string) => v.startsWith('W/')
  const opaque = (v: string) => v.replace(/^W\//, '')
  if (b !== undefined) {
    if (a === undefined) return false
    // A strong validator selects only stored responses with the same strong validator;
    // a weak one uses the weak comparison (RFC 9110 §8.8.3.2).
    return isWeak(b) ? opaque(a) === opaque(b) : !isWeak(a) && a === b
  }
  const lmA = headerValue(stored, 'last-modified')
  const lmB = headerValue(fresh, 'last-modified')
  if (lmB !== undefined) return lmA === lmB
  // No validator in the 304: it selects the stored response only if that has none either.
  return a === undefined && lmA === undefined
}

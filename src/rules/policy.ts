/**
 * The one module that wraps http-cache-semantics, for the conditional request headers it builds
 * from a stored response (validators). Freshness and Age are computed in freshness.ts: the
 * library's readings of invalid values made responses fresh (see there).
 */
import { createRequire } from 'node:module'
import type CachePolicy from 'http-cache-semantics'
import { headerValue } from './cache-control.js'
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
 * Does a 304 to our own conditional request refer to the stored response we built the
 * conditions from? RFC 9111 §4.3.4: a strong ETag in the 304 must equal the stored one; a weak
 * one uses the weak comparison (RFC 9110 §8.8.3.2); a Last-Modified must equal the stored one.
 * A 304 with no validator at all refreshes the response its conditions came from.
 *
 * Deliberate deviation: §4.3.4's last bullet selects a stored response for a validator-less 304
 * only if that response has no validator either. But the request's If-None-Match /
 * If-Modified-Since came from exactly one stored response (one entry per key and variant), so
 * the 304 can only be about it; undici's cache, Chrome and requests-cache all reuse it. Without
 * this, every poll of a server that omits ETag from its 304s costs a second, unconditional request.
 */
export function notModifiedMatches(stored: HeaderMap, fresh: HeaderMap): boolean {
  const a = headerValue(stored, 'etag')?.trim()
  const b = headerValue(fresh, 'etag')?.trim()
  const isWeak = (v: string) => v.startsWith('W/')
  const opaque = (v: string) => v.replace(/^W\//, '')
  if (b !== undefined) {
    if (a === undefined) return false
    return isWeak(b) ? opaque(a) === opaque(b) : !isWeak(a) && a === b
  }
  const lmB = headerValue(fresh, 'last-modified')
  if (lmB !== undefined) return headerValue(stored, 'last-modified') === lmB
  return true
}

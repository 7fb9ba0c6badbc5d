/**
 * Which requests `createCachedFetch`'s fast path may answer from storage without entering
 * undici's fetch machinery. Everything it declines takes the full path (the interceptor under
 * Node's fetch), which applies the same rules; the fast path only has to be sure it would give
 * the same answer.
 */
import type { ReadAction } from './decide-read.js'

/** Redirects are followed by fetch itself (Fetch standard, HTTP-redirect fetch), not served. */
const REDIRECT = new Set([301, 302, 303, 307, 308])

export interface FastRequest {
  method: string
  /** The request has a body (a bodiless GET/HEAD is the only kind answered here). */
  hasBody: boolean
  /** Its signal is already aborted: fetch must reject, so let fetch do it. */
  aborted: boolean
}

/** Before the lookup: GET and HEAD without a body (RFC 9110 §9.3.1-2; safe, keyed by URL). */
export function fastPathMayTry(r: FastRequest): boolean {
  return (r.method === 'GET' || r.method === 'HEAD') && !r.hasBody && !r.aborted
}

/**
 * After the decision: only a plain serve (fresh, or stale where the request allows it). A
 * revalidation, a refresh or a fetch needs the origin; a redirect needs fetch to follow it; a
 * range request is answered with a 206 cut from the stored body (rules/range.ts) by the
 * interceptor, RFC 9111 §3.4.
 */
export function fastPathMayServe(action: ReadAction, status: number, ranged: boolean): action is Extract<ReadAction, { action: 'serve' }> {
  return action.action === 'serve' && !REDIRECT.has(status) && !ranged
}

/**
 * Which status codes may be stored (RFC 9111 §3). By default, when the cache follows
 * Cache-Control and the user has not listed codes: every final status the cache understands,
 * provided the response states its freshness (max-age or Expires, §4.2.1) or the status is
 * heuristically cacheable (RFC 9110 §15.1: 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414,
 * 501), which §3 lets a cache store and give heuristic freshness (§4.2.2). A user's
 * `allowableCodes` is taken literally (requests-cache's meaning): exactly those codes.
 */
import type { AllowableCodes } from '../config/options.js'
import { HEURISTIC_STATUSES } from './freshness.js'

export type { AllowableCodes }

/**
 * Final statuses this cache will not store even when they state their freshness: 206 (a part
 * is not the whole response: parts are kept apart and combined into the 200 they make up,
 * §3.3–3.4, rules/partial.ts) and 304 (an answer to a
 * condition, never a response to replay, §4.3.4).
 */
const NEVER = new Set([206, 304])

export function statusStorable(codes: AllowableCodes, status: number, explicitFreshness: boolean): boolean {
  if (codes !== 'rfc') return codes.has(status)
  if (status < 200 || status > 599 || NEVER.has(status)) return false
  return explicitFreshness || HEURISTIC_STATUSES.has(status)
}

/**
 * Status codes whose caching requirements this cache implements (RFC 9111 §5.2.2.3, for
 * must-understand): the heuristically cacheable ones (RFC 9110 §15.1) and the redirects.
 */
const UNDERSTOOD = new Set([...HEURISTIC_STATUSES, 302, 303, 307])
UNDERSTOOD.delete(206)

export function understood(status: number): boolean {
  return UNDERSTOOD.has(status)
}

/**
 * Freshness lifetime and the age a response arrives with (RFC 9111 §4.2), computed here rather
 * than by http-cache-semantics: the library reads `immutable`'s millisecond default as seconds,
 * accepts `Age: -60` and `Age: 7200.0`, parses dates with `Date.parse` (so `Expires: 0` and
 * `Last-Modified: 0` are dates), and reads directive names case-sensitively while we do not.
 * Every rule below errs the same way: an invalid value never makes a response fresh.
 */
import { type Directives, parseCacheControl, seconds } from './cache-control.js'
import { parseHttpDate } from './http-date.js'
import type { HeaderMap } from '../backends/contract.js'

export interface Freshness {
  /** The response states its own lifetime: max-age or Expires (RFC 9111 §4.2.1), valid or not. */
  explicit: boolean
  /** Freshness lifetime in seconds, explicit or heuristic (§4.2.2). */
  lifetime: number
  /** Age the response had on arrival, from its Age header (§5.1), in seconds. */
  initialAge: number
}

/**
 * Status codes heuristically cacheable by default (RFC 9110 §15.1): only these get a heuristic
 * lifetime (RFC 9111 §4.2.2), unless the response says `public`.
 */
export const HEURISTIC_STATUSES: ReadonlySet<number> = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501])

/** §4.2.2: "10% of the interval since [Last-Modified]" is the typical heuristic. */
const HEURISTIC_FRACTION = 0.1

/** RFC 9111 §5.1 Age = delta-seconds: digits only. `7200.0`, `-60`, `1e3` are invalid and ignored. */
export function ageValue(headers: HeaderMap): number {
  const v = headers.age
  // Several Age lines: §4.2.1 allows the first or "stale"; the first is the one kept here.
  const first = Array.isArray(v) ? v[0] : v
  if (first === undefined) return 0
  const n = seconds(new Map([['age', first.trim()]]), 'age')
  return n ?? 0
}

export function freshness(status: number, headers: HeaderMap, now: number, cc: Directives = parseCacheControl(headers['cache-control'])): Freshness {
  const initialAge = ageValue(headers)
  // §4.2.1: max-age wins over Expires. A max-age whose value is not delta-seconds (`max-age=bad`,
  // a bare `max-age`) makes the response stale (§4.2.1: "considered stale"), never falls back.
  if (cc.has('max-age')) return { explicit: true, lifetime: seconds(cc, 'max-age') ?? 0, initialAge }
  if (headers.expires !== undefined) {
    // §5.3: "A cache recipient MUST interpret invalid date formats, especially the value '0',
    // as representing a time in the past (i.e., 'already expired')."
    const expires = parseHttpDate(headers.expires, now)
    if (expires === undefined) return { explicit: true, lifetime: 0, initialAge }
    // §4.2.1: Expires minus Date; an invalid or absent Date is replaced by the time of receipt
    // (RFC 9110 §6.6.1 lets a recipient do so; RFC 9111 §4.2.3 uses the receipt time).
    const date = parseHttpDate(headers.date, now) ?? now
    return { explicit: true, lifetime: Math.max(0, (expires - date) / 1000), initialAge }
  }
  return { explicit: false, lifetime: heuristic(status, headers, now, cc), initialAge }
}

/**
 * §4.2.2 heuristic freshness: 10% of the time since Last-Modified, for a heuristically
 * cacheable status or a `public` response; nothing when Last-Modified is not a valid date or is
 * not before Date (a Last-Modified of `0` once gave 2.7 years).
 */
function heuristic(status: number, headers: HeaderMap, now: number, cc: Directives): number {
  if (!HEURISTIC_STATUSES.has(status) && !cc.has('public')) return 0
  const lastModified = parseHttpDate(headers['last-modified'], now)
  if (lastModified === undefined) return 0
  const date = parseHttpDate(headers.date, now) ?? now
  return date > lastModified ? ((date - lastModified) / 1000) * HEURISTIC_FRACTION : 0
}

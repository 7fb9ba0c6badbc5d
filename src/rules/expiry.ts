/**
 * The expiry precedence, in one place. Two steps, both here:
 *
 * 1. What the user configured for a request (`configuredExpiry`): the per-request
 *    `expireAfter`, else the first matching `urlsExpireAfter` pattern, else `expireAfter`.
 * 2. When a stored response goes stale (`chooseExpiry`), with `cacheControl` on:
 *    response `no-cache` (stale at once, RFC 9111 §5.2.2.4), else the response's own lifetime
 *    (max-age or Expires, §4.2.1), else the request's max-age (requests-cache's precedence),
 *    else step 1, else heuristic freshness (§4.2.2). With `cacheControl` off: step 1, or never.
 */
import { DO_NOT_CACHE, type Expiry, expiresAtFor } from '../config/expiry.js'
import { matchesPattern } from '../util/glob.js'
import type { RequestOptions, Settings } from '../config/options.js'
import type { Freshness } from './freshness.js'

/** Step 1: the per-request expireAfter, else what the URL's settings say (settingsExpiry). */
export function configuredExpiry(options: Pick<RequestOptions, 'expireAfter'>, urlExpiry: Expiry | undefined): Expiry | undefined {
  return options.expireAfter !== undefined ? options.expireAfter : urlExpiry
}

/** The URL's part of step 1: urlsExpireAfter (first match), then expireAfter. Memoised per URL by the pipeline. */
export function settingsExpiry(url: string, settings: Pick<Settings, 'urlsExpireAfter' | 'expireAfter'>): Expiry | undefined {
  for (const [pattern, expiry] of settings.urlsExpireAfter) if (matchesPattern(url, pattern)) return expiry
  return settings.expireAfter
}

export interface ExpiryInput {
  cacheControl: boolean
  /** Step 1's answer; DO_NOT_CACHE has been handled before. */
  configured: Exclude<Expiry, typeof DO_NOT_CACHE> | undefined
  /** The response says no-cache (or Pragma: no-cache without Cache-Control, §5.4). */
  noCache: boolean
  freshness: Freshness | undefined
  /** The request's max-age directive, in seconds. */
  requestMaxAge: number | undefined
  now: number
}

export interface ExpiryChoice {
  /** ms since the epoch; null: never expires. */
  expiresAt: number | null
  /** Which rule chose it (for debug output). */
  reason: string
  /** Chosen by the heuristic (§4.2.2): only useful with a validator or a stale window. */
  heuristic: boolean
}

/** Step 2. */
export function chooseExpiry(i: ExpiryInput): ExpiryChoice {
  const { now, configured } = i
  if (!i.cacheControl || i.freshness === undefined) {
    if (configured === undefined) return { expiresAt: null, reason: 'cacheControl off: never expires', heuristic: false }
    return { expiresAt: expiresAtFor(configured, now), reason: 'cacheControl off: expireAfter', heuristic: false }
  }
  const f = i.freshness
  // §5.2.2.4 no-cache: store, revalidate before each use.
  if (i.noCache) return { expiresAt: now, reason: 'response no-cache: stored, revalidated on use', heuristic: false }
  // §4.2.1: max-age, else Expires − Date; minus the age it arrived with (§4.2.3).
  if (f.explicit) return { expiresAt: now + Math.max(0, f.lifetime - f.initialAge) * 1000, reason: `response freshness ${Math.round(f.lifetime)}s`, heuristic: false }
  if (i.requestMaxAge !== undefined) return { expiresAt: now + i.requestMaxAge * 1000, reason: `request max-age ${i.requestMaxAge}s`, heuristic: false }
  if (configured !== undefined) return { expiresAt: expiresAtFor(configured, now), reason: 'expireAfter', heuristic: false }
  // §4.2.2 heuristic freshness (10% of the time since Last-Modified), as http-cache-semantics computes it.
  return { expiresAt: now + Math.max(0, f.lifetime - f.initialAge) * 1000, reason: `heuristic freshness ${Math.round(f.lifetime)}s`, heuristic: true }
}

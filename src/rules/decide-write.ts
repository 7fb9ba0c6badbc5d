/**
 * decideWrite: may this response be stored, and until when is it fresh? A pure function of
 * (request, response, settings, now). Timestamps are computed once here, at write time, so the
 * read side and the backends never parse Cache-Control.
 */
import { headerValue, parseCacheControl, seconds } from './cache-control.js'
import { DO_NOT_CACHE } from '../config/expiry.js'
import type { RequestOptions, Settings } from '../config/options.js'
import { chooseExpiry, configuredExpiry, settingsExpiry } from './expiry.js'
import { hasValidator } from './policy.js'
import { type Freshness, freshness } from './freshness.js'
import { varyNames } from './vary.js'
import type { HeaderMap } from '../backends/contract.js'
import { statusStorable, understood } from './status.js'

export interface WriteInput {
  method: string
  /** Normalised URL (for urlsExpireAfter and the filter). */
  url: string
  requestHeaders: Record<string, string>
  status: number
  headers: HeaderMap
  settings: Settings
  options: RequestOptions
  now: number
}

export type WriteDecision =
  | {
      action: 'store'
      reason: string
      expiresAt: number | null
      initialAge: number
      staleIfErrorUntil: number | null
      staleWhileRevalidateUntil: number
      mustRevalidate: boolean
      vary: string[]
    }
  | { action: 'skip'; reason: string }

/**
 * `readOnly`: the cache is read and never written, by any path (store, 304 refresh, unsafe-method
 * invalidation, removal of a response that may no longer be stored). The one place it is read.
 */
export function writesAllowed(settings: Pick<Settings, 'readOnly'>): boolean {
  return !settings.readOnly
}

function window(directive: number | undefined, option: number, expiresAt: number | null): number | null {
  if (expiresAt === null) return null
  const s = Math.max(directive ?? 0, option)
  return s === Infinity ? null : s === 0 ? 0 : expiresAt + s * 1000
}

export function decideWrite(input: WriteInput): WriteDecision {
  const { settings, headers, status, now } = input
  const skip = (reason: string): WriteDecision => ({ action: 'skip', reason })
  if (!writesAllowed(settings)) return skip('read-only cache')
  if (!settings.allowableMethods.has(input.method)) return skip(`method ${input.method} not in allowableMethods`)
  const reqcc = parseCacheControl(input.requestHeaders['cache-control'])
  // RFC 9111 §5.2.1.5: no-store in the request forbids storing the response.
  if (reqcc.has('no-store')) return skip('request no-store')
  const configured = configuredExpiry(input.options, settingsExpiry(input.url, settings))
  if (configured === DO_NOT_CACHE) return skip('DO_NOT_CACHE')
  const rescc = settings.cacheControl ? parseCacheControl(headers['cache-control']) : new Map<string, string | true>()
  const explicitHeaders = rescc.has('max-age') || (settings.cacheControl && headers.expires !== undefined)
  // RFC 9111 §3: storable statuses (rules/status.ts).
  if (!statusStorable(settings.allowableCodes, status, explicitHeaders)) return skip(`status ${status} not in allowableCodes`)
  const vary = varyNames(headers)
  // RFC 9111 §4.1: "A stored response with a Vary header field value containing '*' always fails to match."
  if (vary.includes('*')) return skip('Vary: *')
  if (settings.cacheControl) {
    if (rescc.has('must-understand')) {
      // RFC 9111 §5.2.2.3 must-understand: store only if the status code's caching rules are
      // understood, and then in spite of no-store (which is there for caches that do not).
      if (!understood(status)) return skip(`must-understand: status ${status} not understood`)
    } else if (rescc.has('no-store')) {
      // RFC 9111 §5.2.2.5: no-store in the response.
      return skip('response no-store')
    }
    // §5.2.2.7 "private" binds shared caches only; this is a private cache, so it may store.
  }
  if (settings.filter && !settings.filter({ url: input.url, status, headers })) return skip('filter returned false')
  const length = Number(headerValue(headers, 'content-length'))
  if (length > settings.maxEntrySize) return skip(`Content-Length ${length} over maxEntrySize`)

  let initialAge = 0
  let mustRevalidate = false
  let noCache = false
  let f: Freshness | undefined
  if (settings.cacheControl) {
    f = freshness(status, headers, now, rescc)
    initialAge = f.initialAge
    // §5.2.2.4 no-cache (and §5.4 Pragma: no-cache without Cache-Control): store, revalidate before each use.
    noCache = rescc.has('no-cache') || (headers['cache-control'] === undefined && /no-cache/i.test(headerValue(headers, 'pragma') ?? ''))
    // §5.2.2.2 must-revalidate: never served stale once expired.
    mustRevalidate = noCache || rescc.has('must-revalidate')
  }
  const { expiresAt, reason, heuristic } = chooseExpiry({ cacheControl: settings.cacheControl, configured, noCache, freshness: f, requestMaxAge: seconds(reqcc, 'max-age'), now })
  // §4.2.2: a heuristic lifetime of zero with nothing to revalidate and no stale window is useless.
  if (heuristic && f!.lifetime <= 0 && !hasValidator(headers) && settings.staleIfError === 0) return skip('no freshness lifetime and no validator')
  const { staleIfErrorUntil, staleWhileRevalidateUntil } = staleWindows(expiresAt, headers, settings, mustRevalidate)
  return { action: 'store', reason, expiresAt, initialAge, staleIfErrorUntil, staleWhileRevalidateUntil, mustRevalidate, vary }
}

/**
 * Until when a stale copy may stand in for an error (RFC 5861 §4 stale-if-error) or be served
 * while it is refreshed (§3 stale-while-revalidate): the longer of the response's directive and
 * the option, past `expiresAt`. must-revalidate / no-cache close both (RFC 9111 §4.2.4).
 */
export function staleWindows(
  expiresAt: number | null,
  headers: HeaderMap,
  settings: Pick<Settings, 'cacheControl' | 'staleIfError' | 'staleWhileRevalidate'>,
  mustRevalidate: boolean,
): { staleIfErrorUntil: number | null; staleWhileRevalidateUntil: number } {
  if (mustRevalidate) return { staleIfErrorUntil: 0, staleWhileRevalidateUntil: 0 }
  const rescc = settings.cacheControl ? parseCacheControl(headers['cache-control']) : undefined
  const sie = rescc ? seconds(rescc, 'stale-if-error') : undefined
  const swr = rescc ? seconds(rescc, 'stale-while-revalidate') : undefined
  return {
    staleIfErrorUntil: window(sie, settings.staleIfError, expiresAt),
    staleWhileRevalidateUntil: window(swr, settings.staleWhileRevalidate, expiresAt) ?? Number.MAX_SAFE_INTEGER,
  }
}

/**
 * RFC 9111 §4.4: a non-error response to an unsafe method invalidates the target URI and the
 * Location and Content-Location URIs when they share its origin. The URIs to invalidate.
 */
export function invalidationTargets(href: string, status: number, headers: HeaderMap): string[] {
  if (status < 200 || status >= 400) return []
  const origin = new URL(href).origin
  const targets = [href]
  for (const name of ['location', 'content-location']) {
    const v = headerValue(headers, name)
    if (v === undefined) continue
    try {
      const u = new URL(v, href)
      if (u.origin === origin) targets.push(u.href)
    } catch {
      // An unparsable Location is the origin's problem, not a reason to fail the request.
    }
  }
  return targets
}

/**
 * RFC 9110 §9.3.3 (RFC 9111 §4): may this response to a POST of `href` answer later GETs of it?
 * A successful response (2xx) with explicit freshness (max-age or Expires, §4.2.1) and a
 * Content-Location that resolves to `href` itself. Storability is then decideWrite's, as a GET.
 */
export function postAnswersGet(href: string, status: number, headers: HeaderMap, now: number): boolean {
  if (status < 200 || status > 299) return false
  const location = headerValue(headers, 'content-location')
  if (location === undefined) return false
  let same: boolean
  try {
    same = new URL(location, href).href === new URL(href).href
  } catch {
    return false
  }
  return same && freshness(status, headers, now).explicit
}

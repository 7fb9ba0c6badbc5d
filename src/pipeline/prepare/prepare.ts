/**
 * Step 1 of the pipeline: turn a request into what the cache needs — its key, its normalised
 * URL, its read modes and the configured expiry — or decide that the cache stays out of it.
 */
import { bypassReason, type ReadModes } from '../../rules/decide-read.js'
import { configuredExpiry, settingsExpiry } from '../../rules/expiry.js'
import { DO_NOT_CACHE, type Expiry } from '../../config/expiry.js'
import type { RequestOptions, Settings } from '../../config/options.js'
import type { RequestInfoForKey } from '../../config/types.js'
import type { Memo } from '../../util/memo.js'
import { CREDENTIAL_HEADERS } from '../../rules/credentials.js'
import { requestKey } from './key.js'
import { extended } from '../../util/objects.js'

export interface Prepared {
  method: string
  /** The URL as requested (absolute). */
  href: string
  /** Normalised URL without ignored parameters. */
  url: string
  key: string
  /** Host of the URL, for per-host stats. */
  host: string
  headers: Record<string, string>
  options: RequestOptions
  modes: ReadModes
}

/** What the caller's context asks of this request: from withCacheDisabled/withCacheOptions and fetch's `cache` mode. */
export interface Scope {
  disabled?: boolean
  options?: RequestOptions
  modes?: ReadModes
}

export type Bypass = { bypass: true; reason: string; fwd: 'bypass' | 'method' }

/** What keying a request found, memoised per request identity. */
export interface Keyed {
  key: string
  url: string
  host: string
  /** urlsExpireAfter / expireAfter for this URL (rules/expiry.ts, step 1 without the per-request part). */
  expiry: Expiry | undefined
}

export interface PrepareContext {
  settings: Settings
  keys: Memo<string, Keyed>
  report(error: unknown): void
}

/** Key the request and decide whether the cache takes part at all. */
export function prepare(ctx: PrepareContext, request: RequestInfoForKey, scope: Scope | undefined): Prepared | Bypass {
  const { settings } = ctx
  const method = request.method
  const bypass = bypassReason(method, request.headers, settings.allowableMethods)
  if (bypass !== undefined) return { bypass: true, reason: bypass, fwd: settings.allowableMethods.has(method) ? 'bypass' : 'method' }
  const modes: ReadModes = { ...scope?.modes }
  const options = scope?.options ?? {}
  if (settings.onlyIfCached || options.onlyIfCached) modes.onlyIfCached = true
  if (options.refresh) modes.refresh = true
  if (options.forceRefresh) modes.forceRefresh = true
  const memo = memoKey(settings, request)
  let keyed = memo === undefined ? undefined : ctx.keys.get(memo)
  if (keyed === undefined) {
    try {
      const parts = requestKey(request, settings)
      keyed = extended(parts, { host: new URL(parts.url).host, expiry: settingsExpiry(parts.url, settings) })
    } catch (error) {
      ctx.report(error)
      return { bypass: true, reason: 'key function failed', fwd: 'bypass' }
    }
    if (memo !== undefined) ctx.keys.set(memo, keyed)
  }
  if (configuredExpiry(options, keyed.expiry) === DO_NOT_CACHE) return { bypass: true, reason: 'DO_NOT_CACHE', fwd: 'bypass' }
  return { method, href: request.url, url: keyed.url, key: keyed.key, host: keyed.host, headers: request.headers, options, modes }
}

/**
 * What a bodiless request's key depends on, as one string: method, URL as given, and the
 * header values that enter the key. Undefined (no memo) for bodies, keyFn and matchHeaders: true.
 */
function memoKey(settings: Settings, request: RequestInfoForKey): string | undefined {
  if (settings.keyFn || settings.matchHeaders === true || (request.body !== undefined && request.body.byteLength > 0)) return undefined
  let out = `${request.method}\0${request.url}`
  for (const name of CREDENTIAL_HEADERS) out += `\0${request.headers[name] ?? ''}`
  if (settings.matchHeaders !== false) for (const name of settings.matchHeaders) out += `\0${request.headers[name] ?? ''}`
  return out
}

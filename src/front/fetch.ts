/**
 * createCachedFetch(): a drop-in `fetch`. A fresh hit is answered here, without entering
 * undici's fetch machinery; everything else goes through Node's fetch with the cache
 * interceptor as its dispatcher, so both paths share one engine and one set of rules.
 */
import { Agent, Dispatcher } from 'undici'
import { Cache } from '../inspect/cache.js'
import { formatCacheStatus, parseCacheStatus } from '../rules/cache-status.js'
import { createEngine } from '../pipeline/create.js'
import type { ReadModes } from '../rules/decide-read.js'
import type { Engine } from '../pipeline/engine.js'
import { ConfigError, show } from '../util/errors.js'
import { remember } from '../inspect/info.js'
import { engineInterceptor } from './interceptor.js'
import { nativeFetch } from './native.js'
import { resolveRequestOptions } from '../config/options.js'
import { headerRecord } from '../pipeline/request.js'
import { responseFrom } from '../pipeline/response.js'
import { currentScope, mergeScopes, runInScope, type Scope } from './scope.js'
import type { CacheOptions, PerRequestOptions } from '../config/types.js'

export type CachedFetch = ((input: string | URL | Request, init?: CachedRequestInit) => Promise<Response>) & { cache: Cache }
/** The Fetch standard's `cache` modes (RequestInit.cache). */
export type FetchCacheMode = 'default' | 'no-store' | 'reload' | 'no-cache' | 'force-cache' | 'only-if-cached'
export interface CachedRequestInit extends RequestInit, PerRequestOptions {
  cache?: FetchCacheMode
}

/** The Fetch standard's cache modes, in cache terms. */
const MODES: Record<FetchCacheMode, Scope> = {
  default: {},
  'no-store': { disabled: true },
  reload: { modes: { forceRefresh: true } },
  'no-cache': { modes: { refresh: true } },
  'force-cache': { modes: { staleOk: true } },
  'only-if-cached': { modes: { onlyIfCached: true } },
}

function splitInit(input: string | URL | Request, init: CachedRequestInit | undefined): { scope: Scope; rest: RequestInit } {
  if (init === undefined) {
    const mode = (input instanceof Request ? input.cache : 'default') as FetchCacheMode
    return { scope: MODES[mode] ?? {}, rest: {} }
  }
  const { expireAfter, refresh, forceRefresh, onlyIfCached, cache, ...rest } = init
  rejectNearMisses(rest)
  const mode = (cache ?? (input instanceof Request ? input.cache : 'default')) as FetchCacheMode
  const base = MODES[mode]
  if (!base) throw new ConfigError(`cache: expected one of ${Object.keys(MODES).join(', ')}; got ${show(mode)}`)
  const per: PerRequestOptions = {}
  if (expireAfter !== undefined) per.expireAfter = expireAfter
  if (refresh !== undefined) per.refresh = refresh
  if (forceRefresh !== undefined) per.forceRefresh = forceRefresh
  if (onlyIfCached !== undefined) per.onlyIfCached = onlyIfCached
  const options = resolveRequestOptions(per, 'fetch options')
  return { scope: { ...base, options }, rest }
}

const OURS = ['expireAfter', 'refresh', 'forceRefresh', 'onlyIfCached']
/** Every RequestInit member (Fetch standard) and undici's own: never taken for a typo of ours. */
const FETCH_INIT = new Set(['method', 'headers', 'body', 'referrer', 'referrerPolicy', 'mode', 'credentials', 'cache', 'redirect', 'integrity', 'keepalive', 'signal', 'window', 'duplex', 'priority', 'dispatcher'])

/** Edit distance, for the two short strings of a typo check. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    row = next
  }
  return row[b.length]!
}

/**
 * A fetch init is open-ended (libraries pass members of their own), so unknown members pass
 * on to fetch; but one that is a near miss of ours (`refreshh`, `expiresAfter`, `onlyifcached`)
 * would silently do nothing, so it is a ConfigError naming it.
 */
function rejectNearMisses(init: object): void {
  for (const name of Object.keys(init)) {
    if (FETCH_INIT.has(name)) continue
    const meant = OURS.find((ours) => distance(name.toLowerCase(), ours.toLowerCase()) <= 2)
    if (meant !== undefined) throw new ConfigError(`fetch options: unknown option '${name}' (did you mean '${meant}'?)`)
  }
}

/** Request headers as Node's fetch will send them, so the fast path keys like the interceptor. */
function fetchHeaders(https: boolean, input: string | URL | Request, init: RequestInit): Record<string, string> {
  const source = init.headers ?? (input instanceof Request ? input.headers : undefined)
  const headers = headerRecord(source instanceof Headers ? [...source] : (source as Record<string, string> | undefined))
  headers.accept ??= '*/*'
  headers['accept-language'] ??= '*'
  headers['sec-fetch-mode'] ??= 'cors'
  headers['user-agent'] ??= 'node'
  headers['accept-encoding'] ??= https ? 'br, gzip, deflate' : 'gzip, deflate'
  return headers
}

const REDIRECT = new Set([301, 302, 303, 307, 308])

/** WHATWG serialisation of a URL string (what fetch reports as response.url), memoised. */
const canonicalUrls = new Map<string, string | undefined>()
function canonical(url: string): string | undefined {
  let href = canonicalUrls.get(url)
  if (href === undefined && !canonicalUrls.has(url)) {
    try {
      href = new URL(url).href
    } catch {
      href = undefined
    }
    if (canonicalUrls.size >= 4096) canonicalUrls.clear()
    canonicalUrls.set(url, href)
  }
  return href
}

/** A scope with nothing in it: no AsyncLocalStorage run needed (on Node 20 a run turns on promise hooks for good). */
function isEmpty(scope: Scope): boolean {
  return scope.disabled === undefined && scope.modes === undefined && (scope.options === undefined || Object.keys(scope.options).length === 0)
}

async function fastHit(engine: Engine, input: string | URL | Request, init: RequestInit, scope: Scope | undefined): Promise<Response | undefined> {
  const method = (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase()
  if (method !== 'GET' && method !== 'HEAD') return undefined
  if (init.body != null || (input instanceof Request && input.body !== null) || init.signal?.aborted) return undefined
  const href = canonical(input instanceof Request ? input.url : input instanceof URL ? input.href : String(input))
  if (href === undefined) return undefined
  const prepared = engine.prepare({ method, url: href, headers: fetchHeaders(href.startsWith('https:'), input, init), body: undefined }, scope)
  if ('bypass' in prepared) return undefined
  const { action, record } = await engine.lookup(prepared)
  if (action.action !== 'serve' || !record || REDIRECT.has(record.meta.status)) return undefined
  const status = formatCacheStatus({ hit: true, ttl: action.ttl, key: record.meta.key, ...(action.stale ? { detail: action.reason } : {}) })
  const response = responseFrom(engine, record, status, href, method)
  if (!response) return undefined
  engine.stats.count('hits', prepared.host)
  if (action.stale) engine.stats.count('staleServed', prepared.host)
  remember(response, record.meta, action.stale)
  return response
}

/** A response this engine just stored: cacheInfo() gives its createdAt and expiresAt. */
function noteStored(engine: Engine, response: Response): void {
  const status = response.headers.get('cache-status')
  if (status === null || !status.includes('; stored')) return
  const key = parseCacheStatus(status)?.key
  const times = key === undefined ? undefined : engine.storedTimes(key)
  if (times && key !== undefined) remember(response, { ...times, key }, false, false)
}

/**
 * A cached fetch over an engine; misses go to `base` with the cache dispatcher. Once the
 * engine is closed every call goes to `closed` untouched (installCache passes the fetch it
 * replaced, so a kept reference behaves as if fetchcache had never been there).
 */
export function fetchFor(engine: Engine, dispatcher: Dispatcher, base: typeof fetch = nativeFetch, closed: typeof fetch = base): CachedFetch {
  const composed = new WeakMap<object, Dispatcher>()
  const cachedFetch = async (input: string | URL | Request, init?: CachedRequestInit): Promise<Response> => {
    // Closed (uninstalled, or cache.close()): a fetch someone kept goes on working, uncached,
    // with whatever dispatcher the caller or the process has now.
    if (engine.isClosed) return closed(input, init === undefined ? undefined : splitInit(input, init).rest)
    const { scope, rest } = splitInit(input, init)
    const outer = currentScope()
    const merged = outer === undefined && isEmpty(scope) ? undefined : mergeScopes(outer, scope)
    if (!merged?.disabled) {
      const hit = await fastHit(engine, input, rest, merged)
      if (hit) return hit
    }
    // A caller's own dispatcher keeps working, with the cache composed onto it.
    const own = (rest as unknown as { dispatcher?: unknown }).dispatcher
    let via = dispatcher
    if (own instanceof Dispatcher) {
      via = composed.get(own) ?? own.compose(engineInterceptor(engine))
      composed.set(own, via)
    }
    const forward = () => base(input, { ...rest, dispatcher: via } as unknown as RequestInit)
    const response = await (merged === undefined ? forward() : runInScope(merged, forward))
    noteStored(engine, response)
    return response
  }
  return Object.assign(cachedFetch, { cache: new Cache(engine) })
}

export function createCachedFetch(options: CacheOptions = {}): CachedFetch {
  const engine = createEngine(options)
  const agent = new Agent()
  engine.onClose(() => agent.close())
  return fetchFor(engine, agent.compose(engineInterceptor(engine)))
}

export type { ReadModes }

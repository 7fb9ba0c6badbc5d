/**
 * createCachedFetch(): a drop-in `fetch`. A fresh hit is answered here, without entering
 * undici's fetch machinery; everything else goes through Node's fetch with the cache
 * interceptor as its dispatcher, so both paths share one engine and one set of rules.
 */
import type { Dispatcher } from 'undici'
import { Cache } from '../inspect/cache.js'
import { formatCacheStatus } from '../rules/cache-status.js'
import { createEngine } from '../pipeline/create.js'
import type { ReadModes } from '../rules/decide-read.js'
import { fastPathMayServe, fastPathMayTry } from '../rules/fast-path.js'
import type { Engine } from '../pipeline/engine.js'
import type { Handoff } from '../pipeline/handoff.js'
import { type Lookup, lookup } from '../pipeline/lookup.js'
import { type Prepared, prepare } from '../pipeline/prepare/prepare.js'
import { ConfigError, show } from '../util/errors.js'
import { Memo } from '../util/memo.js'
import { Deadline } from '../util/deadline.js'
import { remember } from '../inspect/info.js'
import { cachedDispatcher } from './interceptor.js'
import { nativeFetch } from './native.js'
import { resolveRequestOptions } from '../config/options.js'
import { headerRecord } from '../pipeline/prepare/request.js'
import { withLegacyHandlers } from './legacy-handler.js'
import { responseFrom } from '../pipeline/respond/response.js'
import { currentScope, mergeScopes, runInScope, type Scope } from './scope.js'
import { undici } from './undici.js'
import type { CacheOptions, PerRequestOptions } from '../config/types.js'
import { extended } from '../util/objects.js'

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
  return { scope: extended(base, { options }), rest }
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
  const headers = headerRecord(source as Record<string, string> | Iterable<[string, string]> | undefined)
  headers.accept ??= '*/*'
  headers['accept-language'] ??= '*'
  headers['sec-fetch-mode'] ??= 'cors'
  headers['user-agent'] ??= 'node'
  headers['accept-encoding'] ??= https ? 'br, gzip, deflate' : 'gzip, deflate'
  return headers
}

/** WHATWG serialisation of a URL string (what fetch reports as response.url), memoised. */
const canonicalUrls = new Memo<string, string | undefined>(4096)
function canonical(url: string): string | undefined {
  return canonicalUrls.through(url, () => {
    try {
      return new URL(url).href
    } catch {
      return undefined
    }
  })
}

/** A scope with nothing in it: no AsyncLocalStorage run needed (on Node 20 a run turns on promise hooks for good). */
function isEmpty(scope: Scope): boolean {
  return scope.disabled === undefined && scope.modes === undefined && (scope.options === undefined || Object.keys(scope.options).length === 0)
}

/**
 * A fresh hit answered here, or undefined; a miss's lookup is left on the engine's handoffs
 * for the dispatch that follows (pipeline/handoff.ts), and `onMiss` told of it to withdraw.
 * Synchronous when the lookup is (pipeline/lookup.ts): a hit then costs fetch's one promise.
 */
function fastHit(engine: Engine, input: string | URL | Request, init: RequestInit, scope: Scope | undefined, onMiss: (h: Handoff) => void): Response | undefined | Promise<Response | undefined> {
  const method = (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase()
  const hasBody = init.body != null || (input instanceof Request && input.body !== null)
  if (!fastPathMayTry({ method, hasBody, aborted: init.signal?.aborted === true })) return undefined
  const href = canonical(input instanceof Request ? input.url : input instanceof URL ? input.href : String(input))
  if (href === undefined) return undefined
  const prepared = prepare(engine, { method, url: href, headers: fetchHeaders(href.startsWith('https:'), input, init), body: undefined }, scope)
  if ('bypass' in prepared) return undefined
  const deadline = new Deadline(engine.settings.lockTimeout * 1000)
  const looked = lookup(engine, prepared, deadline)
  const answer = (found: Lookup) => fastAnswer(engine, prepared, scope, found, deadline, href, onMiss)
  return looked instanceof Promise ? looked.then(answer) : answer(looked)
}

function fastAnswer(engine: Engine, prepared: Prepared, scope: Scope | undefined, found: Lookup, deadline: Deadline, href: string, onMiss: (h: Handoff) => void): Response | undefined {
  const { action, record } = found
  if (!record) {
    const handoff = engine.handoffs.offer(prepared, scope, found, deadline)
    if (handoff) onMiss(handoff)
    return undefined
  }
  if (!fastPathMayServe(action, record.meta.status, prepared.headers.range !== undefined)) return undefined
  const now = engine.now()
  const status = formatCacheStatus({ hit: true, ttl: action.ttl, key: record.meta.key, detail: action.stale ? action.reason : undefined })
  const response = responseFrom(record, status, href, prepared.method, now)
  if (!response) return undefined
  engine.stats.hit(prepared.host, action.stale)
  remember(response, record.meta, action.stale)
  return response
}

/**
 * A cached fetch over an engine; misses go to `base` with the cache dispatcher. The dispatcher
 * may be given as a function that makes it on the first miss: undici is then loaded only then,
 * and a process whose first requests are hits never waits for it (front/undici.ts). Once the
 * engine is closed every call goes to `closed` untouched (installCache passes the fetch it
 * replaced, so a kept reference behaves as if fetchcache had never been there).
 */
export function fetchFor(engine: Engine, dispatcher: Dispatcher | (() => Dispatcher), base: typeof fetch = nativeFetch, closed: typeof fetch = base): CachedFetch {
  const composed = new WeakMap<object, Dispatcher>()
  let made: Dispatcher | undefined
  // Node's fetch speaks old-style handlers to its dispatcher (legacy-handler.ts).
  const viaCache = (): Dispatcher => (made ??= withLegacyHandlers(typeof dispatcher === 'function' ? dispatcher() : dispatcher))
  const cachedFetch = async (input: string | URL | Request, init?: CachedRequestInit): Promise<Response> => {
    // Closed (uninstalled, or cache.close()): a fetch someone kept goes on working, uncached,
    // with whatever dispatcher the caller or the process has now.
    if (engine.isClosed) return closed(input, init === undefined ? undefined : splitInit(input, init).rest)
    const { scope, rest } = splitInit(input, init)
    const outer = currentScope()
    const merged = outer === undefined && isEmpty(scope) ? undefined : mergeScopes(outer, scope)
    let handoff: Handoff | undefined
    if (!merged?.disabled) {
      const fast = fastHit(engine, input, rest, merged, (h) => (handoff = h))
      const hit = fast instanceof Promise ? await fast : fast
      if (hit) return hit
    }
    // A caller's own dispatcher keeps working, with the cache composed onto it.
    const own = (rest as unknown as { dispatcher?: unknown }).dispatcher
    let via: Dispatcher
    if (own !== undefined && own !== null && own instanceof undici().Dispatcher) {
      via = composed.get(own) ?? withLegacyHandlers(cachedDispatcher(engine, own))
      composed.set(own, via)
    } else via = viaCache()
    const forward = () => base(input, extended(rest, { dispatcher: via }) as unknown as RequestInit)
    if (handoff === undefined) return merged === undefined ? forward() : runInScope(merged, forward)
    // Its dispatch took the handoff (or never came: an abort, a caller's dispatcher elsewhere).
    try {
      return await (merged === undefined ? forward() : runInScope(merged, forward))
    } finally {
      engine.handoffs.withdraw(handoff)
    }
  }
  return Object.assign(cachedFetch, { cache: new Cache(engine) })
}

export function createCachedFetch(options: CacheOptions = {}): CachedFetch {
  const engine = createEngine(options)
  // The Agent (and undici with it) is made on the first miss: a first hit does not wait for it.
  return fetchFor(engine, () => cachedDispatcher(engine))
}

export type { ReadModes }

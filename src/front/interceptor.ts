/**
 * cacheInterceptor(): the engine's home at the dispatcher level, where every undici API
 * (request, stream, fetch) and Node's global fetch pass. It sees raw bytes: bodies are stored
 * exactly as the origin sent them, content-encoding included. What happens to a request is
 * pipeline/send.ts; this module only decides which requests enter it.
 */
import type { Dispatcher } from 'undici'
import { Cache } from '../inspect/cache.js'
import { createEngine } from '../pipeline/create.js'
import type { Engine } from '../pipeline/engine.js'
import { firstHandler, passHandler } from '../pipeline/pass.js'
import type { Scope } from '../pipeline/prepare/prepare.js'
import { dispatchUrl, headerRecord, usableOrigin } from '../pipeline/prepare/request.js'
import { fail } from '../pipeline/respond/serve.js'
import type { send } from '../pipeline/send.js'
import { forbidsOrigin, requestDirectives } from '../rules/decide-read.js'
import { debug } from '../util/debug.js'
import { dispatchLearningOrigin, learnedOrigin, probeOrigin } from './dispatcher-origin.js'
import { currentScope } from './scope.js'
import { undici } from './undici.js'
import type { CacheOptions } from '../config/types.js'
import { extended } from '../util/objects.js'

export type CacheInterceptor = Dispatcher.DispatcherComposeInterceptor & { cache: Cache }

/** An undici interceptor that caches: `new Agent().compose(cacheInterceptor(options))`. */
export function cacheInterceptor(options: CacheOptions = {}): CacheInterceptor {
  const engine = createEngine(options)
  return Object.assign(engineInterceptor(engine), { cache: new Cache(engine) })
}

export function engineInterceptor(engine: Engine): Dispatcher.DispatcherComposeInterceptor {
  return (next) => (opts, handler) => intercept(engine, next, opts, handler)
}

/**
 * The cache composed onto `base`, or onto an Agent of its own (createCachedFetch and
 * installCache over another copy of undici have no dispatcher to compose onto). That Agent
 * closes with the engine unless `keepOpen`: installCache's must outlive it, since a client
 * built while installed may hold it after uninstall (a closed Agent fails every call with
 * UND_ERR_DESTROYED; an idle one holds nothing open, undici unrefs idle sockets).
 */
export function cachedDispatcher(engine: Engine, base?: Dispatcher, keepOpen = false): Dispatcher {
  let via = base
  if (via === undefined) {
    const agent = new (undici().Agent)()
    if (!keepOpen) engine.onClose(() => agent.close())
    via = agent
  }
  return via.compose(engineInterceptor(engine))
}

function intercept(engine: Engine, next: Dispatcher.Dispatch, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
  const scope = currentScope()
  const method = (opts.method ?? 'GET').toUpperCase()
  // A closed cache (uninstalled, or cache.close()) passes everything through untouched.
  if (scope?.disabled || engine.isClosed || opts.upgrade || method === 'CONNECT') return next(opts, handler)
  if (usableOrigin(opts.origin) === undefined) {
    // A Client or Pool with a path-only request: the origin is the dispatcher's (see dispatcher-origin.ts).
    let known = learnedOrigin(next)
    if (known === undefined && mustStayOffline(engine, opts, scope)) known = probeOrigin(next, opts)
    if (known === undefined) return dispatchLearningOrigin(next, opts, handler, (origin) => firstHandler(engine, extended(opts, { origin }), handler, method, scope))
    opts = extended(opts, { origin: known })
  }
  if (!engine.settings.allowableMethods.has(method)) {
    // RFC 9111 §4.4: unsafe methods (RFC 9110 §9.2.1: not GET, HEAD, OPTIONS, TRACE) pass
    // through, then invalidate what they changed.
    return next(opts, passHandler(engine, dispatchUrl(opts), method, opts, handler, scope))
  }
  void sendVia(engine, next, opts, handler, method, scope).catch((error: unknown) => {
    debug('interceptor failure: %s', error instanceof Error ? error.stack : String(error))
    fail(handler, error as Error)
  })
  return true
}

let loadedSend: typeof send | undefined
let loadingSend: Promise<typeof send> | undefined

/** pipeline/send.ts (and the miss path under it), imported by the first request that enters it, then called directly: a cold start's first hit never needs it. */
function sendVia(...args: Parameters<typeof send>): Promise<void> {
  if (loadedSend !== undefined) return loadedSend(...args)
  loadingSend ??= import('../pipeline/send.js').then((m) => (loadedSend = m.send))
  return loadingSend.then((s) => s(...args))
}

/** May this request not reach the origin? The rule is decide-read's; here only its inputs. */
function mustStayOffline(engine: Engine, opts: Dispatcher.DispatchOptions, scope: Scope | undefined): boolean {
  const onlyIfCached = engine.settings.onlyIfCached || scope?.options?.onlyIfCached === true || scope?.modes?.onlyIfCached === true
  return forbidsOrigin(requestDirectives(headerRecord(opts.headers)).cc, { onlyIfCached })
}

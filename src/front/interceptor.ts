/**
 * cacheInterceptor(): the engine's home at the dispatcher level, where every undici API
 * (request, stream, fetch) and Node's global fetch pass. It sees raw bytes: bodies are stored
 * exactly as the origin sent them, content-encoding included. What happens to a request is
 * pipeline/send.ts; this module only decides which requests enter it.
 */
import { Agent, type Dispatcher } from 'undici'
import { Cache } from '../inspect/cache.js'
import { createEngine } from '../pipeline/create.js'
import type { Engine } from '../pipeline/engine.js'
import { InvalidateHandler } from '../pipeline/forward/invalidate.js'
import { dispatchUrl } from '../pipeline/prepare/request.js'
import { fail } from '../pipeline/respond/serve.js'
import { send } from '../pipeline/send.js'
import { debug } from '../util/debug.js'
import { currentScope } from './scope.js'
import type { CacheOptions } from '../config/types.js'

/** RFC 9110 §9.2.1: the safe methods. */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

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
 * The cache composed onto `base`, or onto an Agent of its own that closes with the engine
 * (createCachedFetch and the CLI's `get` have no dispatcher of their own).
 */
export function cachedDispatcher(engine: Engine, base?: Dispatcher): Dispatcher {
  let via = base
  if (via === undefined) {
    const agent = new Agent()
    engine.onClose(() => agent.close())
    via = agent
  }
  return via.compose(engineInterceptor(engine))
}

function intercept(engine: Engine, next: Dispatcher.Dispatch, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
  const scope = currentScope()
  const method = (opts.method ?? 'GET').toUpperCase()
  if (scope?.disabled || opts.upgrade || method === 'CONNECT') return next(opts, handler)
  if (!engine.settings.allowableMethods.has(method)) {
    // RFC 9111 §4.4: unsafe methods (RFC 9110 §9.2.1: not GET, HEAD, OPTIONS, TRACE) pass
    // through, then invalidate what they changed.
    return next(opts, SAFE.has(method) ? handler : new InvalidateHandler(engine, dispatchUrl(opts), handler))
  }
  void send(engine, next, opts, handler, method, scope).catch((error: unknown) => {
    debug('interceptor failure: %s', error instanceof Error ? error.stack : String(error))
    fail(handler, error as Error)
  })
  return true
}

/**
 * cacheInterceptor(): the engine's home at the dispatcher level, where every undici API
 * (request, stream, fetch) and Node's global fetch pass. It sees raw bytes: bodies are stored
 * exactly as the origin sent them, content-encoding included.
 */
import type { Dispatcher } from 'undici'
import { Cache } from './cache.js'
import { formatCacheStatus } from './cache-status.js'
import { createEngine } from './create.js'
import { debug } from './debug.js'
import type { Engine, Prepared } from './engine.js'
import { ForwardHandler } from './handlers/forward.js'
import { InvalidateHandler } from './handlers/invalidate.js'
import { serve } from './handlers/serve.js'
import { dispatchUrl, headerRecord, readBody } from './request.js'
import { currentScope } from './scope.js'
import type { CacheOptions } from './types.js'
import { assertNever } from './util.js'

type Dispatch = Dispatcher.Dispatch

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])
const SILENT: Dispatcher.DispatchHandler = {
  onRequestStart() {},
  onResponseStart() {},
  onResponseData() {},
  onResponseEnd() {},
  onResponseError() {},
}

export type CacheInterceptor = Dispatcher.DispatcherComposeInterceptor & { cache: Cache }

/** An undici interceptor that caches: `new Agent().compose(cacheInterceptor(options))`. */
export function cacheInterceptor(options: CacheOptions = {}): CacheInterceptor {
  const engine = createEngine(options)
  return Object.assign(engineInterceptor(engine), { cache: new Cache(engine) })
}

export function engineInterceptor(engine: Engine): Dispatcher.DispatcherComposeInterceptor {
  return (next) => (opts, handler) => intercept(engine, next, opts, handler)
}

function intercept(engine: Engine, next: Dispatch, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
  const scope = currentScope()
  const method = (opts.method ?? 'GET').toUpperCase()
  if (scope?.disabled || opts.upgrade || method === 'CONNECT') return next(opts, handler)
  if (!engine.settings.allowableMethods.has(method)) {
    // RFC 9111 §4.4: unsafe methods pass through, then invalidate what they changed.
    return next(opts, SAFE.has(method) ? handler : new InvalidateHandler(engine, dispatchUrl(opts), handler))
  }
  void run(engine, next, opts, handler, method, scope).catch((error: unknown) => {
    debug('interceptor failure: %s', error instanceof Error ? error.stack : String(error))
    handler.onResponseError?.(null as unknown as Dispatcher.DispatchController, error as Error)
  })
  return true
}

async function run(engine: Engine, next: Dispatch, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, method: string, scope: ReturnType<typeof currentScope>): Promise<void> {
  const headers = headerRecord(opts.headers)
  const read = await readBody(opts.body)
  if (!read.ok) {
    next(opts, handler)
    return
  }
  const forwardOpts: Dispatcher.DispatchOptions = read.body === undefined ? opts : { ...opts, body: read.body }
  const prepared = engine.prepare({ method, url: dispatchUrl(opts), headers, body: read.body }, scope)
  if ('bypass' in prepared) {
    debug('%s %s: bypass (%s)', method, dispatchUrl(opts), prepared.reason)
    next(forwardOpts, handler)
    return
  }
  const { action, record } = await engine.lookup(prepared)
  switch (action.action) {
    case 'serve': {
      engine.stats.count('hits', prepared.url)
      if (action.stale) engine.stats.count('staleServed', prepared.url)
      const status = formatCacheStatus({ hit: true, ttl: action.ttl, key: record!.meta.key, ...(action.stale ? { detail: action.reason } : {}) })
      serve(handler, { ...record!.meta, headers: engine.hitHeaders(record!.meta, status), body: record!.body }, method)
      return
    }
    case 'serve-and-refresh': {
      engine.stats.count('hits', prepared.url)
      engine.stats.count('staleServed', prepared.url)
      const status = formatCacheStatus({ hit: true, ttl: action.ttl, key: record!.meta.key, detail: 'stale-while-revalidate' })
      serve(handler, { ...record!.meta, headers: engine.hitHeaders(record!.meta, status), body: record!.body }, method)
      refreshInBackground(engine, next, forwardOpts, headers, prepared, record!)
      return
    }
    case 'revalidate': {
      const conditional = { ...headers, ...engine.validators(record!, prepared) }
      const retry = () => next(forwardOpts, new ForwardHandler(engine, prepared, handler, { record, revalidating: false, fwd: 'stale' }))
      next({ ...forwardOpts, headers: conditional }, new ForwardHandler(engine, prepared, handler, { record, revalidating: true, fwd: 'stale', retry }))
      return
    }
    case 'fetch':
      next(forwardOpts, new ForwardHandler(engine, prepared, handler, { record, revalidating: false, fwd: action.fwd }))
      return
    case 'gateway-timeout': {
      // RFC 9111 §5.2.1.7: only-if-cached with nothing usable stored.
      const status = formatCacheStatus({ detail: action.reason })
      serve(handler, { status: 504, statusText: 'Gateway Timeout', headers: { 'cache-status': status, 'content-length': '0' }, body: new Uint8Array(0) }, method)
      return
    }
    default:
      assertNever(action)
  }
}

/** RFC 5861 §3: refresh a stale entry after serving it; one refresh per entry at a time. */
function refreshInBackground(engine: Engine, next: Dispatch, opts: Dispatcher.DispatchOptions, headers: Record<string, string>, p: Prepared, record: NonNullable<Awaited<ReturnType<Engine['lookup']>>['record']>): void {
  if (!engine.beginRefresh(record.meta.key)) return
  const done = new Promise<void>((resolve) => {
    const finish = () => {
      engine.endRefresh(record.meta.key)
      resolve()
    }
    const silent: Dispatcher.DispatchHandler = { ...SILENT, onResponseEnd: finish, onResponseError: finish }
    queueMicrotask(() => {
      try {
        const conditional = { ...headers, ...engine.validators(record, p) }
        const retry = () => next(opts, new ForwardHandler(engine, p, silent, { record, revalidating: false, fwd: 'stale' }))
        next({ ...opts, headers: conditional }, new ForwardHandler(engine, p, silent, { record, revalidating: true, fwd: 'stale', retry }))
      } catch (error) {
        engine.report(error)
        finish()
      }
    })
  })
  engine.track(done)
}

/**
 * cacheInterceptor(): the engine's home at the dispatcher level, where every undici API
 * (request, stream, fetch) and Node's global fetch pass. It sees raw bytes: bodies are stored
 * exactly as the origin sent them, content-encoding included.
 */
import type { Dispatcher } from 'undici'
import { Cache } from '../inspect/cache.js'
import { formatCacheStatus, type Forward } from '../rules/cache-status.js'
import { Flight, type FlightResult } from '../pipeline/flights.js'
import type { WaitOutcome } from '../pipeline/leases.js'
import { asksForOrigin, remainingTtl, requestDirectives, staleIfErrorAllows } from '../rules/decide-read.js'
import { createEngine } from '../pipeline/create.js'
import { debug } from '../util/debug.js'
import { appendCacheStatus, type Engine, type Prepared } from '../pipeline/engine.js'
import { ForwardHandler, type ForwardOptions } from '../pipeline/handlers/forward.js'
import { InvalidateHandler } from '../pipeline/handlers/invalidate.js'
import { fail, serve, serveRecord } from '../pipeline/handlers/serve.js'
import { dispatchUrl, headerRecord, readBody } from '../pipeline/request.js'
import { currentScope, type Scope } from './scope.js'
import type { CacheOptions } from '../config/types.js'
import type { CacheRecord } from '../backends/contract.js'
import { assertNever } from '../util/assert.js'

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
  // A closed cache (uninstalled, or cache.close()) passes everything through untouched.
  if (scope?.disabled || engine.isClosed || opts.upgrade || method === 'CONNECT') return next(opts, handler)
  if (!engine.settings.allowableMethods.has(method)) {
    // RFC 9111 §4.4: unsafe methods (RFC 9110 §9.2.1: not GET, HEAD, OPTIONS, TRACE) pass
    // through, then invalidate what they changed.
    return next(opts, SAFE.has(method) ? handler : new InvalidateHandler(engine, dispatchUrl(opts), handler))
  }
  void run(engine, next, opts, handler, method, scope).catch((error: unknown) => {
    debug('interceptor failure: %s', error instanceof Error ? error.stack : String(error))
    fail(handler, error as Error)
  })
  return true
}

async function run(engine: Engine, next: Dispatch, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, method: string, scope: Scope | undefined, collapsed?: Forward): Promise<void> {
  const headers = headerRecord(opts.headers)
  const read = await readBody(opts.body)
  if (!read.ok) {
    next(opts, handler)
    return
  }
  const forwardOpts: Dispatcher.DispatchOptions = read.body === undefined ? opts : { ...opts, body: read.body }
  const url = dispatchUrl(opts)
  const prepared = engine.prepare({ method, url, headers, body: read.body }, scope)
  if ('bypass' in prepared) {
    debug('%s %s: bypass (%s)', method, url, prepared.reason)
    next(forwardOpts, handler)
    return
  }
  const { action, record } = await engine.lookup(prepared)
  const forward = (fwd: Forward, revalidating: boolean, flight: Flight | undefined): void =>
    dispatchForward(engine, next, forwardOpts, headers, prepared, handler, { record, revalidating, fwd, flight })
  switch (action.action) {
    case 'serve': {
      const parts = collapsed ? { fwd: collapsed, collapsed: true } : { hit: true }
      serveRecord(engine, handler, record!, { ...parts, ttl: action.ttl, key: record!.meta.key, ...(action.stale ? { detail: action.reason } : {}) }, method, prepared.host, action.stale)
      return
    }
    case 'serve-and-refresh': {
      serveRecord(engine, handler, record!, { hit: true, ttl: action.ttl, key: record!.meta.key, detail: 'stale-while-revalidate' }, method, prepared.host, true)
      refreshInBackground(engine, next, forwardOpts, headers, prepared, record!)
      return
    }
    case 'revalidate':
    case 'fetch': {
      const fwd: Forward = action.fwd
      const revalidating = action.action === 'revalidate'
      // A request that insists on the origin is not folded into another one's response.
      const { cc, pragmaNoCache } = requestDirectives(prepared.headers)
      if (collapsed !== undefined || asksForOrigin(cc, pragmaNoCache, prepared.modes)) return forward(fwd, revalidating, undefined)
      const waiting = engine.flights.join(prepared.key)
      if (waiting) {
        // Joined while the entry was only being written: a stored response, so a hit.
        const late = waiting.answered
        const result = await waiting.done
        if (late && result.kind === 'stored') return run(engine, next, opts, handler, method, scope)
        return follow(engine, next, opts, forwardOpts, handler, method, scope, prepared, record, fwd, result)
      }
      let held = false
      const flight = engine.flights.lead(prepared.key, () => {
        if (held) engine.leases.release(prepared.key)
      })
      try {
        if (engine.leases.supported) {
          const seen = record?.meta.createdAt
          let outcome: WaitOutcome | 'busy' = await engine.leases.acquireFor(prepared, seen)
          if (outcome === 'busy') outcome = await engine.leases.waitForOther(prepared, seen)
          if (outcome === 'stored') {
            flight.resolve({ kind: 'stored' })
            return run(engine, next, opts, handler, method, scope, fwd)
          }
          held = outcome === 'acquired'
        }
        forward(fwd, revalidating, flight)
      } catch (error) {
        flight.resolve({ kind: 'pass' })
        throw error
      }
      return
    }
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

/**
 * Send a request on to the origin through a ForwardHandler; when revalidating, with our
 * validators added, and plainly again if the 304 turns out not to be for our entry.
 */
function dispatchForward(engine: Engine, next: Dispatch, opts: Dispatcher.DispatchOptions, headers: Record<string, string>, p: Prepared, handler: Dispatcher.DispatchHandler, o: ForwardOptions): void {
  const plain = (flight: Flight | undefined) => next(opts, new ForwardHandler(engine, p, handler, { ...o, revalidating: false, flight }))
  if (!o.revalidating || !o.record) return void plain(o.flight)
  const conditional = { ...headers, ...engine.validators(o.record, p) }
  next({ ...opts, headers: conditional }, new ForwardHandler(engine, p, handler, { ...o, retry: plain }))
}

/** A waiter's turn, once the flight it joined has an outcome. */
async function follow(
  engine: Engine, next: Dispatch, opts: Dispatcher.DispatchOptions, forwardOpts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler,
  method: string, scope: Scope | undefined, p: Prepared, record: CacheRecord | undefined, fwd: Forward, result: FlightResult,
): Promise<void> {
  const own = () => dispatchForward(engine, next, forwardOpts, p.headers, p, handler, { record, revalidating: false, fwd, flight: undefined })
  switch (result.kind) {
    case 'stored':
      // Look again: the entry (or this request's Vary variant, or nothing) is now in the store.
      return run(engine, next, opts, handler, method, scope, fwd)
    case 'response': {
      // An unstorable response is shared only with requests that would have got the same one:
      // the fields its Vary names match (RFC 9111 §4.1; Vary: * matches nothing).
      if (result.vary.some((name) => name === '*' || result.requestHeaders[name] !== p.headers[name])) return own()
      engine.stats.count('hits', p.host)
      const status = formatCacheStatus({ fwd, collapsed: true, key: p.key })
      const headers = { ...result.response.headers, 'cache-status': appendCacheStatus(result.response.headers['cache-status'], status) }
      serve(handler, { ...result.response, headers }, method)
      return
    }
    case 'error': {
      if (record && staleIfErrorAllows(record.meta, engine.now())) {
        const status = { fwd: 'stale' as const, collapsed: true, ttl: remainingTtl(record.meta, engine.now()), key: record.meta.key, detail: `stale-if-error: ${result.error.message}` }
        serveRecord(engine, handler, record, status, method, p.host, true)
        return
      }
      fail(handler, result.error)
      return
    }
    case 'pass':
      return own()
    default:
      assertNever(result)
  }
}

/**
 * RFC 5861 §3: refresh a stale entry after serving it; one refresh per entry at a time in this
 * process, and across processes when the backend has leases (the holder refreshes, others skip).
 */
function refreshInBackground(engine: Engine, next: Dispatch, opts: Dispatcher.DispatchOptions, headers: Record<string, string>, p: Prepared, record: CacheRecord): void {
  if (!engine.beginRefresh(record.meta.key)) return
  const refresh = async () => {
    const held = engine.leases.supported ? await engine.leases.acquire(p.key) : false
    if (engine.leases.supported && !held) return
    try {
      // A private flight (no one joins it) settles once the refreshed entry is written.
      const flight = new Flight(p.key, () => {})
      dispatchForward(engine, next, opts, headers, p, SILENT, { record, revalidating: true, fwd: 'stale', flight })
      await flight.done
    } finally {
      if (held) engine.leases.release(p.key)
    }
  }
  const done = new Promise<void>((resolve) => {
    queueMicrotask(() => {
      refresh()
        .catch((error: unknown) => engine.report(error))
        .finally(() => {
          engine.endRefresh(record.meta.key)
          resolve()
        })
    })
  })
  engine.track(done)
}

/**
 * Requests that pass by the lookup: methods the cache does not store (an unsafe one still
 * invalidates what it changed, RFC 9111 §4.4), and the first path-only request through a
 * Client or Pool, sent before its origin was known (front/dispatcher-origin.ts).
 */
import type { Dispatcher } from 'undici'
import type { Engine } from './engine.js'
import { ContentLocationHandler } from './forward/content-location.js'
// Not forward.ts, which a pass never needs: it would load revalidation and stale-if-error at every start.
import { CaptureStep } from './forward/capture.js'
import { CallerSide } from './forward/step.js'
import { InvalidateHandler } from './forward/invalidate.js'
import { prepare, type Prepared, type Scope } from './prepare/prepare.js'
import { dispatchUrl, headerRecord } from './prepare/request.js'

/** RFC 9110 §9.2.1: the safe methods. */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

/** The handler for a method the cache does not store: a safe one passes through untouched. */
export function passHandler(engine: Engine, url: string, method: string, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, scope: Scope | undefined): Dispatcher.DispatchHandler {
  return SAFE.has(method) ? handler : unsafeHandler(engine, url, method, opts, handler, scope)
}

/**
 * An unsafe method's response invalidates what it changed (RFC 9111 §4.4); a POST's may then
 * be stored for GETs of its URI (RFC 9110 §9.3.3, forward/content-location.ts).
 */
function unsafeHandler(engine: Engine, url: string, method: string, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, scope: Scope | undefined): Dispatcher.DispatchHandler {
  let downstream = handler
  if (method === 'POST' && engine.settings.allowableMethods.has('GET')) {
    const get = prepare(engine, { method: 'GET', url, headers: headerRecord(opts.headers), body: undefined }, scope)
    if (!('bypass' in get)) downstream = new ContentLocationHandler(engine, get, handler)
  }
  return new InvalidateHandler(engine, url, downstream)
}

/**
 * The handler for the first path-only request through a dispatcher, once undici has told us its
 * origin: it was sent without a lookup, but its response is stored (or invalidates) as usual.
 */
export function firstHandler(engine: Engine, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, method: string, scope: Scope | undefined): Dispatcher.DispatchHandler {
  try {
    const url = dispatchUrl(opts)
    if (!engine.settings.allowableMethods.has(method)) return passHandler(engine, url, method, opts, handler, scope)
    if ((opts.body !== undefined && opts.body !== null) || headerRecord(opts.headers).range !== undefined) return handler
    const prepared = prepare(engine, { method, url, headers: headerRecord(opts.headers), body: undefined }, scope)
    if ('bypass' in prepared) return handler
    return captureOnly(engine, prepared, handler)
  } catch (error) {
    engine.report(error)
    return handler
  }
}

/** A handler that stores the response to a request sent without a lookup (nothing was stored to revalidate). */
function captureOnly(engine: Engine, p: Prepared, handler: Dispatcher.DispatchHandler): Dispatcher.DispatchHandler {
  return new CallerSide(new CaptureStep(engine, p, handler, { fwd: 'uri-miss', revalidating: false, flight: undefined }), handler)
}

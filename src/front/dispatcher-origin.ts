/**
 * The origin of a Client or Pool, for requests that do not carry one.
 *
 * `new Client(origin).compose(cacheInterceptor())` sends path-only requests (`{ path: '/x' }`)
 * to the Client's origin, but an interceptor is never told which: it wraps a bound `dispatch`.
 * Keying such a request by its path alone would let two Clients for two origins share entries.
 * undici announces every request it creates on the `undici:request:create` diagnostics channel,
 * synchronously inside `dispatch`, with the origin it will connect to. So the first path-only
 * request through a composed dispatcher is sent while listening on that channel; its origin is
 * remembered for that dispatcher from then on, and the response is stored under the full URL.
 * That first request cannot be answered from the store (its URL is unknown until it is sent),
 * except when it must not reach the origin (only-if-cached): then probeOrigin() learns the
 * origin with a request that is aborted as soon as it has a connection, before a byte is
 * written (undici calls onRequestStart before writing), at the cost of that one connection.
 */
import diagnostics from 'node:diagnostics_channel'
import type { Dispatcher } from 'undici'
import type { IncomingHttpHeaders } from 'undici/types/header.js'

type Dispatch = Dispatcher.Dispatch

const learned = new WeakMap<Dispatch, string>()
const channel = diagnostics.channel('undici:request:create')
let capturing: string[] | undefined
const onCreate = (message: unknown): void => {
  const origin = (message as { request?: { origin?: unknown } }).request?.origin
  if (capturing && origin !== undefined && origin !== null) capturing.push(String(origin))
}

/** The origin learned for this dispatch function, if a request has gone through it. */
export function learnedOrigin(next: Dispatch): string | undefined {
  return learned.get(next)
}

/**
 * Dispatch `opts` through `next`, learning the origin undici gives the request. `make` builds
 * the handler the response goes to once the origin is known; without an origin (the dispatcher
 * failed at once, or dispatches later) the response goes straight to `handler`.
 */
export function dispatchLearningOrigin(next: Dispatch, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, make: (origin: string) => Dispatcher.DispatchHandler): boolean {
  const deferred = new DeferredHandler(handler)
  const seen: string[] = []
  const outer = capturing
  capturing = seen
  channel.subscribe(onCreate)
  let result: boolean
  try {
    result = next(opts, deferred)
  } finally {
    channel.unsubscribe(onCreate)
    capturing = outer
  }
  const origin = seen[0]
  if (origin !== undefined) {
    learned.set(next, origin)
    // Response callbacks come later (from the socket); a synchronous failure already went to `handler`.
    if (!deferred.called) deferred.target = make(origin)
  }
  return result
}

const ABORT_AT_START: Dispatcher.DispatchHandler = {
  onRequestStart(controller) {
    controller.abort(new Error('fetchcache: origin probe'))
  },
  onResponseStart() {},
  onResponseData() {},
  onResponseEnd() {},
  onResponseError() {},
}

/** Learn the dispatcher's origin without sending the request (see above). */
export function probeOrigin(next: Dispatch, opts: Dispatcher.DispatchOptions): string | undefined {
  const probe: Dispatcher.DispatchOptions = { path: opts.path, method: 'GET' }
  if (opts.origin !== undefined) probe.origin = opts.origin
  try {
    dispatchLearningOrigin(next, probe, ABORT_AT_START, () => ABORT_AT_START)
  } catch {
    // A dispatcher that throws at once has taught us nothing; the request then goes its way.
  }
  return learnedOrigin(next)
}

/** Forwards every callback to `target`, which may be set after dispatch returns. */
class DeferredHandler implements Dispatcher.DispatchHandler {
  called = false
  constructor(public target: Dispatcher.DispatchHandler) {}

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.called = true
    this.target.onRequestStart?.(controller, context)
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, socket: import('node:stream').Duplex): void {
    this.called = true
    this.target.onRequestUpgrade?.(controller, statusCode, headers, socket)
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.called = true
    this.target.onResponseStart?.(controller, statusCode, headers, statusMessage)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.target.onResponseData?.(controller, chunk)
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.target.onResponseEnd?.(controller, trailers)
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.called = true
    this.target.onResponseError?.(controller, error)
  }
}

/**
 * Deliver a response the cache holds to an undici handler, as if it came off the wire:
 * onRequestStart, onResponseStart, body in chunks honouring pause/resume, onResponseEnd.
 */
import type { Dispatcher } from 'undici'
import { formatCacheStatus, type StatusParts } from '../../rules/cache-status.js'
import type { Engine } from '../engine.js'
import type { CacheRecord, HeaderMap } from '../../backends/contract.js'
import { LocalController } from './controller.js'

const CHUNK = 64 * 1024

export interface Servable {
  status: number
  statusText: string
  headers: HeaderMap
  body: Uint8Array
}

export function serve(handler: Dispatcher.DispatchHandler, response: Servable, method: string): void {
  const controller = new LocalController((reason) => {
    // Like a socket torn down: the consumer hears about its own abort through onResponseError.
    queueMicrotask(() => handler.onResponseError?.(controller, reason))
  })
  void deliver(handler, controller, response, method, true)
}

/**
 * Send a response through `controller`. `start` says whether onRequestStart is still owed
 * (a handler that already saw the origin's request start must not see a second one).
 */
export async function deliver(
  handler: Dispatcher.DispatchHandler,
  controller: Dispatcher.DispatchController & { whenResumed?: () => Promise<void> },
  response: Servable,
  method: string,
  start: boolean,
): Promise<void> {
  try {
    if (start) handler.onRequestStart?.(controller, {})
    if (controller.aborted) return
    handler.onResponseStart?.(controller, response.status, response.headers, response.statusText)
    const body = method === 'HEAD' ? new Uint8Array(0) : response.body
    for (let offset = 0; offset < body.byteLength; offset += CHUNK) {
      if (controller.paused && controller.whenResumed) await controller.whenResumed()
      if (controller.aborted) return
      const chunk = Buffer.from(body.buffer, body.byteOffset + offset, Math.min(CHUNK, body.byteLength - offset))
      handler.onResponseData?.(controller, chunk)
    }
    if (controller.aborted) return
    handler.onResponseEnd?.(controller, {})
  } catch (error) {
    // A throwing consumer gets its own error back, as undici's core would deliver it.
    if (!controller.aborted) handler.onResponseError?.(controller, error as Error)
  }
}

/** Deliver an error to a handler that has not started: as a connection failure would. */
export function fail(handler: Dispatcher.DispatchHandler, error: Error): void {
  const controller = new LocalController()
  queueMicrotask(() => {
    try {
      handler.onRequestStart?.(controller, {})
    } catch {
      // The handler is failing anyway; its error is the one to report.
    }
    handler.onResponseError?.(controller, error)
  })
}

/**
 * Serve a stored entry: its status and body, its headers plus Age and our Cache-Status member.
 * `start` as in deliver(); `stale` counts it as stale served.
 */
export function serveRecord(engine: Engine, handler: Dispatcher.DispatchHandler, record: CacheRecord, status: StatusParts, method: string, host: string, stale = false, start = true): void {
  engine.stats.count('hits', host)
  if (stale) engine.stats.count('staleServed', host)
  const { meta } = record
  const response = { status: meta.status, statusText: meta.statusText, headers: engine.hitHeaders(meta, formatCacheStatus(status)), body: record.body }
  if (start) serve(handler, response, method)
  else void deliver(handler, new LocalController(), response, method, false)
}

/**
 * A handler that hands every event on to the caller's handler unchanged; the handlers that
 * watch an unsafe method's response (invalidate.ts, content-location.ts) override only the
 * events they look at.
 */
import type { Dispatcher } from 'undici'
import type { IncomingHttpHeaders } from 'undici/types/header.js'

export class PassThroughHandler implements Dispatcher.DispatchHandler {
  constructor(protected readonly downstream: Dispatcher.DispatchHandler) {}

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.downstream.onRequestStart?.(controller, context)
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, socket: import('node:stream').Duplex): void {
    this.downstream.onRequestUpgrade?.(controller, statusCode, headers, socket)
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.downstream.onResponseStart?.(controller, statusCode, headers, statusMessage)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.downstream.onResponseData?.(controller, chunk)
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.downstream.onResponseEnd?.(controller, trailers)
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.downstream.onResponseError?.(controller, error)
  }
}

/**
 * A forwarded request's response passes through a short chain of steps, each with one job
 * (as undici splits CacheHandler and CacheRevalidationHandler):
 *
 *   CallerSide → [RevalidationStep] → [StaleIfErrorStep] → CaptureStep → the caller's handler
 *
 * CallerSide turns undici's controller into a CallerController once, so every step (and the
 * caller) sees the same one and an abort by the caller is told apart from the origin's faults.
 * A step either answers the caller itself or hands the event on to the next step.
 */
import type { Dispatcher } from 'undici'
import type { IncomingHttpHeaders } from 'undici/types/header.js'
import type { CacheRecord } from '../../backends/contract.js'
import type { Flight } from '../coordinate/flights.js'
import type { Engine } from '../engine.js'
import type { Prepared } from '../prepare/prepare.js'
import { CallerController } from './caller-controller.js'

export interface Step {
  onRequestStart(controller: CallerController, context: unknown): void
  onResponseStart(controller: CallerController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void
  onResponseData(controller: CallerController, chunk: Buffer): void
  onResponseEnd(controller: CallerController, trailers: IncomingHttpHeaders): void
  /** `controller` is undefined when undici fails before any controller was seen. */
  onResponseError(controller: CallerController | undefined, error: Error): void
}

/** What a step that may answer from the stored entry works with. */
export interface Stored {
  engine: Engine
  p: Prepared
  record: CacheRecord
  /** The caller's handler, for an answer the step gives itself. */
  downstream: Dispatcher.DispatchHandler
  /** The coalescing flight this request leads, settled with the step's outcome. */
  flight: Flight | undefined
}

export class CallerSide implements Dispatcher.DispatchHandler {
  private controller: CallerController | undefined

  constructor(
    private readonly first: Step,
    private readonly downstream: Dispatcher.DispatchHandler,
  ) {}

  private caller(upstream: Dispatcher.DispatchController): CallerController {
    if (this.controller?.upstream !== upstream) this.controller = new CallerController(upstream)
    return this.controller
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.first.onRequestStart(this.caller(controller), context)
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, socket: import('node:stream').Duplex): void {
    this.downstream.onRequestUpgrade?.(this.caller(controller), statusCode, headers, socket)
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.first.onResponseStart(this.caller(controller), statusCode, headers, statusMessage)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.first.onResponseData(this.caller(controller), chunk)
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.first.onResponseEnd(this.caller(controller), trailers)
  }

  onResponseError(controller: Dispatcher.DispatchController | null, error: Error): void {
    this.first.onResponseError(controller ? this.caller(controller) : this.controller, error)
  }
}

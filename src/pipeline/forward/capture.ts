/**
 * The last step of a forwarded request: pass the origin's response through to the caller as
 * it arrives while capturing it, store it when decideWrite allows, and settle the coalescing
 * flight it leads so that waiting callers are never left hanging.
 */
import type { Dispatcher } from 'undici'
import type { IncomingHttpHeaders } from 'undici/types/header.js'
import { appendCacheStatus, formatCacheStatus, type Forward } from '../../rules/cache-status.js'
import type { HeaderMap } from '../../backends/contract.js'
import type { Flight } from '../coordinate/flights.js'
import type { Engine } from '../engine.js'
import type { Prepared } from '../prepare/prepare.js'
import { type Decided, entryKey } from '../store.js'
import { LocalController } from '../respond/local-controller.js'
import type { CallerController } from './caller-controller.js'
import type { Step } from './step.js'
import { extended } from '../../util/objects.js'

export interface CaptureOptions {
  fwd: Forward
  /** We sent validators: the origin's status is reported as fwd-status (RFC 9211 §2.3). */
  revalidating: boolean
  /** The coalescing flight this request leads, settled when its outcome is known. */
  flight: Flight | undefined
}

export class CaptureStep implements Step {
  private state: 'waiting' | 'passing' | 'done' = 'waiting'
  private decision: Decided | undefined
  private capturing = false
  private chunks: Buffer[] = []
  private size = 0
  private status = 0
  private statusText = ''
  private headers: HeaderMap = {}

  constructor(
    private readonly engine: Engine,
    private readonly p: Prepared,
    private readonly downstream: Dispatcher.DispatchHandler,
    private readonly opts: CaptureOptions,
  ) {}

  onRequestStart(controller: CallerController, context: unknown): void {
    this.downstream.onRequestStart?.(controller, context)
  }

  onResponseStart(controller: CallerController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    const h = headers as HeaderMap
    const { engine, p } = this
    const { flight } = this.opts
    this.state = 'passing'
    engine.stats.count('misses', p.host)
    this.status = statusCode
    this.statusText = statusMessage ?? ''
    this.headers = h
    const d = engine.decide(p, statusCode, h)
    this.decision = d
    // Capture for the store, or for callers already waiting on this flight even if it is not
    // storable (later joiners of an unstorable, uncaptured response fetch for themselves).
    this.capturing = d.action === 'store' || (flight !== undefined && flight.waiters > 0)
    if (flight && this.capturing) controller.ignorePause = true
    const key = d.action === 'store' ? entryKey(p, d.vary) : p.key
    const cacheStatus = formatCacheStatus({ fwd: this.opts.fwd, fwdStatus: this.opts.revalidating ? statusCode : undefined, stored: d.action === 'store', key })
    this.downstream.onResponseStart?.(controller, statusCode, extended(headers, { 'cache-status': appendCacheStatus(h['cache-status'], cacheStatus) }), statusMessage)
  }

  onResponseData(controller: CallerController, chunk: Buffer): void {
    if (this.state !== 'passing') return
    if (this.capturing) {
      this.size += chunk.byteLength
      if (this.size > this.engine.settings.maxEntrySize) {
        // Over maxEntrySize: stream it through uncached, and share nothing.
        this.capturing = false
        controller.ignorePause = false
        if (this.decision?.action === 'store') this.decision = { action: 'skip', reason: 'body over maxEntrySize' }
        this.chunks = []
      } else {
        this.chunks.push(chunk)
      }
    }
    this.downstream.onResponseData?.(controller, chunk)
  }

  onResponseEnd(controller: CallerController, trailers: IncomingHttpHeaders): void {
    if (this.state !== 'passing') return
    this.state = 'done'
    const { flight } = this.opts
    const d = this.decision
    const body = this.capturing ? Buffer.concat(this.chunks, this.size) : undefined
    this.chunks = []
    if (d?.action === 'store' && body) {
      // Only a body that arrived whole is stored; an aborted or failed one never reaches here.
      if (flight) flight.answered = true
      const stored = this.engine.writer.store(this.p, { status: this.status, statusText: this.statusText, headers: this.headers, body }, d)
      void stored.then((written) => flight?.resolve(written ? { kind: 'stored' } : { kind: 'pass' }))
    } else if (flight && body) {
      const response = { status: this.status, statusText: this.statusText, headers: this.headers, body }
      flight.resolve({ kind: 'response', response, requestHeaders: this.p.headers })
    } else {
      flight?.resolve({ kind: 'pass' })
    }
    this.downstream.onResponseEnd?.(controller, trailers)
  }

  onResponseError(controller: CallerController | undefined, error: Error): void {
    // The leader's own caller giving up is not the origin failing: waiters fetch for themselves.
    this.opts.flight?.resolve(controller?.abortedByCaller ? { kind: 'pass' } : { kind: 'error', error })
    if (this.state === 'done') return
    this.state = 'done'
    this.chunks = []
    this.downstream.onResponseError?.(controller ?? new LocalController(), error)
  }
}

/**
 * The stale-if-error step (RFC 5861 §4): when the origin answers 500, 502, 503 or 504, or the
 * request fails before any response, a stale stored copy may stand in for the error while its
 * window lasts (staleIfErrorAllows). Everything else goes on to the next step.
 */
import type { IncomingHttpHeaders } from 'undici/types/header.js'
import { remainingTtl, staleIfErrorAllows } from '../../rules/decide-read.js'
import { serveStored } from '../respond/serve.js'
import type { CallerController } from './caller-controller.js'
import type { Step, Stored } from './step.js'

export class StaleIfErrorStep implements Step {
  private state: 'waiting' | 'next' | 'stale' = 'waiting'
  private requestStarted = false

  constructor(
    private readonly a: Stored,
    private readonly next: Step,
  ) {}

  onRequestStart(controller: CallerController, context: unknown): void {
    this.requestStarted = true
    this.next.onRequestStart(controller, context)
  }

  onResponseStart(controller: CallerController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (staleIfErrorAllows(this.a.record.meta, this.a.engine.now(), statusCode)) {
      // The origin's error body is drained and dropped (state 'stale'); the caller gets the stored one.
      this.state = 'stale'
      this.a.flight?.resolve({ kind: 'error', error: new Error(`origin answered ${statusCode}`) })
      this.serveStale(statusCode)
      return
    }
    this.state = 'next'
    this.next.onResponseStart(controller, statusCode, headers, statusMessage)
  }

  onResponseData(controller: CallerController, chunk: Buffer): void {
    if (this.state === 'next') this.next.onResponseData(controller, chunk)
  }

  onResponseEnd(controller: CallerController, trailers: IncomingHttpHeaders): void {
    if (this.state === 'next') this.next.onResponseEnd(controller, trailers)
  }

  onResponseError(controller: CallerController | undefined, error: Error): void {
    if (this.state === 'next') return this.next.onResponseError(controller, error)
    if (this.state === 'stale') return
    const callerAborted = controller?.abortedByCaller ?? false
    if (!callerAborted && staleIfErrorAllows(this.a.record.meta, this.a.engine.now())) {
      // A network error may be answered with the stale copy too.
      this.state = 'stale'
      this.a.flight?.resolve({ kind: 'error', error })
      this.serveStale(undefined, error)
      return
    }
    this.next.onResponseError(controller, error)
  }

  private serveStale(fwdStatus: number | undefined, error?: Error): void {
    const { engine, p, record } = this.a
    const now = engine.now()
    const detail = error ? `stale-if-error: ${error.message}` : 'stale-if-error'
    const status = { fwd: 'stale' as const, fwdStatus, ttl: remainingTtl(record.meta, now), key: record.meta.key, detail }
    engine.stats.hit(p.host, true)
    serveStored(this.a.downstream, record, status, p.method, now, !this.requestStarted)
  }
}

/**
 * The revalidation step: we added validators to the request (RFC 9111 §4.3.1), so a 304 is
 * ours to answer. decideRevalidated says what the 304 does to the stored entry; this step
 * writes that out and serves the stored body, or asks again without validators when the 304
 * selects no stored response. Any other status goes on to the next step.
 */
import type { IncomingHttpHeaders } from 'undici/types/header.js'
import { formatCacheStatus, type Forward } from '../../rules/cache-status.js'
import { remainingTtl } from '../../rules/decide-read.js'
import { decideRevalidated } from '../../rules/revalidated.js'
import { debug } from '../../util/debug.js'
import type { CacheRecord, HeaderMap } from '../../backends/contract.js'
import type { Flight } from '../coordinate/flights.js'
import { LocalController } from '../respond/local-controller.js'
import { hitHeaders } from '../respond/serve.js'
import type { CallerController } from './caller-controller.js'
import type { Step, Stored } from './step.js'

export class RevalidationStep implements Step {
  private state: 'next' | 'answered' | 'retry' | 'retried' | 'finished' = 'next'
  private served: CacheRecord | undefined
  private written: Promise<void> = Promise.resolve()

  constructor(
    private readonly a: Stored,
    private readonly next: Step,
    /** Send the request again without our validators, leading the same flight. */
    private readonly retry: (flight: Flight | undefined) => void,
    /** Why the request went forward (RFC 9211 §2.2): `stale`, or `request` when the caller asked. */
    private readonly fwd: Forward,
  ) {}

  onRequestStart(controller: CallerController, context: unknown): void {
    this.next.onRequestStart(controller, context)
  }

  onResponseStart(controller: CallerController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (statusCode !== 304) return this.next.onResponseStart(controller, statusCode, headers, statusMessage)
    const { engine, p, record } = this.a
    const now = engine.now()
    const r = decideRevalidated({
      stored: record.meta,
      notModified: headers as HeaderMap,
      decide: (merged) => engine.decide(p, record.meta.status, merged),
      writable: engine.writer.enabled,
      now,
    })
    if (r.action === 'retry') {
      // The caller, who sent no condition, must not see a 304 that is not for our entry.
      debug('%s %s: 304 does not match the stored entry; retrying unconditionally', p.method, p.url)
      this.state = 'retry'
      return
    }
    engine.stats.count('revalidations', p.host)
    engine.stats.hit(p.host, false)
    const served = { meta: r.meta, body: record.body }
    this.served = served
    this.written = r.action === 'update' ? engine.writer.update(served) : r.action === 'drop' ? engine.writer.drop([record.meta.key]) : Promise.resolve()
    this.state = 'answered'
    const status = formatCacheStatus({ fwd: this.fwd, fwdStatus: 304, ttl: remainingTtl(r.meta, now), key: r.meta.key })
    this.a.downstream.onResponseStart?.(controller, r.meta.status, hitHeaders(r.meta, status, now), r.meta.statusText)
  }

  onResponseData(controller: CallerController, chunk: Buffer): void {
    if (this.state === 'next') this.next.onResponseData(controller, chunk)
  }

  onResponseEnd(controller: CallerController, trailers: IncomingHttpHeaders): void {
    if (this.state === 'next') return this.next.onResponseEnd(controller, trailers)
    if (this.state === 'retried') return
    if (this.state === 'retry') {
      this.state = 'retried'
      return this.retry(this.a.flight)
    }
    this.finish(controller)
  }

  /** Deliver the stored body after a 304 that refreshed it (RFC 9111 §4.3.4). */
  private finish(controller: CallerController | undefined): void {
    this.state = 'finished'
    const served = this.served!
    void this.written.then(() => this.a.flight?.resolve({ kind: 'stored' }))
    const body = this.a.p.method === 'HEAD' ? new Uint8Array(0) : served.body
    const c = controller ?? new LocalController()
    if (body.byteLength > 0) this.a.downstream.onResponseData?.(c, Buffer.from(body.buffer, body.byteOffset, body.byteLength))
    this.a.downstream.onResponseEnd?.(c, {})
  }

  onResponseError(controller: CallerController | undefined, error: Error): void {
    if (this.state === 'next') return this.next.onResponseError(controller, error)
    // The retry leads the flight now, or the caller has its response: this exchange is over.
    if (this.state === 'retried' || this.state === 'finished') return
    if (this.state === 'answered' && !controller?.abortedByCaller) {
      // The 304's headers were complete and the stored response is refreshed: a fault after
      // them (undici rejects a 304 whose Content-Length promises a body it never had, RFC 9111
      // §3.2 / RFC 9110 §15.4.5) concerns no byte the caller gets. Serve the stored body.
      debug('%s %s: error after a 304 ignored: %s', this.a.p.method, this.a.p.url, error.message)
      return this.finish(controller)
    }
    this.a.flight?.resolve(controller?.abortedByCaller ? { kind: 'pass' } : { kind: 'error', error })
    this.a.downstream.onResponseError?.(controller ?? new LocalController(), error)
  }
}

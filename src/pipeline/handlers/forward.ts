/**
 * The handler between the origin and the caller on every forwarded request. It passes the
 * response through as it arrives while capturing it for the store, answers a 304 to our own
 * revalidation with the stored body, stands a stale copy in for errors (stale-if-error), and
 * settles the coalescing flight it leads so that waiting callers are never left hanging.
 */
import type { Dispatcher } from 'undici'
import type { IncomingHttpHeaders } from 'undici/types/header.js'
import { formatCacheStatus, type Forward } from '../../rules/cache-status.js'
import type { Flight } from '../flights.js'
import { debug } from '../../util/debug.js'
import { remainingTtl, staleIfErrorAllows } from '../../rules/decide-read.js'
import { varyNames } from '../../rules/decide-write.js'
import { appendCacheStatus, type Decided, type Engine, type Prepared } from '../engine.js'
import { notModifiedMatches } from '../../rules/policy.js'
import type { CacheRecord, HeaderMap } from '../../backends/contract.js'
import { CallerController, LocalController } from './controller.js'
import { serveRecord } from './serve.js'

type Mode = 'waiting' | 'pass' | 'cached' | 'retry' | 'done'

export interface ForwardOptions {
  /** The stored entry: revalidated by a 304, or the stale-if-error fallback. */
  record: CacheRecord | undefined
  /** We added validators to this request, so a 304 is ours to answer. */
  revalidating: boolean
  fwd: Forward
  /** Send the request again without our validators (after a 304 that is not for our entry). */
  retry?: (flight: Flight | undefined) => void
  /** The coalescing flight this request leads, settled when its outcome is known. */
  flight?: Flight | undefined
}

export class ForwardHandler implements Dispatcher.DispatchHandler {
  private mode: Mode = 'waiting'
  private requestStarted = false
  private controller: CallerController | undefined
  private decision: Decided | undefined
  private capturing = false
  private chunks: Buffer[] = []
  private size = 0
  private status = 0
  private statusText = ''
  private headers: HeaderMap = {}
  private served: CacheRecord | undefined
  private written: Promise<void> = Promise.resolve()

  constructor(
    private readonly engine: Engine,
    private readonly p: Prepared,
    private readonly downstream: Dispatcher.DispatchHandler,
    private readonly opts: ForwardOptions,
  ) {}

  /** The caller's view of the upstream controller: its abort is told apart from the origin's faults. */
  private caller(upstream: Dispatcher.DispatchController): CallerController {
    if (this.controller?.upstream !== upstream) this.controller = new CallerController(upstream)
    return this.controller
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.requestStarted = true
    this.downstream.onRequestStart?.(this.caller(controller), context)
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, socket: import('node:stream').Duplex): void {
    this.downstream.onRequestUpgrade?.(this.caller(controller), statusCode, headers, socket)
  }

  onResponseStart(upstream: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    const controller = this.caller(upstream)
    const h = headers as HeaderMap
    const { record, flight } = this.opts
    const { engine, p } = this
    if (record && this.opts.revalidating && statusCode === 304 && notModifiedMatches(record.meta.headers, h)) {
      // RFC 9111 §4.3.4: the stored response is still good; refresh it and serve its body.
      engine.stats.count('revalidations', p.host)
      engine.stats.count('hits', p.host)
      const { record: served, written } = engine.refreshed(p, record, h)
      this.served = served
      this.written = written
      this.mode = 'cached'
      const ttl = remainingTtl(served.meta, engine.now())
      const status = formatCacheStatus({ fwd: this.opts.fwd, fwdStatus: 304, ttl, key: served.meta.key })
      this.downstream.onResponseStart?.(controller, served.meta.status, engine.hitHeaders(served.meta, status), served.meta.statusText)
      return
    }
    if (record && this.opts.revalidating && statusCode === 304 && this.opts.retry) {
      // RFC 9111 §4.3.4: a 304 whose validators select no stored response must not update
      // it; and the caller, who sent no condition, must not see a 304. Ask again plainly.
      debug('%s %s: 304 does not match the stored entry; retrying unconditionally', p.method, p.url)
      this.mode = 'retry'
      return
    }
    if (record && staleIfErrorAllows(record.meta, engine.now(), statusCode)) {
      // RFC 5861 §4 stale-if-error: a 500/502/503/504 may be answered with the stale copy.
      this.mode = 'done'
      flight?.resolve({ kind: 'error', error: new Error(`origin answered ${statusCode}`) })
      this.serveStale(statusCode)
      return
    }
    this.mode = 'pass'
    engine.stats.count('misses', p.host)
    this.status = statusCode
    this.statusText = statusMessage ?? ''
    this.headers = h
    const d = engine.decideWrite(p, statusCode, h)
    this.decision = d
    // Capture for the store, or for callers already waiting on this flight even if it is not
    // storable (later joiners of an unstorable, uncaptured response fetch for themselves).
    this.capturing = d.action === 'store' || (flight !== undefined && flight.waiters > 0)
    if (flight && this.capturing) controller.ignorePause = true
    const fwdStatus = this.opts.revalidating ? statusCode : undefined
    const key = d.action === 'store' ? engine.entryKey(p, d.vary) : p.key
    if (d.action === 'store') engine.noteStored(key, d.decidedAt, d.expiresAt)
    const cacheStatus = formatCacheStatus({ fwd: this.opts.fwd, ...(fwdStatus === undefined ? {} : { fwdStatus }), stored: d.action === 'store', key })
    const out = { ...headers, 'cache-status': appendCacheStatus(h['cache-status'], cacheStatus) }
    this.downstream.onResponseStart?.(controller, statusCode, out, statusMessage)
  }

  onResponseData(upstream: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.mode !== 'pass') return
    if (this.capturing) {
      this.size += chunk.byteLength
      if (this.size > this.engine.settings.maxEntrySize) {
        // Over maxEntrySize: stream it through uncached, and share nothing.
        this.capturing = false
        this.caller(upstream).ignorePause = false
        if (this.decision?.action === 'store') this.decision = { action: 'skip', reason: 'body over maxEntrySize' }
        this.chunks = []
      } else {
        this.chunks.push(chunk)
      }
    }
    this.downstream.onResponseData?.(this.caller(upstream), chunk)
  }

  onResponseEnd(upstream: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    const controller = this.caller(upstream)
    const { flight } = this.opts
    if (this.mode === 'cached' && this.served) {
      this.mode = 'done'
      const served = this.served
      void this.written.then(() => flight?.resolve({ kind: 'stored' }))
      const body = this.p.method === 'HEAD' ? new Uint8Array(0) : served.body
      if (body.byteLength > 0) this.downstream.onResponseData?.(controller, Buffer.from(body.buffer, body.byteOffset, body.byteLength))
      this.downstream.onResponseEnd?.(controller, {})
      return
    }
    if (this.mode === 'retry') {
      this.mode = 'done'
      this.opts.retry?.(flight)
      return
    }
    if (this.mode !== 'pass') return
    this.mode = 'done'
    const d = this.decision
    const body = this.capturing ? Buffer.concat(this.chunks, this.size) : undefined
    this.chunks = []
    if (d?.action === 'store' && body) {
      // Only a body that arrived whole is stored; an aborted or failed one never reaches here.
      if (flight) flight.answered = true
      const stored = this.engine.store(this.p, this.status, this.statusText, this.headers, body, d)
      void stored.then(() => flight?.resolve({ kind: 'stored' }))
    } else if (flight && body) {
      const response = { status: this.status, statusText: this.statusText, headers: this.headers, body }
      // Not stored, so decideWrite's vary list is not at hand: the response's own Vary decides who may share it.
      flight.resolve({ kind: 'response', response, vary: varyNames(this.headers), requestHeaders: this.p.headers })
    } else {
      flight?.resolve({ kind: 'pass' })
    }
    this.downstream.onResponseEnd?.(controller, trailers)
  }

  onResponseError(upstream: Dispatcher.DispatchController | null, error: Error): void {
    const { record, flight } = this.opts
    const callerAborted = this.controller?.abortedByCaller ?? false
    // The leader's own caller giving up is not the origin failing: waiters fetch for themselves.
    flight?.resolve(callerAborted ? { kind: 'pass' } : { kind: 'error', error })
    if (!callerAborted && this.mode === 'waiting' && record && staleIfErrorAllows(record.meta, this.engine.now())) {
      // RFC 5861 §4: a network error may be answered with the stale copy too.
      this.mode = 'done'
      this.serveStale(undefined, error)
      return
    }
    if (this.mode === 'done' && !this.served) return
    this.mode = 'done'
    this.chunks = []
    const controller = upstream ? this.caller(upstream) : (this.controller ?? new LocalController())
    this.downstream.onResponseError?.(controller, error)
  }

  private serveStale(fwdStatus: number | undefined, error?: Error): void {
    const { engine } = this
    const record = this.opts.record!
    const detail = error ? `stale-if-error: ${error.message}` : 'stale-if-error'
    const status = { fwd: 'stale' as const, ...(fwdStatus === undefined ? {} : { fwdStatus }), ttl: remainingTtl(record.meta, engine.now()), key: record.meta.key, detail }
    // The origin's error body is drained and dropped (mode 'done'); the caller gets the stored one.
    serveRecord(engine, this.downstream, record, status, this.p.method, this.p.host, true, !this.requestStarted)
  }
}

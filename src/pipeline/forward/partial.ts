/**
 * A range request the stored complete response could not answer (RFC 9111 §3.3, §3.4): answered
 * from the parts kept for it when they cover its range, else forwarded with its Range as asked.
 * The origin's answer passes to the caller untouched, and on the way:
 *   - a 206 with one Content-Range of known length and a strong ETag, storable by decideWrite,
 *     is kept as a part and combined with the parts held (pipeline/parts.ts);
 *   - a 200 (an origin that ignores Range sends the whole) is captured and stored as any response;
 *   - anything else (multipart/byteranges, a weak or absent ETag, `/*`) passes unstored.
 */
import type { Dispatcher } from 'undici'
import type { IncomingHttpHeaders } from 'undici/types/header.js'
import type { Forward } from '../../rules/cache-status.js'
import { forbidsOrigin, requestDirectives } from '../../rules/decide-read.js'
import { bodyMatches, type ContentRange, decidePart } from '../../rules/partial.js'
import type { Deadline } from '../../util/deadline.js'
import { debug } from '../../util/debug.js'
import type { HeaderMap } from '../../backends/contract.js'
import type { Engine } from '../engine.js'
import { fromParts, keepPart, partsKeyFor } from '../parts.js'
import type { Prepared } from '../prepare/prepare.js'
import { LocalController } from '../respond/local-controller.js'
import { gatewayTimeout, serveStored } from '../respond/serve.js'
import { type Decided, writeDecision } from '../store.js'
import { CaptureStep } from './capture.js'
import type { CallerController } from './caller-controller.js'
import type { Route } from './forward.js'
import { CallerSide, type Step } from './step.js'

export async function forwardRange(route: Route, fwd: Forward, deadline: Deadline): Promise<void> {
  const { engine, next, opts, p, handler } = route
  const key = partsKeyFor(engine.settings, p)
  const held = key === undefined ? undefined : await fromParts(engine, key, p, deadline)
  if (held) {
    engine.stats.hit(p.host, held.stale)
    return serveStored(handler, held.record, { hit: true, ttl: held.ttl, key: key! }, p.method, engine.now())
  }
  // RFC 9111 §5.2.1.7: only-if-cached never reaches the origin, even for a range the stored
  // response or parts cannot answer (past the end, a content-coding, a stored 404).
  if (forbidsOrigin(requestDirectives(p.headers).cc, p.modes)) return gatewayTimeout(handler, p.method, 'only-if-cached: the range is not in storage')
  if (key === undefined) return void next(opts, handler)
  next(opts, new CallerSide(new PartStep(engine, p, key, handler, fwd), handler))
}

/** The response to a forwarded range request: kept as a part, stored whole (a 200), or passed through. */
class PartStep implements Step {
  /** Set for a 200: the ordinary capture-and-store step takes the whole response. */
  private whole: CaptureStep | undefined
  /** Set for a 206 that may be kept as a part, until its body turns out not to match. */
  private keep: { range: ContentRange; etag: string; decision: Extract<Decided, { action: 'store' }> } | undefined
  private chunks: Buffer[] = []
  private size = 0
  private statusText = ''
  private headers: HeaderMap = {}
  private done = false

  constructor(
    private readonly engine: Engine,
    private readonly p: Prepared,
    private readonly key: string,
    private readonly downstream: Dispatcher.DispatchHandler,
    private readonly fwd: Forward,
  ) {}

  onRequestStart(controller: CallerController, context: unknown): void {
    this.downstream.onRequestStart?.(controller, context)
  }

  onResponseStart(controller: CallerController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    const { engine, p } = this
    if (statusCode === 200) {
      this.whole = new CaptureStep(engine, p, this.downstream, { fwd: this.fwd, revalidating: false, flight: undefined })
      return this.whole.onResponseStart(controller, statusCode, headers, statusMessage)
    }
    const h = headers as HeaderMap
    const part = decidePart(statusCode, h, engine.settings.maxEntrySize)
    // A part is judged as the complete 200 it may become (no-store, filter, allowableCodes,
    // freshness): that 200 is what later requests get; a 206 itself never takes the primary key.
    const d = part.action === 'keep' && !engine.isClosed ? writeDecision(engine.settings, p, 200, h, engine.now()) : undefined
    if (part.action === 'keep' && d?.action === 'store') {
      this.keep = { range: part.range, etag: part.etag, decision: d }
      this.statusText = statusMessage ?? ''
      this.headers = h
    } else if (debug.enabled) {
      debug('%s %s: %d to a range request not kept (%s)', p.method, p.url, statusCode, part.action === 'skip' ? part.reason : (d?.reason ?? 'cache closed'))
    }
    this.downstream.onResponseStart?.(controller, statusCode, headers, statusMessage)
  }

  onResponseData(controller: CallerController, chunk: Buffer): void {
    if (this.whole) return this.whole.onResponseData(controller, chunk)
    if (this.done) return
    if (this.keep) {
      this.size += chunk.byteLength
      // More bytes than the Content-Range names: not a part we can trust; stop holding it.
      if (this.size > this.keep.range.last - this.keep.range.first + 1) {
        this.keep = undefined
        this.chunks = []
      } else {
        this.chunks.push(chunk)
      }
    }
    this.downstream.onResponseData?.(controller, chunk)
  }

  onResponseEnd(controller: CallerController, trailers: IncomingHttpHeaders): void {
    if (this.whole) return this.whole.onResponseEnd(controller, trailers)
    if (this.done) return
    this.done = true
    const keep = this.keep
    // RFC 9110 §14.4: only a body that is exactly the range it claims is kept.
    if (keep && bodyMatches(keep.range, this.size)) {
      const body = Buffer.concat(this.chunks, this.size)
      void keepPart(this.engine, this.key, this.p, { range: keep.range, etag: keep.etag, statusText: this.statusText, headers: this.headers, body, decision: keep.decision })
    } else if (keep) {
      debug('%s %s: part body of %d bytes does not match its Content-Range: not kept', this.p.method, this.p.url, this.size)
    }
    this.chunks = []
    this.downstream.onResponseEnd?.(controller, trailers)
  }

  onResponseError(controller: CallerController | undefined, error: Error): void {
    if (this.whole) return this.whole.onResponseError(controller, error)
    this.chunks = []
    this.keep = undefined
    if (this.done) return
    this.done = true
    this.downstream.onResponseError?.(controller ?? new LocalController(), error)
  }
}

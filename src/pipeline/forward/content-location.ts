/**
 * RFC 9110 §9.3.3 / RFC 9111 §4: "If the response to a POST has explicit freshness and a
 * Content-Location equal to the target URI, the response can be used to satisfy subsequent
 * GET and HEAD requests." This handler sits after the InvalidateHandler (which removes what
 * the POST changed, §4.4, before passing the end on), captures such a response and stores it
 * as the GET response for that URI. Anything else passes through untouched.
 */
import type { Dispatcher } from 'undici'
import type { IncomingHttpHeaders } from 'undici/types/header.js'
import { headerValue } from '../../rules/cache-control.js'
import { postAnswersGet } from '../../rules/decide-write.js'
import type { Engine } from '../engine.js'
import { PassThroughHandler } from './pass-through.js'
import type { Prepared } from '../prepare/prepare.js'
import type { HeaderMap } from '../../backends/contract.js'

export class ContentLocationHandler extends PassThroughHandler {
  private capture: { status: number; statusText: string; headers: HeaderMap; chunks: Buffer[]; size: number } | undefined

  constructor(
    private readonly engine: Engine,
    /** The GET of the POST's target URI, as a request for it would be keyed. */
    private readonly get: Prepared,
    downstream: Dispatcher.DispatchHandler,
  ) {
    super(downstream)
  }

  override onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    const h = headers as HeaderMap
    if (postAnswersGet(this.get.href, statusCode, h, this.engine.now())) {
      this.capture = { status: statusCode, statusText: statusMessage ?? '', headers: h, chunks: [], size: 0 }
    }
    this.downstream.onResponseStart?.(controller, statusCode, headers, statusMessage)
  }

  override onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const c = this.capture
    if (c) {
      c.size += chunk.byteLength
      if (c.size > this.engine.settings.maxEntrySize) this.capture = undefined
      else c.chunks.push(chunk)
    }
    this.downstream.onResponseData?.(controller, chunk)
  }

  override onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    const c = this.capture
    this.capture = undefined
    if (c && headerValue(c.headers, 'content-length') !== undefined && Number(headerValue(c.headers, 'content-length')) !== c.size) {
      // A body shorter than announced is not the response; never store it.
    } else if (c) {
      const { engine } = this
      const d = engine.decide(this.get, c.status, c.headers)
      if (d.action === 'store') void engine.writer.store(this.get, { status: c.status, statusText: c.statusText, headers: c.headers, body: Buffer.concat(c.chunks, c.size) }, d)
    }
    this.downstream.onResponseEnd?.(controller, trailers)
  }

  override onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.capture = undefined
    this.downstream.onResponseError?.(controller, error)
  }
}

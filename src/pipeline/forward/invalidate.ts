import type { Dispatcher } from 'undici'
import type { IncomingHttpHeaders } from 'undici/types/header.js'
import { invalidationTargets } from '../../rules/decide-write.js'
import type { HeaderMap } from '../../backends/contract.js'
import type { Engine } from '../engine.js'
import { Deadline, LATE } from '../../util/deadline.js'
import { BackendError } from '../../util/errors.js'
import { PassThroughHandler } from './pass-through.js'

/** Passes an unsafe request's response through and invalidates its URIs (RFC 9111 §4.4). */
export class InvalidateHandler extends PassThroughHandler {
  private invalidated: Promise<void> = Promise.resolve()

  constructor(
    private readonly engine: Engine,
    private readonly href: string,
    downstream: Dispatcher.DispatchHandler,
  ) {
    super(downstream)
  }

  override onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    // RFC 9111 §4.4: a non-error response to an unsafe method invalidates what it names.
    this.invalidated = this.engine.writer.invalidate(invalidationTargets(this.href, statusCode, headers as HeaderMap))
    this.downstream.onResponseStart?.(controller, statusCode, headers, statusMessage)
  }

  override onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    // The caller hears "done" only once stale entries are gone, so its next GET cannot see them;
    // but never later than lockTimeout after the origin's answer (issue 11: a stalled backend
    // must not hold the request). Then it is told, and the removal goes on behind it.
    const deadline = new Deadline(this.engine.settings.lockTimeout * 1000)
    void deadline.within(this.invalidated).then((done) => {
      if (done === LATE) this.engine.report(new BackendError("invalidation took over lockTimeout; answering before it is done"))
      this.downstream.onResponseEnd?.(controller, trailers)
    })
  }
}

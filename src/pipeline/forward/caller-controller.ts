import type { Dispatcher } from 'undici'

/**
 * The controller handed to the caller for a forwarded request: the upstream one, except that
 * an abort is remembered as the caller's, so a coalescing flight does not pass it on to the
 * other callers waiting for the same response.
 */
export class CallerController implements Dispatcher.DispatchController {
  abortedByCaller = false
  #ignorePause = false
  #pauseWanted = false

  constructor(readonly upstream: Dispatcher.DispatchController) {}

  get paused(): boolean {
    return this.upstream.paused
  }

  get aborted(): boolean {
    return this.upstream.aborted
  }

  get reason(): Error | null {
    return this.upstream.reason
  }

  /**
   * While other callers wait for this response, the caller's backpressure must not stall the
   * origin read: they would wait on a body this caller may not read until they are done. The
   * bytes are buffered in the capture anyway (bounded by maxEntrySize).
   */
  set ignorePause(value: boolean) {
    this.#ignorePause = value
    if (!value && this.#pauseWanted) this.upstream.pause()
  }

  pause(): void {
    this.#pauseWanted = true
    if (!this.#ignorePause) this.upstream.pause()
  }

  resume(): void {
    this.#pauseWanted = false
    this.upstream.resume()
  }

  abort(reason: Error): void {
    this.abortedByCaller = true
    this.upstream.abort(reason)
  }
}

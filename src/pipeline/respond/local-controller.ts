import type { Dispatcher } from 'undici'

/** A DispatchController for responses the cache produces itself (no socket behind them). */
export class LocalController implements Dispatcher.DispatchController {
  #paused = false
  #aborted = false
  #reason: Error | null = null
  #onResume: (() => void) | undefined
  #onAbort: ((reason: Error) => void) | undefined

  constructor(onAbort?: (reason: Error) => void) {
    this.#onAbort = onAbort
  }

  get paused(): boolean {
    return this.#paused
  }

  get aborted(): boolean {
    return this.#aborted
  }

  get reason(): Error | null {
    return this.#reason
  }

  pause(): void {
    this.#paused = true
  }

  resume(): void {
    if (!this.#paused) return
    this.#paused = false
    const resume = this.#onResume
    this.#onResume = undefined
    resume?.()
  }

  abort(reason?: Error): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason ?? new DOMException('This operation was aborted', 'AbortError')
    this.#onAbort?.(this.#reason)
  }

  /** Resolves when the consumer is not paused (or has aborted). */
  whenResumed(): Promise<void> {
    if (!this.#paused || this.#aborted) return Promise.resolve()
    return new Promise((resolve) => {
      this.#onResume = resolve
      const onAbort = this.#onAbort
      this.#onAbort = (reason) => {
        onAbort?.(reason)
        resolve()
      }
    })
  }
}

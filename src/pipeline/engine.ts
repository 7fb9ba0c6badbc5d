/**
 * The engine: the context one cache's requests share — settings, backend, counters, the writer
 * and the coordinator — and the bookkeeping of work under way. It holds no step of the
 * pipeline itself: `send.ts` reads as the order of operations and calls the steps
 * (prepare, lookup, coordinate, forward, store, respond), each in its own module.
 */
import { writesAllowed } from '../rules/decide-write.js'
import { debug } from '../util/debug.js'
import { Memo } from '../util/memo.js'
import type { Settings } from '../config/options.js'
import type { Backend } from '../backends/contract.js'
import { Coordinator } from './coordinate/coordinator.js'
import type { Keyed } from './prepare/prepare.js'
import { EngineStats } from './stats.js'
import { Writer } from './store.js'

export class Engine {
  readonly stats = new EngineStats()
  /** Every write to the backend goes through here (and nowhere when readOnly). */
  readonly writer: Writer
  /** Who fetches a miss: flights in this process, leases across processes. */
  readonly coordinator: Coordinator
  /** Keys by request (prepare/prepare.ts): hashing and URL normalisation run once per URL. */
  readonly keys = new Memo<string, Keyed>(4096)
  private readonly pending = new Set<Promise<unknown>>()
  private readonly closers: Array<() => unknown> = []
  private closed = false

  constructor(
    readonly settings: Settings,
    readonly backend: Backend,
    private readonly ownsBackend: boolean,
  ) {
    const port = { report: (e: unknown) => this.report(e), track: <T>(p: Promise<T>) => this.track(p) }
    this.writer = new Writer(backend, settings, writesAllowed(settings), this.stats, port)
    this.coordinator = new Coordinator(backend, settings.lockTimeout * 1000, port)
  }

  now(): number {
    return Date.now()
  }

  /** A cache fault: counted, logged, told to onError; never thrown at a caller. */
  report(error: unknown): void {
    this.stats.count('errors')
    debug('error: %s', error instanceof Error ? error.message : String(error))
    try {
      this.settings.onError(error)
    } catch {
      // A throwing onError must not turn a cache fault into a failed request.
    }
  }

  /** Work that close() and flush() wait for (writes, background refreshes). */
  track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise)
    void promise.finally(() => this.pending.delete(promise))
    return promise
  }

  /** Something to close with the engine (the Agent a cached fetch made for itself). */
  onClose(close: () => unknown): void {
    this.closers.push(close)
  }

  /** Wait for writes and background refreshes under way. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending])
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.flush()
    for (const close of this.closers) await close()
    if (this.ownsBackend) await this.backend.close()
  }
}

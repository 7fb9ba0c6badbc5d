/**
 * The engine: the context one cache's requests share — settings, backend, counters, the writer
 * and the coordinator — and the bookkeeping of work under way. It holds no step of the
 * pipeline itself: `send.ts` reads as the order of operations and calls the steps
 * (prepare, lookup, coordinate, forward, store, respond), each in its own module.
 */
import { writesAllowed } from '../rules/decide-write.js'
import { Deadline } from '../util/deadline.js'
import { debug } from '../util/debug.js'
import { BackendError } from '../util/errors.js'
import { Memo } from '../util/memo.js'
import type { Settings } from '../config/options.js'
import type { Backend } from '../backends/contract.js'
import { Coordinator } from './coordinate/coordinator.js'
import type { Keyed, Prepared } from './prepare/prepare.js'
import { Handoffs } from './handoff.js'
import { EngineStats } from './stats.js'
import { Pruner } from './prune.js'
import { noteStored } from './stored-times.js'
import { type Decided, entryKey, writeDecision, Writer } from './store.js'
import type { HeaderMap } from '../backends/contract.js'

export class Engine {
  readonly stats = new EngineStats()
  /** Every write to the backend goes through here (and nowhere when readOnly). */
  readonly writer: Writer
  /** Who fetches a miss: flights in this process, leases across processes. */
  readonly coordinator: Coordinator
  /** Keys by request (prepare/prepare.ts): hashing and URL normalisation run once per URL. */
  readonly keys = new Memo<string, Keyed>(4096)
  /** createCachedFetch's fast-path misses, for the dispatch that follows to reuse (handoff.ts). */
  readonly handoffs = new Handoffs()
  /** Removes entries of no use in the background (prune.ts); never for a read-only cache. */
  readonly pruner: Pruner
  /** Keys whose read the backend has not answered by its request's deadline (lookup.ts). */
  readonly stalledReads = new Set<string>()
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
    this.pruner = new Pruner(backend, writesAllowed(settings) ? settings.pruneInterval : 0, () => this.now(), port.report)
  }

  now(): number {
    return Date.now()
  }

  /** Closed: a fetch or dispatcher someone kept passes straight through, uncached. */
  get isClosed(): boolean {
    return this.closed
  }

  /** decideWrite for this request now; a response that arrives after close() is never written, so never `stored`. */
  decide(p: Prepared, status: number, headers: HeaderMap): Decided {
    if (this.closed) return { action: 'skip', reason: 'cache closed' }
    const d = writeDecision(this.settings, p, status, headers, this.now())
    // So that cacheInfo() on the response just stored has its times (stored-times.ts).
    if (d.action === 'store') noteStored(entryKey(p, d.vary), { createdAt: d.decidedAt, expiresAt: d.expiresAt })
    return d
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

  private async flushUntil(deadline: Deadline): Promise<void> {
    while (this.pending.size > 0 && !deadline.passed) await deadline.within(Promise.allSettled([...this.pending]))
  }

  /**
   * close() waits for the work under way as flush() does, but only until lockTimeout: a backend
   * call that never settles (a stalled file system) must not stop a program from shutting down.
   * What is still pending then is reported and left to fail against the closed backend.
   */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.pruner.stop()
    const deadline = new Deadline(this.settings.lockTimeout * 1000)
    await this.flushUntil(deadline)
    // Requests still under way write nothing now (decide), so their leases can go: no other
    // process waits them out.
    this.coordinator.releaseAll()
    await this.flushUntil(deadline)
    if (this.pending.size > 0) this.report(new BackendError(`close: ${this.pending.size} backend call(s) still pending after lockTimeout; closing anyway`))
    for (const close of this.closers) await close()
    if (this.ownsBackend) await this.backend.close()
  }
}

/**
 * Background pruning (issue 11): a disk cache must not keep what no request can use any more.
 * Shortly after a cache is made, then every `pruneInterval`, entries whose `deadAt` has passed
 * (the engine wrote it: past freshness, revalidation and every stale window, see uselessAt() in
 * rules/decide-read.ts) are removed through the backend's optional `pruning` capability.
 *
 * - Bounded: at most PRUNE_MAX_PER_RUN entries a run, in batches that yield to requests between
 *   them; a backlog larger than that is caught up over the following runs.
 * - Off the request path: a hit writes nothing, the timer is unref'd (it keeps no process
 *   alive) and a run's fault goes to onError, never to a request.
 * - Not for read-only caches, nor for caches opened to be inspected (openCache): they must not
 *   change what they look at. `Cache.prune()` runs one on demand.
 */
import type { Backend } from '../backends/contract.js'
import { BackendError } from '../util/errors.js'

/** Entries removed per backend call: one short statement, or a few file removals. */
export const PRUNE_BATCH = 250
/** Entries removed per run at most. */
export const PRUNE_MAX_PER_RUN = 1000
/** The run at open waits this long: the first requests go first; a short script still gets it. */
const FIRST_RUN_DELAY_MS = 100

/** What the last run did, for `Cache.stats()`. */
export interface PruneState {
  /** Seconds between background runs; 0: none (disabled, read-only, inspection, or no capability). */
  interval: number
  /** When the last run finished (ms), or null: none yet. */
  lastRunAt: number | null
  /** How many entries the last run removed. */
  lastRemoved: number
  /** How many entries this process's runs removed in all. */
  removed: number
}

export class Pruner {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<number> | undefined
  private stopped = false
  private started = false
  private lastRunAt: number | null = null
  private lastRemoved = 0
  private removed = 0

  constructor(
    private readonly backend: Backend,
    /** Seconds between background runs; 0: none. */
    private readonly interval: number,
    private readonly now: () => number,
    private readonly report: (error: unknown) => void,
  ) {}

  /** Schedule the run at open and the ones after it; nothing without the capability or an interval. */
  start(): void {
    if (this.backend.pruning === undefined || this.interval <= 0) return
    this.started = true
    this.schedule(FIRST_RUN_DELAY_MS)
  }

  private schedule(ms: number): void {
    if (this.stopped) return
    // One timer at a time, re-armed when a run ends: runs never overlap, however slow the store.
    this.timer = setTimeout(() => {
      void this.run().finally(() => this.schedule(this.interval * 1000))
    }, ms)
    this.timer.unref()
  }

  /** One bounded background run; a fault is reported, never thrown. Resolves to how many went. */
  run(): Promise<number> {
    this.running ??= this.prune(PRUNE_MAX_PER_RUN).then(
      (n) => n,
      (error: unknown) => {
        this.report(error)
        return 0
      },
    ).finally(() => {
      this.running = undefined
    })
    return this.running
  }

  /**
   * Remove entries of no use now, up to `max`, in batches; rejects with a BackendError.
   * Resolves 0 for a backend without the capability.
   */
  async prune(max: number): Promise<number> {
    const pruning = this.backend.pruning
    if (pruning === undefined) return 0
    let removed = 0
    try {
      while (!this.stopped && removed < max) {
        const limit = Math.min(PRUNE_BATCH, max - removed)
        let n: number
        try {
          n = await pruning.prune(this.now(), limit)
        } catch (error) {
          throw new BackendError(`prune failed: ${error instanceof Error ? error.message : String(error)}`, error)
        }
        // A store that answers nonsense is not asked again in this run.
        if (typeof n !== 'number' || !(n > 0)) break
        removed += n
        if (n < limit) break
        await new Promise<void>((resolve) => setImmediate(resolve))
      }
    } finally {
      this.lastRunAt = this.now()
      this.lastRemoved = removed
      this.removed += removed
    }
    return removed
  }

  /** Resolves when no background run is under way (for tests and close()). */
  async idle(): Promise<void> {
    await this.running
  }

  state(): PruneState {
    return { interval: this.started ? this.interval : 0, lastRunAt: this.lastRunAt, lastRemoved: this.lastRemoved, removed: this.removed }
  }

  /** No more runs; waits for one under way (it stops after its current batch). */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.idle()
  }
}

/**
 * Write-behind for SQLiteBackend (issue 14): the entries of misses that arrive close together
 * are written in one transaction instead of one each, and the leases of their fetches are
 * released in it too. A write transaction costs mostly the pages it appends to the WAL (the row,
 * a leaf of each index, the totals row), and entries written together share most of them:
 * 5,000 entries of 1 KiB with a lease each took 104 µs apiece as three transactions per miss
 * (lease, entry, release) and 45 µs as a lease plus one batch per ten entries (better-sqlite3
 * alone, the same schema, this machine).
 *
 * What it keeps:
 *  - `set()` resolves only once its entry is committed: `flush()` and `close()` wait for it,
 *    and a resolved write is as durable as before (WAL, synchronous=NORMAL);
 *  - this process reads its own writes: `get()` answers a queued entry from the queue, and
 *    every other read, list or change commits the queue first;
 *  - another process sees an entry at most DELAY_MS after its response ended, and the lease of
 *    its fetch is released in the same transaction or a later one, never before: a process
 *    waiting on the lease finds it stored;
 *  - one bad entry never sinks the others: a failed batch is written again one entry at a time;
 *  - a process that exits with writes queued commits them first (process 'exit').
 */
// The timers of node:timers, not the globals: a test's fake clock (vi.useFakeTimers) replaces
// the globals, and must not leave a write queued for ever.
import { setTimeout, clearTimeout } from 'node:timers'
import type { CacheRecord } from './contract.js'

/** How long a write waits for others to join its transaction, in ms. */
export const DELAY_MS = 5
/** A batch is written at once when it holds this many writes… */
const MAX_WRITES = 64
/** …or this many body bytes. */
const MAX_BYTES = 4 * 1024 * 1024

interface QueuedSet {
  record: CacheRecord
  /** The statements of this write, run inside the batch's transaction. */
  write: () => void
  size: number
  settled: Array<{ resolve: () => void; reject: (error: unknown) => void }>
}

/** How a batch reaches the database: `commit` runs `work` in one IMMEDIATE transaction, waiting out other processes' locks. */
export interface BatchTarget {
  commit(work: () => void): Promise<void>
  /** The same, now or never: for a process on its way out (no waiting is possible). */
  commitNow(work: () => void): void
  release(key: string, owner: string): void
}

/** Backends with writes queued, committed as the process exits. */
const queued = new Set<WriteBatch>()
let exitHook = false

export class WriteBatch {
  private sets = new Map<string, QueuedSet>()
  private releases = new Map<string, { owner: string; settled: Array<() => void> }>()
  private bytes = 0
  private timer: NodeJS.Timeout | undefined
  /** The batch being committed: batches commit in order, so an older value never lands last. */
  private committing: Promise<void> = Promise.resolve()

  constructor(private readonly target: BatchTarget) {}

  get size(): number {
    return this.sets.size + this.releases.size
  }

  /** Queue an entry; resolves once it is committed. A later write of the same key replaces it. */
  set(key: string, record: CacheRecord, write: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const earlier = this.sets.get(key)
      if (earlier) this.bytes -= earlier.size
      const size = record.body.byteLength
      this.sets.set(key, { record, write, size, settled: [...(earlier?.settled ?? []), { resolve, reject }] })
      this.bytes += size
      this.schedule()
    })
  }

  /** Queue a lease release, committed with the entries (never before one queued earlier). */
  release(key: string, owner: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const r = this.releases.get(key)
      if (r && r.owner === owner) r.settled.push(resolve)
      else this.releases.set(key, { owner, settled: [...(r?.settled ?? []), resolve] })
      this.schedule()
    })
  }

  /** The lease of `key` is being taken again by `owner`: a queued release of it must not undo that. */
  forgetRelease(key: string, owner: string): void {
    const r = this.releases.get(key)
    if (r?.owner !== owner) return
    this.releases.delete(key)
    for (const done of r.settled) done()
  }

  /** A queued entry, read back before it is committed. */
  queued(key: string): CacheRecord | undefined {
    return this.sets.get(key)?.record
  }

  has(key: string): boolean {
    return this.sets.has(key)
  }

  private schedule(): void {
    if (this.sets.size >= MAX_WRITES || this.bytes >= MAX_BYTES) {
      void this.flush()
      return
    }
    if (this.timer) return
    // Not unref'd: a process with writes queued stays up the few ms it takes to commit them.
    this.timer = setTimeout(() => void this.flush(), DELAY_MS)
    queued.add(this)
    if (!exitHook) {
      exitHook = true
      process.on('exit', commitAllNow)
    }
  }

  /** Commit everything queued now (and whatever is being committed); resolves when it is. */
  flush(): Promise<void> {
    const sets = [...this.sets.values()]
    const releases = [...this.releases]
    this.reset()
    if (sets.length === 0 && releases.length === 0) return this.committing
    const run = this.committing.then(() => this.commit(sets, releases))
    this.committing = run
    return run
  }

  /** Drop everything queued (the store is being cleared); its writes resolve as if overwritten. */
  discard(): void {
    const sets = [...this.sets.values()]
    const releases = [...this.releases.values()]
    this.reset()
    for (const s of sets) for (const w of s.settled) w.resolve()
    for (const r of releases) for (const done of r.settled) done()
  }

  /** Closing, or the process exiting: one last try, without waiting for any lock. */
  commitNow(): void {
    const sets = [...this.sets.values()]
    const releases = [...this.releases]
    this.reset()
    if (sets.length === 0 && releases.length === 0) return
    try {
      this.target.commitNow(() => apply(this.target, sets, releases))
      for (const s of sets) for (const w of s.settled) w.resolve()
    } catch (error) {
      // Locked or closed: lost like any write a crash interrupts; the cache misses instead.
      for (const s of sets) for (const w of s.settled) w.reject(error)
    }
    for (const [, r] of releases) for (const done of r.settled) done()
  }

  private reset(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.sets = new Map()
    this.releases = new Map()
    this.bytes = 0
    queued.delete(this)
  }

  private async commit(sets: QueuedSet[], releases: Array<[string, { owner: string; settled: Array<() => void> }]>): Promise<void> {
    try {
      await this.target.commit(() => apply(this.target, sets, releases))
      for (const s of sets) for (const w of s.settled) w.resolve()
    } catch (error) {
      if (sets.length <= 1) for (const s of sets) for (const w of s.settled) w.reject(error)
      else {
        // One entry's fault (a damaged page, a full disk) fails only its own write.
        for (const s of sets) {
          try {
            await this.target.commit(s.write)
            for (const w of s.settled) w.resolve()
          } catch (one) {
            for (const w of s.settled) w.reject(one)
          }
        }
      }
      // Releases are kept for last: a lease is never given back before its entry is written.
      try {
        if (releases.length > 0) await this.target.commit(() => apply(this.target, [], releases))
      } catch {
        // Not given back: it expires by itself (its ttl is lockTimeout).
      }
    } finally {
      for (const [, r] of releases) for (const done of r.settled) done()
    }
  }
}

function apply(target: BatchTarget, sets: QueuedSet[], releases: Array<[string, { owner: string }]>): void {
  for (const s of sets) s.write()
  for (const [key, r] of releases) target.release(key, r.owner)
}

function commitAllNow(): void {
  for (const batch of [...queued]) batch.commitNow()
}

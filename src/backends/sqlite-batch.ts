/**
 * Write-behind for SQLiteBackend (issue 14): the entries of misses that arrive close together
 * are written in one transaction instead of one each, and lease releases ride in the same
 * transactions. A write transaction costs mostly the pages it appends to the WAL (the row, a
 * leaf of each index, the totals row), and entries written together share most of them: 5,000
 * entries of 1 KiB with a lease each took 104 µs apiece as three transactions per miss (lease,
 * entry, release) and 45 µs as a lease plus one batch per ten entries (better-sqlite3 alone,
 * the same schema, this machine).
 *
 * Only writes nobody waits on are held (the backend's `batching` capability: a miss's entry,
 * stored after its response reached the caller); `set()` itself writes at once, after what is
 * queued. What it keeps:
 *  - a queued write resolves only once committed: `flush()` and `close()` wait for it, and a
 *    resolved write is as durable as before (WAL, synchronous=NORMAL);
 *  - this process reads its own writes: `get()` answers an entry queued or being committed
 *    from here (its body a copy, its checksum taken when queued), and every other read or
 *    change waits for the queue and for any commit under way;
 *  - batches commit in order, one at a time, so an older value never lands last;
 *  - a lease is given back in the transaction of the entries queued before it, or a later one;
 *  - one bad entry never sinks the others: a batch that fails (other than on a lock) is written
 *    again one entry at a time; one that waited out busyTimeout fails as a whole, once;
 *  - a process that exits (even by `process.exit()`) commits what is queued or under way.
 */
// The timers of node:timers, not the globals: a test's fake clock (vi.useFakeTimers) replaces
// the globals, and must not leave a write queued for ever.
import { clearTimeout, setTimeout } from 'node:timers'
import type { CacheRecord } from './contract.js'
import { isBusy } from './sqlite-busy.js'

/** How long a write waits for others to join its transaction, in ms. */
export const DELAY_MS = 5
/** A batch is written at once when it holds this many writes… */
const MAX_WRITES = 64
/** …or this many body bytes. */
const MAX_BYTES = 4 * 1024 * 1024

interface QueuedSet {
  key: string
  record: CacheRecord
  /** The statements of this write, run inside the batch's transaction. */
  write: () => void
  settled: Array<{ resolve: () => void; reject: (error: unknown) => void }>
}

interface QueuedRelease {
  key: string
  owner: string
  settled: Array<() => void>
}

interface Batch {
  sets: QueuedSet[]
  releases: QueuedRelease[]
  /** Its transaction has run (or failed for good): the exit hook leaves it alone. */
  over: boolean
}

/** How a batch reaches the database. */
export interface BatchTarget {
  /** Run `work` in one IMMEDIATE transaction, waiting out other processes' locks up to busyTimeout. */
  commit(work: () => void): Promise<void>
  /** The same, now or never (throws when locked or closed): no waiting. */
  commitNow(work: () => void): void
  release(key: string, owner: string): void
}

/** Batches not yet committed, committed as the process exits. */
const open = new Set<WriteBatch>()
let exitHook = false

export class WriteBatch {
  private sets = new Map<string, QueuedSet>()
  /** By owner and key: two owners' releases of one key are two releases. */
  private releases = new Map<string, QueuedRelease>()
  private bytes = 0
  private timer: NodeJS.Timeout | undefined
  /** Sets handed to a commit not yet over, by key: still this process's latest value. */
  private readonly inflight = new Map<string, QueuedSet>()
  /** Keys whose release is in a commit not yet over. */
  private readonly releasing = new Map<string, number>()
  private readonly batches = new Set<Batch>()
  /** The commit under way: batches commit in order, so an older value never lands last. */
  private committing: Promise<void> = Promise.resolve()

  constructor(private readonly target: BatchTarget) {}

  /** Queue a write; resolves once it is committed. A later write of the same key replaces it. */
  set(key: string, record: CacheRecord, write: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const earlier = this.sets.get(key)
      if (earlier) this.bytes -= earlier.record.body.byteLength
      this.sets.set(key, { key, record, write, settled: [...(earlier?.settled ?? []), { resolve, reject }] })
      this.bytes += record.body.byteLength
      this.schedule()
    })
  }

  /** Queue a lease release, committed with the writes queued before it (or later ones). */
  release(key: string, owner: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const id = `${owner}\n${key}`
      const r = this.releases.get(id)
      if (r) r.settled.push(resolve)
      else this.releases.set(id, { key, owner, settled: [resolve] })
      this.schedule()
    })
  }

  /** `owner` takes the lease of `key` again: its queued release must not undo that. */
  forgetRelease(key: string, owner: string): void {
    const id = `${owner}\n${key}`
    const r = this.releases.get(id)
    if (!r) return
    this.releases.delete(id)
    for (const done of r.settled) done()
  }

  /** The latest write of `key` not yet committed, for this process to read. */
  latest(key: string): CacheRecord | undefined {
    return (this.sets.get(key) ?? this.inflight.get(key))?.record
  }

  /** Something about `key` (a write, a release) is queued or being committed. */
  pending(key: string): boolean {
    return this.sets.has(key) || this.inflight.has(key) || this.releasing.has(key)
  }

  /** Nothing queued and nothing being committed. */
  get idle(): boolean {
    return this.sets.size === 0 && this.releases.size === 0 && this.batches.size === 0
  }

  private schedule(): void {
    open.add(this)
    if (!exitHook) {
      exitHook = true
      process.on('exit', commitAllNow)
    }
    if (this.sets.size >= MAX_WRITES || this.bytes >= MAX_BYTES) {
      void this.flush()
      return
    }
    // Not unref'd: a process with writes queued stays up the few ms it takes to commit them.
    this.timer ??= setTimeout(() => void this.flush(), DELAY_MS)
  }

  /** Commit what is queued now, after any commit under way; resolves once all of it is over. */
  flush(): Promise<void> {
    const batch: Batch = { sets: [...this.sets.values()], releases: [...this.releases.values()], over: false }
    this.reset()
    if (batch.sets.length === 0 && batch.releases.length === 0) return this.committing
    this.batches.add(batch)
    for (const s of batch.sets) this.inflight.set(s.key, s)
    for (const r of batch.releases) this.releasing.set(r.key, (this.releasing.get(r.key) ?? 0) + 1)
    // Nothing under way: try at once, so a burst that fills a batch is in the file before any
    // later statement of this process runs. Only another process's lock defers it.
    if (this.batches.size === 1 && this.tryNow(batch)) return this.committing
    const run = this.committing.then(() => this.commit(batch))
    this.committing = run
    return run
  }

  /** Closing, or the process exiting: one last try at everything not yet committed, without waiting. */
  commitNow(): void {
    if (this.sets.size > 0 || this.releases.size > 0) void this.flush()
    for (const batch of [...this.batches]) if (!batch.over) this.tryNow(batch)
  }

  private reset(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.sets = new Map()
    this.releases = new Map()
    this.bytes = 0
  }

  /** Commit `batch` now if the lock is free; false when it must wait (then it is left as it was). */
  private tryNow(batch: Batch): boolean {
    try {
      this.target.commitNow(() => apply(this.target, batch))
    } catch {
      // Locked: the async path waits. Any other fault: it tries again, then entry by entry.
      return false
    }
    this.settle(batch, undefined)
    return true
  }

  private async commit(batch: Batch): Promise<void> {
    if (batch.over) return
    try {
      await this.target.commit(() => apply(this.target, batch))
      this.settle(batch, undefined)
      return
    } catch (error) {
      if (isBusy(error) || batch.sets.length <= 1) {
        // Waited out busyTimeout once already: trying each entry again would wait it out again.
        this.settle(batch, error)
        return
      }
    }
    // One entry's fault (a damaged page, a full disk) fails only its own write.
    const failed = new Map<QueuedSet, unknown>()
    for (const s of batch.sets) {
      try {
        this.target.commitNow(s.write)
      } catch (one) {
        failed.set(s, one)
      }
    }
    try {
      // A lease is never given back before the entries queued with it were tried.
      if (batch.releases.length > 0) this.target.commitNow(() => apply(this.target, { sets: [], releases: batch.releases }))
    } catch {
      // Not given back: it expires by itself (its ttl is lockTimeout).
    }
    this.settle(batch, undefined, failed)
  }

  private settle(batch: Batch, error: unknown, failed?: Map<QueuedSet, unknown>): void {
    batch.over = true
    this.batches.delete(batch)
    for (const s of batch.sets) {
      if (this.inflight.get(s.key) === s) this.inflight.delete(s.key)
      const fault = error ?? failed?.get(s)
      for (const w of s.settled) fault === undefined ? w.resolve() : w.reject(fault)
    }
    for (const r of batch.releases) {
      const n = (this.releasing.get(r.key) ?? 1) - 1
      if (n > 0) this.releasing.set(r.key, n)
      else this.releasing.delete(r.key)
      for (const done of r.settled) done()
    }
    if (this.idle) open.delete(this)
  }
}

function apply(target: BatchTarget, batch: Pick<Batch, 'sets' | 'releases'>): void {
  for (const s of batch.sets) s.write()
  for (const r of batch.releases) target.release(r.key, r.owner)
}

function commitAllNow(): void {
  for (const batch of [...open]) batch.commitNow()
}

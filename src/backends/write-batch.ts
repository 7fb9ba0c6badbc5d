/**
 * Write-behind for one backend connection: set() queues its row here and resolves once the
 * row is committed; every row queued in the same turn of the event loop is committed in one
 * transaction, right after the I/O that produced it (setImmediate). A miss's response thus
 * reaches its caller before the write, concurrent misses share one commit, and `flush()` (which
 * waits for set()'s promise) still waits for the write.
 *
 * The backend stays consistent with its own queue: get() answers from it (read-your-writes),
 * and every other operation commits the queue first, so operations keep their order.
 */
export interface Queued<T> {
  value: T
  waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }>
}

export class WriteBatch<T> {
  private pending = new Map<string, Queued<T>>()
  private scheduled: NodeJS.Immediate | undefined

  /** `commit` writes a whole batch in one transaction, or throws (the batch then fails whole). */
  constructor(private readonly commit: (batch: ReadonlyMap<string, T>) => void) {}

  get size(): number {
    return this.pending.size
  }

  /** Queue `value` under `key` (replacing a queued one); resolves once committed. */
  add(key: string, value: T): Promise<void> {
    return new Promise((resolve, reject) => {
      const queued = this.pending.get(key)
      // Map order is insertion order: a replaced row moves to the end, as a later write would.
      if (queued) this.pending.delete(key)
      this.pending.set(key, { value, waiters: [...(queued?.waiters ?? []), { resolve, reject }] })
      this.scheduled ??= setImmediate(() => {
        this.scheduled = undefined
        this.flush()
      })
    })
  }

  /** The queued value at `key`, if any. */
  peek(key: string): T | undefined {
    return this.pending.get(key)?.value
  }

  /** Forget a queued value (a later write replaced it with nothing): its writers are done. */
  drop(key: string): void {
    const queued = this.pending.get(key)
    if (!queued) return
    this.pending.delete(key)
    for (const w of queued.waiters) w.resolve()
  }

  /** Commit everything queued, now (synchronously). */
  flush(): void {
    if (this.pending.size === 0) return
    const batch = this.pending
    this.pending = new Map()
    const values = new Map<string, T>()
    for (const [key, q] of batch) values.set(key, q.value)
    let failure: { error: unknown } | undefined
    try {
      this.commit(values)
    } catch (error) {
      failure = { error }
    }
    for (const q of batch.values()) for (const w of q.waiters) failure ? w.reject(failure.error) : w.resolve()
  }

  /** Drop everything queued without writing it (clear()). */
  discard(): void {
    const batch = this.pending
    this.pending = new Map()
    for (const q of batch.values()) for (const w of q.waiters) w.resolve()
  }

  stop(): void {
    if (this.scheduled) clearImmediate(this.scheduled)
    this.scheduled = undefined
  }
}

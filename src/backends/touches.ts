/**
 * Recency without a write per hit: reads record "key was used at t" here, in memory, and the
 * backend writes them out in one batch at most once per interval (and before it evicts or
 * closes). A key read a thousand times in an interval costs one write. Touches lost in a crash
 * only make the LRU order a little less exact.
 */
export class TouchBuffer<V> {
  private pending = new Map<string, V>()
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly intervalMs: number,
    private readonly write: (batch: ReadonlyMap<string, V>) => void | Promise<void>,
    /** What the timer runs when the interval is up; default flush(). */
    private readonly onDue?: () => unknown,
  ) {}

  get size(): number {
    return this.pending.size
  }

  add(key: string, value: V): void {
    // The batch's order does not matter (each value carries its own time): a plain set.
    this.pending.set(key, value)
    // The timer never keeps the process alive; close() flushes what is left.
    this.timer ??= setTimeout(() => {
      this.timer = undefined
      Promise.resolve()
        .then(() => (this.onDue ? this.onDue() : this.flush()))
        .catch(() => {})
    }, this.intervalMs).unref()
  }

  get(key: string): V | undefined {
    return this.pending.get(key)
  }

  forget(key: string): void {
    this.pending.delete(key)
  }

  clear(): void {
    this.pending.clear()
  }

  private take(): Map<string, V> {
    const batch = this.pending
    this.pending = new Map()
    return batch
  }

  /** A batch that failed to write goes back, behind anything newer recorded meanwhile. */
  private putBack(batch: Map<string, V>): void {
    for (const [key, value] of batch) if (!this.pending.has(key)) this.pending.set(key, value)
  }

  /** Write the pending touches now. On failure they are kept for the next attempt. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return
    const batch = this.take()
    await Promise.resolve(this.write(batch)).catch((error: unknown) => {
      this.putBack(batch)
      throw error
    })
  }

  /** The synchronous variant, for a synchronous `write` (SQLite): a throw keeps them pending. */
  flushSync(): void {
    if (this.pending.size === 0) return
    const batch = this.take()
    try {
      void this.write(batch)
    } catch (error) {
      this.putBack(batch)
      throw error
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }
}

/**
 * Not part of the Backend contract: a store with its own recency order (SQLite, File, Memory)
 * may take `touch(key)`, a use served by a tier in front of it, so its LRU keeps the entry.
 */
export function touchOf(backend: object): ((key: string) => void) | undefined {
  const touch = (backend as { touch?: unknown }).touch
  return typeof touch === 'function' ? (touch.bind(backend) as (key: string) => void) : undefined
}

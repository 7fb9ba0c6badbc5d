/**
 * TieredBackend: a small in-memory LRU in front of any other backend. Reads go to memory first
 * and fill it from the backend behind (read-through); writes go to the backend, then to memory
 * (write-through); deletes and clears reach both. A hot entry is answered from memory with no
 * disk read, and its use is passed on to the backend behind (`touch`) so that the backend's LRU
 * does not evict it for lack of reads.
 *
 * The memory tier belongs to this process: what another process deletes or overwrites in a
 * shared backend stays visible here until this process's copy is evicted or replaced — unless
 * the backend behind offers `watch` (RedisBackend, over pub/sub): then what other processes
 * change is dropped from memory as soon as the backend hears of it.
 */
import { checkBackend, type Backend, type BackendLeases, type BackendMaintenance, type BackendPruning, type BackendStats, type CacheRecord, type EntryFilter, type EntryMeta } from './contract.js'
import { checkOptions } from './limits.js'
import { touchOf } from './touches.js'
import { type StoreChange, watchOf } from './changes.js'
import { MemoryBackend, type MemoryBackendOptions } from './memory.js'

export interface TieredBackendOptions {
  /** The store of record behind the memory tier (SQLite, File, …). Closed with this backend. */
  backend: Backend
  /** Limits of the memory tier. Default: 1000 entries, 32 MiB, entries up to 1 MiB. */
  memory?: MemoryBackendOptions
}

export class TieredBackend implements Backend {
  /** The memory tier. */
  readonly front: MemoryBackend
  /** The backend behind it. */
  readonly back: Backend
  /** Leases (cross-process coalescing) are the shared backend's business. */
  readonly leases: BackendLeases | undefined
  readonly maintenance: BackendMaintenance | undefined
  readonly listing: boolean | undefined
  /**
   * Both tiers: the store of record through its own capability (counted), and the memory tier,
   * which would otherwise keep dead copies until pushed out. A store that expires natively
   * (Redis, Memcached) has no capability: then only memory is pruned (and counted).
   */
  readonly pruning: BackendPruning = {
    prune: async (now, limit) => {
      const n = this.back.pruning ? await this.back.pruning.prune(now, limit) : undefined
      const hot = await this.front.pruning.prune(now, limit)
      return n ?? hot
    },
  }
  /** Keys being read from the backend behind, and how many reads of each are under way. */
  private readonly reading = new Map<string, number>()
  /** Keys written or deleted while a read of them was under way: that read must not fill memory. */
  private readonly overtaken = new Set<string>()
  private readonly unwatch: (() => void) | undefined

  constructor(options: TieredBackendOptions) {
    const o = checkOptions(options, ['backend', 'memory'], 'TieredBackend')
    const back = checkBackend(o.backend, 'TieredBackend backend')
    this.back = back
    this.leases = back.leases
    this.maintenance = back.maintenance
    this.listing = back.listing
    this.front = new MemoryBackend({ maxEntries: 1000, maxSize: 32 * 1024 * 1024, maxEntrySize: 1024 * 1024, ...(o.memory as MemoryBackendOptions | undefined) })
    this.unwatch = watchOf(back)?.((change) => this.forget(change))
  }

  /** Another process changed the store: our copies of what changed are outdated. */
  private forget(change: StoreChange): void {
    const keys = 'all' in change ? [...this.reading.keys()] : change.keys
    this.overtake(keys)
    // The memory tier is synchronous underneath; these settle at once.
    void ('all' in change ? this.front.clear() : this.front.delete(keys)).catch(() => {})
  }

  async get(key: string): Promise<CacheRecord | undefined> {
    const hot = await this.front.get(key)
    if (hot) {
      touchOf(this.back)?.(key)
      return hot
    }
    this.reading.set(key, (this.reading.get(key) ?? 0) + 1)
    try {
      const record = await this.back.get(key)
      if (record && !this.overtaken.has(key)) await this.front.set(key, record)
      return record
    } finally {
      const n = this.reading.get(key)! - 1
      if (n > 0) this.reading.set(key, n)
      else {
        this.reading.delete(key)
        this.overtaken.delete(key)
      }
    }
  }

  private overtake(keys: Iterable<string>): void {
    for (const key of keys) if (this.reading.has(key)) this.overtaken.add(key)
  }

  touch(key: string): void {
    this.front.touch(key)
    touchOf(this.back)?.(key)
  }

  /*
   * Every change goes to the store of record first, and only then marks reads under way and
   * changes memory: a read that started before the change finished may carry the old record,
   * and is marked so that it does not put it back into memory; a read that starts after it
   * finds the new state in the backend.
   */
  async set(key: string, record: CacheRecord): Promise<void> {
    try {
      await this.back.set(key, record)
    } catch (error) {
      // Memory must never hold what the store of record does not.
      this.overtake([key])
      await this.front.delete([key])
      throw error
    }
    this.overtake([key])
    await this.front.set(key, record)
  }

  async delete(keys: readonly string[]): Promise<number> {
    const n = await this.back.delete(keys)
    this.overtake(keys)
    await this.front.delete(keys)
    return n
  }

  async deleteMatching(filter: EntryFilter): Promise<number> {
    const n = await this.back.deleteMatching(filter)
    this.overtake(this.reading.keys())
    await this.front.deleteMatching(filter)
    return n
  }

  /** Listing is the backend's: memory holds a subset. */
  entries(filter?: EntryFilter): AsyncIterable<[string, EntryMeta]> {
    return this.back.entries(filter)
  }

  stats(): Promise<BackendStats> {
    return this.back.stats()
  }

  async clear(): Promise<void> {
    await this.back.clear()
    this.overtake(this.reading.keys())
    await this.front.clear()
  }

  async close(): Promise<void> {
    this.unwatch?.()
    await this.front.close()
    await this.back.close()
  }
}

/** MemoryBackend: a Map in LRU order, bounded by entry count and bytes. */
import { BackendError } from '../util/errors.js'
import type { Backend, BackendPruning, BackendStats, CacheRecord, EntryFilter, EntryMeta } from './contract.js'
import { matchesFilter } from './filter.js'
import { checkOptions, fits, isDead, LIMIT_OPTIONS, type Limits, positive, resolveLimits, weigh } from './limits.js'

export interface MemoryBackendOptions {
  /** Most entries kept; the least recently used go first. Default: unbounded. */
  maxEntries?: number
  /** Most bytes of bodies and metadata kept. Default 256 MiB. */
  maxSize?: number
  /** Largest entry (body and metadata) stored; larger ones are silently not stored. Default: maxSize. */
  maxEntrySize?: number
  /**
   * Milliseconds an entry is kept after it was stored here, however often it is read. A tier in
   * front of a store other processes change (Memcached) uses it to bound how long this process
   * may serve what another has replaced or deleted. Default: no limit.
   */
  maxAgeMs?: number
}

export class MemoryBackend implements Backend {
  private readonly map = new Map<string, { record: CacheRecord; weight: number; storedAt: number }>()
  private bytes = 0
  private closed = false
  private readonly limits: Limits
  private readonly maxAgeMs: number

  /** Capability: entries of no use dropped without waiting for the caps to push them out. */
  readonly pruning: BackendPruning = {
    prune: async (now, limit) => {
      this.open()
      let n = 0
      for (const [key, { record }] of this.map) {
        if (n >= limit) break
        if (isDead(record.meta, now) && this.remove(key)) n++
      }
      return n
    },
  }

  constructor(options: MemoryBackendOptions = {}) {
    const o = checkOptions(options, [...LIMIT_OPTIONS, 'maxAgeMs'], 'MemoryBackend')
    this.limits = resolveLimits(o, 'MemoryBackend', { maxSize: 256 * 1024 * 1024 })
    this.maxAgeMs = positive(o.maxAgeMs, 'MemoryBackend maxAgeMs', Infinity)
  }

  get size(): number {
    return this.map.size
  }

  get totalBytes(): number {
    return this.bytes
  }

  private open(): void {
    if (this.closed) throw new BackendError('MemoryBackend is closed')
  }

  async get(key: string): Promise<CacheRecord | undefined> {
    this.open()
    const slot = this.map.get(key)
    if (!slot) return undefined
    if (this.maxAgeMs !== Infinity && Date.now() - slot.storedAt >= this.maxAgeMs) {
      this.remove(key)
      return undefined
    }
    // Re-insert: Map iteration order is the LRU order, oldest first.
    this.map.delete(key)
    this.map.set(key, slot)
    return slot.record
  }

  /** Mark an entry as used without reading it (TieredBackend's hits in front of this one). */
  touch(key: string): void {
    const slot = this.map.get(key)
    if (!slot || this.closed) return
    this.map.delete(key)
    this.map.set(key, slot)
  }

  async set(key: string, record: CacheRecord): Promise<void> {
    this.open()
    const weight = weigh(record.meta, record.body.byteLength)
    // The old value is outdated either way; a new one too large to keep replaces it with nothing.
    this.remove(key)
    if (!fits(weight, this.limits)) return
    this.map.set(key, { record, weight, storedAt: Date.now() })
    this.bytes += weight
    this.evict(key)
  }

  private remove(key: string): boolean {
    const slot = this.map.get(key)
    if (!slot) return false
    this.map.delete(key)
    this.bytes -= slot.weight
    return true
  }

  private full(): boolean {
    return this.map.size > this.limits.maxEntries || this.bytes > this.limits.maxSize
  }

  /** Entries of no use go first, then the least recently used; never the one just written. */
  private evict(written: string): void {
    if (!this.full()) return
    const now = Date.now()
    for (const [key, { record }] of this.map) {
      if (!this.full()) return
      if (key !== written && isDead(record.meta, now)) this.remove(key)
    }
    for (const key of this.map.keys()) {
      if (!this.full()) return
      this.remove(key)
    }
  }

  async delete(keys: readonly string[]): Promise<number> {
    this.open()
    let n = 0
    for (const key of keys) if (this.remove(key)) n++
    return n
  }

  async deleteMatching(filter: EntryFilter): Promise<number> {
    this.open()
    let n = 0
    for (const [key, { record }] of [...this.map]) if (matchesFilter(record.meta, filter) && this.remove(key)) n++
    return n
  }

  async *entries(filter?: EntryFilter): AsyncIterable<[string, EntryMeta]> {
    this.open()
    for (const [key, { record }] of [...this.map]) {
      if (matchesFilter(record.meta, filter)) yield [key, record.meta]
    }
  }

  async stats(): Promise<BackendStats> {
    this.open()
    return { entries: this.map.size, bytes: this.bytes }
  }

  async clear(): Promise<void> {
    this.open()
    this.map.clear()
    this.bytes = 0
  }

  async close(): Promise<void> {
    this.closed = true
    this.map.clear()
    this.bytes = 0
  }
}

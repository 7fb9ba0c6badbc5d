/** MemoryBackend: a Map in LRU order, bounded by entry count and bytes. */
import { ConfigError, show } from '../errors.js'
import type { Backend, CacheRecord, EntryFilter, EntryMeta } from '../types.js'
import { matchesFilter } from './filter.js'

export interface MemoryBackendOptions {
  /** Most entries kept; the least recently used go first. Default: unbounded. */
  maxEntries?: number
  /** Most bytes of bodies and metadata kept. Default 256 MiB. */
  maxSize?: number
}

function limit(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(value > 0) || (!Number.isInteger(value) && value !== Infinity)) {
    throw new ConfigError(`${option}: expected a positive whole number; got ${show(value)}`)
  }
  return value
}

/** Approximate bytes an entry holds: body plus metadata as JSON would be. */
function weigh(record: CacheRecord): number {
  return record.body.byteLength + JSON.stringify(record.meta).length
}

export class MemoryBackend implements Backend {
  private readonly map = new Map<string, { record: CacheRecord; weight: number }>()
  private bytes = 0
  private readonly maxEntries: number
  private readonly maxSize: number

  constructor(options: MemoryBackendOptions = {}) {
    this.maxEntries = limit(options.maxEntries, 'MemoryBackend maxEntries', Infinity)
    this.maxSize = limit(options.maxSize, 'MemoryBackend maxSize', 256 * 1024 * 1024)
  }

  get size(): number {
    return this.map.size
  }

  get totalBytes(): number {
    return this.bytes
  }

  async get(key: string): Promise<CacheRecord | undefined> {
    const slot = this.map.get(key)
    if (!slot) return undefined
    // Re-insert: Map iteration order is the LRU order, oldest first.
    this.map.delete(key)
    this.map.set(key, slot)
    return slot.record
  }

  async set(key: string, record: CacheRecord): Promise<void> {
    const weight = weigh(record)
    this.remove(key)
    if (weight > this.maxSize) return
    this.map.set(key, { record, weight })
    this.bytes += weight
    this.evict()
  }

  private remove(key: string): boolean {
    const slot = this.map.get(key)
    if (!slot) return false
    this.map.delete(key)
    this.bytes -= slot.weight
    return true
  }

  private evict(): void {
    if (this.map.size <= this.maxEntries && this.bytes <= this.maxSize) return
    // Expired entries go first, then the least recently used.
    const now = Date.now()
    for (const [key, { record }] of this.map) {
      if (this.map.size <= this.maxEntries && this.bytes <= this.maxSize) return
      if (record.meta.expiresAt !== null && record.meta.expiresAt <= now && record.meta.staleIfErrorUntil !== null && record.meta.staleIfErrorUntil <= now) this.remove(key)
    }
    for (const key of this.map.keys()) {
      if (this.map.size <= this.maxEntries && this.bytes <= this.maxSize) return
      this.remove(key)
    }
  }

  async delete(keys: readonly string[]): Promise<number> {
    let n = 0
    for (const key of keys) if (this.remove(key)) n++
    return n
  }

  async *entries(filter?: EntryFilter): AsyncIterable<[string, EntryMeta]> {
    for (const [key, { record }] of [...this.map]) {
      if (matchesFilter(record.meta, filter)) yield [key, record.meta]
    }
  }

  async clear(): Promise<void> {
    this.map.clear()
    this.bytes = 0
  }

  async close(): Promise<void> {}
}

/**
 * Cache: inspection and maintenance of a store, from the engine that drives the front ends
 * (`cachedFetch.cache`, `interceptor.cache`, `installCache()`'s return value).
 */
import type { Engine } from './engine.js'
import { responseFrom } from './response.js'
import type { EntryFilter, EntryMeta } from './types.js'

export interface DeleteOptions {
  keys?: readonly string[]
  urls?: readonly string[]
  /** Delete entries that are expired now. */
  expired?: boolean
  /** Delete entries created more than this many seconds ago. */
  olderThan?: number
}

export class Cache {
  constructor(
    /** @internal */ readonly engine: Engine,
  ) {}

  /** A Response built from the stored entry for this key or URL (GET), or undefined. */
  async get(keyOrUrl: string): Promise<Response | undefined> {
    let record = await this.engine.backend.get(keyOrUrl).catch(() => undefined)
    if (!record) {
      for await (const [key, meta] of this.engine.backend.entries({ urls: [keyOrUrl] })) {
        if (meta.kind === 'response' && meta.method === 'GET') {
          record = await this.engine.backend.get(key)
          break
        }
      }
    }
    if (!record || record.meta.kind !== 'response') return undefined
    return responseFrom(this.engine, record, 'fetchcache; hit', record.meta.url, 'GET')
  }

  /** Stored responses (Vary markers left out), optionally filtered. */
  async *entries(filter?: EntryFilter): AsyncIterable<EntryMeta> {
    for await (const [, meta] of this.engine.backend.entries(filter)) if (meta.kind === 'response') yield meta
  }

  async urls(filter?: EntryFilter): Promise<string[]> {
    const out = new Set<string>()
    for await (const meta of this.entries(filter)) out.add(meta.url)
    return [...out].sort()
  }

  /** Delete by keys, URLs (all variants), expiry or age; returns how many entries went. */
  async delete(options: DeleteOptions): Promise<number> {
    const { backend } = this.engine
    const keys = new Set(options.keys ?? [])
    const now = this.engine.now()
    const filters: EntryFilter[] = []
    if (options.urls?.length) filters.push({ urls: options.urls })
    if (options.expired) filters.push({ expiredAt: now })
    if (options.olderThan !== undefined) filters.push({ createdBefore: now - options.olderThan * 1000 })
    for (const filter of filters) for await (const [key] of backend.entries(filter)) keys.add(key)
    return keys.size === 0 ? 0 : backend.delete([...keys])
  }

  clear(): Promise<void> {
    return this.engine.backend.clear()
  }

  stats() {
    return this.engine.stats.snapshot()
  }

  /** Wait for writes and background refreshes under way. */
  flush(): Promise<void> {
    return this.engine.flush()
  }

  close(): Promise<void> {
    return this.engine.close()
  }
}

/**
 * Cache: inspection and maintenance of a store, from the engine that drives the front ends
 * (`cachedFetch.cache`, `interceptor.cache`, `installCache()`'s return value, `openCache()`).
 * Everything here reads and writes through the backend contract, so it works on every backend.
 */
import { isExpired } from '../rules/decide-read.js'
import { staleWindows } from '../rules/decide-write.js'
import type { Engine } from '../pipeline/engine.js'
import { ConfigError, UnsupportedError } from '../util/errors.js'
import { type ExpireAfter, DO_NOT_CACHE, expiresAtFor, parseDuration, parseExpiry } from '../config/expiry.js'
import { compilePattern, matchesPattern } from '../util/glob.js'
import type { Har, HarImportResult } from './har/types.js'
import { normalizeUrl } from '../pipeline/prepare/normalize.js'
import { responseFrom } from '../pipeline/respond/response.js'
import { cacheStats, hostOf } from './stats.js'
import type { Backend, CacheRecord, EntryFilter, EntryMeta } from '../backends/contract.js'
import { requestKey } from '../pipeline/prepare/key.js'
import type { CacheFilter, CacheStats, DeleteOptions, StoreRequest, StoreResponse, StoreResult } from './types.js'

function list<T>(value: T | readonly T[] | undefined): readonly T[] | undefined {
  if (value === undefined) return undefined
  return Array.isArray(value) ? (value as readonly T[]) : [value as T]
}

/** `memcached` for a MemcachedBackend, alone or behind a memory tier: how errors name a backend. */
function backendName(backend: Backend): string {
  const store = (backend as { back?: Backend }).back ?? backend
  return store.constructor.name.replace(/Backend$/, '').toLowerCase() || 'this'
}

/** How many keys one backend.delete() call takes, so progress can be reported between them. */
const DELETE_BATCH = 500

export class Cache {
  constructor(
    /** @internal */ readonly engine: Engine,
  ) {}

  /**
   * A Response built from the stored entry for this key, or else for this URL (GET, the first
   * variant found), or undefined. It carries `Age` and `Cache-Status: fetchcache; hit`.
   */
  async get(keyOrUrl: string): Promise<Response | undefined> {
    const { backend } = this.engine
    let record = await this.getEntry(keyOrUrl).catch(() => undefined)
    if (record?.meta.kind !== 'response' && backend.listing === false) {
      // Without listing, a URL is found at the key a plain GET of it has (no Vary variants).
      record = await this.getByGetKey(keyOrUrl)
    } else if (record?.meta.kind !== 'response') {
      // A Vary marker's key stands for its URL.
      const urls = record ? [record.meta.url] : this.urlForms([keyOrUrl])
      record = undefined
      if (urls.length > 0) {
        for await (const [key, meta] of backend.entries({ urls })) {
          if (meta.kind === 'response' && meta.method === 'GET') {
            record = await backend.get(key).catch(() => undefined)
            if (record) break
          }
        }
      }
    }
    if (!record || record.meta.kind !== 'response') return undefined
    return responseFrom(record, 'fetchcache; hit', record.meta.url, 'GET', this.engine.now())
  }

  /**
   * The cache's clock, in ms since the epoch: what ages, expiry and the `expired` and
   * `olderThan` filters are measured against (the engine's, so a test that fakes it sees the
   * same time the cache does).
   */
  now(): number {
    return this.engine.now()
  }

  /**
   * The stored record at exactly this key (metadata and stored body), a response or a Vary
   * marker, with no URL fallback and no rule applied; undefined when nothing is stored there.
   * Rejects with `CorruptEntryError` for an entry that does not decode, `BackendError` for a
   * failing store. For inspection and export; `get()` gives a Response.
   */
  getEntry(key: string): Promise<CacheRecord | undefined> {
    return this.engine.backend.get(key)
  }

  /**
   * Store a record as it is, at `record.meta.key`, with no rule applied: for putting back
   * entries read with `getEntry()` or exported to HAR. The store's own limits still apply.
   */
  putEntry(record: CacheRecord): Promise<void> {
    return this.engine.backend.set(record.meta.key, record)
  }

  /**
   * Store a response as if it had just arrived for this request, by this cache's rules: the
   * request is keyed as the cached fetch keys it, and the response stored only if
   * `decideWrite` would store it (Cache-Control, Expires, Vary, allowableCodes, filter,
   * maxEntrySize…). Resolves with the reason when it is not stored; rejects with
   * `BackendError` when the write fails.
   */
  async storeResponse(request: StoreRequest, response: StoreResponse): Promise<StoreResult> {
    const req = { method: request.method, url: request.url, headers: request.headers ?? {}, body: request.body }
    const received = { status: response.status, statusText: response.statusText ?? '', headers: response.headers, body: response.body }
    // Loaded on first use: only storeResponse() admits from outside, and a cold start need not load it.
    const { admit } = await import('../pipeline/admit.js')
    const reason = await admit(this.engine, req, received)
    return reason === undefined ? { stored: true } : { stored: false, reason }
  }

  private async getByGetKey(url: string): Promise<CacheRecord | undefined> {
    for (const form of this.urlForms([url])) {
      let key: string
      try {
        key = requestKey({ method: 'GET', url: form, headers: {}, body: undefined }, this.engine.settings).key
      } catch {
        continue
      }
      const record = await this.engine.backend.get(key).catch(() => undefined)
      if (record?.meta.kind === 'response' && record.meta.method === 'GET') return record
    }
    return undefined
  }

  /** Stored responses (Vary markers left out) that match every field of the filter. */
  async *entries(filter: CacheFilter = {}): AsyncIterable<EntryMeta> {
    this.needListing('entries()')
    const now = this.now()
    const { backendFilter, matches } = this.compile(filter, now)
    for await (const [, meta] of this.engine.backend.entries(backendFilter)) {
      if (meta.kind === 'response' && matches(meta)) yield meta
    }
  }

  /**
   * The Vary markers: the records at primary keys that name the Vary fields of their URL's
   * variants (`kind: 'vary'`). `entries()` leaves them out; HAR export needs them to restore
   * variants exactly.
   */
  async *markers(filter: EntryFilter = {}): AsyncIterable<EntryMeta> {
    for await (const [, meta] of this.engine.backend.entries(filter)) {
      if (meta.kind === 'vary') yield meta
    }
  }

  /** The distinct URLs of the stored responses that match the filter, sorted. */
  async urls(filter?: CacheFilter): Promise<string[]> {
    this.needListing('urls()')
    const out = new Set<string>()
    for await (const meta of this.entries(filter)) out.add(meta.url)
    return [...out].sort()
  }

  /**
   * Delete by keys, URLs (all variants), expiry or age; an entry goes when it matches any of
   * them. Returns how many stored responses went (Vary markers left without variants are
   * removed too, and not counted).
   */
  async delete(options: DeleteOptions): Promise<number> {
    const { backend } = this.engine
    const now = this.now()
    const filters: EntryFilter[] = []
    if (options.urls?.length || options.expired || options.olderThan !== undefined) this.needListing('delete() by URL, expiry or age')
    if (options.urls?.length) filters.push({ urls: this.urlForms(options.urls) })
    if (options.expired) filters.push({ expiredAt: now })
    if (options.olderThan !== undefined) filters.push({ createdBefore: now - parseDuration(options.olderThan, 'olderThan', '7d') * 1000 })
    const targets = new Map<string, EntryMeta | undefined>()
    for (const key of options.keys ?? []) targets.set(key, undefined)
    for (const filter of filters) for await (const [key, meta] of backend.entries(filter)) targets.set(key, meta)
    for (const [key, meta] of targets) {
      if (meta === undefined) {
        const record = await backend.get(key).catch(() => undefined)
        targets.set(key, record?.meta)
      }
    }
    return this.remove(targets)
  }

  /**
   * Delete these entries in batches, calling `onProgress` after each; the cleanup of Vary
   * markers that no longer have variants happens at the end.
   * @internal the command line's `purge` uses it for its progress bar.
   */
  async remove(targets: ReadonlyMap<string, EntryMeta | undefined>, onProgress?: (done: number) => void): Promise<number> {
    const { backend } = this.engine
    const responses: string[] = []
    const markers: string[] = []
    const varied = new Set<string>()
    for (const [key, meta] of targets) {
      // Markers and kept parts go too, uncounted: they are no stored response.
      if (meta?.kind === 'vary' || meta?.kind === 'parts') markers.push(key)
      else responses.push(key)
      if (meta && meta.vary.length > 0) varied.add(meta.url)
    }
    let deleted = 0
    for (let i = 0; i < responses.length; i += DELETE_BATCH) {
      deleted += await backend.delete(responses.slice(i, i + DELETE_BATCH))
      onProgress?.(Math.min(i + DELETE_BATCH, responses.length))
    }
    if (markers.length > 0) await backend.delete(markers)
    if (varied.size > 0) await this.dropOrphanMarkers([...varied])
    return deleted
  }

  /** A Vary marker whose variants are all gone would only turn later requests into vary-misses. */
  private async dropOrphanMarkers(urls: readonly string[]): Promise<void> {
    const markers = new Map<string, string[]>()
    const live = new Set<string>()
    for await (const [key, meta] of this.engine.backend.entries({ urls })) {
      const id = `${meta.method} ${meta.url}`
      if (meta.kind === 'response') live.add(id)
      else if (meta.kind === 'vary') markers.set(id, [...(markers.get(id) ?? []), key])
    }
    const orphans = [...markers].filter(([id]) => !live.has(id)).flatMap(([, keys]) => keys)
    if (orphans.length > 0) await this.engine.backend.delete(orphans)
  }

  clear(): Promise<void> {
    return this.engine.backend.clear()
  }

  /**
   * Give every stored response a new expiry, counted from now (requests-cache's
   * `reset_expiration`): seconds, a duration like `'1h'`, a Date, `NEVER_EXPIRE` or
   * `EXPIRE_IMMEDIATELY`. The stale-if-error and stale-while-revalidate windows move with it.
   * Returns how many entries were updated.
   */
  async resetExpiration(expireAfter: ExpireAfter): Promise<number> {
    const expiry = parseExpiry(expireAfter, 'expireAfter')
    if (expiry === DO_NOT_CACHE) throw new ConfigError(`expireAfter: DO_NOT_CACHE makes no sense for stored entries; use delete() or clear()`)
    const { backend } = this.engine
    const now = this.now()
    const expiresAt = expiresAtFor(expiry, now)
    this.needListing('resetExpiration()')
    let n = 0
    for await (const [key, meta] of backend.entries()) {
      if (meta.kind !== 'response') continue
      const record = await backend.get(key)
      if (!record) continue
      // The windows are recomputed from the entry's headers and this cache's options, exactly as
      // a new store would compute them for this expiry.
      const windows = staleWindows(expiresAt, record.meta.headers, this.engine.settings, record.meta.mustRevalidate)
      await backend.set(key, { meta: { ...record.meta, expiresAt, ...windows }, body: record.body })
      n++
    }
    return n
  }

  /**
   * What the store holds (entries, body bytes, expired, of no use; in total and per host), its
   * cap and use, what this process's engine counted (hits, misses, revalidations, stale served,
   * stores, errors) and what its background pruning did (see stats.ts).
   */
  async stats(): Promise<CacheStats> {
    this.needListing('stats()')
    return cacheStats(this.engine, this.now())
  }

  /**
   * Remove every stored entry of no use now — past its freshness, revalidation and every stale
   * window (`deadAt`) — in batches, as the background pruning does (option `pruneInterval`).
   * Narrower than `delete({ expired: true })`, which also removes expired entries that could
   * still be revalidated or served stale. Resolves to how many went; 0 for a backend without
   * the capability (Redis and Memcached expire entries themselves).
   */
  prune(): Promise<number> {
    return this.engine.pruner.prune(Infinity)
  }

  /**
   * The stored responses that match the filter as a HAR 1.2 document (see har/export.ts). Request
   * headers `Authorization`, `Proxy-Authorization` and `Cookie` are left out unless
   * `includeCredentials` (entries stored by earlier versions may hold their values).
   */
  async toHar(filter?: CacheFilter, onProgress?: (done: number) => void, options: { includeCredentials?: boolean } = {}): Promise<Har> {
    this.needListing('HAR export')
    // Loaded on first use: HAR is rare, and its modules would slow every cold start.
    const { toHar } = await import('./har/export.js')
    return toHar(this, filter, onProgress, options.includeCredentials === true)
  }

  /**
   * Store the entries of a HAR document (an object or its JSON text). The whole document is
   * checked before anything is written: a malformed one throws `HarFormatError` and leaves the
   * store as it was.
   */
  async importHar(har: unknown, onProgress?: (done: number) => void): Promise<HarImportResult> {
    // Loaded on first use: HAR is rare, and its modules would slow every cold start.
    const { importHar } = await import('./har/import.js')
    return importHar(this, har, onProgress)
  }

  /**
   * Give space freed by deleted entries back to the file system (SQLite VACUUM, cacache garbage
   * collection). Resolves false, doing nothing, for a backend without that capability.
   */
  async vacuum(): Promise<boolean> {
    const maintenance = this.engine.backend.maintenance
    if (!maintenance) return false
    await maintenance.vacuum()
    return true
  }

  /** Wait for writes and background refreshes under way. */
  flush(): Promise<void> {
    return this.engine.flush()
  }

  close(): Promise<void> {
    return this.engine.close()
  }

  /**
   * Listing, filters and store counts need a backend that can enumerate its keys; Memcached
   * cannot, and a partial answer would be a wrong one.
   */
  private needListing(what: string): void {
    const { backend } = this.engine
    if (backend.listing === false) {
      throw new UnsupportedError(`${what} is not supported by the ${backendName(backend)} backend: it cannot list its keys`)
    }
  }

  /** URLs as given and as stored (normalised, ignored parameters removed). */
  private urlForms(urls: readonly string[]): string[] {
    const out = new Set<string>()
    for (const url of urls) {
      out.add(url)
      try {
        out.add(normalizeUrl(url, this.engine.settings.ignoredParameters))
      } catch {
        // Not a URL: it can only match as given.
      }
    }
    return [...out]
  }

  private compile(filter: CacheFilter, now: number): { backendFilter: EntryFilter; matches: (meta: EntryMeta) => boolean } {
    const backendFilter: EntryFilter = {}
    if (filter.urls !== undefined) backendFilter.urls = this.urlForms(filter.urls)
    if (filter.expiredAt !== undefined) backendFilter.expiredAt = filter.expiredAt
    if (filter.expired === true) backendFilter.expiredAt = Math.min(backendFilter.expiredAt ?? now, now)
    let createdBefore = filter.createdBefore
    if (filter.olderThan !== undefined) {
      const t = now - parseDuration(filter.olderThan, 'olderThan', '7d') * 1000
      createdBefore = createdBefore === undefined ? t : Math.min(createdBefore, t)
    }
    if (createdBefore !== undefined) backendFilter.createdBefore = createdBefore
    const pattern = filter.url === undefined ? undefined : compilePattern(filter.url)
    const host = filter.host?.toLowerCase()
    const methods = list(filter.method)?.map((m) => m.toUpperCase())
    const statuses = list(filter.status)
    const matches = (meta: EntryMeta): boolean => {
      if (pattern && !matchesPattern(meta.url, pattern)) return false
      if (host !== undefined) {
        const h = hostOf(meta.url)
        if (!h || (h.host !== host && h.hostname !== host)) return false
      }
      if (methods && !methods.includes(meta.method)) return false
      if (statuses && !statuses.includes(meta.status)) return false
      if (filter.expired === false && isExpired(meta, now)) return false
      return true
    }
    return { backendFilter, matches }
  }
}

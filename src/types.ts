import type { ExpireAfter } from './expiry.js'

/** Response headers as undici hands them over: lower-case names, repeated fields as arrays. */
export type HeaderMap = Record<string, string | string[]>

/**
 * What a backend stores about one entry. Versioned JSON: a reader that meets another `v`
 * treats the entry as a miss (see entry.ts), so a format change never crashes a user.
 */
export interface EntryMeta {
  v: 1
  /** `response` holds a response; `vary` is the marker at a primary key listing the Vary names. */
  kind: 'response' | 'vary'
  key: string
  method: string
  /** Normalised URL with ignored parameters removed: what `urls()` and invalidation match on. */
  url: string
  status: number
  statusText: string
  headers: HeaderMap
  /** Request headers as sent (ignored ones removed), for Vary matching and inspection. */
  requestHeaders: Record<string, string>
  /** Vary field names (lower-case) of the stored response, or of its variants for a marker. */
  vary: string[]
  /** When the response was received (ms since epoch). */
  createdAt: number
  /** When it stops being fresh (ms); null: never. */
  expiresAt: number | null
  /**
   * Age the response already had when received, in s: its Age header (RFC 9111 §4.2.3
   * corrected_age_value). apparent_age (now − Date) is left out on purpose, as
   * http-cache-semantics does: a client clock ahead of the origin's would otherwise make fresh
   * responses stale on arrival.
   */
  initialAge: number
  /** Until when a stale copy may be served on error (ms); null: forever; 0: never. */
  staleIfErrorUntil: number | null
  /** Until when a stale copy may be served while it is refreshed (ms); 0: never. */
  staleWhileRevalidateUntil: number
  /** must-revalidate / no-cache: never serve it stale (RFC 9111 §5.2.2.2). */
  mustRevalidate: boolean
  /** Body size in bytes. */
  size: number
}

export interface CacheRecord {
  meta: EntryMeta
  body: Uint8Array
}

/** Filters for `Backend.entries()`; backends with indexes answer them without reading bodies. */
export interface EntryFilter {
  /** Only entries whose normalised URL is one of these. */
  urls?: readonly string[]
  /** Only entries expired at this time (ms). */
  expiredAt?: number
  /** Only entries created before this time (ms). */
  createdBefore?: number
}

/** The storage contract: small, dumb, always async. Backends know no HTTP rules. */
export interface Backend {
  get(key: string): Promise<CacheRecord | undefined>
  set(key: string, record: CacheRecord): Promise<void>
  delete(keys: readonly string[]): Promise<number>
  entries(filter?: EntryFilter): AsyncIterable<[string, EntryMeta]>
  clear(): Promise<void>
  close(): Promise<void>
  /**
   * Optional, for stores shared between processes: take the lease on `key` for `ttlMs` if it is
   * free or expired; true if `owner` now holds it. Used to let one process fetch a URL while
   * the others wait for the entry.
   */
  acquireLease?(key: string, owner: string, ttlMs: number): Promise<boolean>
  /** Optional: give the lease back (only if `owner` still holds it). */
  releaseLease?(key: string, owner: string): Promise<void>
  /**
   * Optional: delete every entry matching the filter (all of its fields), returning how many
   * went. One indexed statement on SQLite: `Cache.delete({ expired: true })` can use
   * `deleteMatching({ expiredAt: now })` instead of listing keys first.
   */
  deleteMatching?(filter: EntryFilter): Promise<number>
  /** Optional: entries stored and bytes they count for (bodies and metadata), for limits. */
  stats?(): Promise<BackendStats>
  /** Optional: mark an entry as used without reading it (a hit served by a tier in front). */
  touch?(key: string): void
  /** Optional: give free space back to the file system (SQLite VACUUM, cacache garbage collection). */
  vacuum?(): Promise<void>
}

/** What `Backend.stats()` reports. */
export interface BackendStats {
  entries: number
  /** Bytes of bodies and metadata, as counted against `maxSize`. */
  bytes: number
}

export type UrlPattern = string | RegExp

export interface RequestInfoForKey {
  method: string
  url: string
  headers: Readonly<Record<string, string>>
  body: Uint8Array | undefined
}

/** Options that may change per request (second argument of the cached fetch, withCacheOptions). */
export interface PerRequestOptions {
  /** Expiry for a response stored by this request, below the server's own headers. */
  expireAfter?: ExpireAfter
  /** Revalidate with the origin now if the cached entry has a validator. */
  refresh?: boolean
  /** Skip the cache for this request and store the new response. */
  forceRefresh?: boolean
  /** Answer from the cache, stale or not; 504 on a miss; never contact the origin. */
  onlyIfCached?: boolean
}

export interface CacheOptions {
  /** Base name of the store: `<name>.sqlite` for SQLite. Default `http_cache`. */
  name?: string
  backend?: 'sqlite' | 'filesystem' | 'memory' | Backend
  expireAfter?: ExpireAfter
  urlsExpireAfter?: Record<string, ExpireAfter> | ReadonlyArray<readonly [UrlPattern, ExpireAfter]>
  cacheControl?: boolean
  allowableMethods?: readonly string[]
  allowableCodes?: readonly number[]
  matchHeaders?: boolean | readonly string[]
  ignoredParameters?: readonly string[]
  keyFn?: (request: RequestInfoForKey) => string
  filter?: (response: { url: string; status: number; headers: HeaderMap }) => boolean
  staleIfError?: boolean | ExpireAfter
  staleWhileRevalidate?: boolean | ExpireAfter
  onlyIfCached?: boolean
  readOnly?: boolean
  maxEntrySize?: number
  /** How long a process waits for another process fetching the same URL (seconds or '5s'). Default 10 s. */
  lockTimeout?: number | string
  onError?: (error: unknown) => void
}

/** What `cacheInfo(response)` tells about a response. */
export interface CacheInfo {
  fromCache: boolean
  createdAt: Date | undefined
  expiresAt: Date | null | undefined
  isExpired: boolean
  revalidated: boolean
  key: string | undefined
}

/**
 * The backend contract, whole, in one file: what a store must do for the engine, and nothing
 * about HTTP. Writing a new backend needs this file and the conformance suite
 * (test/conformance/suite.ts) — nothing else.
 *
 * - Every method is async and rejects with a `BackendError` (or a `CorruptEntryError` for an
 *   entry that does not decode) — never throws synchronously. The engine turns any rejection
 *   into a miss or a skipped write and reports it to `onError`: a fault never fails a request.
 * - The engine computes every time a backend needs (`expiresAt`, `deadAt`) when it writes an
 *   entry; a backend only compares numbers. `deadAt` is when the entry can serve no request at
 *   all (past freshness, revalidation and every stale window): evict those first, expire them
 *   natively (Redis `PEXPIREAT`, Memcached TTL) or prune them in one indexed statement.
 * - After `close()`, every method rejects with a `BackendError`.
 * - Optional capabilities are named objects, checked once when a cache is made.
 */
import { ConfigError, show } from '../util/errors.js'

/** Response headers as undici hands them over: lower-case names, repeated fields as arrays. */
export type HeaderMap = Record<string, string | string[]>

/**
 * What a backend stores about one entry. Versioned JSON: a reader that meets another `v`
 * treats the entry as a miss (see entry.ts), so a format change never crashes a user.
 */
export interface EntryMeta {
  v: 1
  /**
   * `response` holds a response; `vary` is the marker at a primary key listing the Vary names;
   * `parts` holds the byte ranges kept of a response (RFC 9111 §3.3, see `parts`), at a key of
   * its own: never a response to serve as it is.
   */
  kind: 'response' | 'vary' | 'parts'
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
  /**
   * From when (ms) the entry is of no use to any request — written by the engine, so that
   * backends evict and expire without knowing a rule. null: never (no expiry, or a validator
   * keeps it revalidatable). Absent in entries written before it existed: treat as null.
   */
  deadAt?: number | null
  /**
   * Only on a marker (`kind: 'vary'`): its most recent variants that carried a Content-Language,
   * newest first, so a request whose Accept-Language accepts one can be given it (RFC 9111 §4.1,
   * rules/language.ts). Reached only through the primary key, which already separates users.
   * Absent in markers written before it existed: no selection by language, exact variants only.
   */
  variants?: MarkerVariant[]
  /**
   * Only on a `parts` entry (206s kept under RFC 9111 §3.3): the complete length and the byte ranges `[first, last]` held, in order; the
   * body is their bytes concatenated. Backends store it as any other field.
   */
  parts?: { total: number; ranges: Array<[number, number]> }
}

/** One variant a Vary marker lists (EntryMeta.variants). */
export interface MarkerVariant {
  /** Where the variant is stored. */
  key: string
  /** Its response's Content-Language, tags lower-cased and sorted, joined with ", ". */
  language: string
  /**
   * The request fields its Vary names other than Accept-Language, as they are stored and
   * compared (normalised; credentials as digests); null: absent.
   */
  fields: Record<string, string | null>
}

export interface CacheRecord {
  meta: EntryMeta
  body: Uint8Array
}

/** Filters for `entries()` and `deleteMatching()`; every field given must match. */
export interface EntryFilter {
  /** Only entries whose normalised URL is one of these. */
  urls?: readonly string[]
  /** Only entries expired at this time (ms): `expiresAt` not null and at or before it. */
  expiredAt?: number
  /** Only entries created before this time (ms). */
  createdBefore?: number
}

/** What `Backend.stats()` reports. */
export interface BackendStats {
  entries: number
  /** Bytes of bodies and metadata, as counted against `maxSize`. */
  bytes: number
}

/**
 * Capability: short leases for cross-process coalescing (one process fetches a URL while the
 * others wait for its entry). Both or neither: a lease that cannot be released is no lease.
 */
export interface BackendLeases {
  /**
   * Take the lease on `key` for `ttlMs` if it is free or expired; true if `owner` now holds it.
   * A backend that can also say, in the same step, what is stored at `key` returns a
   * LeaseGrant: the engine then skips the read it would make to see whether the previous
   * holder stored the entry between its lookup and its lease.
   */
  acquire(key: string, owner: string, ttlMs: number): Promise<boolean | LeaseGrant>
  /** Give it back, only if `owner` still holds it. */
  release(key: string, owner: string): Promise<void>
}

/** A lease taken together with a look at the entry it is for. */
export interface LeaseGrant {
  /** True if `owner` now holds the lease. */
  held: boolean
  /**
   * `meta.createdAt` of the record stored at `key` when the lease was taken, null if none:
   * read after taking it (a holder writes, then releases), as `get(key)` would have seen it.
   */
  storedAt: number | null
}

/**
 * Capability: a write nobody waits on (a miss's entry, stored once its response has reached the
 * caller), which the backend may hold a few ms to share one transaction with others (SQLite).
 * Resolves once written, as `set` does; this process's own reads see it at once, and its other
 * reads and changes come after it. The engine uses it where it has it, else `set`.
 */
export interface BackendBatching {
  set(key: string, record: CacheRecord): Promise<void>
}

/** Capability: give free space back to the file system (SQLite VACUUM, cacache GC, …). */
export interface BackendMaintenance {
  vacuum(): Promise<void>
}

/**
 * Capability: remove entries of no use (`deadAt` at or before `now`) in bounded batches, for the
 * engine's background pruning (pipeline/prune.ts) and `Cache.prune()`. A hit never calls it.
 * SQLite (one indexed DELETE on `dead_at`), FileBackend (its eviction index), MemoryBackend and
 * TieredBackend (both tiers) offer it. RedisBackend and MemcachedBackend need none: they expire
 * every entry natively at its `deadAt` (PEXPIREAT, TTL).
 */
export interface BackendPruning {
  /**
   * Remove up to `limit` entries whose `deadAt` is not null and at or before `now` (ms), and
   * nothing else; resolves to how many went. Fewer than `limit` means none are left.
   */
  prune(now: number, limit: number): Promise<number>
}

/** What `BackendImmediate.get` answers when it could only answer by waiting. */
export const NOT_NOW: unique symbol = Symbol('not now')

/**
 * Capability: a read answered on the spot, for a store that reads synchronously anyway (SQLite:
 * one indexed point read on this thread). A hit then skips the promise of `get` and the
 * deadline race around it (pipeline/lookup.ts): an answer already in hand cannot be late.
 * Same records and errors as `get` (CorruptEntryError included); NOT_NOW when answering means
 * waiting (another process's lock), and the engine then calls `get`, bounded as ever.
 */
export interface BackendImmediate {
  get(key: string): CacheRecord | undefined | typeof NOT_NOW
}

/** The storage contract: small, dumb, always async. Backends know no HTTP rules. */
export interface Backend {
  /** The record at `key`, or undefined. A record that does not decode rejects with CorruptEntryError. */
  get(key: string): Promise<CacheRecord | undefined>
  /** Store (or replace) `key`. A record over the backend's `maxEntrySize` is silently not stored. */
  set(key: string, record: CacheRecord): Promise<void>
  /** Remove these keys; resolves to how many existed. */
  delete(keys: readonly string[]): Promise<number>
  /** Remove every entry matching the filter; resolves to how many went. `deleteMatchingByScan` is the shared fallback. */
  deleteMatching(filter: EntryFilter): Promise<number>
  /** Every stored entry's key and metadata (bodies not read), optionally filtered. */
  entries(filter?: EntryFilter): AsyncIterable<[string, EntryMeta]>
  /** Entries stored and the bytes they count for. */
  stats(): Promise<BackendStats>
  /** Remove every entry of this cache (and only of this cache). */
  clear(): Promise<void>
  close(): Promise<void>
  /** Optional capability: cross-process leases. */
  readonly leases?: BackendLeases | undefined
  /** Optional capability: space reclamation, reached through `Cache.vacuum()`. */
  readonly maintenance?: BackendMaintenance | undefined
  /** Optional capability: removal of entries of no use, run in the background by the engine. */
  readonly pruning?: BackendPruning | undefined
  /** Optional capability: writes held a few ms to share a transaction. */
  readonly batching?: BackendBatching | undefined
  /** Optional capability: reads answered synchronously when no wait is needed (a hit's fast path). */
  readonly immediate?: BackendImmediate | undefined
  /**
   * `false` for a store that cannot enumerate its keys (Memcached): `entries`, `stats` and the
   * `deleteMatching` filters it cannot answer (Memcached answers `urls` alone, resolving 0 as
   * it cannot count) reject with an `UnsupportedError`, and the Cache says so instead of
   * answering wrong. Absent: listing works.
   */
  readonly listing?: boolean | undefined
}

const REQUIRED = ['get', 'set', 'delete', 'deleteMatching', 'entries', 'stats', 'clear', 'close'] as const

/**
 * Check an object against the whole contract at once, so that a wrong backend fails when the
 * cache is made, naming what is missing, not at its first request.
 */
export function checkBackend(value: unknown, where = 'backend'): Backend {
  if (typeof value !== 'object' || value === null) throw new ConfigError(`${where}: expected a Backend instance; got ${show(value)}`)
  const b = value as Record<string, unknown>
  const missing = REQUIRED.filter((name) => typeof b[name] !== 'function')
  if (missing.length > 0) throw new ConfigError(`${where}: not a Backend: missing method${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`)
  const leases = b.leases as Record<string, unknown> | undefined
  if (leases !== undefined && (typeof leases !== 'object' || leases === null || typeof leases.acquire !== 'function' || typeof leases.release !== 'function')) {
    throw new ConfigError(`${where}.leases: expected { acquire(key, owner, ttlMs), release(key, owner) }; got ${show(leases)}`)
  }
  const batching = b.batching as Record<string, unknown> | undefined
  if (batching !== undefined && (typeof batching !== 'object' || batching === null || typeof batching.set !== 'function')) {
    throw new ConfigError(`${where}.batching: expected { set(key, record) }; got ${show(batching)}`)
  }
  const maintenance = b.maintenance as Record<string, unknown> | undefined
  if (maintenance !== undefined && (typeof maintenance !== 'object' || maintenance === null || typeof maintenance.vacuum !== 'function')) {
    throw new ConfigError(`${where}.maintenance: expected { vacuum() }; got ${show(maintenance)}`)
  }
  const pruning = b.pruning as Record<string, unknown> | undefined
  if (pruning !== undefined && (typeof pruning !== 'object' || pruning === null || typeof pruning.prune !== 'function')) {
    throw new ConfigError(`${where}.pruning: expected { prune(now, limit) }; got ${show(pruning)}`)
  }
  const immediate = b.immediate as Record<string, unknown> | undefined
  if (immediate !== undefined && (typeof immediate !== 'object' || immediate === null || typeof immediate.get !== 'function')) {
    throw new ConfigError(`${where}.immediate: expected { get(key) }; got ${show(immediate)}`)
  }
  if (b.listing !== undefined && typeof b.listing !== 'boolean') throw new ConfigError(`${where}.listing: expected a boolean; got ${show(b.listing)}`)
  return value as Backend
}

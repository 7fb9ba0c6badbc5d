/**
 * The types of the Cache API (filters, delete options, stats, the write path's request and
 * response), in a module of their own so that the HAR modules and the CLI can name them
 * without importing the Cache class.
 */
import type { EntryFilter, HeaderMap } from '../backends/contract.js'
import type { Counts } from '../pipeline/stats.js'
import type { PruneState } from '../pipeline/prune.js'

export type { PruneState }

/**
 * Which stored responses `entries()`, `urls()` and `toHar()` return. Every field given must
 * match (they combine with AND); the `EntryFilter` fields (`urls`, `expiredAt`,
 * `createdBefore`) are passed to the backend as they are.
 */
export interface CacheFilter extends EntryFilter {
  /** A URL glob as `urlsExpireAfter` reads them (`'api.example.com/v1'`, `'*.example.com/*.json'`), or a RegExp. */
  url?: string | RegExp
  /** Host (`example.com:8080`) or host name (`example.com`), case-insensitive. */
  host?: string
  /** Request method(s), e.g. `'GET'`. */
  method?: string | readonly string[]
  /** Response status(es), e.g. `200` or `[301, 308]`. */
  status?: number | readonly number[]
  /** `true`: only entries past their expiry now; `false`: only those still fresh. */
  expired?: boolean
  /** Only entries stored more than this long ago: seconds (a number, or as text: `'3600'`) or a duration like `'7d'`. */
  olderThan?: number | string
}

export interface DeleteOptions {
  keys?: readonly string[]
  /** URLs (normalised as keys are: sorted query, no fragment); all variants and methods go. */
  urls?: readonly string[]
  /** Delete entries that are expired now. */
  expired?: boolean
  /** Delete entries created more than this long ago: seconds (a number, or as text: `'3600'`) or a duration like `'7d'`. */
  olderThan?: number | string
}

/** What `stats()` adds per host to the engine's counters: what the store holds. */
export interface StoreCounts {
  /** Stored responses (Vary markers left out). */
  entries: number
  /** Body bytes of those responses. */
  bytes: number
  /** How many of them are past their expiry now. */
  expired: number
}

export type HostStats = Counts & StoreCounts & { hitRatio: number }

/**
 * `entries`, `bytes` and `expired` describe the store as it is now (every process's writes);
 * the counters (`hits`, `misses`, …) are what this process's engine did since it was made.
 */
export interface CacheStats extends Counts, StoreCounts {
  hitRatio: number
  /** Stored responses of no use now (past freshness, revalidation and every stale window): the next prune removes them. */
  dead: number
  /** The store's cap on bytes of bodies and metadata (its `maxSize`), or null: none stated. */
  maxSize: number | null
  /** Bytes the store counts against `maxSize` (bodies and metadata, every entry and Vary marker). */
  storeBytes: number
  /** This process's background pruning: its interval and what its runs removed. */
  pruning: PruneState
  hosts: Record<string, HostStats>
}

/** A request, for `Cache.storeResponse()`: keyed exactly as the cached fetch keys it. */
export interface StoreRequest {
  method: string
  url: string
  /** Request headers (lower-case names); they count for `matchHeaders` and a response's Vary. */
  headers?: Record<string, string>
  /** A request body, for caches whose `allowableMethods` include POST (it is part of the key). */
  body?: Uint8Array
}

/** A response, for `Cache.storeResponse()`: as received, body already decoded by the caller or not. */
export interface StoreResponse {
  status: number
  statusText?: string
  /** Lower-case names; a repeated field as an array. */
  headers: HeaderMap
  body: Uint8Array
}

/** What `Cache.storeResponse()` did: stored, or the reason this cache's rules would not store it. */
export type StoreResult = { stored: true } | { stored: false; reason: string }

import type { ExpireAfter } from './expiry.js'

import type { Backend, HeaderMap } from '../backends/contract.js'
import type { MemcachedBackendOptions } from '../backends/memcached.js'
import type { RedisBackendOptions, RedisClientLike } from '../backends/redis.js'

export type { Backend, HeaderMap }

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
  backend?: 'sqlite' | 'filesystem' | 'memory' | 'memcached' | 'redis' | Backend
  /**
   * With `backend: 'memcached'`: the servers (`'host:port'`, a comma-separated list or an
   * array), or MemcachedBackend's options plus `memoryTtlMs`.
   */
  memcached?: string | readonly string[] | MemcachedCacheOptions
  /** With backend: 'redis': a `redis://` or `rediss://` URL, an ioredis client you made, or RedisBackend options. */
  redis?: string | RedisClientLike | RedisBackendOptions
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
  /**
   * How often entries of no use (past freshness, revalidation and every stale window) are
   * removed in the background, once shortly after the cache is made and then at this interval:
   * seconds or a duration like `'1h'`. Default `'1h'`; `false` (or 0): never.
   */
  pruneInterval?: number | string | false
  onError?: (error: unknown) => void
}

/** `backend: 'memcached'`: MemcachedBackend's options and its per-process memory tier. */
export interface MemcachedCacheOptions extends MemcachedBackendOptions {
  /**
   * Milliseconds this process keeps an entry in its memory tier before asking Memcached again:
   * how long it may serve what another process has since replaced or deleted (Memcached has no
   * way to tell it). Default 5000; 0: no memory tier.
   */
  memoryTtlMs?: number
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

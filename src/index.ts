export { installCache, uninstallCache, isCacheInstalled, installedCache } from './install.js'
export { withCacheDisabled, withCacheOptions } from './scope.js'
export { createCachedFetch } from './fetch.js'
export type { CachedFetch, CachedRequestInit } from './fetch.js'
export { cacheInterceptor } from './interceptor.js'
export type { CacheInterceptor } from './interceptor.js'
export { cacheInfo } from './info.js'
export { Cache } from './cache.js'
export type { DeleteOptions } from './cache.js'
export { MemoryBackend } from './backends/memory.js'
export type { MemoryBackendOptions } from './backends/memory.js'
export { SQLiteBackend } from './backends/sqlite.js'
export type { SQLiteBackendOptions } from './backends/sqlite.js'
export { NEVER_EXPIRE, EXPIRE_IMMEDIATELY, DO_NOT_CACHE } from './expiry.js'
export type { ExpireAfter } from './expiry.js'
export { FetchCacheError, ConfigError, BackendError, CorruptEntryError } from './errors.js'
export type {
  Backend,
  CacheInfo,
  CacheOptions,
  CacheRecord,
  EntryFilter,
  EntryMeta,
  HeaderMap,
  PerRequestOptions,
  RequestInfoForKey,
  UrlPattern,
} from './types.js'

export { installCache, uninstallCache, isCacheInstalled, installedCache } from './install.js'
export { withCacheDisabled, withCacheOptions } from './scope.js'
export { createCachedFetch } from './fetch.js'
export type { CachedFetch, CachedRequestInit } from './fetch.js'
export { cacheInterceptor } from './interceptor.js'
export type { CacheInterceptor } from './interceptor.js'
export { cacheInfo } from './info.js'
export { Cache } from './cache.js'
export type { DeleteOptions } from './cache.js'
export type { CacheFilter, CacheStats, HostStats, StoreCounts } from './cache.js'
export { openCache, CacheNotFoundError } from './open.js'
export type { OpenCacheOptions } from './open.js'
export { HarFormatError } from './har.js'
export type { Har, HarEntry, HarImportResult } from './har.js'
export { MemoryBackend } from './backends/memory.js'
export type { MemoryBackendOptions } from './backends/memory.js'
export { SQLiteBackend } from './backends/sqlite.js'
export type { SQLiteBackendOptions } from './backends/sqlite.js'
export { FileBackend } from './backends/file.js'
export type { FileBackendOptions } from './backends/file.js'
export { TieredBackend } from './backends/tiered.js'
export type { TieredBackendOptions } from './backends/tiered.js'
export type { BackendLimits } from './backends/limits.js'
export type { BackendStats } from './types.js'
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

export { installCache, uninstallCache, isCacheInstalled, installedCache } from './front/install.js'
export { withCacheDisabled, withCacheOptions } from './front/scope.js'
export { createCachedFetch } from './front/fetch.js'
export type { CachedFetch, CachedRequestInit } from './front/fetch.js'
export { cacheInterceptor } from './front/interceptor.js'
export type { CacheInterceptor } from './front/interceptor.js'
export { cacheInfo } from './inspect/info.js'
export { Cache } from './inspect/cache.js'
export type { CacheFilter, CacheStats, DeleteOptions, HostStats, StoreCounts, StoreRequest, StoreResponse, StoreResult } from './inspect/types.js'
export { openCache, CacheNotFoundError } from './inspect/open.js'
export type { OpenCacheOptions } from './inspect/open.js'
export { HarFormatError } from './inspect/har/types.js'
export type { Har, HarEntry, HarImportResult } from './inspect/har/types.js'
export { MemoryBackend } from './backends/memory.js'
export type { MemoryBackendOptions } from './backends/memory.js'
export { SQLiteBackend } from './backends/sqlite.js'
export type { SQLiteBackendOptions } from './backends/sqlite.js'
export { FileBackend } from './backends/file.js'
export type { FileBackendOptions } from './backends/file.js'
export { TieredBackend } from './backends/tiered.js'
export { MemcachedBackend } from './backends/memcached.js'
export type { MemcachedBackendOptions, MemcachedClient } from './backends/memcached.js'
export type { TieredBackendOptions } from './backends/tiered.js'
export type { BackendLimits } from './backends/limits.js'
export { checkBackend } from './backends/contract.js'
export { deleteMatchingByScan, statsByScan } from './backends/filter.js'
export type { Backend, BackendLeases, BackendMaintenance, BackendStats, CacheRecord, EntryFilter, EntryMeta, HeaderMap } from './backends/contract.js'
export { NEVER_EXPIRE, EXPIRE_IMMEDIATELY, DO_NOT_CACHE } from './config/expiry.js'
export type { ExpireAfter } from './config/expiry.js'
export { FetchCacheError, ConfigError, BackendError, CorruptEntryError } from './util/errors.js'
export { UnsupportedError } from './util/errors.js'
export type {
  CacheInfo,
  CacheOptions,
  MemcachedCacheOptions,
  PerRequestOptions,
  RequestInfoForKey,
  UrlPattern,
} from './config/types.js'

/** The `memcached` cache option: servers, or MemcachedBackend's options plus `memoryTtlMs`. */
import { resolveMemcachedOptions } from '../backends/memcached.js'
import { ConfigError, show } from '../util/errors.js'
import type { MemcachedCacheOptions } from './types.js'

/** Checked options for `backend: 'memcached'`; undefined for every other backend. */
export function memcachedOption(value: unknown, used: boolean): MemcachedCacheOptions | undefined {
  if (!used) {
    if (value !== undefined) throw new ConfigError(`memcached: only read with backend: 'memcached'; got it with another backend`)
    return undefined
  }
  const options: Record<string, unknown> =
    value === undefined ? {} : typeof value === 'string' || Array.isArray(value) ? { servers: value } : typeof value === 'object' && value !== null ? { ...value } : { servers: value }
  const { memoryTtlMs, ...backend } = options
  if (memoryTtlMs !== undefined && (typeof memoryTtlMs !== 'number' || !Number.isInteger(memoryTtlMs) || memoryTtlMs < 0)) {
    throw new ConfigError(`memcached.memoryTtlMs: expected a whole number of milliseconds (0: no memory tier); got ${show(memoryTtlMs)}`)
  }
  resolveMemcachedOptions(backend, 'memcached')
  return { ...(backend as MemcachedCacheOptions), memoryTtlMs: (memoryTtlMs as number | undefined) ?? 5000 }
}

/** Base class of every error fetchcache throws; branch on `code`. */
export class FetchCacheError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

/** An option has an unknown name or an invalid value. The message names both. */
export class ConfigError extends FetchCacheError {
  constructor(message: string) {
    super('ERR_FETCHCACHE_CONFIG', message)
  }
}

/** A backend failed; the engine reports it to `onError` and carries on as a miss. */
export class BackendError extends FetchCacheError {
  constructor(message: string, cause?: unknown) {
    super('ERR_FETCHCACHE_BACKEND', message, { cause })
  }
}

/** A stored entry could not be decoded; it is treated as a miss and removed. */
export class CorruptEntryError extends FetchCacheError {
  constructor(message: string) {
    super('ERR_FETCHCACHE_CORRUPT_ENTRY', message)
  }
}

/**
 * The backend cannot do this at all (Memcached cannot list its keys): the Cache says so rather
 * than answering wrong. The message names the operation and the backend.
 */
export class UnsupportedError extends FetchCacheError {
  constructor(message: string) {
    super('ERR_FETCHCACHE_UNSUPPORTED', message)
  }
}

/** Renders a user-supplied value for an error message. */
export function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  if (value instanceof RegExp || value instanceof Date) return String(value)
  if (typeof value === 'function') return 'a function'
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

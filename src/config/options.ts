import { checkBackend } from '../backends/contract.js'
import { rejectUnknownOptions } from '../util/check.js'
import { ConfigError, show } from '../util/errors.js'
import { type Expiry, parseDuration, parseExpiry } from './expiry.js'
import { compilePattern } from '../util/glob.js'
import type { Backend, CacheOptions, HeaderMap, MemcachedCacheOptions, PerRequestOptions, RequestInfoForKey } from './types.js'
import { memcachedOption } from './memcached.js'
import { redisOption } from './redis.js'
import type { RedisBackendOptions } from '../backends/redis.js'

/** `'rfc'`: RFC 9111 §3's storable statuses (rules/status.ts); a set: exactly these codes. */
export type AllowableCodes = ReadonlySet<number> | 'rfc'

/** Validated, normalised options: built once, read on every request. */
export interface Settings {
  name: string
  backend: 'sqlite' | 'filesystem' | 'memory' | 'memcached' | 'redis' | Backend
  /** With backend 'memcached': its options, checked. */
  memcached: MemcachedCacheOptions | undefined
  /** RedisBackend options, with backend: 'redis'. */
  redis: RedisBackendOptions | undefined
  expireAfter: Expiry | undefined
  urlsExpireAfter: ReadonlyArray<readonly [RegExp, Expiry]>
  cacheControl: boolean
  allowableMethods: ReadonlySet<string>
  /** 'rfc' (the default under cacheControl: rules/status.ts) or exactly these codes. */
  allowableCodes: AllowableCodes
  /** false, true (all request headers), or lower-case names. */
  matchHeaders: boolean | readonly string[]
  ignoredParameters: ReadonlySet<string>
  ignoredHeaders: ReadonlySet<string>
  keyFn: ((request: RequestInfoForKey) => string) | undefined
  filter: ((response: { url: string; status: number; headers: HeaderMap }) => boolean) | undefined
  /** Seconds past expiry a stale copy may stand in for an error; 0: off; Infinity: always. */
  staleIfError: number
  /** Seconds past expiry a stale copy may be served while refreshed; 0: off. */
  staleWhileRevalidate: number
  onlyIfCached: boolean
  readOnly: boolean
  maxEntrySize: number
  /** Seconds a process waits for another one fetching the same key. */
  lockTimeout: number
  /** Seconds between background prunes of entries of no use; 0: none. */
  pruneInterval: number
  onError: (error: unknown) => void
}

/** Per-request options, validated. */
export interface RequestOptions {
  expireAfter?: Expiry
  refresh?: boolean
  forceRefresh?: boolean
  onlyIfCached?: boolean
}

const METHODS = /^[A-Z]+$/
export const DEFAULT_MAX_ENTRY_SIZE = 64 * 1024 * 1024

const CACHE_OPTION_NAMES = new Set<string>([
  'name', 'backend', 'expireAfter', 'urlsExpireAfter', 'cacheControl', 'allowableMethods',
  'allowableCodes', 'matchHeaders', 'ignoredParameters', 'keyFn', 'filter', 'staleIfError',
  'staleWhileRevalidate', 'onlyIfCached', 'readOnly', 'maxEntrySize', 'lockTimeout', 'onError',
  'memcached',
  'redis',
  'pruneInterval',
])
export const REQUEST_OPTION_NAMES = new Set<string>(['expireAfter', 'refresh', 'forceRefresh', 'onlyIfCached'])

function bool(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new ConfigError(`${option}: expected true or false; got ${show(value)}`)
  return value
}

function fn<T>(value: unknown, option: string): T | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'function') throw new ConfigError(`${option}: expected a function; got ${show(value)}`)
  return value as T
}

function stringList(value: unknown, option: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
    throw new ConfigError(`${option}: expected an array of non-empty strings; got ${show(value)}`)
  }
  return value as string[]
}

/** `true` → fall back to "forever"; an expiry → its seconds. DO_NOT_CACHE / Date make no sense here. */
function staleWindow(value: unknown, option: string): number {
  if (value === undefined || value === false) return 0
  if (value === true) return Infinity
  const e = parseExpiry(value, option)
  if (typeof e !== 'number') throw new ConfigError(`${option}: expected true, false or a duration; got ${show(value)}`)
  return e
}

function urlExpiries(value: unknown): Array<readonly [RegExp, Expiry]> {
  if (value === undefined) return []
  const pairs: Array<readonly [unknown, unknown]> = Array.isArray(value)
    ? value
    : typeof value === 'object' && value !== null
      ? Object.entries(value)
      : (() => {
          throw new ConfigError(`urlsExpireAfter: expected an object or [pattern, expiry] pairs; got ${show(value)}`)
        })()
  return pairs.map((pair, i) => {
    // A third item is not a third setting: a pair that is not exactly [pattern, expiry] is a mistake.
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new ConfigError(`urlsExpireAfter[${i}]: expected a [pattern, expiry] pair; got ${show(pair)}`)
    }
    const [pattern, expiry] = pair
    if (typeof pattern !== 'string' && !(pattern instanceof RegExp)) {
      throw new ConfigError(`urlsExpireAfter[${i}]: expected a glob string or RegExp; got ${show(pattern)}`)
    }
    const where = `urlsExpireAfter[${show(String(pattern))}]`
    return [compilePattern(pattern, where), parseExpiry(expiry, where)] as const
  })
}

function backendOption(value: unknown): Settings['backend'] {
  if (value === undefined) return 'sqlite'
  if (value === 'sqlite' || value === 'filesystem' || value === 'memory' || value === 'memcached' || value === 'redis') return value
  if (typeof value === 'object' && value !== null) return checkBackend(value, 'backend')
  throw new ConfigError(`backend: expected 'sqlite', 'filesystem', 'memory', 'memcached', 'redis' or a Backend instance; got ${show(value)}`)
}

/** Default: an hour between prunes (and one at open). */
export const DEFAULT_PRUNE_INTERVAL = 3600

/** `false` or 0: off; otherwise a duration of at least a second (a shorter one would only spin). */
function pruneInterval(value: unknown): number {
  if (value === undefined) return DEFAULT_PRUNE_INTERVAL
  if (value === false || value === 0) return 0
  const seconds = typeof value === 'number' || typeof value === 'string' ? parseDuration(value, 'pruneInterval', '1h') : -1
  if (!(seconds >= 1)) throw new ConfigError(`pruneInterval: expected false or a duration of at least 1 s like '1h'; got ${show(value)}`)
  return seconds
}

export function resolveSettings(options: CacheOptions = {}): Settings {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError(`options: expected an object; got ${show(options)}`)
  }
  rejectUnknownOptions(options, CACHE_OPTION_NAMES, 'options')
  const o = options as Record<string, unknown>
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name === '')) {
    throw new ConfigError(`name: expected a non-empty string; got ${show(o.name)}`)
  }
  const methods = o.allowableMethods === undefined ? ['GET', 'HEAD'] : stringList(o.allowableMethods, 'allowableMethods')
  for (const m of methods) {
    if (!METHODS.test(m.toUpperCase())) throw new ConfigError(`allowableMethods: not an HTTP method: ${show(m)}`)
  }
  const codes = o.allowableCodes === undefined ? [200] : o.allowableCodes
  if (!Array.isArray(codes) || codes.some((c) => !Number.isInteger(c) || c < 100 || c > 599)) {
    throw new ConfigError(`allowableCodes: expected an array of HTTP status codes; got ${show(codes)}`)
  }
  let matchHeaders: boolean | string[] = false
  if (typeof o.matchHeaders === 'boolean') matchHeaders = o.matchHeaders
  else if (o.matchHeaders !== undefined) matchHeaders = stringList(o.matchHeaders, 'matchHeaders').map((h) => h.toLowerCase())
  const ignored = o.ignoredParameters === undefined ? [] : stringList(o.ignoredParameters, 'ignoredParameters')
  const maxEntrySize = o.maxEntrySize === undefined ? DEFAULT_MAX_ENTRY_SIZE : o.maxEntrySize
  if (typeof maxEntrySize !== 'number' || !Number.isInteger(maxEntrySize) || maxEntrySize < 0) {
    throw new ConfigError(`maxEntrySize: expected a whole number of bytes; got ${show(maxEntrySize)}`)
  }
  const onError = fn<(e: unknown) => void>(o.onError, 'onError')
  const backend = backendOption(o.backend)
  return Object.freeze({
    name: (o.name as string | undefined) ?? 'http_cache',
    backend,
    memcached: memcachedOption(o.memcached, backend === 'memcached'),
    redis: redisOption(o.redis, backend),
    expireAfter: o.expireAfter === undefined ? undefined : parseExpiry(o.expireAfter, 'expireAfter'),
    urlsExpireAfter: urlExpiries(o.urlsExpireAfter),
    cacheControl: bool(o.cacheControl, 'cacheControl', true),
    allowableMethods: new Set(methods.map((m) => m.toUpperCase())),
    // RFC 9111 §3 by default when following Cache-Control; [200] when not; the user's list as given.
    allowableCodes: o.allowableCodes === undefined && o.cacheControl !== false ? 'rfc' : new Set(codes as number[]),
    matchHeaders,
    ignoredParameters: new Set(ignored),
    ignoredHeaders: new Set(ignored.map((h) => h.toLowerCase())),
    keyFn: fn<Settings['keyFn']>(o.keyFn, 'keyFn'),
    filter: fn<Settings['filter']>(o.filter, 'filter'),
    staleIfError: staleWindow(o.staleIfError, 'staleIfError'),
    staleWhileRevalidate: staleWindow(o.staleWhileRevalidate, 'staleWhileRevalidate'),
    onlyIfCached: bool(o.onlyIfCached, 'onlyIfCached', false),
    readOnly: bool(o.readOnly, 'readOnly', false),
    maxEntrySize,
    lockTimeout: o.lockTimeout === undefined ? 10 : parseDuration(o.lockTimeout, 'lockTimeout', '5s'),
    pruneInterval: pruneInterval(o.pruneInterval),
    onError: onError ?? (() => {}),
  })
}

export function resolveRequestOptions(options: PerRequestOptions | undefined, where: string): RequestOptions {
  if (options === undefined) return {}
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError(`${where}: expected an object; got ${show(options)}`)
  }
  rejectUnknownOptions(options, REQUEST_OPTION_NAMES, where)
  const out: RequestOptions = {}
  if (options.expireAfter !== undefined) out.expireAfter = parseExpiry(options.expireAfter, `${where}.expireAfter`)
  if (options.refresh !== undefined) out.refresh = bool(options.refresh, `${where}.refresh`, false)
  if (options.forceRefresh !== undefined) out.forceRefresh = bool(options.forceRefresh, `${where}.forceRefresh`, false)
  if (options.onlyIfCached !== undefined) out.onlyIfCached = bool(options.onlyIfCached, `${where}.onlyIfCached`, false)
  return out
}

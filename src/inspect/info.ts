/** cacheInfo(response): what the cache did for a response, from our record or its Cache-Status. */
import { parseCacheStatus } from '../rules/cache-status.js'
import { storedTimes } from '../pipeline/stored-times.js'
import type { CacheInfo } from '../config/types.js'
import type { EntryMeta } from '../backends/contract.js'
import { REMEMBERED } from '../pipeline/respond/response.js'

type Times = Pick<EntryMeta, 'createdAt' | 'expiresAt' | 'key'>

type Remembered = { meta: Times; stale: boolean }

/** Cheap on the hit path: the CacheInfo (two Dates) is only built if someone asks. */
export function remember(response: object, meta: Times, stale: boolean): void {
  const holder = response as { [REMEMBERED]?: Remembered }
  holder[REMEMBERED] = { meta, stale }
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>

function get(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined
  const v = (headers as Record<string, string | string[] | undefined>)[name]
  return Array.isArray(v) ? v.join(', ') : v
}

/**
 * For a fetch Response or an undici `request()` result ({ headers }). Undefined when the
 * response did not pass through fetchcache.
 */
export function cacheInfo(response: { headers: HeaderSource }): CacheInfo | undefined {
  const mine = (response as { [REMEMBERED]?: Remembered })[REMEMBERED]
  if (mine) {
    const { meta, stale } = mine
    return {
      fromCache: true,
      createdAt: new Date(meta.createdAt),
      expiresAt: meta.expiresAt === null ? null : new Date(meta.expiresAt),
      isExpired: stale,
      revalidated: false,
      key: meta.key,
    }
  }
  const status = parseCacheStatus(get(response.headers, 'cache-status'))
  if (!status) return undefined
  // Just stored by this process: the entry's own times (pipeline/stored-times.ts).
  const times = status.stored && status.key !== undefined ? storedTimes(status.key) : undefined
  if (times) {
    const expiresAt = times.expiresAt === null ? null : new Date(times.expiresAt)
    return { fromCache: false, createdAt: new Date(times.createdAt), expiresAt, isExpired: false, revalidated: status.fwdStatus === 304, key: status.key }
  }
  const now = Date.now()
  // A 304 to our conditional request: the stored entry was stale (fwd=stale) or the request
  // would not use it as it was (fwd=request, RFC 9211 §2.2); either way its body was served.
  const revalidated = (status.fwd === 'stale' || status.fwd === 'request') && status.fwdStatus === 304
  // Served from storage: a hit, a 304-revalidated entry, a stale stand-in, or a waiter served
  // from what the request it was collapsed into stored.
  const fromCache = status.hit === true || revalidated || status.collapsed === true || (status.detail?.startsWith('stale-if-error') ?? false)
  const age = Number(get(response.headers, 'age'))
  const expiresAt = status.ttl === undefined ? (fromCache ? null : undefined) : new Date(now + status.ttl * 1000)
  return {
    fromCache,
    createdAt: fromCache && Number.isFinite(age) ? new Date(now - age * 1000) : undefined,
    expiresAt,
    isExpired: status.ttl !== undefined && status.ttl <= 0,
    revalidated,
    key: status.key,
  }
}

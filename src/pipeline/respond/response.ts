/**
 * Build a global `Response` from a stored entry, as Node's fetch would have built it from the
 * wire: same status and headers, body decoded from its content-coding, null body where the
 * status or method has none. This is the fast hit path's last step.
 */
import zlib from 'node:zlib'
import { headerValue } from '../../rules/cache-control.js'
import { appendCacheStatus } from '../../rules/cache-status.js'
import type { CacheRecord, EntryMeta } from '../../backends/contract.js'
import { ageValue } from './serve.js'

/** Statuses whose responses have no body (Fetch standard). */
export const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304])

/** Lenient like fetch: a truncated stream decodes as far as it goes (what cURL does too). */
const GZIP = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH }
const BROTLI = { flush: zlib.constants.BROTLI_OPERATION_FLUSH, finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH }

/** Undo the content-codings fetch undoes; undefined for a coding it does not handle here. */
export function decodeBody(body: Uint8Array, encoding: string | undefined): Uint8Array | undefined {
  if (encoding === undefined) return body
  const codings = encoding.toLowerCase().split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== 'identity')
  if (codings.length > 5) return undefined
  let out: Uint8Array = body
  for (let i = codings.length - 1; i >= 0; i--) {
    const c = codings[i]
    if (c === 'gzip' || c === 'x-gzip') out = zlib.gunzipSync(out, GZIP)
    else if (c === 'br') out = zlib.brotliDecompressSync(out, BROTLI)
    else if (c === 'deflate') {
      // RFC 9110 §8.4.1.2 says zlib-wrapped; servers also send raw deflate, which fetch accepts.
      out = (out[0]! & 0x0f) === 0x08 ? zlib.inflateSync(out, GZIP) : zlib.inflateRawSync(out, GZIP)
    } else return undefined
  }
  return out
}

/**
 * The stored fields with Age and Cache-Status set, as pairs for the Response init: one
 * validation pass, no intermediate object (hitHeaders' shape, for the fetch path).
 */
function hitPairs(meta: CacheRecord['meta'], cacheStatus: string, now: number): Array<[string, string]> {
  const pairs: Array<[string, string]> = []
  const stored = meta.headers
  for (const name in stored) {
    if (name === 'age' || name === 'cache-status') continue
    const value = stored[name]!
    if (typeof value === 'string') pairs.push([name, value])
    else for (const v of value) pairs.push([name, v])
  }
  pairs.push(['age', ageValue(meta, now)], ['cache-status', appendCacheStatus(stored['cache-status'], cacheStatus)])
  return pairs
}

const kUrl = Symbol('url')

/**
 * The field that holds what cacheInfo needs of a response served from storage (the entry's
 * times, set by inspect/info.ts remember), on the Response itself: a WeakMap entry per hit was
 * ephemeron work for every garbage collection.
 */
export const REMEMBERED: unique symbol = Symbol('fetchcache remembered')

/**
 * What fetch's own responses report, url and type "basic", on the prototype: defining them on
 * each instance would cost two property definitions per hit. `instanceof Response` holds.
 */
class CachedResponse extends Response {
  [kUrl] = '';
  // Declared with the class so that every instance has one shape (inspect/info.ts remember).
  [REMEMBERED]: { meta: Pick<EntryMeta, 'createdAt' | 'expiresAt' | 'key'>; stale: boolean } | undefined = undefined
}
Object.defineProperty(CachedResponse.prototype, 'url', {
  get(this: CachedResponse) {
    return this[kUrl]
  },
})
Object.defineProperty(CachedResponse.prototype, 'type', { get: () => 'basic' })

/**
 * A Response for a stored entry, or undefined when it cannot be built exactly as fetch would
 * (an unknown coding, a status Response refuses): the caller then takes the dispatcher path.
 */
export function responseFrom(record: CacheRecord, cacheStatus: string, url: string, method: string, now: number): Response | undefined {
  const { meta } = record
  if (meta.status < 200 || meta.status > 599) return undefined
  let body: Uint8Array | null = null
  if (method !== 'HEAD' && !NULL_BODY_STATUS.has(meta.status)) {
    try {
      const decoded = decodeBody(record.body, headerValue(meta.headers, 'content-encoding'))
      if (decoded === undefined) return undefined
      body = decoded
    } catch {
      return undefined
    }
  }
  let response: CachedResponse
  try {
    response = new CachedResponse(body, { status: meta.status, statusText: meta.statusText, headers: hitPairs(meta, cacheStatus, now) })
  } catch {
    return undefined
  }
  // The URL fetched, without its fragment, as fetch reports it.
  const hash = url.indexOf('#')
  response[kUrl] = hash === -1 ? url : url.slice(0, hash)
  return response
}

/**
 * Range requests answered from a stored complete response (RFC 9111 §3.4 lets a cache do so;
 * RFC 9110 §14.1.2 byte ranges, §14.4 Content-Range, §15.3.7 206). One range per request:
 * `bytes=first-last`, `bytes=first-` and `bytes=-suffix`. Anything else (several ranges,
 * another unit, If-Range) is left to the origin.
 */
import { headerValue } from './cache-control.js'
import type { HeaderMap } from '../backends/contract.js'
import { extended } from '../util/objects.js'

export interface ByteRange {
  /** `first-last` / `first-`: offsets; `-suffix`: suffix length. */
  first: number | undefined
  last: number | undefined
  suffix: number | undefined
}

/** The single byte range a request asks for, or undefined when it is not one we answer. */
export function parseRange(value: string | undefined): ByteRange | undefined {
  if (value === undefined) return undefined
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(value)
  if (!m) return undefined
  const [a, b] = [m[1]!, m[2]!]
  if (a === '' && b === '') return undefined
  if (a === '') return { first: undefined, last: undefined, suffix: Number(b) }
  const first = Number(a)
  const last = b === '' ? undefined : Number(b)
  // §14.1.1: a range whose last is before its first is invalid; the origin decides.
  if (last !== undefined && last < first) return undefined
  return { first, last, suffix: undefined }
}

/** A request the cache can answer with a range of a stored response: GET, one range, no If-Range. */
export function answerableRange(method: string, headers: Readonly<Record<string, string>>): ByteRange | undefined {
  if (method !== 'GET' || headers['if-range'] !== undefined) return undefined
  return parseRange(headers.range)
}

/** The content-coding applied to a body (RFC 9110 §8.4), lower-cased; undefined when none (absent, empty, identity). */
export function contentCoding(headers: HeaderMap): string | undefined {
  const coding = headerValue(headers, 'content-encoding')?.trim().toLowerCase()
  return coding === undefined || coding === '' || coding === 'identity' ? undefined : coding
}

/** A 206's headers for the bytes `[start, end]` of a `total`-byte representation (RFC 9110 §14.4 Content-Range). */
export function partialHeaders(headers: HeaderMap, start: number, end: number, total: number): HeaderMap {
  return extended(headers, { 'content-range': `bytes ${start}-${end}/${total}`, 'content-length': String(end - start + 1) })
}

/**
 * The slice of a stored 200 that answers `range`: `[start, end]` inclusive, or undefined when
 * it cannot be answered from storage (not a complete 200, a content-coding applied — fetch
 * would then decode a fragment —, or a range the body does not satisfy: the origin answers).
 */
export function rangeSlice(range: ByteRange, status: number, headers: HeaderMap, length: number): { start: number; end: number } | undefined {
  if (status !== 200 || length === 0 || contentCoding(headers) !== undefined) return undefined
  if (range.suffix !== undefined) {
    if (range.suffix === 0) return undefined
    return { start: Math.max(0, length - range.suffix), end: length - 1 }
  }
  const start = range.first!
  if (start >= length) return undefined
  return { start, end: Math.min(range.last ?? length - 1, length - 1) }
}

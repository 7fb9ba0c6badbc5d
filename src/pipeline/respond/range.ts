/**
 * A single-range GET answered from storage (rules/range.ts): a 206 cut from a fresh stored 200,
 * RFC 9111 §3.4 and RFC 9110 §14.4.
 */
import { answerableRange, partialHeaders, rangeSlice } from '../../rules/range.js'
import type { CacheRecord } from '../../backends/contract.js'

/** The 206 for this request's Range from the stored record, or undefined when it cannot be cut. */
export function partialRecord(method: string, headers: Readonly<Record<string, string>>, record: CacheRecord): CacheRecord | undefined {
  const range = answerableRange(method, headers)
  const slice = range ? rangeSlice(range, record.meta.status, record.meta.headers, record.body.byteLength) : undefined
  if (!slice) return undefined
  const { meta } = record
  const body = record.body.subarray(slice.start, slice.end + 1)
  return { meta: { ...meta, status: 206, statusText: 'Partial Content', headers: partialHeaders(meta.headers, slice.start, slice.end, record.body.byteLength) }, body }
}

/**
 * Partial content kept and combined (RFC 9111 §3.3 storing incomplete responses, §3.4
 * combining partial content; RFC 9110 §14.4 Content-Range, §8.8.1 and §8.8.3 strong validators).
 * Pure decisions: which 206 may be kept as a part, whether it joins the parts already held, and
 * the byte arithmetic of a set of parts. pipeline/parts.ts reads and writes them.
 */
import { headerValue } from './cache-control.js'
import { contentCoding } from './range.js'
import type { EntryMeta, HeaderMap } from '../backends/contract.js'

/** `bytes first-last/total` (RFC 9110 §14.4), offsets inclusive, the complete length known. */
export interface ContentRange {
  first: number
  last: number
  total: number
}

/**
 * A single satisfied byte range with its complete length, or undefined: another unit, an
 * unknown length (`/*`, nothing to combine towards), an unsatisfied range (a `*` for first-last), or one
 * that is invalid (§14.4: last before first, or not inside the complete length).
 */
export function parseContentRange(value: string | undefined): ContentRange | undefined {
  if (value === undefined) return undefined
  const m = /^\s*bytes\s+(\d{1,15})-(\d{1,15})\/(\d{1,15})\s*$/i.exec(value)
  if (!m) return undefined
  const [first, last, total] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (last < first || last >= total) return undefined
  return { first, last, total }
}

/**
 * The response's ETag when it is a strong validator (RFC 9110 §8.8.3: not `W/`-prefixed, one
 * quoted opaque tag), else undefined. §3.4 combines parts only under matching strong validators;
 * a Last-Modified alone is not taken as one (§8.8.2.2 makes it strong only under conditions we
 * cannot check).
 */
export function strongEtag(headers: HeaderMap): string | undefined {
  const v = headerValue(headers, 'etag')?.trim()
  return v !== undefined && /^"[\x21\x23-\x7e\x80-\xff]*"$/.test(v) ? v : undefined
}

export type PartDecision = { action: 'keep'; range: ContentRange; etag: string } | { action: 'skip'; reason: string }

/**
 * May this response to a range request be kept as a part? A 206 with one Content-Range of known
 * complete length no larger than `maxEntrySize` (the whole it may become must fit), a strong
 * ETag, and no content coding (a coded part would be decoded by fetch as if it were whole).
 * Whether it may be stored at all (no-store, filter, …) is decideWrite's, asked separately.
 */
export function decidePart(status: number, headers: HeaderMap, maxEntrySize: number): PartDecision {
  const skip = (reason: string): PartDecision => ({ action: 'skip', reason })
  if (status !== 206) return skip(`status ${status} is not a part`)
  // RFC 9110 §14.6: several ranges come as multipart/byteranges; not kept.
  if (/^\s*multipart\/byteranges/i.test(headerValue(headers, 'content-type') ?? '')) return skip('multipart/byteranges not kept')
  const coding = contentCoding(headers)
  if (coding !== undefined) return skip(`content-encoding ${coding}`)
  const range = parseContentRange(headerValue(headers, 'content-range'))
  if (!range) return skip('no single Content-Range with a complete length')
  const etag = strongEtag(headers)
  if (etag === undefined) return skip('no strong ETag')
  if (range.total > maxEntrySize) return skip(`complete length ${range.total} over maxEntrySize`)
  return { action: 'keep', range, etag }
}

/** The body that arrived is exactly the range its Content-Range names (else the part is not kept). */
export function bodyMatches(range: ContentRange, length: number): boolean {
  return length === range.last - range.first + 1
}

/**
 * How a new part meets the parts held (RFC 9111 §3.4): `merge` under the same strong validator
 * and complete length; `replace` when the validator changed (a new representation: the old
 * bytes must never be mixed with it) or nothing usable is held; `conflict` when the validator is
 * the same but the length differs — the origin contradicts itself, so neither is trusted.
 */
export function combine(held: { etag: string | undefined; total: number } | undefined, part: { etag: string; total: number }): 'merge' | 'replace' | 'conflict' {
  if (held === undefined || held.etag === undefined || held.etag !== part.etag) return 'replace'
  return held.total === part.total ? 'merge' : 'conflict'
}

/** A run of bytes held, starting at offset `start` of the complete representation. */
export interface Segment {
  start: number
  bytes: Uint8Array
}

/**
 * Add a part to the segments held: sorted, overlapping and adjacent runs joined into one, so
 * the result is a list of disjoint, non-touching runs. Where runs overlap the earlier-held bytes
 * are kept: under one strong validator both are the same bytes (RFC 9110 §8.8.1).
 */
export function mergeSegments(held: readonly Segment[], added: Segment): Segment[] {
  const all = [...held, added].filter((s) => s.bytes.byteLength > 0).sort((a, b) => a.start - b.start)
  const out: Segment[] = []
  let run: { start: number; end: number; pieces: Uint8Array[] } | undefined
  for (const s of all) {
    const end = s.start + s.bytes.byteLength
    if (run && s.start <= run.end) {
      if (end > run.end) run.pieces.push(s.bytes.subarray(run.end - s.start))
      run.end = Math.max(run.end, end)
      continue
    }
    if (run) out.push({ start: run.start, bytes: Buffer.concat(run.pieces) })
    run = { start: s.start, end, pieces: [s.bytes] }
  }
  if (run) out.push({ start: run.start, bytes: Buffer.concat(run.pieces) })
  return out
}

/** The bytes [first, last] (inclusive) when one held run covers them all, else undefined. */
export function sliceHeld(segments: readonly Segment[], first: number, last: number): Uint8Array | undefined {
  const s = segments.find((x) => x.start <= first && last < x.start + x.bytes.byteLength)
  return s?.bytes.subarray(first - s.start, last - s.start + 1)
}

/** The parts cover the whole representation [0, total): one run from 0 of `total` bytes. */
export function completeBody(segments: readonly Segment[], total: number): Uint8Array | undefined {
  const [only] = segments
  return segments.length === 1 && only!.start === 0 && only!.bytes.byteLength === total ? only!.bytes : undefined
}

/** How parts are kept in an entry: the runs' [first, last] offsets, their bytes concatenated in order as the body. */
export type PartsLayout = NonNullable<EntryMeta['parts']>

export function layoutOf(segments: readonly Segment[], total: number): PartsLayout {
  return { total, ranges: segments.map((s) => [s.start, s.start + s.bytes.byteLength - 1]) }
}

/**
 * The runs of a stored parts entry, or undefined when its layout does not describe its body
 * exactly (sorted, disjoint, inside the complete length, lengths adding up to the body's):
 * such an entry is not used, so that wrong bytes are never served or combined.
 */
export function segmentsOf(layout: unknown, body: Uint8Array): Segment[] | undefined {
  if (typeof layout !== 'object' || layout === null) return undefined
  const { total, ranges } = layout as Partial<PartsLayout>
  if (typeof total !== 'number' || !Number.isSafeInteger(total) || total <= 0 || !Array.isArray(ranges) || ranges.length === 0) return undefined
  const out: Segment[] = []
  let offset = 0
  let after = -1
  for (const r of ranges as unknown[]) {
    if (!Array.isArray(r) || r.length !== 2) return undefined
    const [first, last] = r as [unknown, unknown]
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last)) return undefined
    const [a, b] = [first as number, last as number]
    if (a <= after || b < a || b >= total) return undefined
    const length = b - a + 1
    if (offset + length > body.byteLength) return undefined
    out.push({ start: a, bytes: body.subarray(offset, offset + length) })
    offset += length
    after = b
  }
  return offset === body.byteLength ? out : undefined
}

/**
 * Parts of a response kept between range requests (RFC 9111 §3.3) and combined into the
 * complete response when they cover it (§3.4). One parts entry per primary key, at
 * partsKey(p.key): the latest 206's headers and freshness, its strong ETag, the complete
 * length, and the runs of bytes held (rules/partial.ts). The decisions are in rules/partial.ts;
 * this module reads, merges and writes.
 */
import { decideRead, requestDirectives } from '../rules/decide-read.js'
import { combine, completeBody, layoutOf, mergeSegments, type Segment, segmentsOf, sliceHeld, strongEtag, type ContentRange } from '../rules/partial.js'
import { answerableRange, partialHeaders, rangeSlice } from '../rules/range.js'
import { selectable } from '../rules/vary.js'
import { Deadline } from '../util/deadline.js'
import { debug } from '../util/debug.js'
import type { CacheRecord, HeaderMap } from '../backends/contract.js'
import type { Settings } from '../config/options.js'
import type { Engine } from './engine.js'
import type { Prepared } from './prepare/prepare.js'
import { partsKey } from './prepare/key.js'
import { readEntry } from './lookup.js'
import type { StoreDecision } from './store.js'

/**
 * The key this request's parts are kept at, or undefined when parts are not kept for it: only
 * for GET (RFC 9110 §14.2: Range is defined for GET), and only when the request's key does not
 * depend on its Range (a keyFn, or matchHeaders taking in Range or If-Range), else parts of one
 * response would land under different keys.
 */
export function partsKeyFor(settings: Pick<Settings, 'keyFn' | 'matchHeaders'>, p: Pick<Prepared, 'method' | 'key'>): string | undefined {
  const { matchHeaders } = settings
  if (p.method !== 'GET' || settings.keyFn || matchHeaders === true) return undefined
  if (matchHeaders !== false && (matchHeaders.includes('range') || matchHeaders.includes('if-range'))) return undefined
  return partsKey(p.key)
}

interface Held {
  record: CacheRecord
  segments: Segment[]
}

/** The parts entry at `key` when it may be used for this request (same method, URL and Vary fields; a layout that matches its body). */
async function readHeld(engine: Engine, key: string, p: Prepared, deadline: Deadline): Promise<Held | undefined> {
  // A fault or a late answer is a miss; a corrupt parts entry is removed (lookup.ts readEntry).
  const record = await readEntry(engine, key, deadline)
  if (!record || !selectable(record.meta, { method: p.method, url: engine.settings.keyFn ? undefined : p.url, headers: p.headers }, 'parts')) return undefined
  const segments = segmentsOf(record.meta.parts, record.body)
  return segments ? { record, segments } : undefined
}

/**
 * The 206 for this request cut from fresh parts (RFC 9111 §3.3: a cache may answer a range
 * request from an incomplete response), or undefined when the parts do not cover the range or
 * decideRead would not serve them.
 */
export async function fromParts(engine: Engine, key: string, p: Prepared, deadline: Deadline): Promise<{ record: CacheRecord; ttl: number; stale: boolean } | undefined> {
  const range = answerableRange(p.method, p.headers)
  if (!range) return undefined
  const held = await readHeld(engine, key, p, deadline)
  if (!held) return undefined
  const { meta } = held.record
  const action = decideRead({ entry: meta, ...requestDirectives(p.headers), modes: p.modes, now: engine.now() })
  if (action.action !== 'serve') return undefined
  const total = meta.parts!.total
  const slice = rangeSlice(range, 200, meta.headers, total)
  const body = slice ? sliceHeld(held.segments, slice.start, slice.end) : undefined
  if (!slice || !body) return undefined
  const headers = partialHeaders(meta.headers, slice.start, slice.end, total)
  return { record: { meta: { ...meta, kind: 'response', headers }, body }, ttl: action.ttl, stale: action.stale }
}

/** A part as it arrived: its range and strong ETag (decidePart), the 206's headers and body, and decideWrite's verdict. */
export interface Part {
  range: ContentRange
  etag: string
  statusText: string
  headers: HeaderMap
  body: Uint8Array
  decision: StoreDecision
}

/** Parts are merged one at a time per key in this process, so two parts arriving together are both kept. */
const queues = new WeakMap<Engine, Map<string, Promise<void>>>()

export function keepPart(engine: Engine, key: string, p: Prepared, part: Part): Promise<void> {
  let queue = queues.get(engine)
  if (!queue) queues.set(engine, (queue = new Map()))
  const before = queue.get(key) ?? Promise.resolve()
  const run = before.then(() => merge(engine, key, p, part)).catch((error: unknown) => engine.report(error))
  queue.set(key, run)
  void run.then(() => {
    if (queue.get(key) === run) queue.delete(key)
  })
  return engine.track(run)
}

/** A request without its Range fields: what the complete response is stored for. */
function wholeRequest(p: Prepared): Prepared {
  const { range: _range, 'if-range': _ifRange, ...headers } = p.headers
  return { ...p, headers }
}

async function merge(engine: Engine, key: string, p: Prepared, part: Part): Promise<void> {
  const { writer } = engine
  // Behind the response (the caller is not waiting): its own lockTimeout bounds the read.
  const held = await readHeld(engine, key, p, new Deadline(engine.settings.lockTimeout * 1000))
  const { first, total } = part.range
  const how = combine(held && { etag: strongEtag(held.record.meta.headers), total: held.record.meta.parts!.total }, { etag: part.etag, total })
  if (how === 'conflict') {
    // Same validator, another length: trust neither.
    debug('%s %s: part %s with another complete length than the parts held: both dropped', p.method, p.url, part.etag)
    return writer.drop([key])
  }
  const segments = mergeSegments(how === 'merge' ? held!.segments : [], { start: first, bytes: part.body })
  const { 'content-range': _cr, 'content-length': _cl, ...headers } = part.headers
  const whole = completeBody(segments, total)
  if (whole) {
    // §3.4: the parts are the complete response: stored as the 200 it is, headers from the latest 206.
    debug('%s %s: parts complete (%d bytes), stored whole', p.method, p.url, total)
    const stored = await writer.store(wholeRequest(p), { status: 200, statusText: 'OK', headers: { ...headers, 'content-length': String(total) }, body: whole }, part.decision)
    if (stored) await writer.drop([key])
    return
  }
  const body = segments.length === 1 ? segments[0]!.bytes : Buffer.concat(segments.map((s) => s.bytes))
  return writer.storeParts(p, key, { status: 206, statusText: part.statusText, headers, body }, part.decision, layoutOf(segments, total))
}

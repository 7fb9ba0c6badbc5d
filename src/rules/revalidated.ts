/**
 * decideRevalidated: what a 304 to our own conditional request does to the stored entry
 * (RFC 9111 §4.3.3, §4.3.4). Pure: the stored entry, the 304's fields, the write decision for
 * the merged response, and the clock in; the entry to serve and what to write out.
 */
import type { EntryMeta, HeaderMap } from '../backends/contract.js'
import { uselessAt } from './decide-read.js'
import type { WriteDecision } from './decide-write.js'
import { mergeHeaders } from './headers.js'
import { notModifiedMatches } from './policy.js'
import { extended } from '../util/objects.js'

export type Revalidated =
  /** §4.3.4: the 304 selects no stored response; the request must be sent again, unconditionally. */
  | { action: 'retry' }
  /** The merged entry is served and written back (freshness recomputed). */
  | { action: 'update'; meta: EntryMeta }
  /** Served once; the new fields forbid storing it (e.g. no-store) or change its Vary, so the stored one goes. */
  | { action: 'drop'; meta: EntryMeta }
  /** Served once; the cache may not write (readOnly), so the stored one stays as it was. */
  | { action: 'serve-only'; meta: EntryMeta }

export interface RevalidatedInput {
  stored: EntryMeta
  notModified: HeaderMap
  /** decideWrite for the stored status with the merged fields (mergeHeaders), at `now`. */
  decide: (merged: HeaderMap) => WriteDecision
  /** Whether this cache writes at all (writesAllowed). */
  writable: boolean
  now: number
}

export function decideRevalidated({ stored, notModified, decide, writable, now }: RevalidatedInput): Revalidated {
  // §4.3.4: a 304 updates only the stored response its validators select.
  if (!notModifiedMatches(stored.headers, notModified)) return { action: 'retry' }
  // §3.2: each field of the 304 replaces the stored one, framing and hop-by-hop fields excepted.
  const headers = mergeHeaders(stored.headers, notModified)
  const d = decide(headers)
  // §4.1: the entry was keyed and selected by the Vary it was stored with (its kept request
  // fields are those that Vary names); a 304 that adds or changes Vary would leave it answering
  // requests the new Vary tells apart. It is served to this request, whose conditional the
  // origin just answered, and dropped: the next response is stored under its own Vary.
  if (d.action !== 'store' || [...d.vary].sort().join() !== [...stored.vary].sort().join()) {
    // Freshness is not recomputed for a response that will not be stored: it is served this
    // once, as just validated, and is stale for anyone after.
    const meta = extended(stored, { headers, createdAt: now, initialAge: 0, expiresAt: now })
    return writable ? { action: 'drop', meta } : { action: 'serve-only', meta }
  }
  const meta: EntryMeta = {
    ...stored,
    headers,
    createdAt: now,
    expiresAt: d.expiresAt,
    initialAge: d.initialAge,
    staleIfErrorUntil: d.staleIfErrorUntil,
    staleWhileRevalidateUntil: d.staleWhileRevalidateUntil,
    mustRevalidate: d.mustRevalidate,
  }
  meta.deadAt = uselessAt(meta)
  return { action: 'update', meta }
}

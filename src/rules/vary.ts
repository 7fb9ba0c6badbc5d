/**
 * Vary (RFC 9111 §4.1): which stored response, if any, a request may be given. A stored
 * response is selected only for the same method and URL it was stored for, and only when
 * every request field its Vary names matches (an absent field matches only an absent field).
 */
import { headerValue } from './cache-control.js'
import type { EntryMeta, HeaderMap } from '../backends/contract.js'

/** The field names a response's Vary lists, lower-cased and sorted; `*` stays `*`. */
export function varyNames(headers: HeaderMap): string[] {
  const v = headerValue(headers, 'vary')
  if (v === undefined) return []
  return v.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '').sort()
}

/**
 * Do the request fields a Vary list names match those of the request that was answered?
 * §4.1: "A stored response with a Vary header field value containing '*' always fails to match."
 */
export function varyMatches(vary: readonly string[], stored: Readonly<Record<string, string>>, request: Readonly<Record<string, string>>): boolean {
  for (const name of vary) if (name === '*' || stored[name] !== request[name]) return false
  return true
}

export interface Wanted {
  method: string
  /** Normalised URL; undefined when a user key function decides what is the same request. */
  url: string | undefined
  headers: Readonly<Record<string, string>>
}

/**
 * May this stored response answer this request? §4: the stored method and target URI must be
 * those of the request (so a key collision can never serve another request's response), and
 * §4.1: the Vary-named fields must match.
 */
export function selectable(meta: EntryMeta, wanted: Wanted): boolean {
  if (meta.kind !== 'response' || meta.method !== wanted.method) return false
  if (wanted.url !== undefined && meta.url !== wanted.url) return false
  return varyMatches(meta.vary, meta.requestHeaders, wanted.headers)
}

/**
 * An unstorable response one request received, shared with another that waited for it (request
 * collapsing, RFC 9111 §4 "a cache ... can reuse" only what it could have selected): only when
 * the fields its own Vary names match. Vary: * shares with no one.
 */
export function mayShareUnstored(responseHeaders: HeaderMap, answered: Readonly<Record<string, string>>, request: Readonly<Record<string, string>>): boolean {
  return varyMatches(varyNames(responseHeaders), answered, request)
}

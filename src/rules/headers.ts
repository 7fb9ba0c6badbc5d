/**
 * Which response fields a cache keeps, and which a 304 may change: one list for each rule.
 */
import { headerValue } from './cache-control.js'
import type { HeaderMap } from '../backends/contract.js'

/**
 * Fields never stored (RFC 9111 §3.1): hop-by-hop and connection-specific fields (RFC 9110
 * §7.6.1), the fields a Connection header lists, and "Proxy-Authenticate,
 * Proxy-Authentication-Info, Proxy-Authorization", which belong to the connection with a proxy.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authenticate', 'proxy-authentication-info', 'proxy-authorization'])

/**
 * Fields a 304 must not overwrite in the stored response (RFC 9111 §3.2): the framing of the
 * stored body (Content-Length, Content-Encoding, Content-Range) and every hop-by-hop field.
 */
export const NOT_UPDATED_BY_304: ReadonlySet<string> = new Set(['content-length', 'content-encoding', 'content-range', ...HOP_BY_HOP])

export function stripHopByHop(headers: HeaderMap): HeaderMap {
  const out: HeaderMap = {}
  const listed = new Set((headerValue(headers, 'connection') ?? '').split(',').map((s) => s.trim().toLowerCase()))
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name) && !listed.has(name)) out[name] = value
  }
  return out
}

/**
 * Merge a 304's header fields into the stored ones (RFC 9111 §3.2 and §4.3.4): each field the
 * 304 carries replaces the stored one, except the fields NOT_UPDATED_BY_304 names and those the
 * 304's Connection field lists (§3.1).
 */
export function mergeHeaders(stored: HeaderMap, fresh: HeaderMap): HeaderMap {
  const out: HeaderMap = { ...stored }
  // The response was just validated: its age starts again from the 304's own Age, if any
  // (RFC 9111 §5.1: Age counts "since the response was generated or validated").
  delete out.age
  // §3.1 for the 304's own fields: what its Connection lists belongs to that connection only.
  for (const [name, value] of Object.entries(stripHopByHop(fresh))) {
    if (!NOT_UPDATED_BY_304.has(name)) out[name] = value
  }
  return out
}

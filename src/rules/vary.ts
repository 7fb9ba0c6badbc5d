/**
 * Vary (RFC 9111 §4.1): which stored response, if any, a request may be given. A stored
 * response is selected only for the same method and URL it was stored for, and only when
 * every request field its Vary names matches (an absent field matches only an absent field).
 */
import { headerValue } from './cache-control.js'
import { storedValue } from './credentials.js'
import type { EntryMeta, HeaderMap } from '../backends/contract.js'

/**
 * Vary matching (RFC 9111 §4.1): a stored response is selected only when every field its Vary
 * names has the same value in the new request as in the one that got it stored, absent
 * included. `*`, and any name that is not a field name (an entry written before malformed Vary
 * values were read as `*`), match nothing.
 *
 * §4.1 lets a cache compare values after "combining multiple field lines and normalizing
 * whitespace per field definition". Normalised here (normalizeFieldValue):
 * - every field: list members split on commas outside quoted strings, whitespace around them
 *   dropped, empty members dropped (RFC 9110 §5.6.1), so `Foo: 1, 2`, `Foo:  1 ,2` and two
 *   lines `1` and `2` (joined with ", " when read) compare equal;
 * - Accept-Language also ignores case (language tags are case-insensitive, RFC 5646 §2.1.1) and
 *   member order (a client's list order is not a preference: q-values are, RFC 9110 §12.5.4),
 *   with whitespace around `;q=` dropped.
 * Nothing else: other fields' values are compared as sent (case can matter in them).
 */
/** RFC 9110 §5.6.2 token (lower-cased): what a field name is made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/

export function isFieldName(name: string): boolean {
  return TOKEN.test(name)
}

export function varyMatches(
  vary: readonly string[],
  stored: Readonly<Record<string, string>>,
  request: Readonly<Record<string, string>>,
  /** How the request's value is kept in `stored` (credentials as digests: credentials.ts). */
  asStored: (name: string, value: string | undefined) => string | undefined = (_name, value) => value,
): boolean {
  for (const name of vary) {
    if (name === '*' || !isFieldName(name)) return false
    if (normalizeFieldValue(name, stored[name]) !== normalizeFieldValue(name, asStored(name, request[name]))) return false
  }
  return true
}

/** Split a field value on commas outside double-quoted strings. */
function members(value: string): string[] {
  const out: string[] = []
  let current = ''
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!
    if (quoted && ch === '\\') {
      current += ch + (value[i + 1] ?? '')
      i++
      continue
    }
    if (ch === '"') quoted = !quoted
    if (ch === ',' && !quoted) {
      out.push(current)
      current = ''
    } else current += ch
  }
  out.push(current)
  return out.map((m) => m.trim()).filter((m) => m !== '')
}

/** A request field's value as Vary compares it (see above); undefined stays undefined. */
export function normalizeFieldValue(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const list = members(value)
  if (name === 'accept-language') return list.map((m) => m.toLowerCase().replace(/\s*;\s*/g, ';')).sort().join(', ')
  return list.join(', ')
}

/**
 * The field names a response's Vary lists (RFC 9110 §12.5.5: `#( "*" / field-name )`), sorted.
 * A value that does not parse as that list (`accept-language user-agent`, no comma) names no
 * field a request sends, so reading it literally would match every request: it is read as
 * `*` instead (RFC 9111 §4.1: never reused), the one safe reading.
 */
export function varyNames(headers: HeaderMap): string[] {
  const v = headerValue(headers, 'vary')
  if (v === undefined) return []
  const names = v.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '')
  if (names.some((name) => name !== '*' && !isFieldName(name))) return ['*']
  return names.sort()
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
 * §4.1: the Vary-named fields must match. `kind`: what the entry must be (the parts kept of a
 * response are selected by the same rules, and never taken for a response).
 */
export function selectable(meta: EntryMeta, wanted: Wanted, kind: 'response' | 'parts' = 'response'): boolean {
  if (meta.kind !== kind || meta.method !== wanted.method) return false
  if (wanted.url !== undefined && meta.url !== wanted.url) return false
  return varyMatches(meta.vary, meta.requestHeaders, wanted.headers, storedValue)
}

/**
 * An unstorable response one request received, shared with another that waited for it (request
 * collapsing, RFC 9111 §4 "a cache ... can reuse" only what it could have selected): only when
 * the fields its own Vary names match. Vary: * shares with no one.
 */
export function mayShareUnstored(responseHeaders: HeaderMap, answered: Readonly<Record<string, string>>, request: Readonly<Record<string, string>>): boolean {
  return varyMatches(varyNames(responseHeaders), answered, request)
}

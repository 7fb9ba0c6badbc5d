import { hash as oneShot } from 'node:crypto'
import { normalizeBody, normalizeUrl } from './normalize.js'
import { normalizeFieldValue } from '../../rules/vary.js'
import type { Settings } from '../../config/options.js'
import type { RequestInfoForKey } from '../../config/types.js'
import { CREDENTIAL_HEADERS } from '../../rules/credentials.js'

function hash(parts: unknown): string {
  // JSON, not concatenation: ['a', 'bc'] and ['ab', 'c'] must not collide.
  // The one-shot digest: a Hash object per request cost more than the digest itself.
  return oneShot('sha256', JSON.stringify(parts), 'hex').slice(0, 32)
}

function digest(value: string | Uint8Array): string {
  return oneShot('sha256', value, 'base64url')
}

export interface KeyParts {
  /** The primary key: method, URL, body, matched headers, credentials. */
  key: string
  /** Normalised URL without ignored parameters: what is stored and shown. */
  url: string
}

export function requestKey(request: RequestInfoForKey, settings: Settings): KeyParts {
  const url = normalizeUrl(request.url, settings.ignoredParameters)
  if (settings.keyFn) return { key: settings.keyFn(request), url }
  const headers: Array<[string, string]> = []
  const { matchHeaders, ignoredHeaders } = settings
  const names =
    matchHeaders === true ? Object.keys(request.headers).sort() : matchHeaders === false ? [] : matchHeaders
  for (const name of names) {
    const value = request.headers[name]
    if (value !== undefined && !ignoredHeaders.has(name) && !(CREDENTIAL_HEADERS as readonly string[]).includes(name)) {
      headers.push([name, value])
    }
  }
  for (const name of CREDENTIAL_HEADERS) {
    const value = request.headers[name]
    if (value !== undefined && !ignoredHeaders.has(name)) headers.push([name, digest(value)])
  }
  const body =
    request.body && request.body.byteLength > 0
      ? digest(normalizeBody(request.body, request.headers['content-type'], settings.ignoredParameters))
      : null
  return { key: hash([request.method, url, body, headers]), url }
}

/** Key of one variant under a primary key, by the values of the response's Vary fields. */
export function variantKey(primary: string, vary: readonly string[], headers: Readonly<Record<string, string>>): string {
  // Values as Vary compares them (rules/vary.ts), so equal values find the same variant.
  return hash([primary, vary.map((name) => [name, normalizeFieldValue(name, headers[name]) ?? null])])
}

/**
 * Key of the parts (RFC 9111 §3.3) kept for a primary key: derived from it, so the method, URL,
 * body, matched headers and credentials that separate responses separate parts too; the Vary
 * fields are checked against the stored request headers, as for any stored response.
 */
export function partsKey(primary: string): string {
  return hash(['parts', primary])
}

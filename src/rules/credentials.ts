/**
 * Credentials at rest: `Authorization`, `Proxy-Authorization` and `Cookie` values are never
 * stored. The key already separates responses by credential (a digest of the value enters it,
 * see pipeline/prepare/key.ts); an entry keeps a credential header only when the response's Vary names it, and
 * then only as a digest, which is all RFC 9111 §4.1 matching needs: compare digests.
 */
import { createHmac } from 'node:crypto'

/** Headers that identify the caller: keyed by digest so one user's response never serves another. */
export const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'] as const

const CREDENTIALS: ReadonlySet<string> = new Set(CREDENTIAL_HEADERS)
/**
 * Domain separation, not a secret: it keeps these digests apart from every other SHA-256 of
 * the same value. The value itself is what a reader of the file cannot recover.
 */
const KEY = 'fetchcache credential digest v1'
const PREFIX = 'hmac-sha256:'

export function isCredential(name: string): boolean {
  return CREDENTIALS.has(name)
}

/** How a request header's value is stored and compared: credentials as a digest. */
export function storedValue(name: string, value: string | undefined): string | undefined {
  if (value === undefined || !CREDENTIALS.has(name)) return value
  return PREFIX + createHmac('sha256', KEY).update(value).digest('base64url')
}

/** The request headers an entry keeps: credentials only when Vary names them, as digests. */
export function storedRequestHeaders(headers: Readonly<Record<string, string>>, vary: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (!CREDENTIALS.has(name)) out[name] = value
    else if (vary.includes(name)) out[name] = storedValue(name, value)!
  }
  return out
}

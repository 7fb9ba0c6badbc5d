/**
 * HAR export: one HAR entry per stored response. `content.text` is the body as a browser
 * records it (decoded from its Content-Encoding; UTF-8 text, else base64). fetchcache's own
 * metadata rides in the custom field `_fetchcache` (HAR §"Custom fields": names start with
 * `_`), with the stored bytes themselves when they differ from `content.text`, so that import
 * restores every entry exactly: same key, timestamps, expiry and byte-identical body.
 */
import { isCredential } from '../../rules/credentials.js'
import { headerValue } from '../../rules/cache-control.js'
import { variantKey } from '../../pipeline/prepare/key.js'
import { decodeBody } from '../../pipeline/respond/response.js'
import { VERSION } from '../../util/version.js'
import type { EntryMeta } from '../../backends/contract.js'
import type { CacheFilter } from '../types.js'
import type { Har, HarEntry, HarFetchcache, HarHeader, HarSource } from './types.js'

const TEXTUAL = /^(text\/|application\/(?:[\w.+-]*\+)?(?:json|xml|javascript|ecmascript|x-www-form-urlencoded|graphql)\b|image\/svg\+xml)/i

function toHarHeaders(map: Readonly<Record<string, string | string[]>>): HarHeader[] {
  const out: HarHeader[] = []
  for (const [name, value] of Object.entries(map)) {
    for (const v of Array.isArray(value) ? value : [value]) out.push({ name, value: v })
  }
  return out
}

function asText(bytes: Uint8Array, mimeType: string): string | undefined {
  if (!TEXTUAL.test(mimeType)) return undefined
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const text = buf.toString('utf8')
  // Only when the text gives back the very same bytes (valid UTF-8, no BOM games).
  return Buffer.from(text, 'utf8').equals(buf) ? text : undefined
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

function content(meta: EntryMeta, body: Uint8Array): { content: HarEntry['response']['content']; stored?: string } {
  const mimeType = headerValue(meta.headers, 'content-type') ?? 'x-unknown'
  let decoded: Uint8Array | undefined
  try {
    decoded = decodeBody(body, headerValue(meta.headers, 'content-encoding'))
  } catch {
    decoded = undefined
  }
  // A coding we cannot undo: the stored bytes themselves, base64.
  const shown = decoded ?? body
  const text = asText(shown, mimeType)
  const c: HarEntry['response']['content'] = text === undefined
    ? { size: shown.byteLength, mimeType, text: base64(shown), encoding: 'base64' }
    : { size: shown.byteLength, mimeType, text }
  if (shown === body) return { content: c }
  // HAR: "Number of bytes saved"; left out when the coding saved nothing.
  if (shown.byteLength > body.byteLength) c.compression = shown.byteLength - body.byteLength
  return { content: c, stored: base64(body) }
}

/** For a variant stored under Vary: the primary key whose marker points at it. */
function primaryKeyOf(meta: EntryMeta, markers: ReadonlyMap<string, EntryMeta[]>): string | undefined {
  if (meta.vary.length === 0) return undefined
  const candidates = markers.get(`${meta.method} ${meta.url}`) ?? []
  const exact = candidates.find((m) => variantKey(m.key, meta.vary, meta.requestHeaders) === meta.key)
  return (exact ?? (candidates.length === 1 ? candidates[0] : undefined))?.key
}

function withoutCredentials(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !isCredential(name)))
}

export function harEntry(meta: EntryMeta, body: Uint8Array, primaryKey?: string, includeCredentials = false): HarEntry {
  let query: HarHeader[] = []
  try {
    query = [...new URL(meta.url).searchParams].map(([name, value]) => ({ name, value }))
  } catch {
    // A keyFn may store anything as a URL; HAR still gets the entry.
  }
  const { content: c, stored } = content(meta, body)
  const fc: HarFetchcache = {
    v: 1,
    key: meta.key,
    ...(primaryKey === undefined ? {} : { primaryKey }),
    vary: meta.vary,
    createdAt: meta.createdAt,
    expiresAt: meta.expiresAt,
    initialAge: meta.initialAge,
    staleIfErrorUntil: meta.staleIfErrorUntil,
    staleWhileRevalidateUntil: meta.staleWhileRevalidateUntil,
    mustRevalidate: meta.mustRevalidate,
    ...(stored === undefined ? {} : { body: stored }),
  }
  return {
    startedDateTime: new Date(meta.createdAt).toISOString(),
    time: 0,
    request: {
      method: meta.method,
      url: meta.url,
      httpVersion: 'HTTP/1.1',
      cookies: [],
      // HAR files get shared and committed: credential headers (digests, or values in entries
      // stored before digests) stay out unless asked for.
      headers: toHarHeaders(includeCredentials ? meta.requestHeaders : withoutCredentials(meta.requestHeaders)),
      queryString: query,
      headersSize: -1,
      bodySize: -1,
    },
    response: {
      status: meta.status,
      statusText: meta.statusText,
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: toHarHeaders(meta.headers),
      content: c,
      redirectURL: headerValue(meta.headers, 'location') ?? '',
      headersSize: -1,
      bodySize: body.byteLength,
    },
    cache: {},
    timings: { send: 0, wait: 0, receive: 0 },
    _fetchcache: fc,
  }
}

/** The stored responses matching `filter` as a HAR 1.2 document, oldest first. */
export async function toHar(cache: HarSource, filter?: CacheFilter, onProgress?: (done: number) => void, includeCredentials = false): Promise<Har> {
  const markers = new Map<string, EntryMeta[]>()
  for await (const meta of cache.markers()) {
    const id = `${meta.method} ${meta.url}`
    markers.set(id, [...(markers.get(id) ?? []), meta])
  }
  const entries: HarEntry[] = []
  for await (const meta of cache.entries(filter)) {
    const record = await cache.getEntry(meta.key).catch(() => undefined)
    if (record?.meta.kind !== 'response') continue
    entries.push(harEntry(record.meta, record.body, primaryKeyOf(record.meta, markers), includeCredentials))
    onProgress?.(entries.length)
  }
  entries.sort((a, b) => (a._fetchcache?.createdAt ?? 0) - (b._fetchcache?.createdAt ?? 0))
  return { log: { version: '1.2', creator: { name: 'fetchcache', version: VERSION }, entries } }
}

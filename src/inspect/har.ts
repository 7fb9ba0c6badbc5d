/**
 * HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/) export and import, so a cache can
 * be checked in as test fixtures, replayed offline (`onlyIfCached`), and read in any HAR viewer.
 *
 * Export: one HAR entry per stored response. `content.text` is the body as a browser records
 * it (decoded from its Content-Encoding; UTF-8 text, else base64). fetchcache's own metadata
 * rides in the custom field `_fetchcache` (HAR §"Custom fields": names start with `_`), with
 * the stored bytes themselves when they differ from `content.text`, so that import restores
 * every entry exactly: same key, timestamps, expiry and byte-identical body.
 *
 * Import of a HAR without `_fetchcache` (from a browser or another tool): each entry goes
 * through the engine's own write path, as if its response had just arrived — `prepare` keys
 * the request, `decideWrite` applies this cache's rules (freshness from Cache-Control,
 * Expires or Last-Modified; no-store, Vary: * and statuses outside allowableCodes are
 * skipped), `store` writes it. Recorded bodies are decoded, so Content-Encoding is dropped.
 */
import { isCredential } from '../pipeline/credentials.js'
import { readFileSync } from 'node:fs'
import { headerValue } from '../rules/cache-control.js'
import type { Cache, CacheFilter } from './cache.js'
import { checkMeta, varyMarker } from '../backends/entry.js'
import { uselessAt } from '../rules/decide-read.js'
import { BackendError, FetchCacheError } from '../util/errors.js'
import { variantKey } from '../pipeline/key.js'
import { decodeBody, NULL_BODY_STATUS } from '../pipeline/response.js'
import type { EntryMeta, HeaderMap } from '../backends/contract.js'

export interface HarHeader {
  name: string
  value: string
}

export interface HarEntry {
  startedDateTime: string
  time: number
  request: {
    method: string
    url: string
    httpVersion: string
    cookies: unknown[]
    headers: HarHeader[]
    queryString: HarHeader[]
    postData?: { mimeType: string; text?: string }
    headersSize: number
    bodySize: number
  }
  response: {
    status: number
    statusText: string
    httpVersion: string
    cookies: unknown[]
    headers: HarHeader[]
    content: { size: number; compression?: number; mimeType: string; text?: string; encoding?: string }
    redirectURL: string
    headersSize: number
    bodySize: number
  }
  cache: Record<string, unknown>
  timings: { send: number; wait: number; receive: number; [phase: string]: number }
  _fetchcache?: HarFetchcache
}

/** What HAR has no field for, to restore an entry exactly: the entry's own timing fields. */
export type HarFetchcache = Pick<
  EntryMeta,
  'key' | 'vary' | 'createdAt' | 'expiresAt' | 'initialAge' | 'staleIfErrorUntil' | 'staleWhileRevalidateUntil' | 'mustRevalidate'
> & {
  v: 1
  /** Primary key of a variant stored under Vary (where its Vary marker lives). */
  primaryKey?: string
  /** The stored body, base64, when `content.text` is not it (a Content-Encoding was decoded). */
  body?: string
}

export interface Har {
  log: {
    version: string
    creator: { name: string; version: string }
    pages?: unknown[]
    entries: HarEntry[]
    comment?: string
  }
}

export interface HarImportResult {
  /** Entries stored. */
  imported: number
  /** Entries this cache's rules would not store, with the reason for each. */
  skipped: Array<{ index: number; url: string; reason: string }>
}

/** A HAR document that cannot be read. The message names the first bad field (`log.entries[3].response.status`). */
export class HarFormatError extends FetchCacheError {
  constructor(message: string) {
    super('ERR_FETCHCACHE_HAR', message)
  }
}

/** This package's version: from the nearest package.json named fetchcache, above this file. */
export const VERSION: string = (() => {
  for (let dir = new URL('.', import.meta.url); dir.pathname !== '/'; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'fetchcache' && typeof pkg.version === 'string') return pkg.version
    } catch {
      // No package.json here: look one folder up.
    }
  }
  return '0.0.0'
})()

// ---------------------------------------------------------------------------------- export

const TEXTUAL = /^(text\/|application\/(?:[\w.+-]*\+)?(?:json|xml|javascript|ecmascript|x-www-form-urlencoded|graphql)\b|image\/svg\+xml)/i

function withoutCredentials(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !isCredential(name)))
}

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
export async function toHar(cache: Cache, filter?: CacheFilter, onProgress?: (done: number) => void, includeCredentials = false): Promise<Har> {
  const { backend } = cache.engine
  const markers = new Map<string, EntryMeta[]>()
  for await (const [, meta] of backend.entries()) {
    if (meta.kind !== 'vary') continue
    const id = `${meta.method} ${meta.url}`
    markers.set(id, [...(markers.get(id) ?? []), meta])
  }
  const entries: HarEntry[] = []
  for await (const meta of cache.entries(filter)) {
    const record = await backend.get(meta.key).catch(() => undefined)
    if (record?.meta.kind !== 'response') continue
    entries.push(harEntry(record.meta, record.body, primaryKeyOf(record.meta, markers), includeCredentials))
    onProgress?.(entries.length)
  }
  entries.sort((a, b) => (a._fetchcache?.createdAt ?? 0) - (b._fetchcache?.createdAt ?? 0))
  return { log: { version: '1.2', creator: { name: 'fetchcache', version: VERSION }, entries } }
}

// ---------------------------------------------------------------------------------- import

type Json = Record<string, unknown>

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function need<T>(ok: boolean, value: unknown, path: string, expected: string): T {
  if (!ok) throw new HarFormatError(`${path}: expected ${expected}; got ${value === undefined ? 'nothing' : JSON.stringify(value)?.slice(0, 60)}`)
  return value as T
}

function obj(parent: Json, name: string, path: string): Json {
  return need<Json>(isObject(parent[name]), parent[name], `${path}.${name}`, 'an object')
}

function str(parent: Json, name: string, path: string): string {
  return need<string>(typeof parent[name] === 'string', parent[name], `${path}.${name}`, 'a string')
}

function headerList(parent: Json, name: string, path: string): HarHeader[] {
  const list = need<unknown[]>(Array.isArray(parent[name]), parent[name], `${path}.${name}`, 'an array')
  return list.map((h, i) => {
    const p = `${path}.${name}[${i}]`
    const header = need<Json>(isObject(h), h, p, 'an object with name and value')
    return { name: str(header, 'name', p), value: str(header, 'value', p) }
  })
}

/** Lower-case names; a repeated field becomes an array, as undici hands them over. */
function headerMap(list: readonly HarHeader[]): HeaderMap {
  const out: HeaderMap = {}
  for (const { name, value } of list) {
    const n = name.toLowerCase()
    // HTTP/2 pseudo-headers (":authority") in browser HARs are not header fields.
    if (n.startsWith(':')) continue
    const prior = out[n]
    out[n] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value]
  }
  return out
}

function requestHeaderMap(list: readonly HarHeader[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headerMap(list))) out[name] = Array.isArray(value) ? value.join(', ') : value
  return out
}

interface Parsed {
  index: number
  method: string
  url: string
  status: number
  statusText: string
  requestHeaders: Record<string, string>
  headers: HeaderMap
  /** Undefined when the HAR recorded no body. */
  body: Uint8Array | undefined
  requestBody: Uint8Array | undefined
  /** An entry exported by fetchcache, ready to store as it was. */
  exact: Restored | undefined
}

interface Restored {
  meta: EntryMeta
  body: Uint8Array
  /** The Vary marker at the primary key, for a variant. */
  marker?: EntryMeta
}

function decodeText(text: string, encoding: unknown, path: string): Uint8Array {
  if (encoding === undefined || encoding === '') return Buffer.from(text, 'utf8')
  if (encoding !== 'base64') throw new HarFormatError(`${path}.encoding: expected 'base64' or nothing; got ${JSON.stringify(encoding)}`)
  if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(text)) throw new HarFormatError(`${path}.text: not valid base64`)
  return Buffer.from(text, 'base64')
}

function parseFetchcache(value: unknown, path: string): HarFetchcache | undefined {
  if (value === undefined) return undefined
  const fc = need<Json>(isObject(value), value, path, 'an object')
  need(fc.v === 1, fc.v, `${path}.v`, '1')
  str(fc, 'key', path)
  if (fc.primaryKey !== undefined) str(fc, 'primaryKey', path)
  if (fc.body !== undefined) str(fc, 'body', path)
  return fc as unknown as HarFetchcache
}

function parseEntry(e: unknown, index: number): Parsed {
  const path = `log.entries[${index}]`
  const entry = need<Json>(isObject(e), e, path, 'an object')
  const request = obj(entry, 'request', path)
  const response = obj(entry, 'response', path)
  const rq = `${path}.request`
  const rs = `${path}.response`
  const method = str(request, 'method', rq).toUpperCase()
  const url = str(request, 'url', rq)
  try {
    new URL(url)
  } catch {
    throw new HarFormatError(`${rq}.url: not an absolute URL: ${JSON.stringify(url).slice(0, 80)}`)
  }
  const status = need<number>(Number.isInteger(response.status), response.status, `${rs}.status`, 'a whole number')
  const statusText = response.statusText === undefined ? '' : str(response, 'statusText', rs)
  const fetchcache = parseFetchcache(entry._fetchcache, `${path}._fetchcache`)
  const c = obj(response, 'content', rs)
  let body: Uint8Array | undefined
  if (fetchcache?.body !== undefined) body = decodeText(fetchcache.body, 'base64', `${path}._fetchcache.body`)
  else if (c.text !== undefined) body = decodeText(str(c, 'text', `${rs}.content`), c.encoding, `${rs}.content`)
  let requestBody: Uint8Array | undefined
  if (isObject(request.postData) && typeof request.postData.text === 'string') requestBody = Buffer.from(request.postData.text, 'utf8')
  const parsed: Parsed = {
    index,
    method,
    url,
    status,
    statusText,
    requestHeaders: requestHeaderMap(headerList(request, 'headers', rq)),
    headers: headerMap(headerList(response, 'headers', rs)),
    body,
    requestBody,
    exact: undefined,
  }
  if (fetchcache) parsed.exact = restored(parsed, fetchcache)
  return parsed
}

/**
 * Read and check a whole HAR document, `_fetchcache` fields included; throws HarFormatError
 * naming the first bad field. What it returns can be stored without further checks.
 */
export function parseHar(input: unknown): Parsed[] {
  let doc = input
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8')
    try {
      doc = JSON.parse(text.replace(/^\uFEFF/, ''))
    } catch (error) {
      throw new HarFormatError(`not JSON: ${(error as Error).message}`)
    }
  }
  const root = need<Json>(isObject(doc), doc, 'HAR', 'an object with a "log"')
  const log = obj(root, 'log', 'HAR')
  const entries = need<unknown[]>(Array.isArray(log.entries), log.entries, 'log.entries', 'an array')
  return entries.map(parseEntry)
}

/** An entry exported by fetchcache: back exactly as it was. */
function restored(p: Parsed, fc: HarFetchcache): Restored {
  const body = p.body ?? new Uint8Array(0)
  let meta: EntryMeta
  try {
    meta = checkMeta({
      v: 1,
      kind: 'response',
      key: fc.key,
      method: p.method,
      url: p.url,
      status: p.status,
      statusText: p.statusText,
      headers: p.headers,
      requestHeaders: p.requestHeaders,
      vary: fc.vary,
      createdAt: fc.createdAt,
      expiresAt: fc.expiresAt,
      initialAge: fc.initialAge,
      staleIfErrorUntil: fc.staleIfErrorUntil,
      staleWhileRevalidateUntil: fc.staleWhileRevalidateUntil,
      mustRevalidate: fc.mustRevalidate,
      size: body.byteLength,
    })
  } catch (error) {
    throw new HarFormatError(`log.entries[${p.index}]._fetchcache: ${(error as Error).message}`)
  }
  // Not exported (derived): when the entry is of no use, as the engine writes it.
  meta.deadAt = uselessAt(meta)
  if (fc.primaryKey === undefined || meta.vary.length === 0) return { meta, body }
  return { meta, body, marker: varyMarker(meta, fc.primaryKey) }
}

/**
 * Store a HAR document's entries in the cache. Everything is parsed and checked first; only a
 * document without errors is written.
 */
export async function importHar(cache: Cache, har: unknown, onProgress?: (done: number) => void): Promise<HarImportResult> {
  return importParsed(cache, parseHar(har), onProgress)
}

/** importHar for entries parseHar has already checked (the CLI checks before opening a cache). */
export async function importParsed(cache: Cache, parsed: Parsed[], onProgress?: (done: number) => void): Promise<HarImportResult> {
  const { engine } = cache
  const result: HarImportResult = { imported: 0, skipped: [] }
  const skip = (p: Parsed, reason: string) => result.skipped.push({ index: p.index, url: p.url, reason })
  for (const [i, p] of parsed.entries()) {
    const entry = p.exact
    if (entry) {
      if (entry.marker) await engine.backend.set(entry.marker.key, { meta: entry.marker, body: new Uint8Array(0) })
      await engine.backend.set(entry.meta.key, { meta: entry.meta, body: entry.body })
      result.imported++
    } else {
      const reason = await storeForeign(cache, p)
      if (reason === undefined) result.imported++
      else skip(p, reason)
    }
    onProgress?.(i + 1)
  }
  await engine.flush()
  return result
}


/** An entry from another tool, through the engine's write path; the reason when it is not stored. */
async function storeForeign(cache: Cache, p: Parsed): Promise<string | undefined> {
  const { engine } = cache
  if (p.status < 200 || p.status > 599) return `status ${p.status}`
  if (p.body === undefined && !NULL_BODY_STATUS.has(p.status) && p.method !== 'HEAD') return 'no response body recorded'
  const prepared = engine.prepare({ method: p.method, url: p.url, headers: p.requestHeaders, body: p.requestBody }, undefined)
  if ('bypass' in prepared) return prepared.reason
  // HAR bodies are recorded decoded: what is stored must not claim a Content-Encoding.
  const headers: HeaderMap = { ...p.headers }
  const body = p.body ?? new Uint8Array(0)
  if (headers['content-encoding'] !== undefined) {
    delete headers['content-encoding']
    if (headers['content-length'] !== undefined) headers['content-length'] = String(body.byteLength)
  }
  const d = engine.decideWrite(prepared, p.status, headers)
  if (d.action !== 'store') return d.reason
  if (body.byteLength > engine.settings.maxEntrySize) return 'body over maxEntrySize'
  // Engine.store reports a failed write to onError instead of throwing; an import must not
  // claim an entry it did not write.
  if (!(await engine.store(prepared, p.status, p.statusText, headers, body, d))) throw new BackendError(`write of ${p.url} failed`)
  return undefined
}

/**
 * HAR parsing: a whole document read and checked before anything is written, `_fetchcache`
 * fields included, so that a malformed file throws `HarFormatError` naming the first bad field
 * and leaves the store as it was.
 */
import { checkMeta, varyMarker } from '../../backends/entry.js'
import { uselessAt } from '../../rules/decide-read.js'
import { isObject } from '../../util/check.js'
import type { EntryMeta, HeaderMap } from '../../backends/contract.js'
import { type HarFetchcache, HarFormatError, type HarHeader } from './types.js'

type Json = Record<string, unknown>

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

/** One HAR entry, checked: ready to store. */
export interface Parsed {
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

export interface Restored {
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

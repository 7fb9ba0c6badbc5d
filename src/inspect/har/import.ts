/**
 * HAR import. An entry exported by fetchcache (`_fetchcache`) is put back exactly as it was.
 * An entry from a browser or another tool goes through the cache's own write path
 * (`Cache.storeResponse`), as if its response had just arrived: this cache's rules decide
 * (freshness from Cache-Control, Expires or Last-Modified; no-store, Vary: * and statuses
 * outside allowableCodes are skipped). Recorded bodies are decoded, so Content-Encoding is
 * dropped.
 */
import { NULL_BODY_STATUS } from '../../pipeline/respond/response.js'
import type { EntryMeta, HeaderMap } from '../../backends/contract.js'
import { varyMarker } from '../../backends/entry.js'
import { markerVariant } from '../../rules/language.js'
import { type Parsed, parseHar } from './parse.js'
import type { HarImportResult, HarSink } from './types.js'

/**
 * Store a HAR document's entries in the cache. Everything is parsed and checked first; only a
 * document without errors is written.
 */
export async function importHar(cache: HarSink, har: unknown, onProgress?: (done: number) => void): Promise<HarImportResult> {
  return importParsed(cache, parseHar(har), onProgress)
}

/** importHar for entries parseHar has already checked (the CLI checks before opening a cache). */
export async function importParsed(cache: HarSink, parsed: Parsed[], onProgress?: (done: number) => void): Promise<HarImportResult> {
  const result: HarImportResult = { imported: 0, skipped: [] }
  const skip = (p: Parsed, reason: string) => result.skipped.push({ index: p.index, url: p.url, reason })
  // Markers written by this import, so that the variants of one primary key build one marker
  // as the engine would: listing them for selection by language, living as long as the last.
  const markers = new Map<string, EntryMeta>()
  for (const [i, p] of parsed.entries()) {
    const entry = p.exact
    if (entry) {
      if (entry.marker) {
        const { key } = entry.marker
        const marker = varyMarker(entry.meta, key, markers.get(key), markerVariant(entry.meta))
        markers.set(key, marker)
        await cache.putEntry({ meta: marker, body: new Uint8Array(0) })
      }
      await cache.putEntry({ meta: entry.meta, body: entry.body })
      result.imported++
    } else {
      const reason = await storeForeign(cache, p)
      if (reason === undefined) result.imported++
      else skip(p, reason)
    }
    onProgress?.(i + 1)
  }
  await cache.flush()
  return result
}

/** An entry from another tool, through the cache's write path; the reason when it is not stored. */
async function storeForeign(cache: HarSink, p: Parsed): Promise<string | undefined> {
  if (p.status < 200 || p.status > 599) return `status ${p.status}`
  if (p.body === undefined && !NULL_BODY_STATUS.has(p.status) && p.method !== 'HEAD') return 'no response body recorded'
  // HAR bodies are recorded decoded: what is stored must not claim a Content-Encoding.
  const headers: HeaderMap = { ...p.headers }
  const body = p.body ?? new Uint8Array(0)
  if (headers['content-encoding'] !== undefined) {
    delete headers['content-encoding']
    if (headers['content-length'] !== undefined) headers['content-length'] = String(body.byteLength)
  }
  const result = await cache.storeResponse(
    { method: p.method, url: p.url, headers: p.requestHeaders, ...(p.requestBody === undefined ? {} : { body: p.requestBody }) },
    { status: p.status, statusText: p.statusText, headers, body },
  )
  return result.stored ? undefined : result.reason
}

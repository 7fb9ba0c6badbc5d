/**
 * HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/) as fetchcache writes and reads it,
 * and the two narrow ports through which export reads a cache and import writes one: the
 * Cache's public methods, nothing deeper.
 */
import type { CacheRecord, EntryFilter, EntryMeta } from '../../backends/contract.js'
import { FetchCacheError } from '../../util/errors.js'
import type { CacheFilter, StoreRequest, StoreResponse, StoreResult } from '../types.js'

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

/** What HAR export reads from a cache (the `Cache` methods of the same names). */
export interface HarSource {
  entries(filter?: CacheFilter): AsyncIterable<EntryMeta>
  markers(filter?: EntryFilter): AsyncIterable<EntryMeta>
  getEntry(key: string): Promise<CacheRecord | undefined>
}

/** What HAR import writes to a cache (the `Cache` methods of the same names). */
export interface HarSink {
  putEntry(record: CacheRecord): Promise<void>
  storeResponse(request: StoreRequest, response: StoreResponse): Promise<StoreResult>
  flush(): Promise<void>
}

/**
 * The writer: every change the pipeline makes to the backend — a new response, a response a
 * 304 refreshed, a response that may no longer be kept, an unsafe method's invalidation, a
 * corrupt entry's removal. A cache that may not write (readOnly) gets a writer that does
 * nothing; a write that fails is reported and never reaches the caller.
 */
import { uselessAt } from '../rules/decide-read.js'
import { decideWrite, type WriteDecision } from '../rules/decide-write.js'
import { storedRequestHeaders } from '../rules/credentials.js'
import { markerVariant } from '../rules/language.js'
import { stripHopByHop } from '../rules/headers.js'
import { varyMarker } from '../backends/entry.js'
import { BackendError } from '../util/errors.js'
import { debug } from '../util/debug.js'
import type { Settings } from '../config/options.js'
import type { Backend, CacheRecord, EntryMeta, HeaderMap } from '../backends/contract.js'
import type { Prepared } from './prepare/prepare.js'
import { variantKey } from './prepare/key.js'
import { normalizeUrl, redactHeaders } from './prepare/normalize.js'
import type { EngineStats } from './stats.js'
import type { Port } from './port.js'

/** A store decision with the moment it was taken, so createdAt matches the freshness computed. */
export type StoreDecision = Extract<WriteDecision, { action: 'store' }> & { decidedAt: number }

/** The response as it came from the origin. */
export interface Received {
  status: number
  statusText: string
  headers: HeaderMap
  body: Uint8Array
}

/** A write decision; a store decision remembers the moment it was taken. */
export type Decided = Exclude<WriteDecision, { action: 'store' }> | StoreDecision

/** decideWrite for this request at `now`, logged. */
export function writeDecision(settings: Settings, p: Prepared, status: number, headers: HeaderMap, now: number): Decided {
  const d = decideWrite({ method: p.method, url: p.url, requestHeaders: p.headers, status, headers, settings, options: p.options, now })
  if (debug.enabled) debug('%s %s: response %d %s (%s)', p.method, p.url, status, d.action, d.reason)
  if (d.action !== 'store') return d
  // Field by field, not a spread: a spread here cost a miss about as much as the rest of this function.
  return { action: 'store', reason: d.reason, expiresAt: d.expiresAt, initialAge: d.initialAge, staleIfErrorUntil: d.staleIfErrorUntil, staleWhileRevalidateUntil: d.staleWhileRevalidateUntil, mustRevalidate: d.mustRevalidate, vary: d.vary, decidedAt: now }
}

/** The key a response to this request is stored under: the variant key under Vary (RFC 9111 §4.1). */
export function entryKey(p: Prepared, vary: readonly string[]): string {
  return vary.length > 0 ? variantKey(p.key, vary, p.headers) : p.key
}

export class Writer {
  /** Corrupt entries whose removal is under way: read again meanwhile, they are a plain miss, reported once. */
  private readonly removing = new Set<string>()

  constructor(
    private readonly backend: Backend,
    private readonly settings: Pick<Settings, 'ignoredHeaders' | 'ignoredParameters'>,
    /** writesAllowed(settings): false for a readOnly cache. */
    readonly enabled: boolean,
    private readonly stats: EngineStats,
    private readonly port: Port,
  ) {}

  /** The metadata of a response stored for this request, at its entry key. */
  private meta(p: Prepared, r: Received, d: StoreDecision): EntryMeta {
    // Credentials are kept only where Vary needs them, and then as digests (rules/credentials.ts).
    const requestHeaders = storedRequestHeaders(redactHeaders(p.headers, this.settings.ignoredHeaders), d.vary)
    const meta: EntryMeta = {
      v: 1,
      kind: 'response',
      key: entryKey(p, d.vary),
      method: p.method,
      url: p.url,
      status: r.status,
      statusText: r.statusText,
      headers: stripHopByHop(r.headers),
      requestHeaders,
      vary: d.vary,
      createdAt: d.decidedAt,
      expiresAt: d.expiresAt,
      initialAge: d.initialAge,
      staleIfErrorUntil: d.staleIfErrorUntil,
      staleWhileRevalidateUntil: d.staleWhileRevalidateUntil,
      mustRevalidate: d.mustRevalidate,
      size: r.body.byteLength,
    }
    meta.deadAt = uselessAt(meta)
    return meta
  }

  /**
   * Keep the parts of a response (RFC 9111 §3.3) at `key` (pipeline/parts.ts): `r` is the latest
   * 206, `body` the runs held, concatenated as `parts` lays out. Failures are reported, never thrown.
   */
  storeParts(p: Prepared, key: string, r: Received, d: StoreDecision, parts: NonNullable<EntryMeta['parts']>): Promise<void> {
    if (!this.enabled) return Promise.resolve()
    const meta: EntryMeta = { ...this.meta(p, r, d), kind: 'parts', key, parts }
    return this.update({ meta, body: r.body })
  }

  /**
   * Store a complete response. Resolves once written, true if it was; failures are reported,
   * never thrown. `soon`: the response has reached its caller and nobody waits on the write,
   * so a backend may hold it a few ms to share a transaction (contract.ts BackendBatching).
   */
  store(p: Prepared, r: Received, d: StoreDecision, soon = true): Promise<boolean> {
    if (!this.enabled) return Promise.resolve(false)
    const meta = this.meta(p, r, d)
    const writeMarker = async () => {
      // The marker must outlive every variant it leads to, and keeps listing the earlier variants
      // a request may be given by language (entry.ts varyMarker): read the one it replaces.
      const prior = await this.backend.get(p.key).catch(() => undefined)
      const marker = varyMarker(meta, p.key, prior?.meta.kind === 'vary' ? prior.meta : undefined, markerVariant(meta))
      await this.put(p.key, { meta: marker, body: new Uint8Array(0) }, soon)
    }
    const writes: Array<Promise<void>> = []
    if (d.vary.length > 0) writes.push(writeMarker())
    writes.push(this.put(meta.key, { meta, body: r.body }, soon))
    this.stats.count('stores', p.host)
    const written = Promise.all(writes).then(
      () => true,
      (e: unknown) => {
        this.port.report(new BackendError(`write of ${meta.key} failed`, e))
        return false
      },
    )
    return this.port.track(written)
  }

  /** Write back an entry a 304 refreshed (same body, new fields and freshness). */
  update(record: CacheRecord): Promise<void> {
    if (!this.enabled) return Promise.resolve()
    const { key } = record.meta
    return this.port.track(this.put(key, record, true).catch((e: unknown) => this.port.report(new BackendError(`write of ${key} failed`, e))))
  }

  private put(key: string, record: CacheRecord, soon: boolean): Promise<void> {
    const { batching } = this.backend
    return soon && batching ? batching.set(key, record) : this.backend.set(key, record)
  }

  /** Remove entries by key: a response that may no longer be stored, a corrupt entry. */
  drop(keys: string[]): Promise<void> {
    if (!this.enabled) return Promise.resolve()
    return this.port.track(this.backend.delete(keys).then(() => undefined, (e: unknown) => this.port.report(new BackendError('delete failed', e))))
  }

  /** A corrupt entry is being removed (removeCorrupt): a read of it is a quiet miss meanwhile. */
  isRemoving(key: string): boolean {
    return this.removing.has(key)
  }

  /** Remove a corrupt entry; false when its removal is already under way (so it is reported once). */
  removeCorrupt(key: string): boolean {
    if (this.removing.has(key)) return false
    this.removing.add(key)
    void this.drop([key]).finally(() => this.removing.delete(key))
    return true
  }

  /** Remove every stored response (all variants) for these URLs (RFC 9111 §4.4). */
  invalidate(urls: readonly string[]): Promise<void> {
    if (!this.enabled || urls.length === 0) return Promise.resolve()
    const work = (async () => {
      const normalised = urls.map((u) => normalizeUrl(u, this.settings.ignoredParameters))
      const n = await this.backend.deleteMatching({ urls: normalised })
      debug('invalidated %d entries for %s', n, normalised.join(' '))
    })().catch((e: unknown) => this.port.report(new BackendError('invalidation failed', e)))
    return this.port.track(work)
  }
}

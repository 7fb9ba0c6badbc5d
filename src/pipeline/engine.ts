/**
 * The engine: one per cache, shared by every front end. It turns a request into a key, reads
 * the backend, asks decideRead what to do, and stores what decideWrite allows. It never throws
 * a backend fault at a caller: faults are misses reported to `onError`.
 */
import { headerValue } from '../rules/cache-control.js'
import { bypassReason, currentAge, decideRead, type ReadAction, type ReadModes, requestDirectives, uselessAt } from '../rules/decide-read.js'
import { configuredExpiry, decideWrite, invalidationTargets, type WriteDecision } from '../rules/decide-write.js'
import { debug } from '../util/debug.js'
import { varyMarker } from '../backends/entry.js'
import { BackendError, CorruptEntryError } from '../util/errors.js'
import { DO_NOT_CACHE, type Expiry } from '../config/expiry.js'
import { CREDENTIAL_HEADERS, requestKey, variantKey } from './key.js'
import { normalizeUrl, redactHeaders } from './normalize.js'
import type { RequestOptions, Settings } from '../config/options.js'
import { mergeHeaders, validatorHeaders } from '../rules/policy.js'
import type { Scope } from '../front/scope.js'
import { Flights } from './flights.js'
import { Leases } from './leases.js'
import { EngineStats } from './stats.js'
import type { RequestInfoForKey } from '../config/types.js'
import type { Backend, CacheRecord, EntryMeta, HeaderMap } from '../backends/contract.js'

const KEY_MEMO_MAX = 4096

export interface Prepared {
  method: string
  /** The URL as requested (absolute). */
  href: string
  /** Normalised URL without ignored parameters. */
  url: string
  key: string
  /** Host of the URL, for per-host stats. */
  host: string
  headers: Record<string, string>
  options: RequestOptions
  modes: ReadModes
}

export type Bypass = { bypass: true; reason: string; fwd: 'bypass' | 'method' }

/** A write decision, with the moment it was taken when it says store. */
export type Decided = Exclude<WriteDecision, { action: 'store' }> | (Extract<WriteDecision, { action: 'store' }> & { decidedAt: number })

export interface Lookup {
  action: ReadAction
  record: CacheRecord | undefined
}

export class Engine {
  readonly stats = new EngineStats()
  /** Identical concurrent misses in this process, by primary key. */
  readonly flights = new Flights()
  /** The same across processes, through the backend's leases. */
  readonly leases = new Leases(this)
  private readonly pending = new Set<Promise<unknown>>()
  private readonly refreshing = new Set<string>()
  private closed = false
  private readonly closers: Array<() => unknown> = []
  private readonly keys = new Map<string, { key: string; url: string; host: string; expiry: Expiry | undefined }>()
  /** The last store decisions by entry key, so cacheInfo() on the response just stored has its times. */
  private readonly stored = new Map<string, { createdAt: number; expiresAt: number | null }>()

  constructor(
    readonly settings: Settings,
    readonly backend: Backend,
    private readonly ownsBackend: boolean,
  ) {}

  now(): number {
    return Date.now()
  }

  /** Closed: a fetch or dispatcher someone kept passes straight through, uncached. */
  get isClosed(): boolean {
    return this.closed
  }

  report(error: unknown): void {
    this.stats.count('errors')
    debug('error: %s', error instanceof Error ? error.message : String(error))
    try {
      this.settings.onError(error)
    } catch {
      // A throwing onError must not turn a cache fault into a failed request.
    }
  }

  /** Key the request and decide whether the cache takes part at all. */
  prepare(request: RequestInfoForKey, scope: Scope | undefined): Prepared | Bypass {
    const { settings } = this
    const method = request.method
    const bypass = bypassReason(method, request.headers, settings.allowableMethods)
    if (bypass !== undefined) return { bypass: true, reason: bypass, fwd: settings.allowableMethods.has(method) ? 'bypass' : 'method' }
    const modes: ReadModes = { ...scope?.modes }
    const options = scope?.options ?? {}
    if (settings.onlyIfCached || options.onlyIfCached) modes.onlyIfCached = true
    if (options.refresh) modes.refresh = true
    if (options.forceRefresh) modes.forceRefresh = true
    const memoKey = this.memoKey(request)
    let keyed = memoKey === undefined ? undefined : this.keys.get(memoKey)
    if (keyed === undefined) {
      try {
        const parts = requestKey(request, settings)
        keyed = { ...parts, host: new URL(parts.url).host, expiry: configuredExpiry(parts.url, settings, {}) }
      } catch (error) {
        this.report(error)
        return { bypass: true, reason: 'key function failed', fwd: 'bypass' }
      }
      if (memoKey !== undefined) {
        if (this.keys.size >= KEY_MEMO_MAX) this.keys.clear()
        this.keys.set(memoKey, keyed)
      }
    }
    // Per-request expireAfter first, then urlsExpireAfter and expireAfter (memoised per URL).
    const expiry = options.expireAfter ?? keyed.expiry
    if (expiry === DO_NOT_CACHE) return { bypass: true, reason: 'DO_NOT_CACHE', fwd: 'bypass' }
    return { method, href: request.url, url: keyed.url, key: keyed.key, host: keyed.host, headers: request.headers, options, modes }
  }

  /**
   * What a bodiless request's key depends on, as one string: method, URL as given, and the
   * header values that enter the key. Hashing and URL normalisation then run once per URL.
   * Undefined (no memo) for bodies, keyFn and matchHeaders: true.
   */
  private memoKey(request: RequestInfoForKey): string | undefined {
    const { settings } = this
    if (settings.keyFn || settings.matchHeaders === true || (request.body !== undefined && request.body.byteLength > 0)) return undefined
    let out = `${request.method}\0${request.url}`
    for (const name of CREDENTIAL_HEADERS) out += `\0${request.headers[name] ?? ''}`
    if (settings.matchHeaders !== false) for (const name of settings.matchHeaders) out += `\0${request.headers[name] ?? ''}`
    return out
  }

  private async read(key: string): Promise<CacheRecord | undefined> {
    try {
      return await this.backend.get(key)
    } catch (error) {
      if (error instanceof CorruptEntryError) {
        debug('corrupt entry %s removed: %s', key, error.message)
        this.track(this.backend.delete([key]).catch((e: unknown) => this.report(new BackendError('delete failed', e))))
      }
      this.report(error instanceof CorruptEntryError ? error : new BackendError(`read of ${key} failed`, error))
      return undefined
    }
  }

  /** Find the stored response for a prepared request (through the Vary marker) and decide. */
  async lookup(p: Prepared): Promise<Lookup> {
    let record = await this.read(p.key)
    let varyMiss = false
    if (record?.meta.kind === 'vary') {
      record = await this.read(variantKey(p.key, record.meta.vary, p.headers))
      varyMiss = record === undefined
    }
    // The stored entry keeps method and URL; a hash collision must never serve the wrong response.
    if (record && (record.meta.method !== p.method || (!this.settings.keyFn && record.meta.url !== p.url) || record.meta.kind !== 'response')) {
      debug('%s %s: stored entry is for %s %s; ignored', p.method, p.url, record.meta.method, record.meta.url)
      record = undefined
    }
    // RFC 9111 §4.1: a stored response is used only if the fields its Vary names match.
    if (record && record.meta.vary.some((name) => record!.meta.requestHeaders[name] !== p.headers[name])) record = undefined
    let action = decideRead({ entry: record?.meta, ...requestDirectives(p.headers), modes: p.modes, now: this.now() })
    // RFC 9211 §2.2: the URI is stored, but no variant matches this request's Vary fields.
    if (varyMiss && action.action === 'fetch') action = { ...action, fwd: 'vary-miss', reason: 'no stored variant matches Vary' }
    if (debug.enabled) debug('%s %s: %s (%s)', p.method, p.url, action.action, action.reason)
    return { action, record }
  }

  /** Headers for a response built from a stored entry: Age (RFC 9111 §5.1) and Cache-Status. */
  hitHeaders(meta: EntryMeta, cacheStatus: string): HeaderMap {
    return { ...meta.headers, age: this.age(meta), 'cache-status': appendCacheStatus(meta.headers['cache-status'], cacheStatus) }
  }

  /** The Age field value of a stored entry now (RFC 9111 §5.1: whole seconds). */
  age(meta: EntryMeta): string {
    return String(Math.floor(currentAge(meta, this.now())))
  }

  /** decideWrite at this moment; a store decision remembers the moment, so createdAt matches it. */
  decideWrite(p: Prepared, status: number, headers: HeaderMap): Decided {
    // A response that arrives after close() is never written, so it must not claim `stored`.
    if (this.closed) return { action: 'skip', reason: 'cache closed' }
    const now = this.now()
    const d = decideWrite({
      method: p.method,
      url: p.url,
      requestHeaders: p.headers,
      status,
      headers,
      settings: this.settings,
      options: p.options,
      now,
    })
    if (debug.enabled) debug('%s %s: response %d %s (%s)', p.method, p.url, status, d.action, d.reason)
    return d.action === 'store' ? { ...d, decidedAt: now } : d
  }

  /** The key a response to this request is stored under: the variant key under Vary. */
  entryKey(p: Prepared, vary: readonly string[]): string {
    return vary.length > 0 ? variantKey(p.key, vary, p.headers) : p.key
  }

  /** Store a complete response. Resolves once written, true if it was; failures are reported, never thrown. */
  store(p: Prepared, status: number, statusText: string, headers: HeaderMap, body: Uint8Array, d: Decided & { action: 'store' }): Promise<boolean> {
    const now = d.decidedAt
    const requestHeaders = redactHeaders(p.headers, this.settings.ignoredHeaders)
    const base = { v: 1 as const, method: p.method, url: p.url, status, statusText, requestHeaders, createdAt: now }
    const meta: EntryMeta = {
      ...base,
      kind: 'response',
      key: this.entryKey(p, d.vary),
      headers: stripHopByHop(headers),
      vary: d.vary,
      expiresAt: d.expiresAt,
      initialAge: d.initialAge,
      staleIfErrorUntil: d.staleIfErrorUntil,
      staleWhileRevalidateUntil: d.staleWhileRevalidateUntil,
      mustRevalidate: d.mustRevalidate,
      size: body.byteLength,
    }
    meta.deadAt = uselessAt(meta)
    const writes: Array<Promise<void>> = []
    if (d.vary.length > 0) writes.push(this.backend.set(p.key, { meta: varyMarker(meta, p.key), body: new Uint8Array(0) }))
    writes.push(this.backend.set(meta.key, { meta, body }))
    this.stats.count('stores', p.host)
    const written = Promise.all(writes).then(
      () => true,
      (e: unknown) => {
        this.report(new BackendError(`write of ${meta.key} failed`, e))
        return false
      },
    )
    return this.track(written)
  }

  /**
   * A 304 answered a revalidation: merge its fields into the stored ones (RFC 9111 §4.3.4),
   * recompute freshness, keep the stored body. Returns the updated entry to serve.
   */
  refreshed(p: Prepared, record: CacheRecord, notModified: HeaderMap): { record: CacheRecord; written: Promise<void> } {
    const headers = mergeHeaders(record.meta.headers, notModified)
    const d = this.decideWrite(p, record.meta.status, headers)
    const now = d.action === 'store' ? d.decidedAt : this.now()
    if (d.action !== 'store') {
      // The new fields forbid storing (e.g. no-store): serve this once, drop the entry.
      const written = this.track(this.backend.delete([record.meta.key]).then(() => undefined, (e: unknown) => this.report(new BackendError('delete failed', e))))
      return { record: { meta: { ...record.meta, headers, createdAt: now, initialAge: 0, expiresAt: now }, body: record.body }, written }
    }
    const meta: EntryMeta = {
      ...record.meta,
      headers: stripHopByHop(headers),
      createdAt: now,
      expiresAt: d.expiresAt,
      initialAge: d.initialAge,
      staleIfErrorUntil: d.staleIfErrorUntil,
      staleWhileRevalidateUntil: d.staleWhileRevalidateUntil,
      mustRevalidate: d.mustRevalidate,
    }
    meta.deadAt = uselessAt(meta)
    const updated = { meta, body: record.body }
    const written = this.settings.readOnly
      ? Promise.resolve()
      : this.track(this.backend.set(meta.key, updated).catch((e: unknown) => this.report(new BackendError(`write of ${meta.key} failed`, e))))
    return { record: updated, written }
  }

  validators(record: CacheRecord, p: Prepared): Record<string, string> {
    return validatorHeaders(record.meta, p.headers, this.now())
  }

  /** One background refresh per entry at a time (stale-while-revalidate). */
  beginRefresh(key: string): boolean {
    if (this.refreshing.has(key)) return false
    this.refreshing.add(key)
    return true
  }

  endRefresh(key: string): void {
    this.refreshing.delete(key)
  }

  /** After an unsafe method's response: invalidate what invalidationTargets (RFC 9111 §4.4) names. */
  invalidateAfterUnsafe(href: string, status: number, headers: HeaderMap): Promise<void> {
    const targets = this.settings.readOnly ? [] : invalidationTargets(href, status, headers)
    return targets.length === 0 ? Promise.resolve() : this.invalidate(targets)
  }

  /** Remove every stored response (all variants) for these URLs. */
  invalidate(urls: readonly string[]): Promise<void> {
    const work = (async () => {
      const normalised = urls.map((u) => normalizeUrl(u, this.settings.ignoredParameters))
      const n = await this.backend.deleteMatching({ urls: normalised })
      debug('invalidated %d entries for %s', n, normalised.join(' '))
    })().catch((e: unknown) => this.report(new BackendError('invalidation failed', e)))
    return this.track(work)
  }

  track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise)
    void promise.finally(() => this.pending.delete(promise))
    return promise
  }

  /** Note a store decision (bounded: only the latest few hundred are kept). */
  noteStored(key: string, createdAt: number, expiresAt: number | null): void {
    if (this.stored.size >= 256) this.stored.delete(this.stored.keys().next().value!)
    this.stored.set(key, { createdAt, expiresAt })
  }

  /** The times of a response this engine decided to store, while it is among the latest. */
  storedTimes(key: string): { createdAt: number; expiresAt: number | null } | undefined {
    return this.stored.get(key)
  }

  /** Something to close with the engine (the Agent a cached fetch made for itself). */
  onClose(close: () => unknown): void {
    this.closers.push(close)
  }

  /** Wait for writes and background refreshes under way. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending])
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.flush()
    // Requests still under way write nothing now (decideWrite), so their leases can go.
    this.leases.releaseAll()
    await this.flush()
    for (const close of this.closers) await close()
    if (this.ownsBackend) await this.backend.close()
  }
}

/** Hop-by-hop fields describe one connection and are never stored (RFC 9111 §3.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authenticate', 'proxy-authorization'])

export function stripHopByHop(headers: HeaderMap): HeaderMap {
  const out: HeaderMap = {}
  const listed = new Set((headerValue(headers, 'connection') ?? '').split(',').map((s) => s.trim().toLowerCase()))
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name) && !listed.has(name)) out[name] = value
  }
  return out
}

/** RFC 9211 §2: each cache appends its member to the Cache-Status field. */
export function appendCacheStatus(existing: string | string[] | undefined, ours: string): string {
  const prior = Array.isArray(existing) ? existing.join(', ') : existing
  return prior ? `${prior}, ${ours}` : ours
}

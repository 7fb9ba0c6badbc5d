/**
 * MemcachedBackend: a cache shared by every process and machine that reaches the same
 * Memcached servers, for teams that already run Memcached. The client library (memjs) is an
 * optional peer dependency, loaded on first use (see memcached-client.ts).
 *
 * - One entry is one item (metadata and body together) where it fits in the server's item
 *   limit (`maxItemSize`, Memcached's `-I`, 1 MiB by default); a larger one is split across
 *   items and read back whole, or not at all (memcached-item.ts). `maxEntrySize` caps it.
 * - Keys are the entry key hashed (SHA-256, base64url) under `namespace`: always under
 *   Memcached's 250 bytes, never a space or control character.
 * - Expiry is native: each item expires when the entry becomes of no use (`deadAt`).
 * - Limits are Memcached's own: it bounds its memory (`-m`) and evicts least recently used
 *   items; `maxEntries`/`maxSize` are refused with a pointer to that.
 * - Memcached cannot list its keys: `listing` is false, and `entries()`, `stats()` and
 *   `deleteMatching()` by expiry or age reject with an UnsupportedError. `clear()` flushes the
 *   servers, and so only with `ownsServers: true`.
 * - `deleteMatching({ urls })` (invalidation after an unsafe method, RFC 9111 §4.4) works
 *   without listing: each URL has a generation item, every entry is stamped with the URL's
 *   generation when written, and a read checks the stamp (one more round trip). Invalidating a
 *   URL gives it a new generation; an evicted generation item also turns its entries into
 *   misses, never back into hits.
 * - Every command has a deadline (`timeoutMs`): a slow or dead server is a BackendError, which
 *   the engine turns into a miss and reports to onError; the request never fails for it.
 */
import { createHash, randomBytes } from 'node:crypto'
import { BackendError, ConfigError, show, UnsupportedError } from '../util/errors.js'
import type { Backend, BackendStats, CacheRecord, EntryFilter, EntryMeta } from './contract.js'
import { checkOptions, positive, weigh } from './limits.js'
import { checkClient, checkServers, createClient, type MemcachedClient, within } from './memcached-client.js'
import { decodeHead, encodeEntry, partKey } from './memcached-item.js'
import { expirySeconds, MemcachedLeases } from './memcached-lease.js'

export type { MemcachedClient } from './memcached-client.js'

export interface MemcachedBackendOptions {
  /** `'host:port'`, a comma-separated list or an array of them. Default `'127.0.0.1:11211'`. */
  servers?: string | readonly string[]
  /** An existing memjs `Client` instead of `servers` (not closed by `close()`). */
  client?: MemcachedClient
  /** Prefix of every key this cache writes: printable ASCII, no spaces. Default `'fetchcache:'`. */
  namespace?: string
  /** Deadline of each command in ms; past it the command is a fault (a miss). Default 500. */
  timeoutMs?: number
  /** The servers' item size limit in bytes (`memcached -I`). Default 1 MiB, Memcached's own. */
  maxItemSize?: number
  /** Largest entry (body and metadata) stored, split across items as needed. Default 64 MiB. */
  maxEntrySize?: number
  /**
   * The servers hold this cache's items alone: `clear()` may flush them. Default false:
   * `clear()` refuses, since a flush would drop every other user's items too.
   */
  ownsServers?: boolean
}

export const MEMCACHED_OPTIONS = ['servers', 'client', 'namespace', 'timeoutMs', 'maxItemSize', 'maxEntrySize', 'ownsServers'] as const

export interface ResolvedMemcachedOptions {
  servers: string[]
  client: MemcachedClient | undefined
  namespace: string
  timeoutMs: number
  maxItemSize: number
  maxEntrySize: number
  ownsServers: boolean
}

const MiB = 1024 * 1024
/** What an item needs beside its value: the item header, the key (≤ 250) and the CAS. */
const ITEM_OVERHEAD = 1024
/** Memcached reads an expiry above 30 days as a Unix time rather than a number of seconds. */
const MAX_RELATIVE_S = 30 * 24 * 3600
/** Part items read or written at once: large entries stream in slices, each within the deadline. */
const PARTS_AT_ONCE = 4
const NAMESPACE = /^[\x21-\x7e]{0,100}$/

/** Check options once, when the cache is made: a ConfigError names the option and the value. */
export function resolveMemcachedOptions(options: unknown, where = 'MemcachedBackend'): ResolvedMemcachedOptions {
  if (typeof options === 'object' && options !== null) {
    for (const name of ['maxSize', 'maxEntries']) {
      if (name in options) {
        throw new ConfigError(`${where} ${name}: Memcached bounds its memory itself (memcached -m <MB>) and evicts the least recently used items; set the limit there`)
      }
    }
  }
  const o = checkOptions(options, MEMCACHED_OPTIONS, where)
  if (o.servers !== undefined && o.client !== undefined) throw new ConfigError(`${where}: give servers or client, not both`)
  const namespace = o.namespace ?? 'fetchcache:'
  if (typeof namespace !== 'string' || !NAMESPACE.test(namespace)) {
    throw new ConfigError(`${where} namespace: expected up to 100 printable ASCII characters without spaces; got ${show(namespace)}`)
  }
  const maxItemSize = positive(o.maxItemSize, `${where} maxItemSize`, MiB)
  if (maxItemSize < 4 * ITEM_OVERHEAD || maxItemSize === Infinity) {
    throw new ConfigError(`${where} maxItemSize: expected the servers' item size limit in bytes (at least 4096); got ${show(o.maxItemSize)}`)
  }
  if (o.ownsServers !== undefined && typeof o.ownsServers !== 'boolean') throw new ConfigError(`${where} ownsServers: expected true or false; got ${show(o.ownsServers)}`)
  return {
    servers: o.servers === undefined ? ['127.0.0.1:11211'] : checkServers(o.servers, `${where} servers`),
    client: o.client === undefined ? undefined : checkClient(o.client, `${where} client`),
    namespace,
    timeoutMs: positive(o.timeoutMs, `${where} timeoutMs`, 500),
    maxItemSize,
    maxEntrySize: positive(o.maxEntrySize, `${where} maxEntrySize`, 64 * MiB),
    ownsServers: o.ownsServers === true,
  }
}

function hashed(key: string): string {
  return createHash('sha256').update(key).digest('base64url')
}

/** Memcached's expiry for an item that is of no use from `deadAt` (ms); 0: never. */
export function exptime(deadAt: number | null | undefined, now: number): number {
  if (deadAt === null || deadAt === undefined) return 0
  const seconds = expirySeconds(deadAt - now)
  return seconds <= MAX_RELATIVE_S ? seconds : Math.ceil(deadAt / 1000)
}

function unsupported(what: string): UnsupportedError {
  return new UnsupportedError(`${what} is not supported by the memcached backend: Memcached cannot list its keys`)
}

export class MemcachedBackend implements Backend {
  /** Memcached cannot enumerate keys: the Cache refuses listing, filters and counts. */
  readonly listing = false
  readonly leases: MemcachedLeases
  private readonly options: ResolvedMemcachedOptions
  private connecting: Promise<MemcachedClient> | undefined
  private closed = false

  constructor(options: MemcachedBackendOptions = {}) {
    this.options = resolveMemcachedOptions(options)
    this.leases = new MemcachedLeases((key) => `${this.options.namespace}lease:${hashed(key)}`, (work, what) => this.run(work, what))
  }

  get namespace(): string {
    return this.options.namespace
  }

  private itemKey(key: string): string {
    return this.options.namespace + hashed(key)
  }

  private urlKey(url: string): string {
    return `${this.options.namespace}url:${hashed(url)}`
  }

  /** The URL's generation now; with `create`, one is made when it has none yet. */
  private async urlGeneration(url: string, create: boolean): Promise<string | undefined> {
    const k = this.urlKey(url)
    const { value } = await this.run((c) => c.get(k), 'get URL generation')
    if (value || !create) return value?.toString('latin1')
    const gen = randomBytes(8).toString('hex')
    if (await this.run((c) => c.add(k, gen), 'add URL generation')) return gen
    // Another writer made it first: theirs it is.
    const again = await this.run((c) => c.get(k), 'get URL generation')
    if (!again.value) throw new BackendError(`memcached: the generation of ${url} vanished while it was made`)
    return again.value.toString('latin1')
  }

  private client(): Promise<MemcachedClient> {
    if (this.closed) return Promise.reject(new BackendError('MemcachedBackend is closed'))
    const given = this.options.client
    this.connecting ??= given ? Promise.resolve(given) : createClient(this.options.servers, this.options.timeoutMs)
    return this.connecting
  }

  /** One command against the servers, within the deadline. */
  private async run<T>(work: (client: MemcachedClient) => Promise<T>, what: string): Promise<T> {
    const client = await this.client()
    return within(work(client), this.options.timeoutMs, what)
  }

  async get(key: string): Promise<CacheRecord | undefined> {
    const k = this.itemKey(key)
    const { value } = await this.run((c) => c.get(k), 'get')
    if (!value) return undefined
    const head = decodeHead(value)
    if ((await this.urlGeneration(head.meta.url, false)) !== head.urlGen) {
      // Its URL was invalidated since (or its generation evicted): gone, as if deleted.
      await this.run((c) => c.delete(k), 'delete').catch(() => {})
      return undefined
    }
    // A copy: the client's buffer may hold other responses read in the same chunk.
    if (head.parts === 1) return { meta: head.meta, body: Buffer.from(head.first) }
    const chunks: Buffer[] = [head.first]
    for (let i = 1; i < head.parts; i += PARTS_AT_ONCE) {
      const slice = Array.from({ length: Math.min(PARTS_AT_ONCE, head.parts - i) }, (_, j) => partKey(k, head.gen, i + j))
      const items = await Promise.all(slice.map((pk) => this.run((c) => c.get(pk), 'get part')))
      for (const { value: part } of items) {
        if (!part) {
          // Memcached evicted a part: the entry is gone, as a whole. Its head goes too.
          await this.run((c) => c.delete(k), 'delete').catch(() => {})
          return undefined
        }
        chunks.push(part)
      }
    }
    const body = Buffer.concat(chunks)
    if (body.length !== head.size) throw new BackendError(`memcached entry ${key}: parts add up to ${body.length} bytes, not ${head.size}`)
    return { meta: head.meta, body }
  }

  async set(key: string, record: CacheRecord): Promise<void> {
    const k = this.itemKey(key)
    const capacity = this.options.maxItemSize - ITEM_OVERHEAD
    const fits = weigh(record.meta, record.body.byteLength) <= this.options.maxEntrySize
    const entry = fits ? encodeEntry(record, capacity, (await this.urlGeneration(record.meta.url, true))!) : undefined
    if (!entry) {
      // Too large to keep: the old value is outdated either way, so it goes.
      await this.run((c) => c.delete(k), 'delete')
      return
    }
    const expires = exptime(record.meta.deadAt, Date.now())
    // Parts first, head last: a reader never finds a head whose parts are not all written.
    for (let i = 0; i < entry.parts.length; i += PARTS_AT_ONCE) {
      await Promise.all(
        entry.parts.slice(i, i + PARTS_AT_ONCE).map((part, j) => this.run((c) => c.set(partKey(k, entry.gen, i + j + 1), part, { expires }), 'set part')),
      )
    }
    await this.run((c) => c.set(k, entry.head, { expires }), 'set')
  }

  /** Removes the heads; a large entry's parts are then unreachable and expire or are evicted. */
  async delete(keys: readonly string[]): Promise<number> {
    const results = await Promise.all(keys.map((key) => this.run((c) => c.delete(this.itemKey(key)), 'delete')))
    return results.filter((deleted) => deleted === true).length
  }

  /**
   * Only `{ urls }`: each URL gets a new generation, and every entry written under the old one
   * becomes a miss. How many entries that was is unknown without listing: resolves 0.
   */
  async deleteMatching(filter: EntryFilter): Promise<number> {
    await this.client()
    if (filter.expiredAt !== undefined || filter.createdBefore !== undefined || filter.urls === undefined) throw unsupported('deleting entries by expiry or age')
    await Promise.all([...new Set(filter.urls)].map((url) => this.run((c) => c.set(this.urlKey(url), randomBytes(8).toString('hex')), 'set URL generation')))
    return 0
  }

  async *entries(_filter?: EntryFilter): AsyncIterable<[string, EntryMeta]> {
    await this.client()
    throw unsupported('listing entries')
  }

  async stats(): Promise<BackendStats> {
    await this.client()
    throw unsupported('counting entries')
  }

  async clear(): Promise<void> {
    await this.client()
    if (!this.options.ownsServers) {
      throw new UnsupportedError(
        'clear() is not supported by the memcached backend unless it owns the servers: Memcached cannot list this cache\'s keys, and a flush drops every other user\'s items too (pass ownsServers: true if these servers hold this cache alone)',
      )
    }
    await this.run((c) => c.flush(), 'flush')
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const connecting = this.connecting
    // A client passed in is its owner's to close.
    if (connecting && !this.options.client) (await connecting.catch(() => undefined))?.close()
  }
}

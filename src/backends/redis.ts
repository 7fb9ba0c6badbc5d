/**
 * RedisBackend: one cache shared by many processes and machines.
 *
 * Keys, under a namespace (default `fetchcache:`):
 * - `<ns>e:<key>`  a hash per entry: `m` (metadata JSON) and `b` (body, raw bytes), so a read is
 *   one HMGET. PEXPIREAT = the entry's `deadAt` + `expiryGrace`: Redis drops dead entries itself.
 * - `<ns>u:<url>`  a set of the entry keys stored for a URL: the secondary index that makes
 *   invalidating a URL (every unsafe request does) a few reads instead of a SCAN of the cache.
 *   Cost per write: one extra single-key script (SADD, PTTL, at most one PEXPIREAT), pipelined.
 *   Deletes leave members behind; readers check each member's URL and drop stale ones.
 * - `<ns>l:<key>`  leases (SET NX PX) for cross-process coalescing.
 * Every command and script touches one key, so the layout works on Redis Cluster as it is.
 *
 * Limits: `maxEntries` and `maxSize` are the server's job (`maxmemory` with
 * `maxmemory-policy allkeys-lru`; see README); `maxEntrySize` is checked here, per write.
 * Faults: every command is bounded by `commandTimeout`; while the connection is being re-made,
 * commands fail at once. Either way the engine sees a rejection: a miss, reported to onError.
 */
import type { ConnectionOptions } from 'node:tls'
import { orTimeout } from '../util/deadline.js'
import { BackendError, ConfigError, show } from '../util/errors.js'
import type { Backend, BackendLeases, BackendStats, CacheRecord, EntryFilter, EntryMeta } from './contract.js'
import { decodeMeta, decodeMetaCached, encodeMeta } from './entry.js'
import { matchesFilter, statsByScan } from './filter.js'
import { checkOptions, positive } from './limits.js'
import type { ChangeListener, StoreChange } from './changes.js'
import { RedisChanges } from './redis-changes.js'
import { assertInstalled, checkUrl, connect, DEFAULT_COMMAND_TIMEOUT, isClient, isCluster, isDown, type RedisClient } from './redis-client.js'
import { type Scripts, withScripts } from './redis-scripts.js'

/**
 * An ioredis `Redis` or `Cluster` you made, described by shape, so that fetchcache's public
 * types never import ioredis (an optional peer dependency that may not be installed).
 */
export interface RedisClientLike {
  readonly status: string
  duplicate(...args: never[]): unknown
}

export interface RedisBackendOptions {
  /** Server to connect to: `redis://[user:pass@]host:port[/db]`, or `rediss://…` for TLS. Default `redis://127.0.0.1:6379`. */
  url?: string
  /**
   * An ioredis `Redis` or `Cluster` you made (and close yourself). Give it a `commandTimeout`:
   * RedisBackend also bounds each call by its own `commandTimeout`.
   */
  client?: RedisClientLike
  /** TLS settings for our own connection (a CA for a private certificate, a client certificate…). */
  tls?: ConnectionOptions
  /** Prefix of every key; `clear()` removes only these. Default `fetchcache:`. */
  namespace?: string
  /** Longest wait for one command, in ms, before it counts as failed (a miss). Default 1000. */
  commandTimeout?: number
  /** Largest entry (body and metadata) stored; larger ones are silently not stored. Default: unbounded. */
  maxEntrySize?: number
  /**
   * Entries stay this many ms past their `deadAt` before Redis drops them: room for clocks of
   * different machines that disagree, and for inspection (`ls --expired`). Default 60000.
   */
  expiryGrace?: number
}

const OPTIONS = ['url', 'client', 'tls', 'namespace', 'commandTimeout', 'maxEntrySize', 'expiryGrace', 'maxEntries', 'maxSize'] as const
const SCAN_COUNT = 500
/** Keys handled per batch of pipelined commands in scans, clears and deletes. */
const BATCH = 500

/** SCAN MATCH is a glob: a namespace like `a*b:` must match itself only. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`)
}

/** EXEC resolves with each command's error in place: any of them fails the write. */
function failed(results: Array<[Error | null, unknown]> | null): void {
  if (results === null) throw new BackendError('Redis transaction was discarded')
  for (const [error] of results) if (error) throw error
}

export class RedisBackend implements Backend {
  readonly namespace: string
  readonly commandTimeout: number
  private readonly maxEntrySize: number
  private readonly expiryGrace: number
  private readonly owned: boolean
  private readonly connecting: Promise<RedisClient & Scripts>
  private readonly changes: RedisChanges
  private closed = false
  /** A command timed out: fail fast until a PING answers again (see suspend()). */
  private suspended = false

  /** Capability: cross-process leases, `SET NX PX` (a crashed holder's lease expires). */
  readonly leases: BackendLeases = {
    acquire: (key, owner, ttlMs) => this.run('lease', async (c) => (await c.fetchcacheLease(this.leaseKey(key), owner, Math.max(1, Math.ceil(ttlMs)))) === 1),
    release: (key, owner) => this.run('lease release', async (c) => void (await c.fetchcacheRelease(this.leaseKey(key), owner))),
  }

  constructor(options: RedisBackendOptions = {}) {
    const o = checkOptions(options, OPTIONS, 'RedisBackend')
    for (const name of ['maxEntries', 'maxSize'] as const) {
      if (o[name] !== undefined) {
        throw new ConfigError(`RedisBackend ${name}: not enforced by fetchcache; set the server's maxmemory and maxmemory-policy allkeys-lru instead (got ${show(o[name])})`)
      }
    }
    if (o.namespace !== undefined && (typeof o.namespace !== 'string' || o.namespace === '')) {
      throw new ConfigError(`RedisBackend namespace: expected a non-empty string; got ${show(o.namespace)}`)
    }
    if (o.url !== undefined && o.client !== undefined) throw new ConfigError('RedisBackend: give url or client, not both')
    if (o.client !== undefined && !isClient(o.client)) throw new ConfigError(`RedisBackend client: expected an ioredis Redis or Cluster instance; got ${show(o.client)}`)
    if (o.tls !== undefined && (typeof o.tls !== 'object' || o.tls === null)) throw new ConfigError(`RedisBackend tls: expected TLS connection options; got ${show(o.tls)}`)
    const url = o.url === undefined ? 'redis://127.0.0.1:6379' : checkUrl(o.url, 'RedisBackend url')
    this.namespace = (o.namespace as string | undefined) ?? 'fetchcache:'
    this.commandTimeout = positive(o.commandTimeout, 'RedisBackend commandTimeout', DEFAULT_COMMAND_TIMEOUT)
    this.maxEntrySize = positive(o.maxEntrySize, 'RedisBackend maxEntrySize', Infinity)
    const grace = o.expiryGrace ?? 60_000
    if (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0) throw new ConfigError(`RedisBackend expiryGrace: expected milliseconds; got ${show(o.expiryGrace)}`)
    this.expiryGrace = grace
    this.changes = new RedisChanges(`${this.namespace}changes`)
    this.owned = o.client === undefined
    if (this.owned) assertInstalled()
    this.connecting = (this.owned ? connect(url, this.commandTimeout, o.tls as ConnectionOptions | undefined) : Promise.resolve(o.client as RedisClient)).then(withScripts)
    // Failures surface at each call, as BackendErrors; never as an unhandled rejection.
    this.connecting.catch(() => {})
  }

  private entryKey(key: string): string {
    return `${this.namespace}e:${key}`
  }

  private urlKey(url: string): string {
    return `${this.namespace}u:${url}`
  }

  private leaseKey(key: string): string {
    return `${this.namespace}l:${key}`
  }

  /**
   * Every call goes through here: closed → reject; connection being re-made → reject at once;
   * otherwise the commands, bounded by the command timeout, with failures as BackendErrors.
   */
  private async run<T>(what: string, f: (client: RedisClient & Scripts) => Promise<T>): Promise<T> {
    if (this.closed) throw new BackendError('RedisBackend is closed')
    let client: RedisClient & Scripts
    try {
      client = await this.connecting
    } catch (error) {
      throw error instanceof BackendError ? error : new BackendError(`Redis connection failed`, error)
    }
    if (isDown(client)) throw new BackendError(`Redis ${what}: not connected (${client.status})`)
    if (this.suspended) throw new BackendError(`Redis ${what}: the server is not answering; waiting for it to answer a PING`)
    try {
      return this.owned ? await f(client) : await this.bounded(f(client))
    } catch (error) {
      // A MULTI refused at EXEC says why only in the errors of the commands it queued (e.g. OOM).
      const prior = (error as { previousErrors?: Error[] } | null)?.previousErrors?.[0]?.message
      const message = (error instanceof Error ? error.message : String(error)) + (prior ? ` (${prior})` : '')
      if (/timed out/i.test(message)) this.suspend(client)
      if (error instanceof BackendError) throw error
      throw new BackendError(`Redis ${what} failed: ${message}`, error)
    }
  }

  /**
   * A slow server would make each of a request's few commands wait out its own timeout. After
   * one timeout, every call fails at once (a miss) while a PING, retried, waits for the server
   * to answer again; then calls go through. So a request waits at most one command timeout.
   */
  private suspend(client: RedisClient): void {
    if (this.suspended || this.closed) return
    this.suspended = true
    const probe = (): void => {
      const ping = this.owned ? client.ping() : this.bounded(client.ping())
      ping.then(
        () => void (this.suspended = false),
        () => void (this.closed || setTimeout(probe, 100).unref()),
      )
    }
    probe()
  }

  /** A client we did not make may have no command timeout: bound the call ourselves. */
  private bounded<T>(work: Promise<T>): Promise<T> {
    return orTimeout(work, this.commandTimeout, () => new BackendError(`Redis command timed out after ${this.commandTimeout} ms`))
  }

  async get(key: string): Promise<CacheRecord | undefined> {
    const [m, b] = await this.run('read', (c) => c.hmgetBuffer(this.entryKey(key), 'm', 'b'))
    if (!m) return undefined
    const meta = decodeMetaCached(this.entryKey(key), m.toString('utf8'))
    if (!b) throw new BackendError(`Redis entry ${key} has no body`)
    return { meta, body: b }
  }

  async set(key: string, record: CacheRecord): Promise<void> {
    const text = encodeMeta(record.meta)
    if (record.body.byteLength + Buffer.byteLength(text) > this.maxEntrySize) {
      // Too large to keep: the old value is outdated either way.
      await this.delete([key])
      return
    }
    const deadAt = record.meta.deadAt ?? null
    const expireAt = deadAt === null ? '' : String(Math.floor(deadAt + this.expiryGrace))
    const body = Buffer.from(record.body.buffer, record.body.byteOffset, record.body.byteLength)
    const k = this.entryKey(key)
    await this.run('write', (c) => {
      // MULTI on one key: atomic, and no copy of the body into a script's arguments.
      const tx = c.multi().del(k).hset(k, 'm', text, 'b', body)
      if (expireAt !== '') tx.pexpireat(k, expireAt)
      return Promise.all([tx.exec().then(failed), c.fetchcacheIndex(this.urlKey(record.meta.url), key, expireAt)])
    })
    await this.publish({ keys: [key] })
  }

  async delete(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return this.run('delete', async () => 0)
    let n = 0
    for (let i = 0; i < keys.length; i += BATCH) {
      const batch = keys.slice(i, i + BATCH)
      const counts = await this.run('delete', (c) => Promise.all(batch.map((k) => c.unlink(this.entryKey(k)))))
      n += counts.reduce((s, x) => s + x, 0)
    }
    await this.publish({ keys })
    return n
  }

  async deleteMatching(filter: EntryFilter): Promise<number> {
    const keys: string[] = []
    for await (const [key] of this.entries(filter)) keys.push(key)
    const n = await this.delete(keys)
    if (filter.urls && keys.length > 0) {
      const gone = new Set(keys)
      await this.run('index cleanup', (c) => Promise.all(filter.urls!.map((u) => c.srem(this.urlKey(u), ...gone))))
    }
    return n
  }

  async *entries(filter?: EntryFilter): AsyncIterable<[string, EntryMeta]> {
    if (filter?.urls) {
      yield* this.entriesOfUrls(filter.urls, filter)
      return
    }
    // SCAN may return a key twice; a key is listed once.
    const seen = new Set<string>()
    for await (const batch of this.scan(`${globEscape(this.namespace)}e:*`)) {
      const keys = batch.map((k) => k.slice(this.namespace.length + 2)).filter((k) => !seen.has(k))
      for (const k of keys) seen.add(k)
      for (const [key, meta] of await this.metas(keys)) if (matchesFilter(meta, filter)) yield [key, meta]
    }
  }

  /** Through the URL index: only the entries stored for these URLs are read. */
  private async *entriesOfUrls(urls: readonly string[], filter: EntryFilter): AsyncIterable<[string, EntryMeta]> {
    const seen = new Set<string>()
    for (const url of new Set(urls)) {
      const members = await this.run('index read', (c) => c.smembers(this.urlKey(url)))
      const keys = members.filter((k) => !seen.has(k))
      for (const k of keys) seen.add(k)
      const metas = await this.metas(keys)
      // Members deleted or since stored for another URL (a keyFn may reuse keys) are dropped.
      const stale = keys.filter((k) => metas.get(k)?.url !== url)
      if (stale.length > 0) await this.run('index cleanup', (c) => c.srem(this.urlKey(url), ...stale))
      for (const [key, meta] of metas) if (meta.url === url && matchesFilter(meta, filter)) yield [key, meta]
    }
  }

  /** Metadata of these keys (bodies not read), in batches of pipelined HGETs; gone or unreadable ones left out. */
  private async metas(keys: readonly string[]): Promise<Map<string, EntryMeta>> {
    const out = new Map<string, EntryMeta>()
    for (let i = 0; i < keys.length; i += BATCH) {
      const batch = keys.slice(i, i + BATCH)
      const texts = await this.run('list', (c) => Promise.all(batch.map((k) => c.hget(this.entryKey(k), 'm'))))
      batch.forEach((k, j) => {
        const text = texts[j]
        if (text === null || text === undefined) return
        try {
          out.set(k, decodeMeta(text))
        } catch {
          // A damaged entry is not listed; a read of it reports it (and the engine removes it).
        }
      })
    }
    return out
  }

  /** SCAN (never KEYS) every server holding part of the data: each master of a Cluster. */
  private async *scan(pattern: string): AsyncIterable<string[]> {
    const client = await this.run('scan', async (c) => c)
    const nodes = isCluster(client) ? client.nodes('master') : [client]
    for (const node of nodes) {
      let cursor = '0'
      do {
        const [next, keys] = await this.run('scan', () => node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT))
        cursor = next
        if (keys.length > 0) yield keys
      } while (cursor !== '0')
    }
  }

  stats(): Promise<BackendStats> {
    return statsByScan(this)
  }

  /** Entries and URL indexes of this namespace go; leases are left to expire. */
  async clear(): Promise<void> {
    const leases = `${this.namespace}l:`
    for await (const batch of this.scan(`${globEscape(this.namespace)}*`)) {
      const doomed = batch.filter((k) => !k.startsWith(leases) && k !== `${this.namespace}changes`)
      await this.run('clear', (c) => Promise.all(doomed.map((k) => c.unlink(k))))
    }
    await this.publish({ all: true })
  }

  /**
   * Tell other instances what changed (see redis-changes.ts); TieredBackend listens through
   * `watch`. Resolves when the notice is published.
   */
  private async publish(change: StoreChange): Promise<void> {
    const notice = this.changes.notice(change)
    if (notice !== undefined) await this.run('publish', (c) => c.publish(this.changes.channel, notice))
  }

  /** Hear what other processes change in this namespace; returns the function that stops it. */
  watch(listener: ChangeListener): () => void {
    if (this.closed) return () => {}
    return this.changes.watch(this.connecting, listener)
  }

  /** Resolves once `watch` is subscribed (undefined when nothing watches). */
  get watching(): Promise<void> | undefined {
    return this.changes.subscribed
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.changes.close()
    if (!this.owned) return
    const client = await this.connecting.catch(() => undefined)
    // disconnect, not quit: quit waits for a reply a dead server never sends.
    client?.disconnect()
  }
}

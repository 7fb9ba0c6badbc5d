/**
 * SQLiteBackend (better-sqlite3): one file, many processes. WAL so readers never wait for the
 * writer, synchronous=NORMAL (durable across process crashes, fast), a busy timeout for writers
 * of other processes, statements prepared once. A hit is one indexed read and no write: the
 * access time used for LRU eviction is batched (see TouchBuffer).
 *
 * Limits: a trigger-maintained totals row makes "is the store over its cap?" one read; eviction
 * runs in the writing transaction as indexed statements (entries of no use by `dead_at`, then
 * the least recently used by `accessed_at`). The file is created with auto_vacuum=INCREMENTAL:
 * after a large delete the free pages are handed back to the file system
 * (`PRAGMA incremental_vacuum`), without rebuilding the whole file; `vacuum()` rebuilds it.
 *
 * Writes: set() resolves once its row is committed, but rows queued in one turn of the event
 * loop share one transaction, committed right after the I/O that produced them (write-batch.ts),
 * and a lease this process holds on the key is released in that same commit (sqlite-lease.ts):
 * a miss costs the lease's transaction and a share of one write transaction.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { decodeMeta, decodeMetaCached, encodeMeta } from './entry.js'
import { BackendError, ConfigError, show } from '../util/errors.js'
import type { Backend, BackendLeases, BackendMaintenance, BackendStats, CacheRecord, EntryFilter, EntryMeta } from './contract.js'
import { SQLiteLeases } from './sqlite-lease.js'
import { checkOptions, fits, LIMIT_OPTIONS, type Limits, positive, recencyTick, resolveLimits } from './limits.js'
import { TouchBuffer } from './touches.js'
import { WriteBatch } from './write-batch.js'
import { createSchema, SCHEMA } from './sqlite-schema.js'

export interface SQLiteBackendOptions {
  /** Database file. Default `http_cache.sqlite`. */
  path?: string
  /** How long a write waits for another process's lock, in ms. Default 5000. */
  busyTimeout?: number
  /** Most entries kept; the least recently used go first. Default: unbounded. */
  maxEntries?: number
  /** Most bytes of bodies and metadata kept. Default: unbounded. */
  maxSize?: number
  /** Largest entry (body and metadata) stored; larger ones are silently not stored. Default: maxSize. */
  maxEntrySize?: number
  /** Access times of hits are written in one batch at most this often, in ms. Default 10000. */
  touchInterval?: number
}

const { TABLE, TOTALS } = SCHEMA

/** After a delete, free pages are given back when there are at least this many bytes of them… */
const SHRINK_MIN_BYTES = 1024 * 1024
/** …and they are at least this share of the file. Eviction under a cap reuses pages instead. */
const SHRINK_MIN_SHARE = 0.25

type Row = [string, Buffer]
type Params = Array<string | number>
/** A row waiting in the write batch. */
interface Pending {
  m: EntryMeta
  meta: string
  weight: number
  body: Uint8Array
}


export class SQLiteBackend implements Backend {
  readonly path: string
  private readonly db: Database.Database
  private readonly limits: Limits
  private readonly busyTimeout: number
  private readonly touches: TouchBuffer<number>
  private readonly touchTx: (batch: ReadonlyMap<string, number>) => void
  private readonly deleteTx: (keys: readonly string[]) => number
  private readonly stmt: {
    get: Database.Statement<[string], Row>
    set: Database.Statement<[string, string, string, number, number, number | null, number | null, number, number, number, string, Uint8Array]>
    delete: Database.Statement<[string]>
    clear: Database.Statement<[]>
    touch: Database.Statement<[number, string, number]>
    totals: Database.Statement<[], [number, number]>
    deleteDead: Database.Statement<[number, string]>
    leastRecent: Database.Statement<[string], [number, number]>
    deleteId: Database.Statement<[number]>
  }
  private readonly statements = new Map<string, Database.Statement<Params>>()
  private leaseTable: SQLiteLeases | undefined
  /** Capability: cross-process leases, one conditional upsert each (see pipeline/leases.ts). */
  readonly leases: BackendLeases = {
    acquire: async (key, owner, ttlMs) => this.leaseRows().acquire(key, owner, ttlMs),
    release: async (key, owner) => this.leaseRows().release(key, owner),
  }
  /** Capability: VACUUM. */
  readonly maintenance: BackendMaintenance = { vacuum: () => this.vacuum() }
  private readonly writeTx: Database.Transaction<(batch: ReadonlyMap<string, Pending>, released: Array<() => void>) => void>
  /** set() queues here; one transaction per turn of the event loop (see write-batch.ts). */
  private readonly writes = new WriteBatch<Pending>((batch) => this.commit(batch))

  constructor(options: SQLiteBackendOptions = {}) {
    const o = checkOptions(options, ['path', 'busyTimeout', 'touchInterval', ...LIMIT_OPTIONS], 'SQLiteBackend')
    if (o.path !== undefined && (typeof o.path !== 'string' || o.path === '')) {
      throw new ConfigError(`SQLiteBackend path: expected a file name; got ${show(o.path)}`)
    }
    this.path = (o.path as string | undefined) ?? 'http_cache.sqlite'
    const busyTimeout = o.busyTimeout ?? 5000
    if (typeof busyTimeout !== 'number' || !Number.isInteger(busyTimeout) || busyTimeout < 0) {
      throw new ConfigError(`SQLiteBackend busyTimeout: expected milliseconds; got ${show(o.busyTimeout)}`)
    }
    this.busyTimeout = busyTimeout
    this.limits = resolveLimits(o, 'SQLiteBackend')
    const touchInterval = positive(o.touchInterval, 'SQLiteBackend touchInterval', 10_000)
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true })
    this.db = new Database(this.path, { timeout: busyTimeout })
    try {
      createSchema(this.db)
    } catch (error) {
      this.db.close()
      throw error
    }
    this.stmt = {
      get: this.db.prepare<[string], Row>(`SELECT meta, body FROM ${TABLE} WHERE key = ?`).raw(true),
      set: this.db.prepare(
        `INSERT INTO ${TABLE} (key, url, method, status, created_at, expires_at, dead_at, accessed_at, size, weight, meta, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET url = excluded.url, method = excluded.method, status = excluded.status,
           created_at = excluded.created_at, expires_at = excluded.expires_at, dead_at = excluded.dead_at,
           accessed_at = excluded.accessed_at, size = excluded.size, weight = excluded.weight,
           meta = excluded.meta, body = excluded.body`,
      ),
      delete: this.db.prepare(`DELETE FROM ${TABLE} WHERE key = ?`),
      clear: this.db.prepare(`DELETE FROM ${TABLE}`),
      touch: this.db.prepare(`UPDATE ${TABLE} SET accessed_at = ? WHERE key = ? AND accessed_at < ?`),
      totals: this.db.prepare<[], [number, number]>(`SELECT entries, bytes FROM ${TOTALS} WHERE id = 0`).raw(true),
      deleteDead: this.db.prepare(`DELETE FROM ${TABLE} WHERE dead_at <= ? AND key <> ?`),
      leastRecent: this.db.prepare<[string], [number, number]>(`SELECT id, weight FROM ${TABLE} WHERE key <> ? ORDER BY accessed_at, id`).raw(true),
      deleteId: this.db.prepare(`DELETE FROM ${TABLE} WHERE id = ?`),
    }
    this.writeTx = this.db.transaction((batch: ReadonlyMap<string, Pending>, released: Array<() => void>) => {
      for (const [key, { m, meta, weight, body }] of batch) {
        this.stmt.set.run(key, m.url, m.method, m.status, m.createdAt, m.expiresAt, m.deadAt ?? null, recencyTick(), body.byteLength, weight, meta, body)
        this.enforceLimits(key)
        // The lease this process took to fetch the entry goes in the same commit as the entry.
        const done = this.leaseTable?.releaseWith(key)
        if (done) released.push(done)
      }
    })
    // Transactions wrapped once, like the statements, not per call.
    this.touchTx = this.db.transaction((batch: ReadonlyMap<string, number>) => {
      for (const [key, at] of batch) this.stmt.touch.run(at, key, at)
    })
    this.deleteTx = this.db.transaction((list: readonly string[]) => {
      let n = 0
      for (const key of list) n += this.stmt.delete.run(key).changes
      return n
    })
    this.touches = new TouchBuffer<number>(touchInterval, (batch) => this.writeTouches(batch), () => this.flushTouches())
  }

  private open(): void {
    if (!this.db.open) throw new BackendError(`SQLiteBackend ${this.path} is closed`)
  }

  async get(key: string): Promise<CacheRecord | undefined> {
    this.open()
    // Written but not yet committed: our own writes are visible to us at once.
    const queued = this.writes.peek(key)
    if (queued !== undefined) return { meta: queued.m, body: queued.body }
    const row = this.stmt.get.get(key)
    if (row === undefined) return undefined
    this.touches.add(key, recencyTick())
    return { meta: decodeMetaCached(key, row[0]), body: row[1] }
  }

  touch(key: string): void {
    if (this.db.open) this.touches.add(key, recencyTick())
  }

  async set(key: string, record: CacheRecord): Promise<void> {
    this.open()
    const m = record.meta
    const meta = encodeMeta(m)
    const weight = record.body.byteLength + Buffer.byteLength(meta)
    this.touches.forget(key)
    if (!fits(weight, this.limits)) {
      // The old value is outdated either way; a new one too large to keep replaces it with nothing.
      this.writes.drop(key)
      this.stmt.delete.run(key)
      return
    }
    return this.writes.add(key, { m, meta, weight, body: record.body })
  }

  /**
   * Upsert and evict a batch in one transaction that takes the write lock up front (BEGIN
   * IMMEDIATE); leases released with their entries count as released once it has committed.
   */
  private commit(batch: ReadonlyMap<string, Pending>): void {
    this.open()
    const released: Array<() => void> = []
    this.writeTx.immediate(batch, released)
    for (const done of released) done()
  }

  private over(): [number, number] | undefined {
    const { maxEntries, maxSize } = this.limits
    if (maxEntries === Infinity && maxSize === Infinity) return undefined
    const totals = this.stmt.totals.get()!
    return totals[0] > maxEntries || totals[1] > maxSize ? totals : undefined
  }

  /** Inside the writing transaction: bring the store under its caps, sparing the entry just written. */
  private enforceLimits(protect: string): void {
    if (!this.over()) return
    this.stmt.deleteDead.run(Date.now(), protect)
    const totals = this.over()
    if (!totals) return
    // Recency must be exact before we choose by it.
    this.touches.flushSync()
    let entries = totals[0] - this.limits.maxEntries
    let bytes = totals[1] - this.limits.maxSize
    const victims: number[] = []
    for (const [id, weight] of this.stmt.leastRecent.iterate(protect)) {
      if (entries <= 0 && bytes <= 0) break
      victims.push(id)
      entries--
      bytes -= weight
    }
    for (const id of victims) this.stmt.deleteId.run(id)
  }

  private writeTouches(batch: ReadonlyMap<string, number>): void {
    if (this.db.open) this.touchTx(batch)
  }

  /** Write pending access times now, without waiting for another process's lock. */
  flushTouches(): void {
    if (!this.db.open || this.touches.size === 0) return
    if (this.db.inTransaction) return this.touches.flushSync()
    this.db.pragma('busy_timeout = 0')
    try {
      this.touches.flushSync()
    } catch {
      // Locked: they stay pending for the next flush.
    } finally {
      this.db.pragma(`busy_timeout = ${this.busyTimeout}`)
    }
  }

  async delete(keys: readonly string[]): Promise<number> {
    this.open()
    this.writes.flush()
    const n = this.deleteTx(keys)
    for (const key of keys) this.touches.forget(key)
    if (n > 0) this.shrink()
    return n
  }

  /** Delete every entry matching the filter: one indexed statement. */
  async deleteMatching(filter: EntryFilter): Promise<number> {
    this.open()
    this.writes.flush()
    const where = this.where(filter)
    if (!where) return 0
    const n = this.statement(`DELETE FROM ${TABLE}${where.sql}`).run(...where.params).changes
    if (n > 0) this.shrink()
    return n
  }

  private where(filter: EntryFilter): { sql: string; params: Params } | undefined {
    const clauses: string[] = []
    const params: Params = []
    if (filter.urls) {
      if (filter.urls.length === 0) return undefined
      clauses.push(`url IN (${filter.urls.map(() => '?').join(', ')})`)
      params.push(...filter.urls)
    }
    if (filter.expiredAt !== undefined) {
      clauses.push('expires_at <= ?')
      params.push(filter.expiredAt)
    }
    if (filter.createdBefore !== undefined) {
      clauses.push('created_at < ?')
      params.push(filter.createdBefore)
    }
    return { sql: clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '', params }
  }

  private statement(sql: string): Database.Statement<Params> {
    let s = this.statements.get(sql)
    if (!s) {
      s = this.db.prepare<Params>(sql)
      if (this.statements.size > 100) this.statements.clear()
      this.statements.set(sql, s)
    }
    return s
  }

  async *entries(filter: EntryFilter = {}): AsyncIterable<[string, EntryMeta]> {
    this.open()
    this.writes.flush()
    const where = this.where(filter)
    if (!where) return
    // Read the rows first: callers may delete while iterating, which an open cursor forbids.
    const rows = this.db.prepare<Params, [string, string]>(`SELECT key, meta FROM ${TABLE}${where.sql} ORDER BY id`).raw(true).all(...where.params)
    for (const [key, meta] of rows) {
      let decoded: EntryMeta
      try {
        decoded = decodeMeta(meta)
      } catch {
        // An undecodable row is skipped here; a get() of it reports it and the engine removes it.
        continue
      }
      yield [key, decoded]
    }
  }

  async stats(): Promise<BackendStats> {
    this.open()
    this.writes.flush()
    const [entries, bytes] = this.stmt.totals.get()!
    return { entries, bytes }
  }

  async clear(): Promise<void> {
    this.open()
    this.writes.discard()
    this.touches.clear()
    this.stmt.clear.run()
    this.shrink()
  }

  /**
   * After a large delete, hand free pages back to the file system: incremental vacuum moves
   * pages from the end of the file into the holes, then a checkpoint truncates the file. Skipped
   * when few pages are free (the next writes reuse them) or when the file was not created with
   * auto_vacuum=INCREMENTAL (then only vacuum() shrinks it).
   */
  private shrink(): void {
    const free = this.db.pragma('freelist_count', { simple: true }) as number
    if (free === 0 || this.db.pragma('auto_vacuum', { simple: true }) !== 2) return
    const pageSize = this.db.pragma('page_size', { simple: true }) as number
    const pages = this.db.pragma('page_count', { simple: true }) as number
    if (free * pageSize < SHRINK_MIN_BYTES || free < pages * SHRINK_MIN_SHARE) return
    this.db.pragma('incremental_vacuum')
    this.db.pragma('wal_checkpoint(PASSIVE)')
  }

  /** Rebuild the file (VACUUM) and truncate the WAL: every free byte goes back to the file system. */
  async vacuum(): Promise<void> {
    this.open()
    this.writes.flush()
    this.flushTouches()
    this.db.exec('VACUUM')
    this.db.pragma('wal_checkpoint(TRUNCATE)')
  }

  private leaseRows(): SQLiteLeases {
    this.open()
    return (this.leaseTable ??= new SQLiteLeases(this.db))
  }

  async close(): Promise<void> {
    if (!this.db.open) return
    this.writes.flush()
    this.writes.stop()
    this.touches.stop()
    this.flushTouches()
    this.db.close()
  }
}

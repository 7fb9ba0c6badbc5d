/**
 * SQLiteBackend (better-sqlite3): one file, many processes. WAL so readers never wait for the
 * writer, synchronous=NORMAL (durable across process crashes, fast), a busy timeout for writers
 * of other processes, waited out asynchronously (sqlite-busy.ts), statements prepared once. A hit is one indexed read and no write: the
 * access time used for LRU eviction is batched (see TouchBuffer).
 *
 * Limits: a trigger-maintained totals row makes "is the store over its cap?" one read; eviction
 * runs in the writing transaction as indexed statements (entries of no use by `dead_at`, then
 * the least recently used by `accessed_at`). The file is created with auto_vacuum=INCREMENTAL:
 * after a large delete the free pages are handed back to the file system
 * (`PRAGMA incremental_vacuum`), without rebuilding the whole file; `vacuum()` rebuilds it.
 *
 * Damage: each entry's size and CRC-32 are checked on read (sqlite-schema.ts); a file that
 * cannot be opened is a clear BackendError here, and the caches' way around it is in
 * sqlite-open.ts.
 */
import type Database from 'better-sqlite3'
import { decodeMeta, encodeMeta } from './entry.js'
import { BackendError, ConfigError, show } from '../util/errors.js'
import { NOT_NOW, type Backend, type BackendImmediate, type BackendLeases, type BackendMaintenance, type BackendPruning, type BackendStats, type CacheRecord, type EntryFilter, type EntryMeta } from './contract.js'
import { SQLiteLeases } from './sqlite-lease.js'
import { checkOptions, DEFAULT_MAX_SIZE, fits, LIMIT_OPTIONS, type Limits, positive, recencyTick, resolveLimits } from './limits.js'
import { TouchBuffer } from './touches.js'
import { checkedRecord, checksum, type Row, TABLE, TOTALS } from './sqlite-schema.js'
import { openDatabase, readFault, sqliteCode } from './sqlite-open.js'
import { BusyRetry, isBusy } from './sqlite-busy.js'

export interface SQLiteBackendOptions {
  /** Database file. Default `http_cache.sqlite`. */
  path?: string
  /** How long a write waits for another process's lock, in ms (without blocking the event loop). Default 5000. */
  busyTimeout?: number
  /** Most entries kept; the least recently used go first. Default: unbounded. */
  maxEntries?: number
  /** Most bytes of bodies and metadata kept. Default 1 GiB (DEFAULT_MAX_SIZE); Infinity: unbounded. */
  maxSize?: number
  /** Largest entry (body and metadata) stored; larger ones are silently not stored. Default: maxSize. */
  maxEntrySize?: number
  /** Access times of hits are written in one batch at most this often, in ms. Default 10000. */
  touchInterval?: number
  /**
   * Open an existing file read-only: reads work, every change rejects, access times are not
   * kept. For a file or folder this process may not write. Default false.
   */
  readOnly?: boolean
}

export { DEFAULT_MAX_SIZE }

/** After a delete, free pages are given back when there are at least this many bytes of them… */
const SHRINK_MIN_BYTES = 1024 * 1024
/** …and they are at least this share of the file. Eviction under a cap reuses pages instead. */
const SHRINK_MIN_SHARE = 0.25

/** meta, body, size, crc */
type Params = Array<string | number>

export class SQLiteBackend implements Backend {
  readonly path: string
  private readonly db: Database.Database
  /** The limits in force (maxSize defaults to DEFAULT_MAX_SIZE): `fetchcache stats` shows them. */
  readonly limits: Readonly<Limits>
  /** Writes wait for another process's lock asynchronously (sqlite-busy.ts). */
  private readonly busy: BusyRetry
  private readonly touches: TouchBuffer<number>
  private readonly touchTx: (batch: ReadonlyMap<string, number>) => void
  private readonly deleteTx: Database.Transaction<(keys: readonly string[]) => number>
  private readonly stmt: {
    get: Database.Statement<[string], Row>
    set: Database.Statement<[string, string, string, number, number, number | null, number | null, number, number, number, string, Uint8Array, number]>
    delete: Database.Statement<[string]>
    clear: Database.Statement<[]>
    touch: Database.Statement<[number, string, number]>
    totals: Database.Statement<[], [number, number]>
    deleteDead: Database.Statement<[number, string]>
    prune: Database.Statement<[number, number]>
    leastRecent: Database.Statement<[string], [number, number]>
    deleteId: Database.Statement<[number]>
  }
  private readonly statements = new Map<string, Database.Statement<Params>>()
  private leaseTable: SQLiteLeases | undefined
  /**
   * Entries on a damaged page that SQLite cannot delete either (freeing their pages reads the
   * damage): reported once, then a quiet miss and never written again by this process.
   */
  private readonly damaged = new Set<string>()
  /**
   * Capability: cross-process leases, one conditional upsert each (see pipeline/coordinate/leases.ts).
   * Read-only, every lease is granted: this process stores nothing another could wait for.
   */
  readonly leases: BackendLeases
  readonly readOnly: boolean
  /** Capability: a read is synchronous anyway; a hit need not wait for a promise of it (contract.ts). */
  readonly immediate: BackendImmediate = { get: (key) => this.readNow(key) }
  /** Capability: VACUUM. */
  readonly maintenance: BackendMaintenance = { vacuum: () => this.vacuum() }
  /** Capability: up to `limit` entries of no use, one statement on the dead_at index (a run costs what it removes); read-only or locked by another process, none. */
  readonly pruning: BackendPruning = { prune: async (now, limit) => this.prune(now, limit) }
  private readonly writeTx: Database.Transaction<(key: string, m: EntryMeta, meta: string, weight: number, body: Uint8Array) => void>

  constructor(options: SQLiteBackendOptions = {}) {
    const o = checkOptions(options, ['path', 'busyTimeout', 'touchInterval', 'readOnly', ...LIMIT_OPTIONS], 'SQLiteBackend')
    if (o.path !== undefined && (typeof o.path !== 'string' || o.path === '')) {
      throw new ConfigError(`SQLiteBackend path: expected a file name; got ${show(o.path)}`)
    }
    this.path = (o.path as string | undefined) ?? 'http_cache.sqlite'
    const busyTimeout = o.busyTimeout ?? 5000
    if (typeof busyTimeout !== 'number' || !Number.isInteger(busyTimeout) || busyTimeout < 0) {
      throw new ConfigError(`SQLiteBackend busyTimeout: expected milliseconds; got ${show(o.busyTimeout)}`)
    }
    this.limits = resolveLimits(o, 'SQLiteBackend', { maxSize: DEFAULT_MAX_SIZE })
    const touchInterval = positive(o.touchInterval, 'SQLiteBackend touchInterval', 10_000)
    if (o.readOnly !== undefined && typeof o.readOnly !== 'boolean') throw new ConfigError(`SQLiteBackend readOnly: expected a boolean; got ${show(o.readOnly)}`)
    this.readOnly = o.readOnly === true
    this.leases = {
      acquire: async (key, owner, ttlMs) => this.readOnly || this.busy.run(() => this.leaseRows().acquire(key, owner, ttlMs, this.damaged.has(key))),
      release: async (key, owner) => void (this.readOnly || (await this.busy.run(() => this.leaseRows().release(key, owner)))),
    }
    this.db = openDatabase(this.path, busyTimeout, this.readOnly)
    this.busy = new BusyRetry(this.db, busyTimeout)
    try {
      this.stmt = this.prepareStatements()
    } catch (error) {
      // A table of this name whose shape we cannot use: the file is not ours to read.
      this.db.close()
      throw new BackendError(`cannot open SQLite cache ${this.path}: ${(error as Error).message} (${sqliteCode(error) ?? 'unknown'})`, error)
    }
    this.writeTx = this.db.transaction((key: string, m: EntryMeta, meta: string, weight: number, body: Uint8Array) => {
      this.stmt.set.run(key, m.url, m.method, m.status, m.createdAt, m.expiresAt, m.deadAt ?? null, recencyTick(), body.byteLength, weight, meta, body, checksum(meta, body))
      this.enforceLimits(key)
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

  private prepareStatements(): SQLiteBackend['stmt'] {
    return {
      get: this.db.prepare<[string], Row>(`SELECT meta, body, size, crc FROM ${TABLE} WHERE key = ?`).raw(true),
      set: this.db.prepare(
        `INSERT INTO ${TABLE} (key, url, method, status, created_at, expires_at, dead_at, accessed_at, size, weight, meta, body, crc)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET url = excluded.url, method = excluded.method, status = excluded.status,
           created_at = excluded.created_at, expires_at = excluded.expires_at, dead_at = excluded.dead_at,
           accessed_at = excluded.accessed_at, size = excluded.size, weight = excluded.weight,
           meta = excluded.meta, body = excluded.body, crc = excluded.crc`,
      ),
      delete: this.db.prepare(`DELETE FROM ${TABLE} WHERE key = ?`),
      clear: this.db.prepare(`DELETE FROM ${TABLE}`),
      touch: this.db.prepare(`UPDATE ${TABLE} SET accessed_at = ? WHERE key = ? AND accessed_at < ?`),
      totals: this.db.prepare<[], [number, number]>(`SELECT entries, bytes FROM ${TOTALS} WHERE id = 0`).raw(true),
      deleteDead: this.db.prepare(`DELETE FROM ${TABLE} WHERE dead_at <= ? AND key <> ?`),
      prune: this.db.prepare(`DELETE FROM ${TABLE} WHERE id IN (SELECT id FROM ${TABLE} WHERE dead_at <= ? ORDER BY dead_at LIMIT ?)`),
      leastRecent: this.db.prepare<[string], [number, number]>(`SELECT id, weight FROM ${TABLE} WHERE key <> ? ORDER BY accessed_at, id`).raw(true),
      deleteId: this.db.prepare(`DELETE FROM ${TABLE} WHERE id = ?`),
    }
  }

  private open(): void {
    if (!this.db.open) throw new BackendError(`SQLiteBackend ${this.path} is closed`)
  }

  async get(key: string): Promise<CacheRecord | undefined> {
    const now = this.readNow(key)
    if (now !== NOT_NOW) return now
    // Locked while another connection rebuilds the WAL index (sqlite-busy.ts): wait it out.
    const row = await this.busy.run(() => this.stmt.get.get(key)).catch((error: unknown) => Promise.reject(readFault(key, error)))
    return this.recordOf(key, row)
  }

  /** The read as it happens: on this thread, at once, unless another process's lock is in the way. */
  private readNow(key: string): CacheRecord | undefined | typeof NOT_NOW {
    this.open()
    if (this.damaged.has(key)) return undefined
    try {
      return this.recordOf(key, this.stmt.get.get(key))
    } catch (error) {
      if (isBusy(error)) return NOT_NOW
      throw readFault(key, error)
    }
  }

  private recordOf(key: string, row: Row | undefined): CacheRecord | undefined {
    const record = row && checkedRecord(key, row)
    if (record && !this.readOnly) this.touches.add(key, recencyTick())
    return record
  }

  touch(key: string): void {
    if (this.db.open && !this.readOnly) this.touches.add(key, recencyTick())
  }

  async set(key: string, record: CacheRecord): Promise<void> {
    this.open()
    const m = record.meta
    const meta = encodeMeta(m)
    const weight = record.body.byteLength + Buffer.byteLength(meta)
    this.touches.forget(key)
    if (this.damaged.has(key)) return
    if (!fits(weight, this.limits)) {
      // The old value is outdated either way; a new one too large to keep replaces it with nothing.
      await this.busy.run(() => this.stmt.delete.run(key))
      return
    }
    // Upsert and evict in one transaction that takes the write lock up front (BEGIN IMMEDIATE).
    await this.busy.run(() => this.writeTx.immediate(key, m, meta, weight, record.body))
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
    try {
      this.touches.flushSync()
    } catch {
      // Locked: they stay pending for the next flush.
    }
  }

  async delete(keys: readonly string[]): Promise<number> {
    this.open()
    let n: number
    try {
      // At once first: a damaged entry is then quarantined before its reader goes on (to its lease, sqlite-lease.ts).
      const now = this.busy.orElse(() => this.deleteTx.immediate(keys), -1)
      n = now >= 0 ? now : await this.busy.run(() => this.deleteTx.immediate(keys))
    } catch (error) {
      if (!sqliteCode(error)?.startsWith('SQLITE_CORRUPT')) throw error
      // Only a damaged entry fails this way, and get() has reported it already: quarantine it.
      for (const key of keys) this.damaged.add(key)
      return 0
    }
    for (const key of keys) this.touches.forget(key)
    if (n > 0) this.shrink()
    return n
  }

  /** Delete every entry matching the filter: one indexed statement. */
  async deleteMatching(filter: EntryFilter): Promise<number> {
    this.open()
    const where = this.where(filter)
    if (!where) return 0
    const statement = this.statement(`DELETE FROM ${TABLE}${where.sql}`)
    const n = await this.busy.run(() => statement.run(...where.params).changes)
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
    const where = this.where(filter)
    if (!where) return
    // Read the rows first: callers may delete while iterating, which an open cursor forbids.
    const select = this.db.prepare<Params, [string, string]>(`SELECT key, meta FROM ${TABLE}${where.sql} ORDER BY id`).raw(true)
    const rows = await this.busy.run(() => select.all(...where.params))
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
    const [entries, bytes] = await this.busy.run(() => this.stmt.totals.get()!)
    return { entries, bytes }
  }

  async clear(): Promise<void> {
    this.open()
    this.touches.clear()
    await this.busy.run(() => this.stmt.clear.run())
    this.shrink()
  }

  /**
   * After a large delete, hand free pages back to the file system: incremental vacuum moves
   * pages from the end of the file into the holes, then a checkpoint truncates the file. Skipped
   * when few pages are free (the next writes reuse them) or when the file was not created with
   * auto_vacuum=INCREMENTAL (then only vacuum() shrinks it).
   */
  private shrink(): void {
    try {
      // Best effort, and never a wait: another process may hold the lock again by now.
      this.shrinkNow()
    } catch (error) {
      if (!isBusy(error)) throw error
    }
  }

  private shrinkNow(): void {
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
    this.flushTouches()
    await this.busy.run(() => this.db.exec('VACUUM'))
    await this.busy.truncateWal(this.db)
  }

  private prune(now: number, limit: number): number {
    this.open()
    // Never waits for another process's lock: a locked store prunes nothing now, and next run.
    const n = this.readOnly ? 0 : this.busy.orElse(() => this.stmt.prune.run(now, limit).changes, 0)
    if (n > 0) this.shrink()
    return n
  }

  private leaseRows(): SQLiteLeases {
    this.open()
    return (this.leaseTable ??= new SQLiteLeases(this.db))
  }

  async close(): Promise<void> {
    if (!this.db.open) return
    this.touches.stop()
    this.flushTouches()
    this.db.close()
  }
}

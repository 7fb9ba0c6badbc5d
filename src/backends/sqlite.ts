/**
 * SQLiteBackend (better-sqlite3): one file, many processes. WAL so readers never wait for the
 * writer, synchronous=NORMAL (durable across process crashes, fast), a busy timeout for writers
 * of other processes, waited out asynchronously (sqlite-busy.ts), statements prepared once. A
 * hit is one indexed read and no write: the access time used for LRU eviction is batched (see
 * TouchBuffer). A miss's entry (the `batching` capability) waits a few ms to share a
 * transaction with others, and lease releases ride in those transactions (sqlite-batch.ts).
 *
 * Limits: a trigger-maintained totals row makes "is the store over its cap?" one read; eviction
 * runs in the writing transaction as indexed statements (entries of no use by `dead_at`, then
 * the least recently used by `accessed_at`). The file is created with auto_vacuum=INCREMENTAL:
 * after a large delete the free pages are handed back to the file system
 * (`PRAGMA incremental_vacuum`, sqlite-space.ts), without rebuilding the whole file; `vacuum()` rebuilds it.
 *
 * Damage: each entry's size and CRC-32 are checked on read (sqlite-schema.ts); a file that
 * cannot be opened is a clear BackendError here, and the caches' way around it is in
 * sqlite-open.ts.
 */
import type Database from 'better-sqlite3'
import { decodeMeta, encodeMeta } from './entry.js'
import { BackendError, ConfigError, show } from '../util/errors.js'
import { NOT_NOW, type Backend, type BackendBatching, type BackendImmediate, type BackendLeases, type BackendMaintenance, type BackendPruning, type BackendStats, type CacheRecord, type EntryFilter, type EntryMeta } from './contract.js'
import { SQLiteLeases } from './sqlite-lease.js'
import { checkOptions, DEFAULT_MAX_SIZE, fits, LIMIT_OPTIONS, type Limits, positive, recencyTick, resolveLimits } from './limits.js'
import { TouchBuffer } from './touches.js'
import { checkedRecord, checksum, type Params, type Row, TABLE, TOTALS, whereClause } from './sqlite-schema.js'
import { openDatabase, readFault, sqliteCode } from './sqlite-open.js'
import { BusyRetry, isBusy } from './sqlite-busy.js'
import { WriteBatch } from './sqlite-batch.js'
import { shrink } from './sqlite-space.js'

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

export class SQLiteBackend implements Backend {
  readonly path: string
  private readonly db: Database.Database
  /** The limits in force (maxSize defaults to DEFAULT_MAX_SIZE): `fetchcache stats` shows them. */
  readonly limits: Readonly<Limits>
  /** Writes wait for another process's lock asynchronously (sqlite-busy.ts). */
  private readonly busy: BusyRetry
  private readonly touches: TouchBuffer<number>
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
  /** Entries and lease releases waiting (a few ms) to share one transaction. */
  private readonly batch: WriteBatch
  /** Made on first use: a process whose first requests are hits starts without them (cold start). */
  private transactions: { run: Database.Transaction<(work: () => void) => void>; touch: (batch: ReadonlyMap<string, number>) => void; delete: Database.Transaction<(keys: readonly string[]) => number> } | undefined
  /** Capability: a miss's entry, held a few ms to share a transaction (sqlite-batch.ts). */
  readonly batching: BackendBatching = { set: (key, record) => this.store(key, record, true) }

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
      acquire: async (key, owner, ttlMs) => {
        if (this.readOnly) return true
        // Taken again before its release was committed: the queued release must not undo this.
        this.batch.forgetRelease(key, owner)
        // Its entry still queued: commit it first, so the grant reads what this process stored.
        if (this.batch.pending(key)) await this.batch.flush()
        return this.busy.run(() => this.leaseRows().acquire(key, owner, ttlMs, this.damaged.has(key)))
      },
      // Committed with the entries queued before it (sqlite-batch.ts), never before the entry of its fetch.
      release: async (key, owner) => {
        if (this.readOnly) return
        this.open()
        await this.batch.release(key, owner)
      },
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
    this.batch = new WriteBatch({
      commit: (work) => this.busy.run(() => this.runNow(work)),
      commitNow: (work) => this.runNow(work),
      release: (key, owner) => this.leaseRows().release(key, owner),
    })
    this.touches = new TouchBuffer<number>(touchInterval, (batch) => this.writeTouches(batch), () => this.flushTouches())
  }

  /** `work` in one IMMEDIATE transaction, now (a closed backend: BackendError). */
  private runNow(work: () => void): void {
    this.open()
    this.tx().run.immediate(work)
  }

  /** Transactions wrapped once, on first use: the first wrap prepares BEGIN, COMMIT… (0.2 ms), which a hit never runs. */
  private tx(): NonNullable<SQLiteBackend['transactions']> {
    return (this.transactions ??= {
      run: this.db.transaction((work: () => void) => work()),
      touch: this.db.transaction((batch: ReadonlyMap<string, number>) => {
        for (const [key, at] of batch) this.stmt.touch.run(at, key, at)
      }),
      delete: this.db.transaction((list: readonly string[]) => {
        let n = 0
        for (const key of list) n += this.stmt.delete.run(key).changes
        return n
      }),
    })
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
    // Written by this process a moment ago, not yet committed (sqlite-batch.ts): a copy of its
    // body, so that a reader changing what it was served cannot change what is written.
    const queued = this.batch.latest(key)
    if (queued) return { meta: queued.meta, body: Buffer.from(queued.body) }
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

  /** Written at once (after what is queued): resolves once committed. */
  set(key: string, record: CacheRecord): Promise<void> {
    return this.store(key, record, false)
  }

  private async store(key: string, record: CacheRecord, soon: boolean): Promise<void> {
    this.open()
    const m = record.meta
    const meta = encodeMeta(m)
    const weight = record.body.byteLength + Buffer.byteLength(meta)
    this.touches.forget(key)
    if (this.damaged.has(key)) return
    if (!fits(weight, this.limits)) {
      // The old value is outdated either way; a new one too large to keep replaces it with nothing.
      await this.write(() => this.stmt.delete.run(key))
      return
    }
    // The checksum is taken now: bytes changed before the commit then read as damage, a miss.
    const crc = checksum(meta, record.body)
    // Upsert and evict in one transaction that takes the write lock up front (BEGIN IMMEDIATE).
    const write = () => {
      this.stmt.set.run(key, m.url, m.method, m.status, m.createdAt, m.expiresAt, m.deadAt ?? null, recencyTick(), record.body.byteLength, weight, meta, record.body, crc)
      this.enforceLimits(key)
    }
    if (soon && !this.readOnly) await this.batch.set(key, record, write)
    else await this.write(() => this.tx().run.immediate(write))
  }

  /** Any other change or read of many rows: after the queued writes and any commit under way, in order. */
  private async write<T>(fn: () => T): Promise<T> {
    if (!this.batch.idle) await this.batch.flush()
    return this.busy.run(fn)
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
    if (this.db.open) this.tx().touch(batch)
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
      // At once first, when nothing is queued before it: a damaged entry is then quarantined
      // before its reader goes on (to its lease, sqlite-lease.ts).
      const now = this.batch.idle ? this.busy.orElse(() => this.tx().delete.immediate(keys), -1) : -1
      n = now >= 0 ? now : await this.write(() => this.tx().delete.immediate(keys))
    } catch (error) {
      if (!sqliteCode(error)?.startsWith('SQLITE_CORRUPT')) throw error
      // Only a damaged entry fails this way, and get() has reported it already: quarantine it.
      for (const key of keys) this.damaged.add(key)
      return 0
    }
    for (const key of keys) this.touches.forget(key)
    if (n > 0) shrink(this.db)
    return n
  }

  /** Delete every entry matching the filter: one indexed statement. */
  async deleteMatching(filter: EntryFilter): Promise<number> {
    this.open()
    const where = whereClause(filter)
    if (!where) return 0
    const statement = this.statement(`DELETE FROM ${TABLE}${where.sql}`)
    const n = await this.write(() => statement.run(...where.params).changes)
    if (n > 0) shrink(this.db)
    return n
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
    const where = whereClause(filter)
    if (!where) return
    // Read the rows first: callers may delete while iterating, which an open cursor forbids.
    const select = this.db.prepare<Params, [string, string]>(`SELECT key, meta FROM ${TABLE}${where.sql} ORDER BY id`).raw(true)
    const rows = await this.write(() => select.all(...where.params))
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
    const [entries, bytes] = await this.write(() => this.stmt.totals.get()!)
    return { entries, bytes }
  }

  async clear(): Promise<void> {
    this.open()
    this.touches.clear()
    await this.write(() => this.stmt.clear.run())
    shrink(this.db)
  }

  /** Rebuild the file (VACUUM) and truncate the WAL: every free byte goes back to the file system. */
  async vacuum(): Promise<void> {
    this.open()
    this.flushTouches()
    await this.write(() => this.db.exec('VACUUM'))
    await this.busy.truncateWal(this.db)
  }

  private prune(now: number, limit: number): number {
    this.open()
    // Never waits for another process's lock: a locked store prunes nothing now, and next run.
    const n = this.readOnly ? 0 : this.busy.orElse(() => this.stmt.prune.run(now, limit).changes, 0)
    if (n > 0) shrink(this.db)
    return n
  }

  private leaseRows(): SQLiteLeases {
    this.open()
    return (this.leaseTable ??= new SQLiteLeases(this.db))
  }

  async close(): Promise<void> {
    if (!this.db.open) return
    // What is still queued gets one try, without waiting for another process's lock.
    this.batch.commitNow()
    this.touches.stop()
    this.flushTouches()
    this.db.close()
  }
}

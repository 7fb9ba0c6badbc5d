/**
 * SQLiteBackend (better-sqlite3): one file, many processes. WAL so readers never wait for the
 * writer, synchronous=NORMAL (durable across process crashes, fast), a busy timeout for writers
 * of other processes, statements prepared once. A hit is one indexed read and no write.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { decodeMeta, encodeMeta, FORMAT_VERSION } from '../entry.js'
import { ConfigError, show } from '../errors.js'
import type { Backend, CacheRecord, EntryFilter, EntryMeta } from '../types.js'

export interface SQLiteBackendOptions {
  /** Database file. Default `http_cache.sqlite`. */
  path?: string
  /** How long a write waits for another process's lock, in ms. Default 5000. */
  busyTimeout?: number
}

/** The format version lives in the table name: a new format is a new table, never a misread. */
const TABLE = `responses_v${FORMAT_VERSION}`

type Row = [string, Buffer]

export class SQLiteBackend implements Backend {
  readonly path: string
  private readonly db: Database.Database
  private readonly stmt: {
    get: Database.Statement<[string], Row>
    set: Database.Statement<[string, string, string, number, number, number | null, number, string, Uint8Array]>
    delete: Database.Statement<[string]>
    clear: Database.Statement<[]>
  }

  constructor(options: SQLiteBackendOptions = {}) {
    this.path = options.path ?? 'http_cache.sqlite'
    const busyTimeout = options.busyTimeout ?? 5000
    if (!Number.isInteger(busyTimeout) || busyTimeout < 0) {
      throw new ConfigError(`SQLiteBackend busyTimeout: expected milliseconds; got ${show(options.busyTimeout)}`)
    }
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true })
    this.db = new Database(this.path, { timeout: busyTimeout })
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = NORMAL')
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS ${TABLE} (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        url TEXT NOT NULL,
        method TEXT NOT NULL,
        status INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        size INTEGER NOT NULL,
        meta TEXT NOT NULL,
        body BLOB NOT NULL
      );
      CREATE INDEX IF NOT EXISTS ${TABLE}_url ON ${TABLE}(url);
      CREATE INDEX IF NOT EXISTS ${TABLE}_expires ON ${TABLE}(expires_at);
    `)
    this.stmt = {
      get: this.db.prepare<[string], Row>(`SELECT meta, body FROM ${TABLE} WHERE key = ?`).raw(true),
      set: this.db.prepare(
        `INSERT INTO ${TABLE} (key, url, method, status, created_at, expires_at, size, meta, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET url = excluded.url, method = excluded.method, status = excluded.status,
           created_at = excluded.created_at, expires_at = excluded.expires_at, size = excluded.size,
           meta = excluded.meta, body = excluded.body`,
      ),
      delete: this.db.prepare(`DELETE FROM ${TABLE} WHERE key = ?`),
      clear: this.db.prepare(`DELETE FROM ${TABLE}`),
    }
  }

  async get(key: string): Promise<CacheRecord | undefined> {
    return this.getSync(key)
  }

  /** The synchronous read, for callers that want to skip a promise turn. */
  getSync(key: string): CacheRecord | undefined {
    const row = this.stmt.get.get(key)
    if (row === undefined) return undefined
    return { meta: decodeMeta(row[0]), body: row[1] }
  }

  async set(key: string, record: CacheRecord): Promise<void> {
    const m = record.meta
    this.stmt.set.run(key, m.url, m.method, m.status, m.createdAt, m.expiresAt, record.body.byteLength, encodeMeta(m), record.body)
  }

  async delete(keys: readonly string[]): Promise<number> {
    const run = this.db.transaction((list: readonly string[]) => {
      let n = 0
      for (const key of list) n += this.stmt.delete.run(key).changes
      return n
    })
    return run(keys)
  }

  async *entries(filter: EntryFilter = {}): AsyncIterable<[string, EntryMeta]> {
    const where: string[] = []
    const params: Array<string | number> = []
    if (filter.urls) {
      if (filter.urls.length === 0) return
      where.push(`url IN (${filter.urls.map(() => '?').join(', ')})`)
      params.push(...filter.urls)
    }
    if (filter.expiredAt !== undefined) {
      where.push('expires_at IS NOT NULL AND expires_at <= ?')
      params.push(filter.expiredAt)
    }
    if (filter.createdBefore !== undefined) {
      where.push('created_at < ?')
      params.push(filter.createdBefore)
    }
    const sql = `SELECT key, meta FROM ${TABLE}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id`
    // Read the rows first: callers may delete while iterating, which an open cursor forbids.
    const rows = this.db.prepare<Array<string | number>, [string, string]>(sql).raw(true).all(...params)
    for (const [key, meta] of rows) {
      try {
        yield [key, decodeMeta(meta)]
      } catch {
        // An undecodable row is skipped here; a get() of it reports and removes it.
      }
    }
  }

  async clear(): Promise<void> {
    this.stmt.clear.run()
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close()
  }
}

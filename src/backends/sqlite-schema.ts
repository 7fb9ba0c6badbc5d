/**
 * The SQLite backend's tables, their upgrades, and the per-entry checksum.
 *
 * Every entry carries its body size and a CRC-32 of its metadata and body, checked on each
 * read: a torn write, a flipped byte or a page of garbage makes the entry a miss (and the engine
 * removes it), never a wrong response. CRC-32 because it is built in (`zlib.crc32`, Node ≥
 * 20.15), costs ~0.4 µs for a 1 KiB entry (under 1% of a hit) and catches every burst error up
 * to 32 bits; xxHash would need a dependency for a gain that a hit does not notice, and SQLite's
 * own checksums (the cksumvfs extension) are not built into better-sqlite3.
 */
import { crc32 } from 'node:zlib'
import type Database from 'better-sqlite3'
import { FORMAT_VERSION, knownMeta, rememberMeta } from './entry.js'
import type { CacheRecord, EntryFilter } from './contract.js'
import { CorruptEntryError } from '../util/errors.js'

/** The format version lives in the table name: a new format is a new table, never a misread. */
export const TABLE = `responses_v${FORMAT_VERSION}`
export const TOTALS = `${TABLE}_totals`

/** The checksum stored with an entry: CRC-32 over its metadata text, then its body. */
export function checksum(meta: string, body: Uint8Array, metaCrc = crc32(meta)): number {
  // Node's crc32 answers 0 for the empty Buffer better-sqlite3 returns for an empty BLOB.
  return body.byteLength === 0 ? metaCrc : crc32(body, metaCrc)
}

/** A row as the get statement reads it: meta text, body, stored body size, CRC (null in rows written before checksums). */
export type Row = [string, Buffer, number, number | null]

/**
 * The entry a row holds, checked: a damaged entry is a miss, never wrong bytes. The text's CRC
 * comes with its decoding while the text is unchanged (entry.ts knownMeta); the body is hashed
 * on every read, and equal text has an equal CRC.
 */
export function checkedRecord(key: string, [meta, body, size, crc]: Row): CacheRecord {
  if (body.byteLength !== size) throw new CorruptEntryError(`entry ${key}: body is ${body.byteLength} bytes, stored size ${size}`)
  const known = knownMeta(key, meta)
  const metaCrc = known ? (known.crc ??= crc32(meta)) : crc32(meta)
  if (crc !== null && crc !== checksum(meta, body, metaCrc)) throw new CorruptEntryError(`entry ${key}: checksum mismatch`)
  return { meta: known?.meta ?? rememberMeta(key, meta, metaCrc), body }
}

/** Columns every build of this format wrote; a table without one of them is not ours to read. */
const REQUIRED = ['id', 'key', 'url', 'method', 'status', 'created_at', 'expires_at', 'dead_at', 'accessed_at', 'size', 'weight', 'meta', 'body']

function columnsOf(db: Database.Database): string[] {
  return db.prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${TABLE}')`).all().map((c) => c.name)
}

/** Whether the schema is complete as this build needs it: then opening writes nothing. */
export function ready(db: Database.Database): boolean {
  const columns = columnsOf(db)
  if (!REQUIRED.every((c) => columns.includes(c)) || !columns.includes('crc')) return false
  return db.prepare(`SELECT 1 FROM sqlite_master WHERE name = '${TOTALS}'`).get() !== undefined &&
    db.prepare(`SELECT 1 FROM ${TOTALS} WHERE id = 0`).get() !== undefined
}

/**
 * Set the file up: pragmas, then (only if something is missing) the tables, in one IMMEDIATE
 * transaction, so two processes opening a new file at once never both add a column.
 */
export function createSchema(db: Database.Database): void {
  // Only takes effect on a new file (before the first table); see SQLiteBackend.shrink().
  db.pragma('auto_vacuum = INCREMENTAL')
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  // A WAL grown by a large write is cut back to this size once checkpointed.
  db.pragma(`journal_size_limit = ${16 * 1024 * 1024}`)
  // WAL pages between automatic checkpoints: 16 MiB at 4 KiB pages, the size the WAL is cut back
  // to anyway. SQLite's default, 1,000 pages, checkpoints (and fsyncs) every ~150 misses of
  // 1 KiB; fewer, larger checkpoints also write each hot index page once, not per checkpoint.
  db.pragma('wal_autocheckpoint = 4096')
  if (ready(db)) return
  let dropped = false
  db.transaction(() => {
    const columns = columnsOf(db)
    if (columns.length > 0 && !REQUIRED.every((c) => columns.includes(c))) {
      // A table from a pre-release build of this format: a cache may start over, it may not crash.
      db.exec(`DROP TABLE IF EXISTS ${TABLE}; DROP TABLE IF EXISTS ${TOTALS}`)
      dropped = true
    } else if (columns.length > 0 && !columns.includes('crc')) {
      // Files written before checksums: their rows keep crc NULL and are checked by size only.
      db.exec(`ALTER TABLE ${TABLE} ADD COLUMN crc INTEGER`)
    }
    createTables(db)
  }).immediate()
  if (dropped && db.pragma('auto_vacuum', { simple: true }) === 0) db.exec('VACUUM')
}

function createTables(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS ${TABLE} (
      id INTEGER PRIMARY KEY,
      key TEXT NOT NULL UNIQUE,
      url TEXT NOT NULL,
      method TEXT NOT NULL,
      status INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      expires_at INTEGER,
      -- when the entry is of no use at all (expired, past its stale windows); NULL: never
      dead_at INTEGER,
      -- last write or (batched) read, in microseconds since the epoch
      accessed_at INTEGER NOT NULL,
      -- body bytes
      size INTEGER NOT NULL,
      -- bytes counted against maxSize: body plus metadata
      weight INTEGER NOT NULL,
      meta TEXT NOT NULL,
      body BLOB NOT NULL,
      -- checksum(meta, body); NULL in rows written before checksums existed
      crc INTEGER
    );
    CREATE INDEX IF NOT EXISTS ${TABLE}_url ON ${TABLE}(url);
    CREATE INDEX IF NOT EXISTS ${TABLE}_expires ON ${TABLE}(expires_at);
    CREATE INDEX IF NOT EXISTS ${TABLE}_created ON ${TABLE}(created_at);
    CREATE INDEX IF NOT EXISTS ${TABLE}_dead ON ${TABLE}(dead_at);
    CREATE INDEX IF NOT EXISTS ${TABLE}_accessed ON ${TABLE}(accessed_at);
    CREATE TABLE IF NOT EXISTS ${TOTALS} (
      id INTEGER PRIMARY KEY CHECK (id = 0),
      entries INTEGER NOT NULL,
      bytes INTEGER NOT NULL
    );
    CREATE TRIGGER IF NOT EXISTS ${TABLE}_insert AFTER INSERT ON ${TABLE} BEGIN
      UPDATE ${TOTALS} SET entries = entries + 1, bytes = bytes + NEW.weight WHERE id = 0;
    END;
    CREATE TRIGGER IF NOT EXISTS ${TABLE}_delete AFTER DELETE ON ${TABLE} BEGIN
      UPDATE ${TOTALS} SET entries = entries - 1, bytes = bytes - OLD.weight WHERE id = 0;
    END;
    CREATE TRIGGER IF NOT EXISTS ${TABLE}_update AFTER UPDATE OF weight ON ${TABLE} BEGIN
      UPDATE ${TOTALS} SET bytes = bytes - OLD.weight + NEW.weight WHERE id = 0;
    END;
  `)
  // Count the table once, when the totals row is first made: not on every open, which would
  // scan every row (25 ms at 10,000 entries) before the first hit.
  db.exec(`INSERT OR IGNORE INTO ${TOTALS} SELECT 0, count(*), coalesce(sum(weight), 0) FROM ${TABLE}`)
}

/** Values bound to a statement's `?`s. */
export type Params = Array<string | number>

/** An EntryFilter as a WHERE clause on the indexed columns; undefined when nothing can match. */
export function whereClause(filter: EntryFilter): { sql: string; params: Params } | undefined {
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

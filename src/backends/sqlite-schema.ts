/**
 * The SQLite file's schema and connection settings (see sqlite.ts): one table of responses with
 * the columns eviction and filters need, indexed, and a trigger-maintained totals row.
 */
import type Database from 'better-sqlite3'
import { FORMAT_VERSION } from './entry.js'

/** The format version lives in the table name: a new format is a new table, never a misread. */
const TABLE = `responses_v${FORMAT_VERSION}`
const TOTALS = `${TABLE}_totals`
export const SCHEMA = { TABLE, TOTALS } as const

/**
 * WAL pages between automatic checkpoints: 16 MiB at 4 KiB pages, the size the WAL is cut back
 * to anyway (journal_size_limit). SQLite's default, 1,000 pages, checkpoints (and fsyncs) every
 * ~150 misses of 1 KiB; fewer, larger checkpoints also write each hot index page once, not per
 * checkpoint.
 */
const AUTOCHECKPOINT_PAGES = 4096

/** Settings of the connection, and the tables, indexes and triggers if the file has none yet. */
export function createSchema(db: Database.Database): void {
  // Only takes effect on a new file (before the first table); see shrink().
  db.pragma('auto_vacuum = INCREMENTAL')
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  // A WAL grown by a large write is cut back to this size once checkpointed.
  db.pragma(`journal_size_limit = ${16 * 1024 * 1024}`)
  db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`)
  const columns = db.prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${TABLE}')`).all().map((c) => c.name)
  if (columns.length > 0 && !columns.includes('accessed_at')) {
    // A table from a pre-release build of this format: a cache may start over, it may not crash.
    db.exec(`DROP TABLE IF EXISTS ${TABLE}; DROP TABLE IF EXISTS ${TOTALS}`)
    if (db.pragma('auto_vacuum', { simple: true }) === 0) db.exec('VACUUM')
  }
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
      size INTEGER NOT NULL,
      -- bytes counted against maxSize: body plus metadata
      weight INTEGER NOT NULL,
      meta TEXT NOT NULL,
      body BLOB NOT NULL
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
  if (db.prepare(`SELECT 1 FROM ${TOTALS} WHERE id = 0`).get() === undefined) {
    db.exec(`INSERT OR IGNORE INTO ${TOTALS} SELECT 0, count(*), coalesce(sum(weight), 0) FROM ${TABLE}`)
  }
}

/**
 * Leases in SQLite: one row per key being fetched, taken with a single conditional upsert, so
 * two processes can never both hold it. An expired row (a crashed holder) is taken over.
 */
import type Database from 'better-sqlite3'
import { FORMAT_VERSION } from './entry.js'

const TABLE = `leases_v${FORMAT_VERSION}`

export class SQLiteLeases {
  private readonly take: Database.Statement<[string, string, number, number]>
  private readonly give: Database.Statement<[string, string]>

  constructor(db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL)`)
    // Insert, or overwrite only a lease that has expired or that we already hold.
    this.take = db.prepare(
      `INSERT INTO ${TABLE} (key, owner, expires_at) VALUES (?, ?, ?)
       ON CONFLICT(key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE ${TABLE}.expires_at <= ? OR ${TABLE}.owner = excluded.owner`,
    )
    this.give = db.prepare(`DELETE FROM ${TABLE} WHERE key = ? AND owner = ?`)
  }

  acquire(key: string, owner: string, ttlMs: number): boolean {
    const now = Date.now()
    return this.take.run(key, owner, now + ttlMs, now).changes === 1
  }

  release(key: string, owner: string): void {
    this.give.run(key, owner)
  }
}

/**
 * Leases in SQLite: one row per key being fetched, taken with a single conditional upsert, so
 * two processes can never both hold it. An expired row (a crashed holder) is taken over.
 *
 * The holder's release is folded into the transaction that stores the entry (`releaseWith`):
 * the entry appears and the lease goes in one commit, and the engine's release() that follows
 * is then a no-op instead of a write transaction of its own.
 */
import type Database from 'better-sqlite3'
import { FORMAT_VERSION } from './entry.js'

const TABLE = `leases_v${FORMAT_VERSION}`

export class SQLiteLeases {
  private readonly take: Database.Statement<[string, string, number, number]>
  private readonly give: Database.Statement<[string, string]>
  /** Leases this connection holds: key → owner. */
  private readonly held = new Map<string, string>()

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
    const taken = this.take.run(key, owner, now + ttlMs, now).changes === 1
    if (taken) this.held.set(key, owner)
    return taken
  }

  release(key: string, owner: string): void {
    // Already released with the entry's write (or never ours): nothing to write.
    if (this.held.get(key) !== owner) return
    this.held.delete(key)
    this.give.run(key, owner)
  }

  /**
   * Inside the transaction that writes `key`: release the lease this connection holds on it.
   * Returns a function to call once that transaction has committed (a rolled-back write keeps
   * the lease, and the engine's release() still gives it back).
   */
  releaseWith(key: string): (() => void) | undefined {
    const owner = this.held.get(key)
    if (owner === undefined) return undefined
    this.give.run(key, owner)
    return () => {
      if (this.held.get(key) === owner) this.held.delete(key)
    }
  }
}

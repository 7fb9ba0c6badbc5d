/**
 * Waiting for another process's write lock without freezing this one. better-sqlite3 is
 * synchronous: SQLite's own busy handler sleeps inside the call, blocking the whole event loop
 * for up to busyTimeout (5 s by default) — every request of the process stops, and so do the
 * timers that bound each request's waits (issue 11). So a write takes the lock without waiting
 * (busy_timeout = 0) and, when another process holds it, tries again after a short asynchronous
 * pause, for up to busyTimeout in all: the same patience, with the event loop free meanwhile.
 * The engine races these calls against each request's deadline, so no request waits them out.
 *
 * Reads keep SQLite's busy handler: in WAL mode a reader never waits for a writer (it reads the
 * last committed snapshot); it can meet a lock only while another connection rebuilds the WAL
 * index after a crash, which is brief. Toggling busy_timeout around every read would cost a hit
 * more than that risk.
 */
import type Database from 'better-sqlite3'
import { setTimeout as sleep } from 'node:timers/promises'
import { sqliteCode } from './sqlite-open.js'

/** First pause after a busy lock, and the longest one (ms). */
const FIRST_PAUSE_MS = 2
const MAX_PAUSE_MS = 50

export function isBusy(error: unknown): boolean {
  const code = sqliteCode(error)
  return code !== undefined && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
}

export class BusyRetry {
  /**
   * The two busy_timeout settings as prepared statements: `db.pragma()` prepares its statement
   * anew on each call, which cost about 20 µs of CPU per miss (three writes, two calls each).
   */
  private readonly noWait: Database.Statement
  private readonly wait: Database.Statement

  constructor(
    private readonly db: Database.Database,
    private readonly busyTimeout: number,
  ) {
    this.noWait = db.prepare('PRAGMA busy_timeout = 0')
    this.wait = db.prepare(`PRAGMA busy_timeout = ${busyTimeout}`)
  }

  /** Run `fn` now, failing with SQLITE_BUSY at once rather than waiting in SQLite for the lock. */
  now<T>(fn: () => T): T {
    // Inside a transaction this connection holds the lock already.
    if (this.db.inTransaction) return fn()
    this.noWait.get()
    try {
      return fn()
    } finally {
      this.wait.get()
    }
  }

  /** Run `fn` now; when another process holds the lock, `locked` instead (the work waits for a next time). */
  orElse<T>(fn: () => T, locked: T): T {
    try {
      return this.now(fn)
    } catch (error) {
      if (isBusy(error)) return locked
      throw error
    }
  }

  /** Run `fn`, trying again while the lock is held elsewhere, for up to busyTimeout; then its error. */
  async run<T>(fn: () => T): Promise<T> {
    const started = performance.now()
    let pause = FIRST_PAUSE_MS
    for (;;) {
      try {
        return this.now(fn)
      } catch (error) {
        const waited = performance.now() - started
        if (!isBusy(error) || waited >= this.busyTimeout) throw error
        await sleep(Math.min(pause, this.busyTimeout - waited))
        pause = Math.min(pause * 2, MAX_PAUSE_MS)
      }
    }
  }
}

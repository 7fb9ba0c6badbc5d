/**
 * Waiting for another process's write lock without freezing this one. better-sqlite3 is
 * synchronous: SQLite's own busy handler sleeps inside the call, blocking the whole event loop
 * for up to busyTimeout (5 s by default) — every request of the process stops, and so do the
 * timers that bound each request's waits (issue 11). So a write takes the lock without waiting
 * (busy_timeout = 0) and, when another process holds it, tries again after a short asynchronous
 * pause, for up to busyTimeout in all: the same patience, with the event loop free meanwhile.
 * The engine races these calls against each request's deadline, so no request waits them out.
 *
 * The connection's busy_timeout is 0 once the file is open, reads included: in WAL mode a
 * reader never waits for a writer (it reads the last committed snapshot) and can meet a lock
 * only while another connection rebuilds the WAL index after a crash; such a read is retried
 * the same way (sqlite.ts get), so a hit pays nothing for it.
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
  constructor(
    db: Database.Database,
    private readonly busyTimeout: number,
  ) {
    // For good, once the file is open: toggling it around each write took two statements per
    // write (about 8 µs of CPU per miss, three writes); every call that can meet the lock
    // goes through run() or orElse() instead, and a read that meets it (rare in WAL) too.
    db.pragma('busy_timeout = 0')
  }

  /** Run `fn` now; when another process holds the lock, `locked` instead (the work waits for a next time). */
  orElse<T>(fn: () => T, locked: T): T {
    try {
      return fn()
    } catch (error) {
      if (isBusy(error)) return locked
      throw error
    }
  }

  /**
   * Checkpoint the WAL and truncate it to nothing (vacuum). A checkpoint that meets another
   * process's reader does not fail: it says busy = 1 in its row. Made an error, it is waited out
   * like any lock; still read after busyTimeout, the WAL is truncated by a later checkpoint.
   */
  async truncateWal(db: Database.Database): Promise<void> {
    await this.run(() => {
      const [row] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>
      if (row?.busy === 1) throw Object.assign(new Error('WAL checkpoint blocked by a reader'), { code: 'SQLITE_BUSY' })
    }).catch((error: unknown) => {
      if (!isBusy(error)) throw error
    })
  }

  /** Run `fn`, trying again while the lock is held elsewhere, for up to busyTimeout; then its error. */
  async run<T>(fn: () => T): Promise<T> {
    const started = performance.now()
    let pause = FIRST_PAUSE_MS
    for (;;) {
      try {
        return fn()
      } catch (error) {
        const waited = performance.now() - started
        if (!isBusy(error) || waited >= this.busyTimeout) throw error
        await sleep(Math.min(pause, this.busyTimeout - waited))
        pause = Math.min(pause * 2, MAX_PAUSE_MS)
      }
    }
  }
}

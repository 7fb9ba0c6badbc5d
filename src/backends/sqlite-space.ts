/**
 * Giving disk space back after a large delete: incremental vacuum moves pages from the end of
 * the file into the holes, then a checkpoint truncates the file. Skipped when few pages are
 * free (the next writes reuse them) or when the file was not created with
 * auto_vacuum=INCREMENTAL (then only vacuum() shrinks it).
 */
import type Database from 'better-sqlite3'
import { isBusy } from './sqlite-busy.js'

/** After a delete, free pages are given back when there are at least this many bytes of them… */
const SHRINK_MIN_BYTES = 1024 * 1024
/** …and they are at least this share of the file. Eviction under a cap reuses pages instead. */
const SHRINK_MIN_SHARE = 0.25

export function shrink(db: Database.Database): void {
  try {
    // Best effort, and never a wait: another process may hold the lock again by now.
    shrinkNow(db)
  } catch (error) {
    if (!isBusy(error)) throw error
  }
}

function shrinkNow(db: Database.Database): void {
  const free = db.pragma('freelist_count', { simple: true }) as number
  if (free === 0 || db.pragma('auto_vacuum', { simple: true }) !== 2) return
  const pageSize = db.pragma('page_size', { simple: true }) as number
  const pages = db.pragma('page_count', { simple: true }) as number
  if (free * pageSize < SHRINK_MIN_BYTES || free < pages * SHRINK_MIN_SHARE) return
  db.pragma('incremental_vacuum')
  db.pragma('wal_checkpoint(PASSIVE)')
}

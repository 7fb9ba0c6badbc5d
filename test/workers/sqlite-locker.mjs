// Another process on a SQLite cache file, stalling the others:
//   node sqlite-locker.mjs <sqlite path> lock         holds the write lock (BEGIN IMMEDIATE)
//   node sqlite-locker.mjs <sqlite path> lease <key>  holds the lease on <key> and never writes the entry
//   node sqlite-locker.mjs <sqlite path> read <ms>    holds a read transaction for <ms>, then ends it
// Prints "locked" once it holds it, and keeps it until its stdin closes (or 20 s).
import { createRequire } from 'node:module'

const Database = createRequire(import.meta.url)('better-sqlite3')
const [path, mode = 'lock', key] = process.argv.slice(2)
const db = new Database(path)
db.pragma('journal_mode = WAL')
if (mode === 'lease') {
  // The row a lease holder writes (src/backends/sqlite-lease.ts), valid for a minute.
  db.prepare('INSERT OR REPLACE INTO leases_v1 (key, owner, expires_at) VALUES (?, ?, ?)').run(key, `${process.pid}:child`, Date.now() + 60_000)
} else if (mode === 'read') {
  // A reader's snapshot: a WAL checkpoint cannot truncate the WAL past it while it is open.
  db.exec('BEGIN')
  db.prepare('SELECT count(*) FROM responses_v1').get()
  setTimeout(() => db.exec('COMMIT'), Number(key)).unref()
} else {
  db.exec('BEGIN IMMEDIATE')
}
process.stdout.write('locked\n')
const done = () => {
  if (db.inTransaction) db.exec('ROLLBACK')
  db.close()
  process.exit(0)
}
process.stdin.on('end', done).resume()
setTimeout(done, 20_000).unref()

// Holds the write lock of a SQLite file, as another process's long write would: opens it,
// runs BEGIN IMMEDIATE, prints "locked", and keeps the lock until its stdin closes (or 20 s).
// node sqlite-locker.mjs <sqlite path>
import { createRequire } from 'node:module'

const Database = createRequire(import.meta.url)('better-sqlite3')
const db = new Database(process.argv[2])
db.pragma('journal_mode = WAL')
db.exec('BEGIN IMMEDIATE')
process.stdout.write('locked\n')
const done = () => {
  db.exec('ROLLBACK')
  db.close()
  process.exit(0)
}
process.stdin.on('end', done).resume()
setTimeout(done, 20_000).unref()

/**
 * Opening a SQLite cache file, and what a cache does when it cannot.
 *
 * `openDatabase` opens one file as asked, or throws a BackendError that names the file and
 * SQLite's code: inspection (`openCache`, the CLI) is asked about that file and says so.
 *
 * `openForCache` is the caches' way in (createCachedFetch, cacheInterceptor, installCache): a
 * cache must never be the reason a program fails to start, so it walks down a ladder and says
 * on `onError` which rung it stopped on:
 *   1. the file, read-write;
 *   2. a damaged file (not a database, corrupt, a table we cannot use) is renamed aside to
 *      `<file>.corrupt-<time>` with its -wal and -shm (kept for a post-mortem, never deleted)
 *      and a new one is made;
 *   3. a location we cannot write (read-only folder or file, full disk, locked too long): the
 *      existing file, read-only — hits are served, nothing is stored;
 *   4. otherwise no cache at all: every request goes to the origin.
 */
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, renameSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { BackendError, CorruptEntryError } from '../util/errors.js'
import type { Backend, BackendStats, CacheRecord, EntryMeta } from './contract.js'
import { createSchema, ready } from './sqlite-schema.js'

/** SQLite's error code of a failure (`SQLITE_NOTADB`, …), or Node's (`EACCES`). */
export function sqliteCode(error: unknown): string | undefined {
  let e: unknown = error
  // BackendErrors made here carry SQLite's error as their cause.
  while (e instanceof BackendError && e.cause !== undefined) e = e.cause
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined
  return typeof code === 'string' ? code : undefined
}

/** A failed read as the engine should see it: a damaged page under the entry is, like a bad checksum, a miss it removes. */
export function readFault(key: string, error: unknown): unknown {
  const code = sqliteCode(error)
  return code?.startsWith('SQLITE_CORRUPT') ? new CorruptEntryError(`entry ${key}: damaged page (${code})`) : error
}

/** The file's content is not a cache we can use: move it aside rather than fail or overwrite it. */
function damaged(code: string | undefined): boolean {
  return code !== undefined && /^SQLITE_(NOTADB|CORRUPT|FORMAT|ERROR)/.test(code)
}

let addonPath: string | null | undefined

/**
 * The file of better-sqlite3's addon where `bindings` would find it in a standard build
 * (build/Release), handed to better-sqlite3 as `nativeBinding`: `bindings` reads a stack trace
 * and tries paths (about 2 ms of a cold start). bindings tries build/ and build/Debug first, so
 * if either holds one, or anything fails: undefined, and better-sqlite3 asks `bindings` as usual.
 */
function nativeBinding(): string | undefined {
  if (addonPath === undefined) {
    addonPath = null
    try {
      const build = join(dirname(dirname(fileURLToPath(import.meta.resolve('better-sqlite3')))), 'build')
      const file = 'better_sqlite3.node'
      const release = join(build, 'Release', file)
      if (!existsSync(join(build, file)) && !existsSync(join(build, 'Debug', file)) && existsSync(release)) addonPath = release
    } catch {
      addonPath = null
    }
  }
  return addonPath ?? undefined
}

export function openDatabase(path: string, busyTimeout: number, readOnly: boolean): Database.Database {
  let db: Database.Database | undefined
  try {
    if (readOnly) {
      db = new Database(path, { timeout: busyTimeout, readonly: true, fileMustExist: true, nativeBinding: nativeBinding() })
      if (!ready(db)) throw new BackendError(`the file has no cache tables of this format`)
      return db
    }
    if (path !== ':memory:') {
      // Cached responses may be private: a folder we make is the user's alone (0700), and so
      // is a new file (0600; SQLite gives its -wal and -shm the file's mode).
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
      // SQLite opens a write-protected file read-only without a word; every write would then
      // fail. Find out now (cheaply: no lock taken), so the cache can choose what to do.
      if (existsSync(path)) accessSync(path, constants.W_OK)
      else closeSync(openSync(path, 'a', 0o600))
    }
    db = new Database(path, { timeout: busyTimeout, nativeBinding: nativeBinding() })
    createSchema(db)
    return db
  } catch (error) {
    db?.close()
    const code = sqliteCode(error)
    throw new BackendError(`cannot open SQLite cache ${path}${readOnly ? ' read-only' : ''}: ${(error as Error).message}${code ? ` (${code})` : ''}`, error)
  }
}

/** Rename a damaged file and its WAL and shared-memory files aside; returns the new name. */
function moveAside(path: string): string {
  const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`
  renameSync(path, aside)
  for (const suffix of ['-wal', '-shm']) {
    if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix)
  }
  return aside
}

export interface Opened<B> {
  backend: B | NoBackend
  /** The engine must not write: the backend was opened read-only, or there is none. */
  readOnly: boolean
  /** What went wrong on the way, for `onError`. */
  problems: BackendError[]
}

/** Open a cache's SQLite file by the ladder above; never throws for a fault of the file or folder. */
export function openForCache<B>(path: string, open: (readOnly: boolean) => B): Opened<B> {
  const problems: BackendError[] = []
  let failure: unknown
  try {
    return { backend: open(false), readOnly: false, problems }
  } catch (error) {
    failure = error
  }
  if (damaged(sqliteCode(failure)) && existsSync(path)) {
    try {
      const aside = moveAside(path)
      problems.push(new BackendError(`${(failure as Error).message}; the damaged file was moved to ${aside} and a new cache started`, failure))
      return { backend: open(false), readOnly: false, problems }
    } catch (error) {
      failure = error
    }
  }
  problems.push(failure instanceof BackendError ? failure : new BackendError(`cannot open SQLite cache ${path}`, failure))
  try {
    const backend = open(true)
    problems.push(new BackendError(`SQLite cache ${path} opened read-only: responses are served from it, none is stored`))
    return { backend, readOnly: true, problems }
  } catch (error) {
    problems.push(new BackendError(`SQLite cache ${path} cannot be used at all; requests go uncached`, error))
    return { backend: new NoBackend(), readOnly: true, problems }
  }
}

/** The store of a cache that could not open its own: holds nothing, fails nothing. */
export class NoBackend implements Backend {
  async get(): Promise<CacheRecord | undefined> {
    return undefined
  }
  async set(): Promise<void> {}
  async delete(): Promise<number> {
    return 0
  }
  async deleteMatching(): Promise<number> {
    return 0
  }
  async *entries(): AsyncIterable<[string, EntryMeta]> {}
  async stats(): Promise<BackendStats> {
    return { entries: 0, bytes: 0 }
  }
  async clear(): Promise<void> {}
  async close(): Promise<void> {}
}

/**
 * FileBackend on cacache: a folder that several processes may use at once.
 *
 * Layout (format version 1):
 * - each entry is one cacache index entry under the key `fetchcache:v1:<key>`; its `metadata`
 *   is the versioned EntryMeta, so listing, filtering and expiry read the index only, never a
 *   body;
 * - the body lives in cacache's content-addressed store (`content-v2/`), prefixed with the
 *   SHA-256 of the index key. The prefix makes every content file belong to exactly one entry
 *   (two entries with equal bodies do not share a file), so `delete` can remove an entry's index
 *   bucket *and* its content at once: no tombstones, no content left behind for a later GC;
 * - the content file's modification time is the entry's recency for LRU eviction: a write sets
 *   it, hits are batched in memory and written at most once per `touchInterval`.
 *
 * Writes are cacache's: content to a temp file renamed into place, index lines appended with a
 * checksum, so a reader in another process never sees half an entry. An overwritten key's bucket
 * is compacted and its old content removed. Races between processes can at worst leave an
 * orphaned content file or make an entry a miss. What a killed writer leaves (temp files,
 * orphaned bodies) is swept on open and by `vacuum()`: see file-leftovers.ts for how a writer
 * is known to be gone.
 */
import { mkdir, rm, stat, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { checkMeta } from './entry.js'
import { BackendError, ConfigError, CorruptEntryError, show } from '../util/errors.js'
import type { Backend, BackendLeases, BackendMaintenance, BackendPruning, BackendStats, CacheRecord, EntryFilter, EntryMeta } from './contract.js'
import { cc, eachLimit, errorCode, type IndexEntry, PREFIX, SALT, salt } from './file-cacache.js'
import { FileEviction, type Touch } from './file-eviction.js'
import { FileLeases } from './file-lease.js'
import { sweepLeftovers, type SweepResult, writerId } from './file-leftovers.js'
import { matchesFilter } from './filter.js'
import { checkOptions, DEFAULT_MAX_SIZE, fits, isDead, LIMIT_OPTIONS, type Limits, positive, recencyTick, resolveLimits, weigh } from './limits.js'
import { TouchBuffer } from './touches.js'

export interface FileBackendOptions {
  /** The cache folder. Default `http_cache`. */
  path?: string
  /** Most entries kept; the least recently used go first. Default: unbounded. */
  maxEntries?: number
  /** Most bytes of bodies and metadata kept. Default 1 GiB (DEFAULT_MAX_SIZE); Infinity: unbounded. */
  maxSize?: number
  /** Largest entry (body and metadata) stored; larger ones are silently not stored. Default: maxSize. */
  maxEntrySize?: number
  /** Access times of hits are written in one batch at most this often, in ms. Default 10000. */
  touchInterval?: number
  /** Told of faults of the background sweep of crash leftovers on open. Default: ignored. */
  onError?: (error: unknown) => void
}

export class FileBackend implements Backend {
  readonly path: string
  /** The limits in force (maxSize defaults to DEFAULT_MAX_SIZE): `fetchcache stats` shows them. */
  readonly limits: Readonly<Limits>
  /** Resolves (never rejects) when the sweep of crash leftovers started on open is done. */
  readonly swept: Promise<SweepResult | undefined>
  /** This backend's temp folder name under `tmp/`: see file-leftovers.ts. */
  private readonly writer = writerId()
  /** Writes started, so that a sweep knows whether this backend stayed idle meanwhile. */
  private writes = 0
  private registered: Promise<void> | undefined
  private readonly touches: TouchBuffer<Touch>
  private closed = false
  private readonly inFlight = new Set<Promise<unknown>>()
  private readonly eviction: FileEviction
  private readonly writing = new Map<string, Promise<void>>()
  private readonly lockFiles: FileLeases
  /** Capability: cross-process leases, an O_EXCL lock file per key. */
  readonly leases: BackendLeases = {
    acquire: (key, owner, ttlMs) => this.run(() => this.lockFiles.acquire(key, owner, ttlMs)),
    release: (key, owner) => this.run(() => this.lockFiles.release(key, owner)),
  }
  /** Capability: cacache garbage collection. */
  readonly maintenance: BackendMaintenance = { vacuum: () => this.vacuum() }
  /** Capability: entries of no use removed, found through the eviction index (no body read). */
  readonly pruning: BackendPruning = { prune: (now, limit) => this.run(() => this.prune(now, limit)) }

  constructor(options: FileBackendOptions = {}) {
    const o = checkOptions(options, ['path', 'touchInterval', 'onError', ...LIMIT_OPTIONS], 'FileBackend')
    if (o.path !== undefined && (typeof o.path !== 'string' || o.path === '')) {
      throw new ConfigError(`FileBackend path: expected a folder name; got ${show(o.path)}`)
    }
    this.path = (o.path as string | undefined) ?? 'http_cache'
    this.limits = resolveLimits(o, 'FileBackend', { maxSize: DEFAULT_MAX_SIZE })
    if (o.onError !== undefined && typeof o.onError !== 'function') throw new ConfigError(`FileBackend onError: expected a function; got ${show(o.onError)}`)
    const onError = (o.onError as ((error: unknown) => void) | undefined) ?? (() => {})
    const touchInterval = positive(o.touchInterval, 'FileBackend touchInterval', 10_000)
    this.touches = new TouchBuffer<Touch>(touchInterval, (batch) => this.writeTouches(batch))
    this.eviction = new FileEviction(this.path, this.limits, this.touches, (entry) => this.remove(entry))
    this.lockFiles = new FileLeases(this.path)
    // In the background: a request never waits for it, and a fault is only reported.
    this.swept = this.run(() => this.sweep(false)).catch((error: unknown) => {
      if (this.closed && error instanceof BackendError) return undefined
      try {
        onError(error)
      } catch {
        // A throwing onError must not become an unhandled rejection.
      }
      return undefined
    })
  }

  /** Remove what killed writers left (file-leftovers.ts); stops early when closed. */
  private sweep(always: boolean): Promise<SweepResult> {
    const idleSince = this.writing.size === 0 ? this.writes : -1
    return sweepLeftovers(this.path, {
      self: this.writer,
      idle: () => this.writing.size === 0 && this.writes === idleSince,
      stopped: () => this.closed,
      always,
    })
  }

  /**
   * Make this backend's temp folder before its first change to the folder: a killed process is
   * known by it, and its presence tells the next open to look for the bodies it left.
   */
  private register(): Promise<void> {
    this.registered ??= mkdir(join(this.path, 'tmp', this.writer), { recursive: true, mode: 0o700 }).then(
      () => {},
      (error: unknown) => {
        this.registered = undefined
        throw error
      },
    )
    return this.registered
  }

  /** Run an operation, refusing after close() and letting close() wait for it. */
  private run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new BackendError(`FileBackend ${this.path} is closed`))
    const p = fn()
    this.inFlight.add(p)
    void p.then(
      () => this.inFlight.delete(p),
      () => this.inFlight.delete(p),
    )
    return p
  }

  get(key: string): Promise<CacheRecord | undefined> {
    return this.run(() => this.read(key))
  }

  private async read(key: string): Promise<CacheRecord | undefined> {
    const k = PREFIX + key
    let entry = await cc.info(this.path, k)
    for (let attempt = 0; entry; attempt++) {
      // Metadata first: a bad entry costs no body read.
      const meta = checkMeta(entry.metadata)
      let data: Buffer
      try {
        data = await cc.read(this.path, entry.integrity, entry.size)
      } catch (error) {
        const code = errorCode(error)
        if (code === 'ENOENT' && attempt === 0) {
          // Another process may have replaced or removed the entry meanwhile: look again.
          const again = await cc.info(this.path, k)
          if (again?.integrity !== entry.integrity) {
            entry = again
            continue
          }
        }
        if (code === 'ENOENT' || code === 'EINTEGRITY' || code === 'EBADSIZE') {
          throw new CorruptEntryError(`content of ${key} is ${code === 'ENOENT' ? 'missing' : 'damaged'} (${String(code)})`)
        }
        throw error
      }
      if (data.length < SALT || !data.subarray(0, SALT).equals(salt(k))) {
        throw new CorruptEntryError(`content of ${key} belongs to another entry`)
      }
      this.touches.add(k, { path: entry.path, at: recencyTick() })
      this.eviction.used(k)
      return { meta, body: data.subarray(SALT) }
    }
    return undefined
  }

  /** Mark an entry as used without reading it (TieredBackend's hits in front of this one). */
  touch(key: string): void {
    if (this.closed) return
    const k = PREFIX + key
    this.eviction.used(k)
    const pending = this.touches.get(k)
    if (pending) this.touches.add(k, { path: pending.path, at: recencyTick() })
    else {
      void cc.info(this.path, k).then(
        (entry) => entry && !this.closed && this.touches.add(k, { path: entry.path, at: recencyTick() }),
        () => {},
      )
    }
  }

  set(key: string, record: CacheRecord): Promise<void> {
    return this.run(async () => {
      // One write per key at a time in this process, so each sees the one before and removes its body.
      const k = PREFIX + key
      this.writes++
      const previous = this.writing.get(k)
      const mine = (previous ?? Promise.resolve()).catch(() => {}).then(() => this.write(key, record))
      this.writing.set(k, mine)
      try {
        await mine
      } finally {
        if (this.writing.get(k) === mine) this.writing.delete(k)
      }
    })
  }

  private async write(key: string, record: CacheRecord): Promise<void> {
    const k = PREFIX + key
    const weight = weigh(record.meta, record.body.byteLength)
    const old = await cc.info(this.path, k)
    this.touches.forget(k)
    if (!fits(weight, this.limits)) {
      // The old value is outdated either way; a new one too large to keep replaces it with nothing.
      if (old) await this.remove(old)
      return
    }
    // Cached responses may be private: the folder is the user's alone (0700) when we make it.
    await mkdir(this.path, { recursive: true, mode: 0o700 })
    await this.register()
    const integrity = await cc.put(this.path, k, Buffer.concat([salt(k), record.body]), record.meta, `${this.writer}/c`)
    // A new content file's modification time is its write: its recency for eviction.
    if (old) {
      // Keep the bucket to one line per key, and drop the replaced body; an unchanged body
      // kept its old file, whose time must move on.
      await cc.compact(this.path, k, `${this.writer}/i`)
      if (old.integrity !== integrity) await cc.removeContent(this.path, old.integrity)
      else await this.stamp(old.path, recencyTick())
    }
    this.eviction.stored(k, weight, record.meta.deadAt ?? null)
    await this.eviction.keepWithinLimits(k)
  }

  private async stamp(path: string, at: number): Promise<void> {
    const seconds = at / 1e6
    try {
      await utimes(path, seconds, seconds)
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error
    }
  }

  private async writeTouches(batch: ReadonlyMap<string, Touch>): Promise<void> {
    await eachLimit([...batch.values()], (t) => this.stamp(t.path, t.at))
  }

  private async remove(entry: IndexEntry): Promise<void> {
    await this.register()
    await cc.removeEntry(this.path, entry.key)
    await cc.removeContent(this.path, entry.integrity)
    this.touches.forget(entry.key)
    this.eviction.forget(entry.key)
  }


  /**
   * Each one is looked at again (another process may have replaced it since the scan) and
   * removed in line with this process's writes of its key, so a write under way is never lost.
   */
  private async prune(now: number, limit: number): Promise<number> {
    let n = 0
    await eachLimit(await this.eviction.deadKeys(now, limit), async (k) => {
      const removal = (this.writing.get(k) ?? Promise.resolve()).catch(() => {}).then(async () => {
        const entry = await cc.info(this.path, k)
        if (!entry) return this.eviction.forget(k)
        let dead = true
        try {
          dead = isDead(checkMeta(entry.metadata), now)
        } catch {
          // Undecodable: of no use to anyone either.
        }
        if (!dead) return
        await this.remove(entry)
        n++
      })
      this.writing.set(k, removal)
      try {
        await removal
      } finally {
        if (this.writing.get(k) === removal) this.writing.delete(k)
      }
    })
    return n
  }

  delete(keys: readonly string[]): Promise<number> {
    return this.run(() => this.deleteKeys(keys))
  }

  private async deleteKeys(keys: readonly string[]): Promise<number> {
    let n = 0
    await eachLimit([...new Set(keys)], async (key) => {
      const entry = await cc.info(this.path, PREFIX + key)
      if (!entry) return
      await this.remove(entry)
      n++
    })
    return n
  }

  /** Delete every entry matching the filter: one pass over the index, then the deletes. */
  deleteMatching(filter: EntryFilter): Promise<number> {
    return this.run(async () => {
      const keys: string[] = []
      for await (const [key] of this.list(filter)) keys.push(key)
      return this.deleteKeys(keys)
    })
  }

  entries(filter?: EntryFilter): AsyncIterable<[string, EntryMeta]> {
    if (this.closed) {
      const path = this.path
      return (async function* () {
        throw new BackendError(`FileBackend ${path} is closed`)
      })()
    }
    return this.list(filter)
  }

  /** The index alone: no body is read. Undecodable entries are skipped (a get() reports them). */
  private async *list(filter: EntryFilter | undefined): AsyncIterable<[string, EntryMeta]> {
    if (filter?.urls?.length === 0) return
    for await (const entry of cc.list(this.path)) {
      if (!entry.key.startsWith(PREFIX)) continue
      let meta: EntryMeta
      try {
        meta = checkMeta(entry.metadata)
      } catch {
        continue
      }
      if (matchesFilter(meta, filter)) yield [entry.key.slice(PREFIX.length), meta]
    }
  }

  stats(): Promise<BackendStats> {
    return this.run(async () => {
      const view = await this.eviction.scan()
      return { entries: view.order.size, bytes: view.bytes }
    })
  }

  clear(): Promise<void> {
    return this.run(async () => {
      this.touches.clear()
      await cc.removeAll(this.path)
      this.eviction.cleared()
    })
  }

  /**
   * Garbage collection for what crashes and races can leave behind: entries of this format that
   * do not decode or whose body is gone, then the sweep of file-leftovers.ts (temp files of gone
   * writers, orphaned bodies).
   */
  vacuum(): Promise<void> {
    return this.run(async () => {
      await this.touches.flush()
      const broken: IndexEntry[] = []
      for await (const entry of cc.list(this.path)) {
        if (!entry.key.startsWith(PREFIX)) continue
        try {
          checkMeta(entry.metadata)
          await stat(entry.path)
        } catch {
          broken.push(entry)
        }
      }
      await eachLimit(broken, (entry) => this.remove(entry))
      await this.sweep(true)
      this.eviction.reset()
    })
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.allSettled([...this.inFlight])
    this.touches.stop()
    await this.touches.flush().catch(() => {})
    // No write of ours is under way: our temp folder goes (a killed process's is swept by others).
    await rm(join(this.path, 'tmp', this.writer), { recursive: true, force: true }).catch(() => {})
  }
}


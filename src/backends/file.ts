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
 * orphaned content file (removed by `vacuum()`) or make an entry a miss.
 */
import { createHash } from 'node:crypto'
import { mkdir, readdir, rm, stat, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import type Cacache from 'cacache'
import { checkMeta, FORMAT_VERSION } from './entry.js'
import { BackendError, ConfigError, CorruptEntryError, show } from '../util/errors.js'
import type { Backend, BackendLeases, BackendMaintenance, BackendStats, CacheRecord, EntryFilter, EntryMeta } from './contract.js'
import { FileLeases } from './file-lease.js'
import { matchesFilter } from './filter.js'
import { checkOptions, fits, LIMIT_OPTIONS, type Limits, positive, recencyTick, resolveLimits, weigh } from './limits.js'
import { TouchBuffer } from './touches.js'

export interface FileBackendOptions {
  /** The cache folder. Default `http_cache`. */
  path?: string
  /** Most entries kept; the least recently used go first. Default: unbounded. */
  maxEntries?: number
  /** Most bytes of bodies and metadata kept. Default: unbounded. */
  maxSize?: number
  /** Largest entry (body and metadata) stored; larger ones are silently not stored. Default: maxSize. */
  maxEntrySize?: number
  /** Access times of hits are written in one batch at most this often, in ms. Default 10000. */
  touchInterval?: number
}

/** The format version lives in the key prefix: a new format never reads an old entry. */
const PREFIX = `fetchcache:v${FORMAT_VERSION}:`
/** Bytes of the per-entry prefix of every content file (SHA-256 of the index key). */
const SALT = 32
/**
 * Other processes write too: the folder is scanned again when the last scan is this old (ms),
 * or 50 times as old as that scan took, whichever is longer.
 */
const RESCAN_MS = 60_000
/** vacuum() leaves content and temp files younger than this alone: a write may be under way. */
const VACUUM_GRACE_MS = 10 * 60_000
const CONCURRENCY = 16

/** cacache's index entry, as its functions return it (its typings are looser than its code). */
interface IndexEntry {
  key: string
  integrity: string
  path: string
  size: number
  time: number
  metadata?: unknown
}

/**
 * cacache and its dependencies take ~60 ms to import: load them on first use, so that importing
 * fetchcache stays cheap for everyone who never opens a FileBackend.
 */
let loading: Promise<typeof Cacache> | undefined
const load = (): Promise<typeof Cacache> =>
  (loading ??= import('cacache').then((m) => ((m as { default?: typeof Cacache }).default ?? m) as typeof Cacache))

const cc = {
  /** Resolves with the integrity as the index stores it (cacache hands back an object). */
  put: async (dir: string, key: string, data: Buffer, metadata: EntryMeta) => String(await (await load()).put(dir, key, data, { metadata })),
  info: async (dir: string, key: string) => (await load()).get.info(dir, key) as Promise<IndexEntry | null>,
  read: async (dir: string, integrity: string, size: number) => (await load()).get.byDigest(dir, integrity, { size }),
  list: async function* (dir: string): AsyncIterable<IndexEntry> {
    yield* (await load()).ls.stream(dir) as unknown as AsyncIterable<IndexEntry>
  },
  compact: async (dir: string, key: string) => (await load()).index.compact(dir, key, (a, b) => a.key === b.key) as Promise<IndexEntry[]>,
  /** Remove the whole index bucket of the key, not just append a tombstone line. */
  removeEntry: async (dir: string, key: string) =>
    ((await load()).rm.entry as (dir: string, key: string, opts: { removeFully: boolean }) => Promise<unknown>)(dir, key, { removeFully: true }),
  removeContent: async (dir: string, integrity: string) => (await load()).rm.content(dir, integrity),
  removeAll: async (dir: string) => (await load()).rm.all(dir),
}

function salt(indexKey: string): Buffer {
  return createHash('sha256').update(indexKey).digest()
}

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined
}

/** Weight of a stored entry from its index line alone: body plus metadata bytes. */
function weightOf(entry: IndexEntry): number {
  return Math.max(0, entry.size - SALT) + Buffer.byteLength(JSON.stringify(entry.metadata ?? null))
}

async function eachLimit<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker))
}

interface Scanned extends Item {
  key: string
  /** 0: undecodable or content missing, 1: of no use any more, 2: live. Lower goes first. */
  rank: 0 | 1 | 2
  /** Last use, µs. */
  recency: number
}

interface Item {
  weight: number
  /** From when the entry is of no use (EntryMeta.deadAt); -Infinity: broken; null: never. */
  deadAt: number | null
}

/**
 * What this process knows of the folder: every entry of this format in eviction order (of no
 * use first, then least recently used) with its weight. Built by a scan of the index (and a
 * stat per body for its recency), then kept up to date by this process's own writes, reads and
 * deletes, so that eviction needs no scan; rebuilt when old, to take in other processes' work.
 */
interface View {
  order: Map<string, Item>
  bytes: number
  /** The earliest deadAt in `order`: before then, no entry is of no use and none is looked for. */
  nextDeath: number
  scannedAt: number
  scanMs: number
}

interface Touch {
  path: string
  at: number
}

export class FileBackend implements Backend {
  readonly path: string
  private readonly limits: Limits
  private readonly touches: TouchBuffer<Touch>
  private closed = false
  private readonly inFlight = new Set<Promise<unknown>>()
  private view: View | undefined
  private evicting: Promise<void> | undefined
  private readonly writing = new Map<string, Promise<void>>()
  private readonly lockFiles: FileLeases
  /** Capability: cross-process leases, an O_EXCL lock file per key. */
  readonly leases: BackendLeases = {
    acquire: (key, owner, ttlMs) => this.run(() => this.lockFiles.acquire(key, owner, ttlMs)),
    release: (key, owner) => this.run(() => this.lockFiles.release(key, owner)),
  }
  /** Capability: cacache garbage collection. */
  readonly maintenance: BackendMaintenance = { vacuum: () => this.vacuum() }

  constructor(options: FileBackendOptions = {}) {
    const o = checkOptions(options, ['path', 'touchInterval', ...LIMIT_OPTIONS], 'FileBackend')
    if (o.path !== undefined && (typeof o.path !== 'string' || o.path === '')) {
      throw new ConfigError(`FileBackend path: expected a folder name; got ${show(o.path)}`)
    }
    this.path = (o.path as string | undefined) ?? 'http_cache'
    this.limits = resolveLimits(o, 'FileBackend')
    const touchInterval = positive(o.touchInterval, 'FileBackend touchInterval', 10_000)
    this.touches = new TouchBuffer<Touch>(touchInterval, (batch) => this.writeTouches(batch))
    this.lockFiles = new FileLeases(this.path)
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
      this.used(k)
      return { meta, body: data.subarray(SALT) }
    }
    return undefined
  }

  /** Mark an entry as used without reading it (TieredBackend's hits in front of this one). */
  touch(key: string): void {
    if (this.closed) return
    const k = PREFIX + key
    this.used(k)
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
    const integrity = await cc.put(this.path, k, Buffer.concat([salt(k), record.body]), record.meta)
    // A new content file's modification time is its write: its recency for eviction.
    if (old) {
      // Keep the bucket to one line per key, and drop the replaced body; an unchanged body
      // kept its old file, whose time must move on.
      await cc.compact(this.path, k)
      if (old.integrity !== integrity) await cc.removeContent(this.path, old.integrity)
      else await this.stamp(old.path, recencyTick())
    }
    if (this.view) {
      this.forget(k)
      const dead = record.meta.deadAt ?? null
      this.view.order.set(k, { weight, deadAt: dead })
      this.view.bytes += weight
      if (dead !== null) this.view.nextDeath = Math.min(this.view.nextDeath, dead)
    }
    await this.keepWithinLimits(k)
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
    await cc.removeEntry(this.path, entry.key)
    await cc.removeContent(this.path, entry.integrity)
    this.touches.forget(entry.key)
    this.forget(entry.key)
  }

  /** A use moves the entry to the most recent end of the eviction order. */
  private used(k: string): void {
    const item = this.view?.order.get(k)
    if (item === undefined) return
    this.view!.order.delete(k)
    this.view!.order.set(k, item)
  }

  private forget(k: string): void {
    const item = this.view?.order.get(k)
    if (item === undefined) return
    this.view!.order.delete(k)
    this.view!.bytes -= item.weight
  }

  private limited(): boolean {
    return this.limits.maxEntries !== Infinity || this.limits.maxSize !== Infinity
  }

  private over(view: View): boolean {
    return view.order.size > this.limits.maxEntries || view.bytes > this.limits.maxSize
  }

  private stale(view: View): boolean {
    return Date.now() - view.scannedAt > Math.max(RESCAN_MS, 50 * view.scanMs)
  }

  private async keepWithinLimits(protect: string): Promise<void> {
    if (!this.limited()) return
    while (this.evicting) await this.evicting
    if (this.view && !this.stale(this.view) && !this.over(this.view)) return
    this.evicting = this.evict(protect).finally(() => {
      this.evicting = undefined
    })
    await this.evicting
  }

  /** Rebuild the view: the whole index (no body read) and a stat per body for its recency. */
  private async scan(): Promise<View> {
    const started = performance.now()
    const entries: IndexEntry[] = []
    for await (const entry of cc.list(this.path)) if (entry.key.startsWith(PREFIX)) entries.push(entry)
    const now = Date.now()
    const scanned: Scanned[] = []
    await eachLimit(entries, async (entry) => {
      let recency = 0
      let rank: Scanned['rank'] = 2
      let dead: number | null = -Infinity
      try {
        const s = await stat(entry.path, { bigint: true })
        recency = Number(s.mtimeNs / 1000n)
        dead = checkMeta(entry.metadata).deadAt ?? null
        rank = dead !== null && dead <= now ? 1 : 2
      } catch {
        rank = 0
      }
      recency = Math.max(recency, this.touches.get(entry.key)?.at ?? 0)
      scanned.push({ key: entry.key, weight: weightOf(entry), deadAt: dead, rank, recency })
    })
    scanned.sort((a, b) => a.rank - b.rank || a.recency - b.recency)
    const view: View = { order: new Map(), bytes: 0, nextDeath: Infinity, scannedAt: Date.now(), scanMs: performance.now() - started }
    for (const s of scanned) {
      view.order.set(s.key, { weight: s.weight, deadAt: s.deadAt })
      view.bytes += s.weight
      if (s.deadAt !== null) view.nextDeath = Math.min(view.nextDeath, s.deadAt)
    }
    this.view = view
    return view
  }

  /** Remove entries in eviction order until the view is within the caps, sparing `protect`. */
  private async evict(protect: string): Promise<void> {
    let view = this.view && !this.stale(this.view) ? this.view : await this.scan()
    for (let pass = 0; pass < 2 && this.over(view); pass++) {
      // Entries of no use first, however recently used.
      const now = Date.now()
      if (view.nextDeath <= now) {
        let next = Infinity
        for (const [k, item] of view.order) {
          if (item.deadAt === null) continue
          if (item.deadAt <= now && k !== protect && this.over(view)) await this.evictKey(k)
          else next = Math.min(next, item.deadAt)
        }
        view.nextDeath = next
      }
      for (const k of view.order.keys()) {
        if (!this.over(view)) return
        if (k !== protect) await this.evictKey(k)
      }
      // Still over: the view missed what other processes wrote. Look at the folder again.
      if (this.over(view)) view = await this.scan()
    }
  }

  private async evictKey(k: string): Promise<void> {
    // Look again: another process may have replaced or removed it since the scan.
    const entry = await cc.info(this.path, k)
    if (entry) await this.remove(entry)
    else this.forget(k)
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
      const view = await this.scan()
      return { entries: view.order.size, bytes: view.bytes }
    })
  }

  clear(): Promise<void> {
    return this.run(async () => {
      this.touches.clear()
      await cc.removeAll(this.path)
      if (this.view) this.view = { ...this.view, order: new Map(), bytes: 0 }
    })
  }

  /**
   * Garbage collection for what crashes and races can leave behind: content files no index
   * entry points to, entries of this format that do not decode or whose body is gone, and
   * stale temp files. Files younger than ten minutes are left alone (a write may be under way).
   */
  vacuum(): Promise<void> {
    return this.run(async () => {
      await this.touches.flush()
      const live = new Set<string>()
      const broken: IndexEntry[] = []
      for await (const entry of cc.list(this.path)) {
        live.add(entry.integrity)
        if (!entry.key.startsWith(PREFIX)) continue
        try {
          checkMeta(entry.metadata)
          await stat(entry.path)
        } catch {
          broken.push(entry)
        }
      }
      await eachLimit(broken, (entry) => this.remove(entry))
      const cutoff = Date.now() - VACUUM_GRACE_MS
      const old = async (file: string) => (await stat(file).catch(() => undefined))?.mtimeMs ?? Infinity
      for (const dir of (await readdir(this.path).catch(() => [] as string[])).filter((d) => d.startsWith('content-v'))) {
        for (const file of await walk(join(this.path, dir), 4)) {
          const parts = file.split(/[/\\]/).slice(-4)
          const integrity = `${parts[0]}-${Buffer.from(parts.slice(1).join(''), 'hex').toString('base64')}`
          if (!live.has(integrity) && (await old(file)) < cutoff) await rm(file, { force: true })
        }
      }
      for (const file of await walk(join(this.path, 'tmp'), 1)) {
        if ((await old(file)) < cutoff) await rm(file, { force: true, recursive: true })
      }
      this.view = undefined
    })
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.allSettled([...this.inFlight])
    this.touches.stop()
    await this.touches.flush().catch(() => {})
  }
}

/** Files exactly `depth` levels below `dir`. */
async function walk(dir: string, depth: number): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const paths = names.map((n) => join(dir, n))
  if (depth === 1) return paths
  return (await Promise.all(paths.map((p) => walk(p, depth - 1)))).flat()
}

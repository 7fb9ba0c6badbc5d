/**
 * FileBackend's eviction: what this process knows of the folder (every entry in eviction
 * order, with its weight) and the removal of entries in that order until the folder is within
 * `maxEntries` and `maxSize`. Entries of no use go first, then the least recently used.
 */
import { stat } from 'node:fs/promises'
import { checkMeta } from './entry.js'
import { cc, eachLimit, type IndexEntry, PREFIX, weightOf } from './file-cacache.js'
import type { Limits } from './limits.js'
import type { TouchBuffer } from './touches.js'

/**
 * Other processes write too: the folder is scanned again when the last scan is this old (ms),
 * or 50 times as old as that scan took, whichever is longer.
 */
const RESCAN_MS = 60_000

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

export interface Touch {
  path: string
  at: number
}

export class FileEviction {
  private view: View | undefined
  private evicting: Promise<void> | undefined

  constructor(
    private readonly path: string,
    private readonly limits: Limits,
    /** Hits not yet written to the folder: their recency counts in a scan. */
    private readonly touches: TouchBuffer<Touch>,
    /** Removes an entry's index bucket and content; it calls forget() for the entry. */
    private readonly remove: (entry: IndexEntry) => Promise<void>,
  ) {}

  /** A write of this process: the entry moves to the most recent end with its new weight. */
  stored(k: string, weight: number, dead: number | null): void {
    if (!this.view) return
    this.forget(k)
    this.view.order.set(k, { weight, deadAt: dead })
    this.view.bytes += weight
    if (dead !== null) this.view.nextDeath = Math.min(this.view.nextDeath, dead)
  }

  /** The folder was emptied. */
  cleared(): void {
    if (this.view) this.view = { ...this.view, order: new Map(), bytes: 0 }
  }

  /** The folder changed behind the view (vacuum): scan again when next needed. */
  reset(): void {
    this.view = undefined
  }

  /** A use moves the entry to the most recent end of the eviction order. */
  used(k: string): void {
    const item = this.view?.order.get(k)
    if (item === undefined) return
    this.view!.order.delete(k)
    this.view!.order.set(k, item)
  }

  forget(k: string): void {
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

  async keepWithinLimits(protect: string): Promise<void> {
    if (!this.limited()) return
    while (this.evicting) await this.evicting
    if (this.view && !this.stale(this.view) && !this.over(this.view)) return
    this.evicting = this.evict(protect).finally(() => {
      this.evicting = undefined
    })
    await this.evicting
  }

  /** Rebuild the view: the whole index (no body read) and a stat per body for its recency. */
  async scan(): Promise<View> {
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

  /**
   * Up to `limit` index keys of entries of no use at `now` (and broken ones), for pruning. Free
   * while the view is fresh and nothing in it has died yet (`nextDeath`); else it is scanned.
   */
  async deadKeys(now: number, limit: number): Promise<string[]> {
    if (this.view && !this.stale(this.view) && this.view.nextDeath > now) return []
    const view = this.view && !this.stale(this.view) ? this.view : await this.scan()
    const keys: string[] = []
    let next = Infinity
    for (const [k, item] of view.order) {
      if (item.deadAt === null) continue
      if (item.deadAt <= now && keys.length < limit) keys.push(k)
      else next = Math.min(next, item.deadAt)
    }
    // The keys found stay in the view until removed (forget()); their deadAt counts meanwhile.
    view.nextDeath = keys.length > 0 ? Math.min(next, now) : next
    return keys
  }

  private async evictKey(k: string): Promise<void> {
    // Look again: another process may have replaced or removed it since the scan.
    const entry = await cc.info(this.path, k)
    if (entry) await this.remove(entry)
    else this.forget(k)
  }
}

/**
 * Cross-process coalescing: a short lease stored in a shared backend lets one process fetch a
 * key while the others wait for the entry to appear, up to `lockTimeout`, and then fetch for
 * themselves. A crashed holder's lease simply expires.
 */
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { debug } from '../../util/debug.js'
import { BackendError } from '../../util/errors.js'
import type { Backend, BackendLeases } from '../../backends/contract.js'
import type { Port } from '../port.js'

const POLL_MS = 20

export type WaitOutcome = 'stored' | 'acquired' | 'timeout'

/** The request a lease is for: its primary key, and method and URL for debug output. */
export interface Want {
  key: string
  method: string
  url: string
}

export class Leases {
  /** Who holds a lease: this process and this engine. */
  readonly owner = `${process.pid}:${randomUUID()}`
  /** Keys this engine holds a lease on, released by close() so no other process waits them out. */
  private readonly held = new Set<string>()

  constructor(
    private readonly backend: Pick<Backend, 'get'>,
    private readonly leases: BackendLeases,
    private readonly ttlMs: number,
    private readonly port: Port,
  ) {}

  /** Try to become the one process fetching `key`. A backend fault fails open: fetch. */
  async acquire(key: string): Promise<boolean> {
    try {
      const got = await this.leases.acquire(key, this.owner, this.ttlMs)
      if (got) this.held.add(key)
      return got
    } catch (error) {
      this.port.report(new BackendError(`lease of ${key} failed`, error))
      return true
    }
  }

  /**
   * Take the lease for a miss, then look again: the holder before us may have stored the entry
   * between our lookup and our lease (it writes, then releases). 'stored' means: read it.
   */
  async acquireFor(w: Want, seenCreatedAt: number | undefined): Promise<'acquired' | 'stored' | 'busy'> {
    if (!(await this.acquire(w.key))) return 'busy'
    if (await this.changed(w.key, seenCreatedAt)) {
      this.release(w.key)
      return 'stored'
    }
    return 'acquired'
  }

  release(key: string): void {
    // Not held (any more): close() already gave it back, and the backend may be closed.
    if (!this.held.delete(key)) return
    this.port.track(this.leases.release(key, this.owner).catch((e: unknown) => this.port.report(new BackendError(`lease release of ${key} failed`, e))))
  }

  /** Give back every lease still held; the engine calls this as it closes. */
  releaseAll(): void {
    for (const key of [...this.held]) this.release(key)
  }

  /**
   * Another process holds the lease: wait until it stores the entry (the record at the primary
   * key changes), until its lease is free for us to take, or until lockTimeout.
   */
  async waitForOther(w: Want, seenCreatedAt: number | undefined): Promise<WaitOutcome> {
    const deadline = performance.now() + this.ttlMs
    let delay = POLL_MS
    while (performance.now() < deadline) {
      await sleep(delay)
      delay = Math.min(delay * 1.5, 200)
      if (await this.changed(w.key, seenCreatedAt)) {
        debug('%s %s: stored by another process', w.method, w.url)
        return 'stored'
      }
      const taken = await this.acquireFor(w, seenCreatedAt)
      if (taken !== 'busy') return taken
    }
    debug('%s %s: lockTimeout waiting for another process; fetching', w.method, w.url)
    return 'timeout'
  }

  /** Has another writer stored something at `key` since our lookup saw `seenCreatedAt`? */
  private async changed(key: string, seenCreatedAt: number | undefined): Promise<boolean> {
    const record = await this.backend.get(key).catch(() => undefined)
    return record !== undefined && record.meta.createdAt !== seenCreatedAt
  }
}

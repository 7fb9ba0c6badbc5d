/**
 * Cross-process coalescing: a short lease stored in a shared backend lets one process fetch a
 * key while the others wait for the entry to appear, up to `lockTimeout`, and then fetch for
 * themselves. A crashed holder's lease simply expires. Backends without leases skip all this.
 */
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { debug } from '../util/debug.js'
import type { Engine, Prepared } from './engine.js'
import { BackendError } from '../util/errors.js'

const POLL_MS = 20

export type WaitOutcome = 'stored' | 'acquired' | 'timeout'

export class Leases {
  /** Who holds a lease: this process and this engine. */
  readonly owner = `${process.pid}:${randomUUID()}`
  /** Keys this engine holds a lease on, released by close() so no other process waits them out. */
  private readonly held = new Set<string>()

  constructor(private readonly engine: Engine) {}

  get supported(): boolean {
    return this.engine.backend.leases !== undefined
  }

  private get ttlMs(): number {
    return this.engine.settings.lockTimeout * 1000
  }

  /** Try to become the one process fetching `key`. A backend fault fails open: fetch. */
  async acquire(key: string): Promise<boolean> {
    try {
      const got = await this.engine.backend.leases!.acquire(key, this.owner, this.ttlMs)
      if (got) this.held.add(key)
      return got
    } catch (error) {
      this.engine.report(new BackendError(`lease of ${key} failed`, error))
      return true
    }
  }

  /**
   * Take the lease for a miss, then look again: the holder before us may have stored the entry
   * between our lookup and our lease (it writes, then releases). 'stored' means: read it.
   */
  async acquireFor(p: Prepared, seenCreatedAt: number | undefined): Promise<'acquired' | 'stored' | 'busy'> {
    if (!(await this.acquire(p.key))) return 'busy'
    const record = await this.engine.backend.get(p.key).catch(() => undefined)
    if (record && record.meta.createdAt !== seenCreatedAt) {
      this.release(p.key)
      return 'stored'
    }
    return 'acquired'
  }

  release(key: string): void {
    const leases = this.engine.backend.leases
    // Not held (any more): close() already gave it back, and the backend may be closed.
    if (!leases || !this.held.delete(key)) return
    this.engine.track(leases.release(key, this.owner).catch((e: unknown) => this.engine.report(new BackendError(`lease release of ${key} failed`, e))))
  }

  /** Give back every lease still held; the engine calls this as it closes. */
  releaseAll(): void {
    for (const key of [...this.held]) this.release(key)
  }

  /**
   * Another process holds the lease: wait until it stores the entry (the record at the primary
   * key changes), until its lease is free for us to take, or until lockTimeout.
   */
  async waitForOther(p: Prepared, seenCreatedAt: number | undefined): Promise<WaitOutcome> {
    const deadline = performance.now() + this.ttlMs
    let delay = POLL_MS
    while (performance.now() < deadline) {
      await sleep(delay)
      delay = Math.min(delay * 1.5, 200)
      const record = await this.engine.backend.get(p.key).catch(() => undefined)
      if (record && record.meta.createdAt !== seenCreatedAt) {
        debug('%s %s: stored by another process', p.method, p.url)
        return 'stored'
      }
      const taken = await this.acquireFor(p, seenCreatedAt)
      if (taken !== 'busy') return taken
    }
    debug('%s %s: lockTimeout waiting for another process; fetching', p.method, p.url)
    return 'timeout'
  }
}

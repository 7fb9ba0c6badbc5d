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
    return (await this.take(key)).held
  }

  /**
   * The lease, and what is stored at `key` if the backend said so as it granted it
   * (contract.ts LeaseGrant); `storedAt` undefined: not said. A fault fails open, unsaid.
   */
  private async take(key: string): Promise<{ held: boolean; storedAt?: number | null }> {
    try {
      const got = await this.leases.acquire(key, this.owner, this.ttlMs)
      const grant = typeof got === 'boolean' ? { held: got } : got
      if (grant.held) this.held.add(key)
      return grant
    } catch (error) {
      this.port.report(new BackendError(`lease of ${key} failed`, error))
      return { held: true }
    }
  }

  /**
   * Take the lease for a miss, then look again: the holder before us may have stored the entry
   * between our lookup and our lease (it writes, then releases). 'stored' means: read it.
   * A backend whose grant says what is stored (SQLite reads it in the lease's transaction)
   * spares that read; a lease cannot tell otherwise, since a released lease leaves no trace.
   */
  async acquireFor(w: Want, seenCreatedAt: number | undefined): Promise<'acquired' | 'stored' | 'busy'> {
    const grant = await this.take(w.key)
    if (!grant.held) return 'busy'
    const storedAt = grant.storedAt !== undefined ? grant.storedAt : await this.storedAt(w.key)
    if (storedAt !== null && storedAt !== seenCreatedAt) {
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
      const storedAt = await this.storedAt(w.key)
      if (storedAt !== null && storedAt !== seenCreatedAt) {
        debug('%s %s: stored by another process', w.method, w.url)
        return 'stored'
      }
      const taken = await this.acquireFor(w, seenCreatedAt)
      if (taken !== 'busy') return taken
    }
    debug('%s %s: lockTimeout waiting for another process; fetching', w.method, w.url)
    return 'timeout'
  }

  /**
   * When the record at `key` was stored (null: none, or unreadable), to compare with the
   * `seenCreatedAt` of our lookup: another writer stored something since if they differ.
   */
  private async storedAt(key: string): Promise<number | null> {
    const record = await this.backend.get(key).catch(() => undefined)
    return record?.meta.createdAt ?? null
  }
}

/**
 * Cross-process coalescing: a short lease stored in a shared backend lets one process fetch a
 * key while the others wait for the entry to appear, up to `lockTimeout`, and then fetch for
 * themselves. A crashed holder's lease simply expires.
 *
 * The whole wait ends by the request's deadline, the backend calls made while waiting included:
 * each one is raced against it (a SQLite write waiting out another process's lock, a stalled
 * file system), so a lease never holds a request beyond lockTimeout.
 */
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Deadline, LATE } from '../../util/deadline.js'
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
  private ownerId: string | undefined
  /** Who holds a lease: this process and this engine. Made on first use: a hit takes no lease, and a first randomUUID() fills crypto's pool. */
  get owner(): string {
    return (this.ownerId ??= `${process.pid}:${randomUUID()}`)
  }
  /** Keys this engine holds a lease on, released by close() so no other process waits them out. */
  private readonly held = new Set<string>()

  constructor(
    private readonly backend: Pick<Backend, 'get'>,
    private readonly leases: BackendLeases,
    private readonly ttlMs: number,
    private readonly port: Port,
  ) {}

  /**
   * Try to become the one process fetching `key`. A backend fault fails open: fetch. So does an
   * answer that comes after the deadline: fetch without the lease, and give it back should it
   * have been granted after all, so that no other process waits it out.
   */
  async acquire(key: string, deadline: Deadline): Promise<boolean> {
    return (await this.take(key, deadline)).held
  }

  /**
   * The lease, and what is stored at `key` if the backend said so as it granted it
   * (contract.ts LeaseGrant); `storedAt` undefined: not said. A fault or a late answer fails
   * open, unsaid.
   */
  private async take(key: string, deadline: Deadline): Promise<{ held: boolean; storedAt?: number | null }> {
    try {
      const got = await deadline.within(this.leases.acquire(key, this.owner, this.ttlMs), (late) => {
        if (late && !this.held.has(key)) void this.leases.release(key, this.owner).catch(() => {})
      })
      if (got === LATE) {
        this.port.report(new BackendError(`lease of ${key} took over lockTimeout; fetching without it`))
        return { held: true }
      }
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
  async acquireFor(w: Want, seenCreatedAt: number | undefined, deadline: Deadline): Promise<'acquired' | 'stored' | 'busy'> {
    const grant = await this.take(w.key, deadline)
    if (!grant.held) return 'busy'
    const storedAt = grant.storedAt !== undefined ? grant.storedAt : await this.storedAt(w.key, deadline)
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
   * key changes), until its lease is free for us to take, or until the request's deadline.
   */
  async waitForOther(w: Want, seenCreatedAt: number | undefined, deadline: Deadline): Promise<WaitOutcome> {
    let delay = POLL_MS
    while (!deadline.passed) {
      await sleep(Math.min(delay, deadline.left))
      delay = Math.min(delay * 1.5, 200)
      const storedAt = await this.storedAt(w.key, deadline)
      if (storedAt !== null && storedAt !== seenCreatedAt) {
        debug('%s %s: stored by another process', w.method, w.url)
        return 'stored'
      }
      if (deadline.passed) break
      const taken = await this.acquireFor(w, seenCreatedAt, deadline)
      if (taken !== 'busy') return taken
    }
    debug('%s %s: lockTimeout waiting for another process; fetching', w.method, w.url)
    return 'timeout'
  }

  /**
   * When the record at `key` was stored (null: none, unreadable, or not known by the deadline),
   * to compare with the `seenCreatedAt` of our lookup: another writer stored something since if
   * they differ.
   */
  private async storedAt(key: string, deadline: Deadline): Promise<number | null> {
    const record = await deadline.within(this.backend.get(key).catch(() => undefined))
    return record === LATE ? null : (record?.meta.createdAt ?? null)
  }
}

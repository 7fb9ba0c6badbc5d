/**
 * Leases in Memcached, the contract of SQLiteLeases: `add` creates the lease item only if it is
 * absent (atomic on the server), with the lease's expiry, so a crashed holder's lease goes by
 * itself. Memcached counts expiry in whole seconds: a lease lasts ttlMs rounded up.
 *
 * Release reads the holder, then deletes: memjs has no compare-and-delete, so a lease that
 * expires and is taken by another process between the two steps can be removed early. The cost
 * is one extra origin fetch, never a wrong answer: a lease only spares duplicate fetches.
 */
import type { BackendLeases } from './contract.js'
import type { MemcachedClient } from './memcached-client.js'

export function expirySeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000))
}

export class MemcachedLeases implements BackendLeases {
  constructor(
    private readonly leaseKey: (key: string) => string,
    private readonly run: <T>(work: (client: MemcachedClient) => Promise<T>, what: string) => Promise<T>,
  ) {}

  async acquire(key: string, owner: string, ttlMs: number): Promise<boolean> {
    const k = this.leaseKey(key)
    const expires = expirySeconds(ttlMs)
    if (await this.run((c) => c.add(k, owner, { expires }), 'lease add')) return true
    // Held: by us (take it again, with a new expiry), or by another process.
    const { value } = await this.run((c) => c.get(k), 'lease get')
    if (value?.toString() !== owner) return false
    await this.run((c) => c.set(k, owner, { expires }), 'lease set')
    return true
  }

  async release(key: string, owner: string): Promise<void> {
    const k = this.leaseKey(key)
    const { value } = await this.run((c) => c.get(k), 'lease get')
    if (value?.toString() === owner) await this.run((c) => c.delete(k), 'lease delete')
  }
}

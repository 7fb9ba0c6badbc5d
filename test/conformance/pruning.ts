/**
 * Conformance rows for the optional pruning capability (BackendPruning): exactly the entries
 * of no use go, at most `limit` a call, and the count is right. Stores that expire natively
 * (Redis, Memcached) do not offer it.
 */
import { expect, it } from 'vitest'
import type { Backend, CacheRecord, EntryMeta } from '../../src/index.js'
import { meta } from '../helpers/meta.js'

function rec(key: string, body: string, overrides: Partial<EntryMeta>): CacheRecord {
  const bytes = Buffer.from(body)
  return { meta: meta({ key, url: `http://h/${key}`, createdAt: Date.now() - 120_000, size: bytes.byteLength, ...overrides }), body: bytes }
}

export function pruningCases(name: string, backend: () => Backend, keys: (b: Backend) => Promise<string[]>): void {
  it('pruning: prune(now, limit) removes only entries of no use, at most limit a call, and counts them', async () => {
    const b = backend()
    if (b.pruning === undefined) return expect(name).toMatch(/Redis|Memcached/)
    const now = Date.now()
    const dead = { expiresAt: now - 60_000, staleIfErrorUntil: 0, staleWhileRevalidateUntil: 0 }
    for (let i = 0; i < 5; i++) await b.set(`dead${i}`, rec(`dead${i}`, 'x'.repeat(50), dead))
    await b.set('live', rec('live', 'x', { expiresAt: now + 3_600_000 }))
    // Expired, but still of use: revalidatable (deadAt null) or inside a stale window.
    await b.set('etag', rec('etag', 'x', { ...dead, headers: { etag: '"1"' } }))
    await b.set('sie', rec('sie', 'x', { ...dead, staleIfErrorUntil: now + 60_000 }))
    await b.set('later', rec('later', 'x', { ...dead, expiresAt: now + 30_000 }))
    expect(await b.pruning.prune(now, 3)).toBe(3)
    expect(await b.pruning.prune(now, 3)).toBe(2)
    expect(await b.pruning.prune(now, 3)).toBe(0)
    expect(await keys(b)).toEqual(['etag', 'later', 'live', 'sie'])
    expect(await b.get('dead0')).toBeUndefined()
    // Time moves on: what died meanwhile goes too.
    expect(await b.pruning.prune(now + 31_000, 10)).toBe(1)
    expect(await keys(b)).toEqual(['etag', 'live', 'sie'])
  })
}

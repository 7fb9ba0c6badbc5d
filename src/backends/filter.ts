import type { Backend, BackendStats, EntryFilter, EntryMeta } from './contract.js'
import { weigh } from './limits.js'

/** The EntryFilter predicate, for backends without indexes to answer it. */
export function matchesFilter(meta: EntryMeta, filter: EntryFilter | undefined): boolean {
  if (!filter) return true
  if (filter.urls && !filter.urls.includes(meta.url)) return false
  if (filter.expiredAt !== undefined && (meta.expiresAt === null || meta.expiresAt > filter.expiredAt)) return false
  if (filter.createdBefore !== undefined && meta.createdAt >= filter.createdBefore) return false
  return true
}

/**
 * The shared fallback for `Backend.deleteMatching` in a store with nothing better: list, then
 * delete. (SQLite answers it with one indexed statement instead.)
 */
export async function deleteMatchingByScan(backend: Pick<Backend, 'entries' | 'delete'>, filter: EntryFilter): Promise<number> {
  const keys: string[] = []
  for await (const [key] of backend.entries(filter)) keys.push(key)
  return keys.length === 0 ? 0 : backend.delete(keys)
}

/** The shared fallback for `Backend.stats` in a store that keeps no totals: one pass over the listing. */
export async function statsByScan(backend: Pick<Backend, 'entries'>): Promise<BackendStats> {
  let entries = 0
  let bytes = 0
  for await (const [, meta] of backend.entries()) {
    entries++
    bytes += weigh(meta, meta.size)
  }
  return { entries, bytes }
}

import type { EntryFilter, EntryMeta } from '../types.js'

/** The EntryFilter predicate, for backends without indexes to answer it. */
export function matchesFilter(meta: EntryMeta, filter: EntryFilter | undefined): boolean {
  if (!filter) return true
  if (filter.urls && !filter.urls.includes(meta.url)) return false
  if (filter.expiredAt !== undefined && (meta.expiresAt === null || meta.expiresAt > filter.expiredAt)) return false
  if (filter.createdBefore !== undefined && meta.createdAt >= filter.createdBefore) return false
  return true
}

import type { Backend, EntryFilter, EntryMeta } from '../types.js'

/** The EntryFilter predicate, for backends without indexes to answer it. */
export function matchesFilter(meta: EntryMeta, filter: EntryFilter | undefined): boolean {
  if (!filter) return true
  if (filter.urls && !filter.urls.includes(meta.url)) return false
  if (filter.expiredAt !== undefined && (meta.expiresAt === null || meta.expiresAt > filter.expiredAt)) return false
  if (filter.createdBefore !== undefined && meta.createdAt >= filter.createdBefore) return false
  return true
}

/** Delete what matches a filter: in one statement where the backend can, else list, then delete. */
export async function deleteWhere(backend: Backend, filter: EntryFilter): Promise<number> {
  if (backend.deleteMatching) return backend.deleteMatching(filter)
  const keys: string[] = []
  for await (const [key] of backend.entries(filter)) keys.push(key)
  return keys.length === 0 ? 0 : backend.delete(keys)
}

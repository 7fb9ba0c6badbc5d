import type { EntryMeta } from '../../src/types.js'

/** A stored entry's metadata with sensible defaults, for decision-function tables. */
export function meta(overrides: Partial<EntryMeta> = {}): EntryMeta {
  return {
    v: 1,
    kind: 'response',
    key: 'k',
    method: 'GET',
    url: 'http://127.0.0.1/a',
    status: 200,
    statusText: 'OK',
    headers: {},
    requestHeaders: {},
    vary: [],
    createdAt: 1_000_000,
    expiresAt: 1_060_000,
    initialAge: 0,
    staleIfErrorUntil: 0,
    staleWhileRevalidateUntil: 0,
    mustRevalidate: false,
    size: 0,
    ...overrides,
  }
}

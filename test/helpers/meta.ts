import type { EntryMeta } from '../../src/backends/contract.js'
import { uselessAt } from '../../src/rules/decide-read.js'

/**
 * A stored entry's metadata with sensible defaults, for decision-function tables. `deadAt` is
 * derived as the engine writes it, unless given.
 */
export function meta(overrides: Partial<EntryMeta> = {}): EntryMeta {
  const m: EntryMeta = {
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
  if (!('deadAt' in overrides)) m.deadAt = m.kind === 'vary' ? null : uselessAt(m)
  return m
}

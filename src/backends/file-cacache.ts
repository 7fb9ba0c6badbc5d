/**
 * FileBackend's storage layer: the cacache calls it makes, loaded lazily, with the key prefix
 * and the per-entry salt that make every content file belong to exactly one entry (see
 * file.ts for the layout), and the small file-system helpers its eviction and vacuum share.
 */
import { createHash } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type Cacache from 'cacache'
import { FORMAT_VERSION } from './entry.js'
import type { EntryMeta } from './contract.js'

/** The format version lives in the key prefix: a new format never reads an old entry. */
export const PREFIX = `fetchcache:v${FORMAT_VERSION}:`
/** Bytes of the per-entry prefix of every content file (SHA-256 of the index key). */
export const SALT = 32
const CONCURRENCY = 16

/** cacache's index entry, as its functions return it (its typings are looser than its code). */
export interface IndexEntry {
  key: string
  integrity: string
  path: string
  size: number
  time: number
  metadata?: unknown
}

/**
 * cacache and its dependencies take ~60 ms to import: load them on first use, so that importing
 * fetchcache stays cheap for everyone who never opens a FileBackend.
 */
let loading: Promise<typeof Cacache> | undefined
const load = (): Promise<typeof Cacache> =>
  (loading ??= import('cacache').then((m) => ((m as { default?: typeof Cacache }).default ?? m) as typeof Cacache))

export const cc = {
  /**
   * Resolves with the integrity as the index stores it (cacache hands back an object).
   * `tmpPrefix` routes the temp file into the writer's own folder (see file-leftovers.ts).
   */
  put: async (dir: string, key: string, data: Buffer, metadata: EntryMeta, tmpPrefix: string) =>
    String(await (await load()).put(dir, key, data, { metadata, tmpPrefix })),
  info: async (dir: string, key: string) => (await load()).get.info(dir, key) as Promise<IndexEntry | null>,
  read: async (dir: string, integrity: string, size: number) => (await load()).get.byDigest(dir, integrity, { size }),
  list: async function* (dir: string): AsyncIterable<IndexEntry> {
    yield* (await load()).ls.stream(dir) as unknown as AsyncIterable<IndexEntry>
  },
  compact: async (dir: string, key: string, tmpPrefix: string) =>
    ((await load()).index.compact as (dir: string, key: string, match: (a: IndexEntry, b: IndexEntry) => boolean, opts: { tmpPrefix: string }) => Promise<IndexEntry[]>)(
      dir, key, (a, b) => a.key === b.key, { tmpPrefix }),
  /** Remove the whole index bucket of the key, not just append a tombstone line. */
  removeEntry: async (dir: string, key: string) =>
    ((await load()).rm.entry as (dir: string, key: string, opts: { removeFully: boolean }) => Promise<unknown>)(dir, key, { removeFully: true }),
  removeContent: async (dir: string, integrity: string) => (await load()).rm.content(dir, integrity),
  removeAll: async (dir: string) => (await load()).rm.all(dir),
}

export function salt(indexKey: string): Buffer {
  return createHash('sha256').update(indexKey).digest()
}

export function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined
}

/** Weight of a stored entry from its index line alone: body plus metadata bytes. */
export function weightOf(entry: IndexEntry): number {
  return Math.max(0, entry.size - SALT) + Buffer.byteLength(JSON.stringify(entry.metadata ?? null))
}

export async function eachLimit<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker))
}

/** Files exactly `depth` levels below `dir`. */
export async function walk(dir: string, depth: number): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const paths = names.map((n) => join(dir, n))
  if (depth === 1) return paths
  return (await Promise.all(paths.map((p) => walk(p, depth - 1)))).flat()
}

/** Every backend runs the one conformance suite (test/conformance/suite.ts). */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { expect } from 'vitest'
import { FileBackend, MemoryBackend, SQLiteBackend, TieredBackend } from '../src/index.js'
import { backendConformance } from './conformance/suite.js'

/** Files exactly `depth` levels below `dir`. */
function files(dir: string, depth: number): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const paths = names.map((n) => join(dir, n))
  return depth === 1 ? paths : paths.flatMap((p) => files(p, depth - 1))
}

backendConformance({
  name: 'MemoryBackend',
  open: (_dir, options) => new MemoryBackend(options),
  shared: false,
  persistent: false,
  limits: true,
})

backendConformance({
  name: 'SQLiteBackend',
  open: (dir, options) => new SQLiteBackend({ path: join(dir, 'cache.sqlite'), ...options }),
  storePath: (dir) => join(dir, 'cache.sqlite'),
  shared: true,
  persistent: true,
  child: 'sqlite',
  limits: true,
  async checkFootprint(dir, backend, maxSize) {
    const { entries } = await backend.stats!()
    const db = new Database(join(dir, 'cache.sqlite'), { readonly: true })
    const [rows, bodies] = db.prepare('SELECT count(*), coalesce(sum(length(body)), 0) FROM responses_v1').raw(true).get() as [number, number]
    const pages = db.pragma('page_count', { simple: true }) as number
    const pageSize = db.pragma('page_size', { simple: true }) as number
    db.close()
    // Evicted rows are really deleted, and the file reuses their pages instead of growing.
    expect(rows).toBe(entries)
    expect(bodies).toBeLessThanOrEqual(maxSize)
    expect(pages * pageSize).toBeLessThan(2 * maxSize)
  },
})

backendConformance({
  name: 'FileBackend',
  open: (dir, options) => new FileBackend({ path: dir, ...options }),
  storePath: (dir) => dir,
  shared: true,
  persistent: true,
  child: 'file',
  limits: true,
  async checkFootprint(dir, backend, maxSize) {
    const { entries } = await backend.stats!()
    // One index bucket and one content file per entry: evicted entries left nothing behind.
    const buckets = files(join(dir, 'index-v5'), 3)
    const contents = files(join(dir, 'content-v2'), 4)
    expect(buckets.length).toBe(entries)
    expect(contents.length).toBe(entries)
    expect(contents.reduce((sum, f) => sum + statSync(f).size, 0)).toBeLessThanOrEqual(maxSize)
  },
})

backendConformance({
  name: 'TieredBackend (memory in front of SQLite)',
  open: (dir, options) => new TieredBackend({ backend: new SQLiteBackend({ path: join(dir, 'cache.sqlite'), ...options }) }),
  shared: false,
  persistent: true,
  // Limits belong to the backend behind; its evictions do not reach this process's memory tier.
  limits: false,
})

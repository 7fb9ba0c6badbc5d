import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import cacache from 'cacache'
import { Agent, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { BackendError, type Backend, type CacheRecord, cacheInterceptor, createCachedFetch, FileBackend, MemoryBackend, SQLiteBackend } from '../src/index.js'
import { keysOf, rec } from './conformance/suite.js'
import { meta } from './helpers/meta.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

let tmp: ReturnType<typeof tempDir>
let origin: Origin

beforeEach(async () => {
  tmp = tempDir()
  origin = await startOrigin({ '/a': reply(200, { 'cache-control': 'max-age=60' }, 'origin body') })
})

afterEach(async () => {
  await origin.close()
  tmp.cleanup()
})

function record(key: string, body: string, overrides: Parameters<typeof meta>[0] = {}): CacheRecord {
  return { meta: meta({ key, url: `http://h/${key}`, size: body.length, ...overrides }), body: Buffer.from(body) }
}

// get/set/delete/entries/clear, limits and eviction for every backend: test/conformance.test.ts.
// Here: what is each backend's own.

describe('MemoryBackend limits', () => {
  it('evicts the least recently used entries by count', async () => {
    const m = new MemoryBackend({ maxEntries: 2 })
    await m.set('a', record('a', 'x'))
    await m.set('b', record('b', 'x'))
    await m.get('a')
    await m.set('c', record('c', 'x'))
    expect(await m.get('b')).toBeUndefined()
    expect(await m.get('a')).toBeDefined()
    expect(await m.get('c')).toBeDefined()
    expect(m.size).toBe(2)
  })

  it('stays under its byte cap, dropping expired entries first', async () => {
    const m = new MemoryBackend({ maxSize: 4000 })
    const now = Date.now()
    await m.set('old-but-fresh', record('old-but-fresh', 'x'.repeat(1000), { expiresAt: now + 60_000 }))
    await m.set('expired', record('expired', 'x'.repeat(1000), { expiresAt: now - 1 }))
    await m.set('new', record('new', 'x'.repeat(1500)))
    expect(m.totalBytes).toBeLessThanOrEqual(4000)
    expect(await m.get('expired')).toBeUndefined()
    expect(await m.get('old-but-fresh')).toBeDefined()
  })
})

describe('faults never reach the caller', () => {
  async function fetchTwice(backend: Backend, onError: (e: unknown) => void) {
    const interceptor = cacheInterceptor({ backend, onError })
    const dispatcher = new Agent().compose(interceptor)
    const bodies: string[] = []
    for (let i = 0; i < 2; i++) {
      const res = await request(`${origin.url}/a`, { dispatcher })
      expect(res.statusCode).toBe(200)
      bodies.push(await res.body.text())
      await interceptor.cache.flush()
    }
    await dispatcher.close()
    return bodies
  }

  it('a corrupt SQLite row is a miss, is reported, and is removed', async () => {
    const path = join(tmp.dir, 'c.sqlite')
    const backend = new SQLiteBackend({ path })
    const errors: unknown[] = []
    const interceptor = cacheInterceptor({ backend, onError: (e) => errors.push(e) })
    const dispatcher = new Agent().compose(interceptor)
    await (await request(`${origin.url}/a`, { dispatcher })).body.text()
    await interceptor.cache.flush()
    const raw = new Database(path)
    raw.prepare('UPDATE responses_v1 SET meta = ?').run('{not json')
    raw.close()
    const res = await request(`${origin.url}/a`, { dispatcher })
    expect(await res.body.text()).toBe('origin body')
    expect(origin.count('/a')).toBe(2)
    expect(errors.some((e) => (e as { code?: string }).code === 'ERR_FETCHCACHE_CORRUPT_ENTRY')).toBe(true)
    await interceptor.cache.flush()
    const third = await request(`${origin.url}/a`, { dispatcher })
    expect(third.headers['cache-status']).toMatch(/hit/)
    await third.body.text()
    await dispatcher.close()
    await backend.close()
  })

  it('a locked database skips the write and reports it; the response is untouched', async () => {
    const path = join(tmp.dir, 'locked.sqlite')
    const backend = new SQLiteBackend({ path, busyTimeout: 20 })
    const other = new Database(path)
    other.exec('BEGIN IMMEDIATE')
    const errors: unknown[] = []
    expect(await fetchTwice(backend, (e) => errors.push(e))).toEqual(['origin body', 'origin body'])
    expect(origin.count('/a')).toBe(2)
    // Every fault is reported as a BackendError, and the skipped write is among them.
    expect(errors.length).toBeGreaterThan(0)
    expect(errors.every((e) => e instanceof BackendError)).toBe(true)
    expect(errors.some((e) => /write of/.test((e as Error).message))).toBe(true)
    other.exec('ROLLBACK')
    other.close()
    await backend.close()
  })

  it('a closed database is a miss on every request', async () => {
    const backend = new SQLiteBackend({ path: join(tmp.dir, 'closed.sqlite') })
    await backend.close()
    const errors: unknown[] = []
    expect(await fetchTwice(backend, (e) => errors.push(e))).toEqual(['origin body', 'origin body'])
    // Each request's read and write failed and was reported, never thrown.
    expect(errors.length).toBeGreaterThanOrEqual(2)
    expect(errors.every((e) => e instanceof BackendError)).toBe(true)
    expect(errors.some((e) => /read of/.test((e as Error).message))).toBe(true)
  })
})

describe('SQLiteBackend', () => {
  const sizeOnDisk = (path: string) => ['', '-wal'].reduce((sum, s) => sum + (existsSync(path + s) ? statSync(path + s).size : 0), 0)

  it('a hit writes nothing; access times are written in one batch per touchInterval', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      const path = join(tmp.dir, 'touch.sqlite')
      const backend = new SQLiteBackend({ path, touchInterval: 5000 })
      await backend.set('a', record('a', 'A'))
      await backend.set('b', record('b', 'B'))
      const watcher = new Database(path, { readonly: true })
      // data_version changes when another connection commits: here, any write of the backend.
      const version = () => watcher.pragma('data_version', { simple: true })
      const accessed = () => watcher.prepare('SELECT key, accessed_at FROM responses_v1 ORDER BY key').raw(true).all()
      const before = [version(), accessed()]
      for (let i = 0; i < 200; i++) await backend.get(i % 2 ? 'a' : 'b')
      expect([version(), accessed()]).toEqual(before)
      vi.advanceTimersByTime(5000)
      await Promise.resolve()
      expect(version()).not.toBe(before[0])
      const after = accessed() as Array<[string, number]>
      const was = before[1] as Array<[string, number]>
      expect(after.every(([, at], i) => at > was[i]![1])).toBe(true)
      watcher.close()
      await backend.close()
    } finally {
      vi.useRealTimers()
    }
  })

  it('expiry, URL, age and eviction lookups are indexed statements', () => {
    const path = join(tmp.dir, 'plan.sqlite')
    new SQLiteBackend({ path }).close()
    const db = new Database(path, { readonly: true })
    const plan = (sql: string, ...params: unknown[]) => db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params).map((r) => (r as { detail: string }).detail).join('; ')
    expect(plan('DELETE FROM responses_v1 WHERE expires_at <= ?', 1)).toMatch(/USING (COVERING )?INDEX responses_v1_expires/)
    expect(plan('DELETE FROM responses_v1 WHERE url IN (?, ?)', 'a', 'b')).toMatch(/USING (COVERING )?INDEX responses_v1_url/)
    expect(plan('DELETE FROM responses_v1 WHERE created_at < ?', 1)).toMatch(/USING (COVERING )?INDEX responses_v1_created/)
    expect(plan('DELETE FROM responses_v1 WHERE dead_at <= ? AND key <> ?', 1, 'k')).toMatch(/USING INDEX responses_v1_dead/)
    const lru = plan('SELECT id, weight FROM responses_v1 WHERE key <> ? ORDER BY accessed_at, id', 'k')
    expect(lru).toMatch(/USING INDEX responses_v1_accessed/)
    expect(lru).not.toMatch(/TEMP B-TREE/)
    db.close()
  })

  it('the file shrinks after a large delete (incremental vacuum), small deletes leave pages for reuse', async () => {
    const path = join(tmp.dir, 'shrink.sqlite')
    const backend = new SQLiteBackend({ path })
    const now = Date.now()
    for (let i = 0; i < 40; i++) await backend.set(`old${i}`, rec(`old${i}`, Buffer.alloc(256 * 1024, i), { expiresAt: now - 1000 }))
    for (let i = 0; i < 10; i++) await backend.set(`new${i}`, rec(`new${i}`, Buffer.alloc(1024, i)))
    const full = sizeOnDisk(path)
    expect(full).toBeGreaterThan(10 * 1024 * 1024)
    expect(await backend.deleteMatching({ expiredAt: now })).toBe(40)
    // The database file is cut back at once (the WAL is reused, and removed on close).
    const shrunk = statSync(path).size
    expect(shrunk).toBeLessThan(512 * 1024)
    const db = new Database(path, { readonly: true })
    expect(db.pragma('freelist_count', { simple: true })).toBeLessThan(16)
    db.close()
    await backend.close()
    expect(sizeOnDisk(path)).toBeLessThan(512 * 1024)
    const again = new SQLiteBackend({ path })
    expect(await keysOf(again)).toHaveLength(10)
    // A small delete does not move pages around: the next writes reuse them.
    await again.delete(['new0'])
    const db2 = new Database(path, { readonly: true })
    expect(db2.pragma('freelist_count', { simple: true })).toBeGreaterThan(0)
    db2.close()
    await again.close()
  })

  it('vacuum() rebuilds the file', async () => {
    const path = join(tmp.dir, 'vacuum.sqlite')
    const backend = new SQLiteBackend({ path })
    for (let i = 0; i < 20; i++) await backend.set(`k${i}`, rec(`k${i}`, Buffer.alloc(64 * 1024, i)))
    await backend.delete(['k0', 'k1', 'k2'])
    const before = sizeOnDisk(path)
    await backend.vacuum()
    expect(sizeOnDisk(path)).toBeLessThan(before)
    expect(await keysOf(backend)).toHaveLength(17)
    await backend.close()
  })

  it('a table from a pre-release build of format 1 is replaced, not a crash', async () => {
    const path = join(tmp.dir, 'old.sqlite')
    const raw = new Database(path)
    raw.exec(`CREATE TABLE responses_v1 (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, url TEXT NOT NULL, method TEXT NOT NULL,
      status INTEGER NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER, size INTEGER NOT NULL, meta TEXT NOT NULL, body BLOB NOT NULL)`)
    raw.prepare('INSERT INTO responses_v1 VALUES (1, ?, ?, ?, 200, 0, NULL, 1, ?, ?)').run('old', 'http://h/old', 'GET', '{}', Buffer.from('x'))
    raw.close()
    const backend = new SQLiteBackend({ path, maxEntries: 10 })
    expect(await backend.get('old')).toBeUndefined()
    await backend.set('a', record('a', 'A'))
    expect(await keysOf(backend)).toEqual(['a'])
    expect(await backend.stats()).toMatchObject({ entries: 1 })
    await backend.close()
    const db = new Database(path, { readonly: true })
    expect(db.pragma('auto_vacuum', { simple: true })).toBe(2)
    db.close()
  })

  it('rejects unknown options and bad values, naming them', () => {
    expect(() => new SQLiteBackend({ pth: 'x' } as never)).toThrow(/SQLiteBackend: unknown option 'pth'/)
    expect(() => new SQLiteBackend({ path: join(tmp.dir, 'x.sqlite'), touchInterval: 0 })).toThrow(/SQLiteBackend touchInterval: expected a positive whole number; got 0/)
    expect(() => new SQLiteBackend({ path: join(tmp.dir, 'x.sqlite'), busyTimeout: -5 })).toThrow(/SQLiteBackend busyTimeout/)
  })
})

describe('FileBackend', () => {
  const files = (dir: string, depth: number): string[] => {
    if (!existsSync(dir)) return []
    const paths = readdirSync(dir).map((n) => join(dir, n))
    return depth === 1 ? paths : paths.flatMap((p) => files(p, depth - 1))
  }
  const buckets = (dir: string) => files(join(dir, 'index-v5'), 3)
  const contents = (dir: string) => files(join(dir, 'content-v2'), 4)

  it('listing and expiry read the index only, never a body', async () => {
    const dir = join(tmp.dir, 'c')
    const backend = new FileBackend({ path: dir })
    const now = Date.now()
    await backend.set('a', rec('a', 'A'))
    await backend.set('old', rec('old', 'O', { expiresAt: now - 1 }))
    for (const f of contents(dir)) writeFileSync(f, 'not the body any more')
    expect(await keysOf(backend)).toEqual(['a', 'old'])
    expect(await keysOf(backend, { expiredAt: now })).toEqual(['old'])
    expect((await backend.stats()).entries).toBe(2)
    expect(await backend.deleteMatching({ expiredAt: now })).toBe(1)
    await expect(backend.get('a')).rejects.toMatchObject({ code: 'ERR_FETCHCACHE_CORRUPT_ENTRY' })
    await backend.close()
  })

  it('delete removes the index bucket and the body: nothing is left behind', async () => {
    const dir = join(tmp.dir, 'c')
    const backend = new FileBackend({ path: dir })
    for (let i = 0; i < 10; i++) await backend.set('a', rec('a', `version ${i}`))
    for (let i = 0; i < 3; i++) await backend.set('b', rec('b', 'B'))
    // An overwritten key keeps one index line and one body.
    expect(buckets(dir)).toHaveLength(2)
    expect(contents(dir)).toHaveLength(2)
    const lines = buckets(dir).map((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).length)
    expect(lines).toEqual([1, 1])
    expect(await backend.delete(['a', 'b'])).toBe(2)
    expect(buckets(dir)).toEqual([])
    expect(contents(dir)).toEqual([])
    await backend.close()
  })

  it('concurrent writes of one key in one process leave one body and one index line', async () => {
    const dir = join(tmp.dir, 'c')
    const backend = new FileBackend({ path: dir })
    await Promise.all(Array.from({ length: 10 }, (_, i) => backend.set('a', rec('a', `version ${i}`))))
    expect(Buffer.from((await backend.get('a'))!.body).toString()).toBe('version 9')
    expect(contents(dir)).toHaveLength(1)
    expect(buckets(dir).map((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).length)).toEqual([1])
    await backend.close()
  })

  it('equal bodies under two keys are two files: deleting one leaves the other whole', async () => {
    const dir = join(tmp.dir, 'c')
    const backend = new FileBackend({ path: dir })
    await backend.set('a', rec('a', 'same body'))
    await backend.set('b', rec('b', 'same body'))
    await backend.set('m1', { meta: meta({ key: 'm1', kind: 'vary', expiresAt: null }), body: new Uint8Array(0) })
    await backend.set('m2', { meta: meta({ key: 'm2', kind: 'vary', expiresAt: null }), body: new Uint8Array(0) })
    expect(contents(dir)).toHaveLength(4)
    await backend.delete(['a', 'm1'])
    expect(Buffer.from((await backend.get('b'))!.body).toString()).toBe('same body')
    expect((await backend.get('m2'))!.meta.kind).toBe('vary')
    await backend.close()
  })

  it('hits are batched: the body file\'s time moves once per touchInterval or on close', async () => {
    const dir = join(tmp.dir, 'c')
    const backend = new FileBackend({ path: dir, touchInterval: 3_600_000 })
    await backend.set('a', rec('a', 'A'))
    const [file] = contents(dir)
    utimesSync(file!, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000))
    const before = statSync(file!).mtimeMs
    for (let i = 0; i < 50; i++) await backend.get('a')
    expect(statSync(file!).mtimeMs).toBe(before)
    await backend.close()
    expect(statSync(file!).mtimeMs).toBeGreaterThan(before + 50_000)
  })

  it('vacuum() collects orphaned bodies, broken entries and stale temp files, sparing young orphans while another writer lives', async () => {
    const dir = join(tmp.dir, 'c')
    const backend = new FileBackend({ path: dir })
    await backend.set('keep', rec('keep', 'kept'))
    // Another writer on the folder, alive: a young orphan may be its body about to be indexed.
    const other = new FileBackend({ path: dir })
    await other.set('other', rec('other', 'other body'))
    const hourAgo = new Date(Date.now() - 3_600_000)
    // A crash between writing a body and indexing it leaves content no entry points to.
    const oldOrphan = await cacache.put(dir, 'scratch-old', Buffer.from('old orphan'))
    const youngOrphan = await cacache.put(dir, 'scratch-young', Buffer.from('young orphan'))
    for (const key of ['scratch-old', 'scratch-young']) await cacache.rm.entry(dir, key)
    const oldPath = (await cacache.get.hasContent(dir, oldOrphan)) && contents(dir).find((f) => readFileSync(f).toString() === 'old orphan')!
    utimesSync(oldPath as string, hourAgo, hourAgo)
    // An entry of this format whose metadata does not decode.
    await cacache.put(dir, 'fetchcache:v1:broken', Buffer.from('x'), { metadata: { v: 1 } })
    writeFileSync(join(dir, 'tmp', 'stale-write'), 'x')
    utimesSync(join(dir, 'tmp', 'stale-write'), hourAgo, hourAgo)
    await backend.vacuum()
    expect(await cacache.get.hasContent(dir, oldOrphan)).toBe(false)
    expect(await cacache.get.hasContent(dir, youngOrphan)).not.toBe(false)
    expect(await cacache.get.info(dir, 'fetchcache:v1:broken')).toBeNull()
    expect(existsSync(join(dir, 'tmp', 'stale-write'))).toBe(false)
    expect(Buffer.from((await backend.get('keep'))!.body).toString()).toBe('kept')
    // Once no other writer lives, no one can still index it: it goes, however young.
    await other.close()
    await backend.vacuum()
    expect(await cacache.get.hasContent(dir, youngOrphan)).toBe(false)
    expect(Buffer.from((await backend.get('other'))!.body).toString()).toBe('other body')
    await backend.close()
  })

  it("backend: 'filesystem' keeps the cache in the folder <name>/", async () => {
    const name = join(tmp.dir, 'fs_cache')
    const cachedFetch = createCachedFetch({ backend: 'filesystem', name })
    for (let i = 0; i < 2; i++) expect(await (await cachedFetch(`${origin.url}/a`)).text()).toBe('origin body')
    expect(origin.count('/a')).toBe(1)
    await cachedFetch.cache.close()
    expect(buckets(name)).toHaveLength(1)
    const backend = new FileBackend({ path: name })
    expect((await collectUrls(backend))[0]).toBe(`${origin.url}/a`)
    await backend.close()
  })

  it('rejects unknown options and bad values, naming them', () => {
    expect(() => new FileBackend({ folder: 'x' } as never)).toThrow(/FileBackend: unknown option 'folder'/)
    expect(() => new FileBackend({ path: '' })).toThrow(/FileBackend path: expected a folder name; got ''/)
    expect(() => new FileBackend({ maxSize: 0 })).toThrow(/FileBackend maxSize: expected a positive whole number; got 0/)
  })
})

async function collectUrls(backend: Backend): Promise<string[]> {
  const out: string[] = []
  for await (const [, m] of backend.entries()) out.push(m.url)
  return out
}

describe('eviction keeps what can still be revalidated', () => {
  const live = () => ({ expiresAt: Date.now() + 60_000 })
  it('an expired entry with an ETag is evicted by recency, not first (RFC 9111 §4.3.1)', async () => {
    const m = new MemoryBackend({ maxEntries: 2 })
    const past = Date.now() - 60_000
    await m.set('validated', record('validated', 'x', { expiresAt: past, headers: { etag: '"v1"' } }))
    await m.set('fresh', record('fresh', 'x', live()))
    await m.get('validated')
    await m.set('new', record('new', 'x', live()))
    expect(await m.get('validated')).toBeDefined()
    expect(await m.get('fresh')).toBeUndefined()
  })

  it('an expired entry without a validator is evicted first, even if just used', async () => {
    const m = new MemoryBackend({ maxEntries: 2 })
    await m.set('dead', record('dead', 'x', { expiresAt: Date.now() - 60_000 }))
    await m.set('fresh', record('fresh', 'x', live()))
    await m.get('dead')
    await m.set('new', record('new', 'x', live()))
    expect(await m.get('dead')).toBeUndefined()
    expect(await m.get('fresh')).toBeDefined()
  })
})

// Background pruning (issue 11): entries of no use leave a real SQLite file or cacache folder
// at open and after each pruneInterval, bounded per run; live and revalidatable entries stay;
// read-only, disabled and inspection caches prune nothing; a failing prune never fails a request.
// The clock (Date and setTimeout) is faked: no test sleeps.
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type Backend, BackendError, type Cache, type CacheRecord, createCachedFetch, type EntryMeta, FileBackend, MemoryBackend, openCache, SQLiteBackend } from '../src/index.js'
import { PRUNE_MAX_PER_RUN } from '../src/pipeline/prune.js'
import { meta } from './helpers/meta.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

const T0 = Date.UTC(2031, 0, 1, 12, 0, 0)
const HOUR = 3_600_000

let tmp: ReturnType<typeof tempDir>
const open: Array<{ close(): Promise<void> }> = []

beforeEach(() => {
  tmp = tempDir()
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  vi.setSystemTime(T0)
})

afterEach(async () => {
  for (const c of open.splice(0)) await c.close()
  vi.useRealTimers()
  tmp.cleanup()
})

/** A stored response at `http://h/<key>`, expired an hour ago unless told otherwise. */
function rec(key: string, overrides: Partial<EntryMeta> = {}): CacheRecord {
  const body = Buffer.from(`body of ${key}`)
  return {
    meta: meta({ key, url: `http://h/${key}`, createdAt: T0 - 2 * HOUR, expiresAt: T0 - HOUR, size: body.byteLength, ...overrides }),
    body,
  }
}

/** Dead ones, one live for an hour, one revalidatable (deadAt null), one dying in 30 minutes. */
async function seed(backend: Backend, dead = 3): Promise<void> {
  for (let i = 0; i < dead; i++) await backend.set(`dead${i}`, rec(`dead${i}`))
  await backend.set('live', rec('live', { expiresAt: T0 + HOUR }))
  await backend.set('etag', rec('etag', { headers: { etag: '"v1"' } }))
  await backend.set('soon', rec('soon', { expiresAt: T0 + HOUR / 2 }))
  await backend.close()
}

function track<T extends { cache: Cache }>(f: T): T {
  open.push(f.cache)
  return f
}

async function keys(cache: Cache): Promise<string[]> {
  const out: string[] = []
  for await (const m of cache.entries()) out.push(m.key)
  return out.sort()
}

/** Let `ms` pass on the faked clock, then wait for the prune it started (if any) to end. */
async function pass(cache: Cache, ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms)
  await cache.engine.pruner.idle()
}

const SEEDED = ['dead0', 'dead1', 'dead2', 'etag', 'live', 'soon']

describe.each([
  ['sqlite', (dir: string) => new SQLiteBackend({ path: join(dir, 'c.sqlite') }), (dir: string) => ({ name: join(dir, 'c') })],
  ['filesystem', (dir: string) => new FileBackend({ path: join(dir, 'c') }), (dir: string) => ({ name: join(dir, 'c'), backend: 'filesystem' as const })],
])('%s: background pruning', (_name, backendAt, optionsAt) => {
  it('removes the entries of no use shortly after open, then what died at each interval; live and revalidatable ones stay', async () => {
    await seed(backendAt(tmp.dir))
    const f = track(createCachedFetch(optionsAt(tmp.dir)))
    expect(await keys(f.cache)).toEqual(SEEDED)
    expect((await f.cache.stats()).dead).toBe(3)

    await pass(f.cache, 100)
    expect(await keys(f.cache)).toEqual(['etag', 'live', 'soon'])
    const s = await f.cache.stats()
    expect(s).toMatchObject({ entries: 3, dead: 0, pruning: { interval: 3600, lastRunAt: T0 + 100, lastRemoved: 3, removed: 3 } })

    // 'soon' died half an hour in, 'live' at the hour: both gone at the next run; 'etag' stays.
    await pass(f.cache, HOUR - 1000)
    expect(await keys(f.cache)).toEqual(['etag', 'live', 'soon'])
    await pass(f.cache, 1000)
    expect(await keys(f.cache)).toEqual(['etag'])
    expect((await f.cache.stats()).pruning).toMatchObject({ lastRemoved: 2, removed: 5 })
  })

  it.each([
    ['pruneInterval: false', { pruneInterval: false as const }],
    ['readOnly: true', { readOnly: true }],
  ])('%s prunes nothing, ever', async (_label, extra) => {
    await seed(backendAt(tmp.dir))
    const f = track(createCachedFetch({ ...optionsAt(tmp.dir), ...extra }))
    await pass(f.cache, 100)
    await pass(f.cache, 3 * HOUR)
    expect(await keys(f.cache)).toEqual(SEEDED)
    expect((await f.cache.stats()).pruning).toEqual({ interval: 0, lastRunAt: null, lastRemoved: 0, removed: 0 })
  })

  it('openCache() (inspection) prunes nothing by itself; cache.prune() removes every entry of no use on demand', async () => {
    await seed(backendAt(tmp.dir))
    const cache = openCache(optionsAt(tmp.dir))
    open.push(cache)
    await pass(cache, 2 * HOUR)
    expect(await keys(cache)).toEqual(SEEDED)
    expect(await cache.prune()).toBe(5)
    expect(await keys(cache)).toEqual(['etag'])
  })
})

describe('bounded work per run', () => {
  it(`2,500 dead entries in SQLite: each run removes at most ${PRUNE_MAX_PER_RUN}, the backlog goes over the next runs`, async () => {
    const path = join(tmp.dir, 'c.sqlite')
    const b = new SQLiteBackend({ path })
    for (let i = 0; i < 2500; i++) await b.set(`dead${i}`, rec(`dead${i}`))
    await b.set('live', rec('live', { expiresAt: T0 + 10 * HOUR }))
    await b.close()
    const f = track(createCachedFetch({ name: join(tmp.dir, 'c') }))
    const left = async () => (await f.cache.stats()).entries

    await pass(f.cache, 100)
    expect((await f.cache.stats()).pruning.lastRemoved).toBe(1000)
    expect(await left()).toBe(1501)
    await pass(f.cache, HOUR)
    expect(await left()).toBe(501)
    await pass(f.cache, HOUR)
    expect(await left()).toBe(1)
    expect((await f.cache.stats()).pruning).toMatchObject({ lastRemoved: 500, removed: 2500 })
    expect(await f.cache.urls()).toEqual(['http://h/live'])
  })
})

describe('SQLite locked by another process', () => {
  it('a prune does not wait for the lock (it would hold up requests on this thread): nothing now, all at the next run', async () => {
    const path = join(tmp.dir, 'c.sqlite')
    await seed(new SQLiteBackend({ path }))
    const b = new SQLiteBackend({ path, busyTimeout: 5000 })
    open.push(b)
    const other = new Database(path)
    other.exec('BEGIN IMMEDIATE')
    const started = performance.now()
    expect(await b.pruning.prune(T0, 10)).toBe(0)
    expect(performance.now() - started).toBeLessThan(1000)
    other.exec('ROLLBACK')
    other.close()
    expect(await b.pruning.prune(T0, 10)).toBe(3)
  })
})

describe('a failing prune', () => {
  let origin: Origin
  beforeEach(async () => {
    origin = await startOrigin({ '/a': reply(200, { 'cache-control': 'max-age=60' }, 'origin body') })
  })
  afterEach(async () => {
    await origin.close()
  })

  it.each([
    ['rejects', async (): Promise<number> => Promise.reject(new BackendError('prune: disk on fire'))],
    ['throws synchronously', (): Promise<number> => {
      throw new BackendError('prune: disk on fire')
    }],
  ])('that %s never fails a request; onError hears it; close() stops the timer', async (_how, prune) => {
    const inner = new MemoryBackend()
    let calls = 0
    const backend: Backend = {
      get: (k) => inner.get(k),
      set: (k, r) => inner.set(k, r),
      delete: (k) => inner.delete(k),
      deleteMatching: (f) => inner.deleteMatching(f),
      entries: (f) => inner.entries(f),
      stats: () => inner.stats(),
      clear: () => inner.clear(),
      close: () => inner.close(),
      pruning: { prune: () => (calls++, prune()) },
    }
    const errors: unknown[] = []
    const f = createCachedFetch({ backend, onError: (e) => errors.push(e) })
    await pass(f.cache, 100)
    expect(calls).toBe(1)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(BackendError)
    expect(errors[0]).toMatchObject({ message: 'prune failed: prune: disk on fire', cause: expect.objectContaining({ message: 'prune: disk on fire' }) })

    expect(await (await f(`${origin.url}/a`)).text()).toBe('origin body')
    await f.cache.flush()
    const hit = await f(`${origin.url}/a`)
    expect(await hit.text()).toBe('origin body')
    expect(hit.headers.get('cache-status')).toMatch(/hit/)
    expect(origin.count('/a')).toBe(1)

    await pass(f.cache, HOUR)
    expect(calls).toBe(2)
    await f.cache.close()
    await vi.advanceTimersByTimeAsync(3 * HOUR)
    expect(calls).toBe(2)
  })
})

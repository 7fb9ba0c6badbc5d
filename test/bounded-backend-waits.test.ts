/**
 * Every wait inside the cache is bounded (issue 11), when the backend is what stalls: a SQLite
 * file whose write lock another process holds, and backend calls that never settle (a stalled
 * file system, here a real FileBackend with one method made to hang). A request still ends
 * within its own origin time plus `lockTimeout`, with the origin's exact bytes.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { Agent, type Dispatcher, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type Backend, type CacheInterceptor, cacheInterceptor, createCachedFetch, FileBackend, NOT_NOW, SQLiteBackend } from '../src/index.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'
import { meta } from './helpers/meta.js'
import { tempDir } from './helpers/tmp.js'

/** lockTimeout of these tests, and the room a loaded 2-core machine needs beyond it. */
const LOCK_S = 0.5
const SLACK_MS = 1500
const BOUND_MS = LOCK_S * 1000 + SLACK_MS

let tmp: ReturnType<typeof tempDir>
let origin: Origin
const body = randomBytes(96 * 1024)
const closers: Array<() => Promise<unknown> | unknown> = []

beforeEach(async () => {
  tmp = tempDir()
  origin = await startOrigin({
    '/a': reply(200, { 'cache-control': 'max-age=600' }, body),
    '/slow': (_req, res) => void setTimeout(() => res.writeHead(200, { 'cache-control': 'max-age=600' }).end(body), 200),
    '/post': reply(200, { 'content-type': 'text/plain' }, 'posted'),
  })
})

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  await origin.close()
  tmp.cleanup()
})

function cache(backend: Backend, errors: unknown[], keyFn?: () => string): { dispatcher: Dispatcher; ic: CacheInterceptor } {
  const ic = cacheInterceptor({ backend, lockTimeout: LOCK_S, onError: (e) => void errors.push(e), ...(keyFn ? { keyFn } : {}) })
  const dispatcher = new Agent().compose(ic)
  closers.push(async () => {
    await dispatcher.close().catch(() => {})
    await ic.cache.close()
  })
  return { dispatcher, ic }
}

/** One request, timed: status, exact bytes and how long it took to the body's last byte. */
async function timed(dispatcher: Dispatcher, path: string, method: 'GET' | 'POST' = 'GET') {
  const started = performance.now()
  const res = await request(`${origin.url}${path}`, { dispatcher, method, ...(method === 'POST' ? { body: 'x' } : {}) })
  const bytes = Buffer.from(await res.body.arrayBuffer())
  return { status: res.statusCode, bytes, ms: performance.now() - started, cs: String(res.headers['cache-status']) }
}

/** Another process takes the SQLite file's write lock (BEGIN IMMEDIATE), or a lease it never fulfils, and keeps it. */
async function lockedByOther(path: string, ...how: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'workers/sqlite-locker.mjs'), path, ...how], { stdio: ['pipe', 'pipe', 'inherit'] })
  closers.push(() => new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(undefined)
    child.once('exit', resolve)
    child.stdin?.end()
  }))
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => d.toString().includes('locked') && resolve())
    child.once('exit', (code) => reject(new Error(`locker exited ${code}`)))
  })
  return child
}

describe('a SQLite file whose write lock another process holds (busyTimeout 5 s, waited out asynchronously)', () => {
  async function lockedCache(errors: unknown[], keyFn?: () => string) {
    const path = join(tmp.dir, 'c.sqlite')
    const backend = new SQLiteBackend({ path })
    // The lease table exists before the lock is taken, as it does once any process has coalesced.
    await backend.leases.acquire('warm-up', 'me', 1)
    const c = cache(backend, errors, keyFn)
    const { dispatcher } = c
    return { backend, dispatcher, path, ic: c.ic }
  }

  it('a miss is answered within lockTimeout of its origin time, its write waiting for the lock behind it', { timeout: 15_000 }, async () => {
    const errors: unknown[] = []
    const { dispatcher, path, ic } = await lockedCache(errors)
    const locker = await lockedByOther(path)
    const r = await timed(dispatcher, '/a')
    expect(r.status).toBe(200)
    expect(r.bytes.equals(body)).toBe(true)
    expect(r.ms).toBeLessThan(BOUND_MS)
    expect(origin.count('/a')).toBe(1)
    // The write waited for the lock (BusyRetry), it was not dropped: once the other process lets
    // go, the entry lands and the next request is a hit.
    await new Promise((resolve) => {
      locker.once('exit', resolve)
      locker.stdin?.end()
    })
    await ic.cache.flush()
    const again = await timed(dispatcher, '/a')
    expect(again.cs).toMatch(/hit/)
    expect(again.bytes.equals(body)).toBe(true)
    expect(origin.count('/a')).toBe(1)
  })

  it('vacuum() waits for another process\'s reader before truncating the WAL (a checkpoint says busy, it does not fail)', { timeout: 15_000 }, async () => {
    const path = join(tmp.dir, 'v.sqlite')
    const backend = new SQLiteBackend({ path, busyTimeout: 5000 })
    closers.push(() => backend.close())
    for (let i = 0; i < 20; i++) await backend.set(`k${i}`, { meta: meta({ key: `k${i}`, deadAt: null }), body: randomBytes(4096) })
    await lockedByOther(path, 'read', '400')
    const started = performance.now()
    await backend.vacuum()
    expect(performance.now() - started).toBeGreaterThanOrEqual(300)
    expect(statSync(`${path}-wal`).size).toBe(0)
  })

  it('a request waiting on another process\'s lease ends by lockTimeout though every poll meets the lock', { timeout: 15_000 }, async () => {
    const errors: unknown[] = []
    const { backend, dispatcher, path } = await lockedCache(errors, () => 'fixed-key')
    expect(await backend.leases.acquire('fixed-key', 'other-process', 60_000)).toMatchObject({ held: true })
    await lockedByOther(path)
    const r = await timed(dispatcher, '/a')
    expect(r.bytes.equals(body)).toBe(true)
    expect(r.ms).toBeLessThan(BOUND_MS)
    expect(origin.count('/a')).toBe(1)
  })

  it('a lease another process holds and never fulfils: the waiter fetches at lockTimeout', { timeout: 15_000 }, async () => {
    const errors: unknown[] = []
    const { dispatcher, path } = await lockedCache(errors, () => 'fixed-key')
    await lockedByOther(path, 'lease', 'fixed-key')
    const r = await timed(dispatcher, '/a')
    expect(r.bytes.equals(body)).toBe(true)
    // It did wait for the other process (about lockTimeout), and no longer.
    expect(r.ms).toBeGreaterThanOrEqual(LOCK_S * 1000 - 50)
    expect(r.ms).toBeLessThan(BOUND_MS)
    expect(origin.count('/a')).toBe(1)
  })

  it('an unsafe request\'s invalidation does not hold its response beyond lockTimeout', { timeout: 15_000 }, async () => {
    const errors: unknown[] = []
    const { dispatcher, path } = await lockedCache(errors)
    await lockedByOther(path)
    const r = await timed(dispatcher, '/post', 'POST')
    expect(r.bytes.toString()).toBe('posted')
    expect(r.ms).toBeLessThan(BOUND_MS)
    expect(origin.count('/post')).toBe(1)
  })
})

type Method = 'get' | 'set' | 'deleteMatching' | 'acquire'

/** A real FileBackend, with calls that never settle (a stalled file system). */
function hanging(real: FileBackend, ...stuck: Method[]): Backend {
  const never = () => new Promise<never>(() => {})
  const b: Backend = {
    get: (k) => (stuck.includes('get') ? never() : real.get(k)),
    set: (k, r) => (stuck.includes('set') ? never() : real.set(k, r)),
    delete: (keys) => real.delete(keys),
    deleteMatching: (f) => (stuck.includes('deleteMatching') ? never() : real.deleteMatching(f)),
    entries: (f) => real.entries(f),
    stats: () => real.stats(),
    clear: () => real.clear(),
    close: () => real.close(),
    leases: {
      acquire: (k, o, ttl) => (stuck.includes('acquire') ? never() : real.leases.acquire(k, o, ttl)),
      release: (k, o) => real.leases.release(k, o),
    },
  }
  return b
}

describe('a FileBackend call that never settles', () => {
  const fileCache = (stuck: Method, errors: unknown[]) => cache(hanging(new FileBackend({ path: join(tmp.dir, 'files') }), stuck), errors)

  it.each(['get', 'acquire'] as const)('%s: the lookup or lease gives up at lockTimeout; a miss, reported', { timeout: 10_000 }, async (stuck) => {
    const errors: unknown[] = []
    const { dispatcher } = fileCache(stuck, errors)
    const r = await timed(dispatcher, '/a')
    expect(r.status).toBe(200)
    expect(r.bytes.equals(body)).toBe(true)
    expect(r.ms).toBeLessThan(BOUND_MS)
    expect(origin.count('/a')).toBe(1)
    expect(errors.some((e) => /lockTimeout/.test((e as Error).message))).toBe(true)
  })

  it('get behind an immediate read that answers NOT_NOW: the lookup falls back to get, bounded as ever; a miss, reported', { timeout: 10_000 }, async () => {
    const errors: unknown[] = []
    let asked = 0
    const stalled = hanging(new FileBackend({ path: join(tmp.dir, 'files') }), 'get')
    const { dispatcher } = cache({ ...stalled, immediate: { get: () => (asked++, NOT_NOW) } }, errors)
    const r = await timed(dispatcher, '/a')
    expect(r.bytes.equals(body)).toBe(true)
    expect(r.ms).toBeLessThan(BOUND_MS)
    expect(asked).toBeGreaterThan(0)
    expect(errors.some((e) => /read of .* took over lockTimeout/.test((e as Error).message))).toBe(true)
  })

  it('get, through createCachedFetch: the fast hit path and the full path share one lockTimeout, not one each', { timeout: 10_000 }, async () => {
    const errors: unknown[] = []
    const cachedFetch = createCachedFetch({ backend: hanging(new FileBackend({ path: join(tmp.dir, 'files') }), 'get'), lockTimeout: LOCK_S, onError: (e) => void errors.push(e) })
    closers.push(() => cachedFetch.cache.close())
    const started = performance.now()
    const res = await cachedFetch(`${origin.url}/a`)
    expect(Buffer.from(await res.arrayBuffer()).equals(body)).toBe(true)
    expect(performance.now() - started).toBeLessThan(BOUND_MS)
    expect(origin.count('/a')).toBe(1)
    // The full path's lookup saw the fast path's read still unanswered: a miss at once.
    expect(errors.filter((e) => /read of .* took over lockTimeout/.test((e as Error).message))).toHaveLength(1)
  })

  it('get and acquire, through createCachedFetch: the fast path hands its deadline on, so both faults cost one lockTimeout, not two', { timeout: 15_000 }, async () => {
    // A longer lockTimeout, so that one (2 s) and two (4 s) are told apart beyond the slack.
    const lock = 2
    const errors: unknown[] = []
    const cachedFetch = createCachedFetch({ backend: hanging(new FileBackend({ path: join(tmp.dir, 'files') }), 'get', 'acquire'), lockTimeout: lock, onError: (e) => void errors.push(e) })
    closers.push(() => cachedFetch.cache.close())
    const started = performance.now()
    const res = await cachedFetch(`${origin.url}/a`)
    expect(Buffer.from(await res.arrayBuffer()).equals(body)).toBe(true)
    expect(performance.now() - started).toBeLessThan(lock * 1000 + SLACK_MS)
    expect(origin.count('/a')).toBe(1)
    expect(errors.some((e) => /read of .* took over lockTimeout/.test((e as Error).message))).toBe(true)
  })

  it('set: the leader is answered at once; a request that joined its flight fetches alone after lockTimeout', { timeout: 10_000 }, async () => {
    const errors: unknown[] = []
    const { dispatcher } = fileCache('set', errors)
    const [leader, follower] = await Promise.all([timed(dispatcher, '/slow'), timed(dispatcher, '/slow')])
    expect(leader.bytes.equals(body)).toBe(true)
    expect(follower.bytes.equals(body)).toBe(true)
    // Origin 200 ms each: the leader's, and the follower's own after lockTimeout.
    expect(leader.ms).toBeLessThan(200 + SLACK_MS)
    expect(follower.ms).toBeLessThan(400 + BOUND_MS)
    expect(origin.count('/slow')).toBe(2)
  })

  it('set: close() waits for the writes under way at most lockTimeout, and reports what it left', { timeout: 10_000 }, async () => {
    const errors: unknown[] = []
    const { dispatcher, ic } = fileCache('set', errors)
    expect((await timed(dispatcher, '/a')).bytes.equals(body)).toBe(true)
    const started = performance.now()
    await ic.cache.close()
    expect(performance.now() - started).toBeLessThan(BOUND_MS)
    expect(errors.some((e) => /still pending after lockTimeout/.test((e as Error).message))).toBe(true)
  })

  it('acquire, for a stale-while-revalidate refresh: the stale copy is served at once, the refresh goes ahead after lockTimeout', { timeout: 10_000 }, async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      let n = 0
      origin.route('/swr', (_req, res) => void res.writeHead(200, { 'cache-control': 'max-age=10, stale-while-revalidate=60', date: new Date().toUTCString() }).end(`v${++n}`))
      const errors: unknown[] = []
      const { dispatcher, ic } = fileCache('acquire', errors)
      expect((await timed(dispatcher, '/swr')).bytes.toString()).toBe('v1')
      await ic.cache.flush()
      vi.setSystemTime(Date.now() + 20_000)
      const stale = await timed(dispatcher, '/swr')
      expect(stale.bytes.toString()).toBe('v1')
      expect(stale.cs).toContain('stale-while-revalidate')
      expect(stale.ms).toBeLessThan(SLACK_MS)
      const started = performance.now()
      await ic.cache.flush()
      expect(performance.now() - started).toBeLessThan(BOUND_MS)
      expect(origin.count('/swr')).toBe(2)
      const fresh = await timed(dispatcher, '/swr')
      expect([fresh.bytes.toString(), fresh.cs.includes('hit')]).toEqual(['v2', true])
    } finally {
      vi.useRealTimers()
    }
  })

  it('deleteMatching: an unsafe request is answered within lockTimeout of its origin time', { timeout: 10_000 }, async () => {
    const errors: unknown[] = []
    const { dispatcher } = fileCache('deleteMatching', errors)
    const r = await timed(dispatcher, '/post', 'POST')
    expect(r.bytes.toString()).toBe('posted')
    expect(r.ms).toBeLessThan(BOUND_MS)
    expect(origin.count('/post')).toBe(1)
    expect(errors.some((e) => /lockTimeout/.test((e as Error).message))).toBe(true)
  })
})

// What a request costs the backend (issue 14), counted on a real SQLiteBackend wrapped by a
// counter: a hit reads once and writes nothing; a miss reads once. Reads are counted whichever
// way they come: `get`, or `immediate.get` (contract.ts BackendImmediate), the one a hit takes.
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Backend, cacheInterceptor, createCachedFetch, NOT_NOW, SQLiteBackend } from '../src/index.js'
import { meta } from './helpers/meta.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

let tmp: ReturnType<typeof tempDir>
let origin: Origin
let inner: SQLiteBackend

beforeEach(async () => {
  tmp = tempDir()
  inner = new SQLiteBackend({ path: join(tmp.dir, 'c.sqlite') })
  origin = await startOrigin({ '/a': reply(200, { 'cache-control': 'max-age=60' }, 'origin body') })
})

afterEach(async () => {
  await origin.close()
  await inner.close()
  tmp.cleanup()
})

type Calls = Record<'get' | 'now' | 'set' | 'delete' | 'deleteMatching' | 'acquire' | 'release', number>

/** The real backend behind a counter of every call that reads or writes. */
function counted(backend: SQLiteBackend): { backend: Backend; calls: Calls; reset: () => void } {
  const calls: Calls = { get: 0, now: 0, set: 0, delete: 0, deleteMatching: 0, acquire: 0, release: 0 }
  const wrapped: Backend = {
    get: (key) => (calls.get++, backend.get(key)),
    immediate: { get: (key) => (calls.now++, backend.immediate.get(key)) },
    set: (key, record) => (calls.set++, backend.set(key, record)),
    delete: (keys) => (calls.delete++, backend.delete(keys)),
    deleteMatching: (filter) => (calls.deleteMatching++, backend.deleteMatching(filter)),
    entries: (filter) => backend.entries(filter),
    stats: () => backend.stats(),
    clear: () => backend.clear(),
    close: async () => {},
    leases: {
      acquire: (key, owner, ttl) => (calls.acquire++, backend.leases.acquire(key, owner, ttl)),
      release: (key, owner) => (calls.release++, backend.leases.release(key, owner)),
    },
  }
  return { backend: wrapped, calls, reset: () => Object.keys(calls).forEach((k) => (calls[k as keyof Calls] = 0)) }
}

const reads = (c: Calls) => c.get + c.now
const writes = (c: Calls) => c.set + c.delete + c.deleteMatching + c.acquire + c.release

describe('backend calls per request', () => {
  it('a createCachedFetch hit reads once and writes nothing', async () => {
    const { backend, calls, reset } = counted(inner)
    const f = createCachedFetch({ backend })
    expect(await (await f(`${origin.url}/a`)).text()).toBe('origin body')
    await f.cache.flush()
    reset()
    const hit = await f(`${origin.url}/a`)
    expect(await hit.text()).toBe('origin body')
    expect(hit.headers.get('cache-status')).toMatch(/hit/)
    await f.cache.flush()
    expect(writes(calls)).toBe(0)
    // Read once, on the spot: no promise of a read to wait for.
    expect([calls.now, calls.get]).toEqual([1, 0])
    expect(origin.count('/a')).toBe(1)
    await f.cache.close()
  })

  it('a cacheInterceptor hit through request() reads once and writes nothing', async () => {
    const { backend, calls, reset } = counted(inner)
    const ic = cacheInterceptor({ backend })
    const dispatcher = new Agent().compose(ic)
    expect(await (await request(`${origin.url}/a`, { dispatcher })).body.text()).toBe('origin body')
    await ic.cache.flush()
    reset()
    const hit = await request(`${origin.url}/a`, { dispatcher })
    expect(await hit.body.text()).toBe('origin body')
    await ic.cache.flush()
    expect(writes(calls)).toBe(0)
    expect([calls.now, calls.get]).toEqual([1, 0])
    expect(origin.count('/a')).toBe(1)
    await ic.cache.close()
    await dispatcher.close()
  })

  it('a miss stores once and takes and gives back one lease', async () => {
    const { backend, calls } = counted(inner)
    const f = createCachedFetch({ backend })
    expect(await (await f(`${origin.url}/a`)).text()).toBe('origin body')
    await f.cache.flush()
    expect(calls.set).toBe(1)
    expect(calls.acquire).toBe(1)
    expect(calls.release).toBe(1)
    await f.cache.close()
  })

  // Issue 14: one read per miss. The fast path hands its lookup on to the interceptor
  // (pipeline/handoff.ts), and the lease says what is stored as it is taken (leases.ts).
  it('a createCachedFetch miss reads the backend once', async () => {
    const { backend, calls } = counted(inner)
    const f = createCachedFetch({ backend })
    expect(await (await f(`${origin.url}/a`)).text()).toBe('origin body')
    await f.cache.flush()
    expect(reads(calls)).toBe(1)
    expect(calls.set).toBe(1)
    expect(origin.count('/a')).toBe(1)
    await f.cache.close()
  })

  it('a cacheInterceptor miss through request() reads the backend once', async () => {
    const { backend, calls } = counted(inner)
    const ic = cacheInterceptor({ backend })
    const dispatcher = new Agent().compose(ic)
    expect(await (await request(`${origin.url}/a`, { dispatcher })).body.text()).toBe('origin body')
    await ic.cache.flush()
    expect(reads(calls)).toBe(1)
    expect(calls.set).toBe(1)
    expect(origin.count('/a')).toBe(1)
    await ic.cache.close()
    await dispatcher.close()
  })
})

describe("SQLite's lease grant (contract.ts LeaseGrant)", () => {
  it('says what is stored at the key as the lease is taken, and nothing when not held', async () => {
    expect(await inner.leases.acquire('k', 'A', 10_000)).toEqual({ held: true, storedAt: null })
    expect(await inner.leases.acquire('k', 'B', 10_000)).toEqual({ held: false, storedAt: null })
    await inner.leases.release('k', 'A')
    const ic = cacheInterceptor({ backend: inner, keyFn: () => 'k' })
    const dispatcher = new Agent().compose(ic)
    await (await request(`${origin.url}/a`, { dispatcher })).body.text()
    await ic.cache.flush()
    const stored = (await inner.get('k'))!
    expect(await inner.leases.acquire('k', 'B', 10_000)).toEqual({ held: true, storedAt: stored.meta.createdAt })
    await inner.leases.release('k', 'B')
    await ic.cache.close()
    await dispatcher.close()
  })
})

describe("SQLite's read on the spot (contract.ts BackendImmediate)", () => {
  it('is the record get() reads; NOT_NOW when the read meets a lock, which get() waits out', async () => {
    const record = { meta: meta({ key: 'k', url: 'http://h/k', size: 4 }), body: Buffer.from('body') }
    await inner.set('k', record)
    expect(inner.immediate.get('k')).toEqual(await inner.get('k'))
    expect(inner.immediate.get('absent')).toBeUndefined()
    // Another process rebuilding the WAL index (sqlite-busy.ts): the point read says SQLITE_BUSY twice.
    const statement = (inner as unknown as { stmt: { get: { get(key: string): unknown } } }).stmt.get
    const read = statement.get.bind(statement)
    let busy = 2
    statement.get = (key) => {
      if (busy-- > 0) throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })
      return read(key)
    }
    expect(inner.immediate.get('k')).toBe(NOT_NOW)
    expect((await inner.get('k'))?.body.toString()).toBe('body')
    expect(busy).toBe(-1)
  })
})

/**
 * TieredBackend: what is its own beyond the conformance suite — a hot entry costs no read of
 * the backend behind, reads fill memory, writes and deletes reach both tiers.
 */
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Backend, type CacheRecord, cacheInterceptor, type EntryFilter, FileBackend, SQLiteBackend, TieredBackend } from '../src/index.js'
import { keysOf, rec } from './conformance/suite.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

/** A real backend, with a count of the calls that reach it and an optional hold on reads. */
class Counted implements Backend {
  gets = 0
  sets = 0
  touched: string[] = []
  hold: Promise<void> | undefined
  constructor(readonly inner: Backend) {}
  async get(key: string) {
    this.gets++
    const record = await this.inner.get(key)
    await this.hold
    return record
  }
  set(key: string, record: CacheRecord) {
    this.sets++
    return this.inner.set(key, record)
  }
  delete(keys: readonly string[]) {
    return this.inner.delete(keys)
  }
  deleteMatching(filter: EntryFilter) {
    return this.inner.deleteMatching(filter)
  }
  entries(filter?: EntryFilter) {
    return this.inner.entries(filter)
  }
  stats() {
    return this.inner.stats()
  }
  clear() {
    return this.inner.clear()
  }
  close() {
    return this.inner.close()
  }
  touch(key: string) {
    this.touched.push(key)
    ;(this.inner as { touch?: (key: string) => void }).touch?.(key)
  }
}

let tmp: ReturnType<typeof tempDir>
beforeEach(() => {
  tmp = tempDir()
})
afterEach(() => tmp.cleanup())

describe.each([
  ['SQLite', (dir: string) => new SQLiteBackend({ path: join(dir, 'c.sqlite') })],
  ['File', (dir: string) => new FileBackend({ path: join(dir, 'c') })],
] as const)('TieredBackend over %s', (_name, make) => {
  it('a hot entry is answered from memory: no read of the backend behind, whose LRU still hears of it', async () => {
    const back = new Counted(make(tmp.dir))
    const tiered = new TieredBackend({ backend: back })
    await tiered.set('a', rec('a', 'AAA'))
    for (let i = 0; i < 100; i++) expect(Buffer.from((await tiered.get('a'))!.body).toString()).toBe('AAA')
    expect(back.gets).toBe(0)
    expect(back.touched.length).toBe(100)
    await tiered.close()
  })

  it('read-through: an entry only the backend has is read once, then served from memory', async () => {
    const writer = make(tmp.dir)
    await writer.set('a', rec('a', 'from another instance'))
    const back = new Counted(make(tmp.dir))
    const tiered = new TieredBackend({ backend: back })
    expect(Buffer.from((await tiered.get('a'))!.body).toString()).toBe('from another instance')
    await tiered.get('a')
    await tiered.get('a')
    expect(back.gets).toBe(1)
    expect(await tiered.get('missing')).toBeUndefined()
    expect(back.gets).toBe(2)
    await writer.close()
    await tiered.close()
  })

  it('write-through and deletes reach both tiers', async () => {
    const tiered = new TieredBackend({ backend: make(tmp.dir) })
    const reader = make(tmp.dir)
    await tiered.set('a', rec('a', 'v1'))
    await tiered.set('b', rec('b', 'b'))
    expect(Buffer.from((await reader.get('a'))!.body).toString()).toBe('v1')
    expect(await tiered.front.get('a')).toBeDefined()
    await tiered.set('a', rec('a', 'v2'))
    expect(Buffer.from((await tiered.get('a'))!.body).toString()).toBe('v2')
    expect(Buffer.from((await reader.get('a'))!.body).toString()).toBe('v2')
    expect(await tiered.delete(['a'])).toBe(1)
    expect(await tiered.front.get('a')).toBeUndefined()
    expect(await reader.get('a')).toBeUndefined()
    expect(await tiered.get('a')).toBeUndefined()
    await tiered.deleteMatching({ urls: ['http://h/b'] })
    expect(await tiered.front.get('b')).toBeUndefined()
    expect(await keysOf(reader)).toEqual([])
    await tiered.set('c', rec('c', 'c'))
    await tiered.clear()
    expect(await tiered.front.get('c')).toBeUndefined()
    expect(await keysOf(reader)).toEqual([])
    await reader.close()
    await tiered.close()
  })
})

describe('TieredBackend', () => {
  it('keeps large entries out of memory (memory.maxEntrySize), and bounds memory by count', async () => {
    const back = new Counted(new SQLiteBackend({ path: join(tmp.dir, 'c.sqlite') }))
    const tiered = new TieredBackend({ backend: back, memory: { maxEntries: 2, maxEntrySize: 10_000 } })
    await tiered.set('big', rec('big', Buffer.alloc(20_000, 1)))
    await tiered.get('big')
    await tiered.get('big')
    expect(back.gets).toBe(2)
    for (const k of ['a', 'b', 'c']) await tiered.set(k, rec(k, k))
    expect(tiered.front.size).toBe(2)
    expect(await keysOf(tiered)).toEqual(['a', 'b', 'big', 'c'])
    await tiered.close()
  })

  it('a read of the backend overtaken by a write never puts the older value in memory', async () => {
    const back = new Counted(new SQLiteBackend({ path: join(tmp.dir, 'c.sqlite') }))
    const tiered = new TieredBackend({ backend: back })
    await back.inner.set('a', rec('a', 'old'))
    let release!: () => void
    back.hold = new Promise((r) => (release = r))
    const reading = tiered.get('a')
    await new Promise((r) => setTimeout(r, 10))
    await tiered.set('a', rec('a', 'new'))
    release()
    expect(Buffer.from((await reading)!.body).toString()).toBe('old')
    back.hold = undefined
    expect(Buffer.from((await tiered.get('a'))!.body).toString()).toBe('new')
    await tiered.close()
  })

  it('hits served from memory keep the entry alive in the backend behind (its LRU)', async () => {
    const sqlite = new SQLiteBackend({ path: join(tmp.dir, 'c.sqlite'), maxEntries: 3 })
    const tiered = new TieredBackend({ backend: sqlite })
    await tiered.set('hot', rec('hot', 'x'))
    for (let i = 0; i < 10; i++) {
      await tiered.set(`cold${i}`, rec(`cold${i}`, 'x'))
      expect(await tiered.get('hot')).toBeDefined()
    }
    expect(await keysOf(sqlite)).toEqual(['cold8', 'cold9', 'hot'])
    await tiered.close()
  })

  it('rejects a missing backend and unknown options', () => {
    expect(() => new TieredBackend({} as never)).toThrow(/TieredBackend backend: expected a Backend instance/)
    expect(() => new TieredBackend({ backend: new SQLiteBackend({ path: join(tmp.dir, 'x.sqlite') }), size: 1 } as never)).toThrow(/unknown option 'size'/)
    expect(() => new TieredBackend({ backend: new SQLiteBackend({ path: join(tmp.dir, 'y.sqlite') }), memory: { maxEntries: -1 } })).toThrow(/maxEntries/)
  })

  describe('behind the interceptor', () => {
    let origin: Origin
    beforeEach(async () => {
      origin = await startOrigin({ '/a': reply(200, { 'cache-control': 'max-age=60' }, 'origin body') })
    })
    afterEach(() => origin.close())

    it('a hit is served from memory, and a new process would find it on disk', async () => {
      const back = new Counted(new SQLiteBackend({ path: join(tmp.dir, 'c.sqlite') }))
      const interceptor = cacheInterceptor({ backend: new TieredBackend({ backend: back }) })
      const dispatcher = new Agent().compose(interceptor)
      for (let i = 0; i < 3; i++) {
        const res = await request(`${origin.url}/a`, { dispatcher })
        expect(await res.body.text()).toBe('origin body')
        await interceptor.cache.flush()
      }
      expect(origin.count('/a')).toBe(1)
      expect(back.gets).toBe(1)
      await dispatcher.close()
      await interceptor.cache.close()
      const disk = new SQLiteBackend({ path: join(tmp.dir, 'c.sqlite') })
      expect((await keysOf(disk)).length).toBe(1)
      await disk.close()
      await back.close()
    })
  })
})

describe('TieredBackend changes the store of record first', () => {
  it('reads racing a delete never put the deleted entry back into memory', async () => {
    const back = new FileBackend({ path: join(tmp.dir, 'race') })
    const tiered = new TieredBackend({ backend: back })
    try {
      for (let round = 0; round < 10; round++) {
        // Only in the backend: the reads below miss memory and go to the (async) folder.
        await back.set('k', rec('k', `v${round}`))
        const deleting = tiered.delete(['k'])
        const reads = Array.from({ length: 5 }, () => tiered.get('k'))
        await Promise.all([deleting, ...reads])
        expect(await tiered.get('k'), `round ${round}`).toBeUndefined()
      }
    } finally {
      await tiered.close()
    }
  })
})

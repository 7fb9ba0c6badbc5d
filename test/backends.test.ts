import { join } from 'node:path'
import Database from 'better-sqlite3'
import { Agent, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Backend, type CacheRecord, cacheInterceptor, MemoryBackend, SQLiteBackend } from '../src/index.js'
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

describe.each([
  ['MemoryBackend', () => new MemoryBackend()],
  ['SQLiteBackend', () => new SQLiteBackend({ path: join(tmp.dir, 'b.sqlite') })],
] as const)('%s basics', (_name, make) => {
  let backend: Backend
  beforeEach(() => {
    backend = make()
  })
  afterEach(() => backend.close())

  it('stores, reads, lists, deletes and clears', async () => {
    await backend.set('a', record('a', 'AAA'))
    await backend.set('b', record('b', '', { expiresAt: 5 }))
    const a = await backend.get('a')
    expect(Buffer.from(a!.body).toString()).toBe('AAA')
    expect(a!.meta.url).toBe('http://h/a')
    expect((await backend.get('b'))!.body.byteLength).toBe(0)
    const keys = async (f?: Parameters<Backend['entries']>[0]) => {
      const out: string[] = []
      for await (const [k] of backend.entries(f)) out.push(k)
      return out.sort()
    }
    expect(await keys()).toEqual(['a', 'b'])
    expect(await keys({ urls: ['http://h/a'] })).toEqual(['a'])
    expect(await keys({ expiredAt: 10 })).toEqual(['b'])
    expect(await backend.delete(['a', 'zzz'])).toBe(1)
    expect(await backend.get('a')).toBeUndefined()
    await backend.clear()
    expect(await keys()).toEqual([])
  })
})

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
    expect(errors.length).toBeGreaterThan(0)
    other.exec('ROLLBACK')
    other.close()
    await backend.close()
  })

  it('a closed database is a miss on every request', async () => {
    const backend = new SQLiteBackend({ path: join(tmp.dir, 'closed.sqlite') })
    await backend.close()
    const errors: unknown[] = []
    expect(await fetchTwice(backend, (e) => errors.push(e))).toEqual(['origin body', 'origin body'])
    expect(errors.length).toBeGreaterThanOrEqual(2)
  })
})

/**
 * The backend conformance suite: every backend runs the same tests (a Backend is a dict with
 * limits); each test file adds only what is its own. Real stores in temp folders, no mocks.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { join, resolve } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type Backend, type BackendLimits, type CacheRecord, type EntryFilter, type EntryMeta } from '../../src/index.js'
import { weigh } from '../../src/backends/limits.js'
import { meta } from '../helpers/meta.js'
import { tempDir } from '../helpers/tmp.js'
import { type Build, buildBackends } from './build.js'
import { pruningCases } from './pruning.js'

export interface BackendSpec {
  name: string
  /** Open the backend on the store in `dir`; the same `dir` means the same store. */
  open(dir: string, options?: BackendLimits): Backend
  /** Whether a second instance (and `child`: a second process) on the same `dir` shares the store. */
  shared: boolean
  /** The store outlives close(): a new instance on the same `dir` reads it. */
  persistent: boolean
  /** Which backend the second process opens (see child.mjs), on `storePath(dir)`. */
  child?: 'sqlite' | 'file' | 'memcached' | 'redis'
  storePath?(dir: string): string
  /** Limits are this backend's own (TieredBackend passes them to the backend behind it). */
  limits: boolean
  /**
   * `false` for a store that cannot list its keys (Memcached): the cases that list, filter or
   * count are replaced by one that checks they say so; the others check keys one by one.
   */
  listing?: boolean
  /** Extra checks that eviction really freed the store, on disk. */
  checkFootprint?(dir: string, backend: Backend, maxSize: number): Promise<void>
}

const MiB = 1024 * 1024

/** A record with sensible defaults: `http://h/<key>`, fresh for an hour, size from the body. */
export function rec(key: string, body: string | Uint8Array, overrides: Partial<EntryMeta> = {}): CacheRecord {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  const now = Date.now()
  return {
    meta: meta({ key, url: `http://h/${key}`, createdAt: now, expiresAt: now + 3_600_000, size: bytes.byteLength, ...overrides }),
    body: bytes,
  }
}

/** Must match record() in child.mjs. */
export function sharedRecord(key: string): CacheRecord {
  const digest = createHash('sha256').update(key).digest()
  const body = Buffer.concat([Buffer.from(`body of ${key}\n`.repeat(40)), digest, Buffer.from([0, 255, 0])])
  return {
    meta: meta({
      key,
      url: `http://shared.test/${key}`,
      headers: { 'content-type': 'application/octet-stream' },
      createdAt: 1_700_000_000_000,
      expiresAt: null,
      size: body.length,
    }),
    body,
  }
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of items) out.push(item)
  return out
}

export async function keysOf(backend: Backend, filter?: EntryFilter): Promise<string[]> {
  const out: string[] = []
  for await (const [key] of backend.entries(filter)) out.push(key)
  return out.sort()
}

/**
 * The stored keys are exactly these: by listing, or — for a store that cannot list — each one
 * read back (what should be gone, each case checks with get()).
 */
async function expectKeys(backend: Backend, expected: string[]): Promise<void> {
  if (backend.listing !== false) {
    expect(await keysOf(backend)).toEqual([...expected].sort())
    return
  }
  for (const key of expected) expect(await backend.get(key), key).toBeDefined()
}

function same(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

export function backendConformance(spec: BackendSpec): void {
  describe(`${spec.name} conformance`, () => {
    const listing = spec.listing !== false
    let tmp: ReturnType<typeof tempDir>
    let backend: Backend
    const opened: Backend[] = []
    const open = (options?: BackendLimits, dir = tmp.dir) => {
      const b = spec.open(dir, options)
      opened.push(b)
      return b
    }

    beforeEach(() => {
      tmp = tempDir()
      backend = open()
    })

    afterEach(async () => {
      for (const b of opened.splice(0)) await b.close()
      tmp.cleanup()
    })

    describe('get, set, delete, entries, clear', () => {
      it('a missing key is undefined; a stored one comes back with its metadata', async () => {
        expect(await backend.get('nope')).toBeUndefined()
        const r = rec('a', 'AAA', { headers: { etag: '"x"', 'set-cookie': ['a=1', 'b=2'] }, vary: ['accept'], requestHeaders: { accept: 'text/html' } })
        await backend.set('a', r)
        const got = await backend.get('a')
        expect(got?.meta).toEqual(r.meta)
        expect(Buffer.from(got!.body).toString()).toBe('AAA')
      })

      it('set replaces body and metadata', async () => {
        await backend.set('a', rec('a', 'first', { status: 200 }))
        await backend.set('a', rec('a', 'second, longer', { status: 404 }))
        const got = await backend.get('a')
        expect(Buffer.from(got!.body).toString()).toBe('second, longer')
        expect(got!.meta.status).toBe(404)
        await expectKeys(backend, ['a'])
      })

      it('setting the same entry again keeps it whole', async () => {
        const r = rec('a', Buffer.from([1, 2, 3]))
        for (let i = 0; i < 3; i++) await backend.set('a', r)
        expect(same((await backend.get('a'))?.body, r.body)).toBe(true)
        await expectKeys(backend, ['a'])
      })

      it('delete counts the keys that existed and removes them', async () => {
        for (const k of ['a', 'b', 'c']) await backend.set(k, rec(k, k))
        expect(await backend.delete(['a', 'c', 'missing'])).toBe(2)
        expect(await backend.get('a')).toBeUndefined()
        expect(await backend.get('c')).toBeUndefined()
        await expectKeys(backend, ['b'])
        expect(await backend.delete([])).toBe(0)
      })

      it('clear removes everything, and the store stays usable', async () => {
        for (const k of ['a', 'b']) await backend.set(k, rec(k, k))
        await backend.clear()
        await expectKeys(backend, [])
        expect(await backend.get('a')).toBeUndefined()
        await backend.set('c', rec('c', 'c'))
        await expectKeys(backend, ['c'])
      })

      it('keys of any shape', async () => {
        const keys = ['GET http://h/a?b=c', 'ключ/ünïcödé/🙂', 'with\nnewline\tand tab', 'x'.repeat(2000), 'fetchcache:v1:nested', '']
        for (const [i, k] of keys.entries()) await backend.set(k, rec(k, `body ${i}`))
        for (const [i, k] of keys.entries()) expect(Buffer.from((await backend.get(k))!.body).toString()).toBe(`body ${i}`)
        await expectKeys(backend, [...keys].sort())
      })

      it('binary bodies with every byte value, and empty bodies, come back byte for byte', async () => {
        const binary = Uint8Array.from({ length: 1024 }, (_, i) => (i * 7) % 256)
        await backend.set('bin', rec('bin', binary))
        await backend.set('empty', rec('empty', new Uint8Array(0)))
        // A marker's variants list (selection by language) is opaque metadata: it comes back as given.
        const variants = [{ key: 'v1', language: 'de-ch', fields: { authorization: 'hmac-sha256:x', 'x-absent': null } }]
        await backend.set('marker', { meta: meta({ key: 'marker', kind: 'vary', vary: ['accept-language', 'authorization', 'x-absent'], expiresAt: null, variants }), body: new Uint8Array(0) })
        expect(same((await backend.get('bin'))?.body, binary)).toBe(true)
        expect((await backend.get('empty'))!.body.byteLength).toBe(0)
        const marker = await backend.get('marker')
        expect(marker!.meta.kind).toBe('vary')
        expect(marker!.meta.variants).toEqual(variants)
        expect(marker!.body.byteLength).toBe(0)
      })

      it('a parts entry comes back with its layout (RFC 9111 §3.3 parts, pipeline/parts.ts)', async () => {
        const parts = { total: 100, ranges: [[0, 2], [50, 51]] as Array<[number, number]> }
        await backend.set('parts', { meta: meta({ key: 'parts', kind: 'parts', status: 206, parts, deadAt: null }), body: Buffer.from('abcxy') })
        const got = await backend.get('parts')
        expect(got!.meta.kind).toBe('parts')
        expect(got!.meta.parts).toEqual(parts)
        expect(Buffer.from(got!.body).toString()).toBe('abcxy')
      })

      it.each([
        ['0 B', 0],
        ['1 KiB', 1024],
        ['1 MiB', MiB],
        ['50 MiB', 50 * MiB],
      ])('a body of %s', async (_label, size) => {
        const body = Buffer.allocUnsafe(size)
        for (let i = 0; i < size; i += 4096) body[i] = (i / 4096) % 251
        body.fill(7, 0, Math.min(size, 100))
        await backend.set('big', rec('big', body))
        expect(same((await backend.get('big'))?.body, body)).toBe(true)
        if (listing) {
          const listed = await collect(backend.entries())
          expect(listed.map(([key, m]) => [key, m.size])).toEqual([['big', size]])
        }
        expect(await backend.delete(['big'])).toBe(1)
        expect(await backend.get('big')).toBeUndefined()
      })

      it.runIf(listing)('entries() filters by URL, expiry and age, and lists metadata', async () => {
        const now = Date.now()
        await backend.set('fresh', rec('fresh', 'x', { url: 'http://h/1', createdAt: now - 1000, expiresAt: now + 60_000 }))
        await backend.set('expired', rec('expired', 'x', { url: 'http://h/1', createdAt: now - 100_000, expiresAt: now - 1 }))
        await backend.set('forever', rec('forever', 'x', { url: 'http://h/2', createdAt: now - 50_000, expiresAt: null }))
        await backend.set('post', rec('post', 'x', { url: 'http://h/3', method: 'POST', createdAt: now }))
        expect(await keysOf(backend)).toEqual(['expired', 'forever', 'fresh', 'post'])
        expect(await keysOf(backend, { urls: ['http://h/1'] })).toEqual(['expired', 'fresh'])
        expect(await keysOf(backend, { urls: ['http://h/1', 'http://h/2'] })).toEqual(['expired', 'forever', 'fresh'])
        expect(await keysOf(backend, { urls: [] })).toEqual([])
        expect(await keysOf(backend, { urls: ['http://nowhere/'] })).toEqual([])
        expect(await keysOf(backend, { expiredAt: now })).toEqual(['expired'])
        expect(await keysOf(backend, { expiredAt: now + 120_000 })).toEqual(['expired', 'fresh'])
        expect(await keysOf(backend, { createdBefore: now - 10_000 })).toEqual(['expired', 'forever'])
        expect(await keysOf(backend, { urls: ['http://h/1'], createdBefore: now - 10_000 })).toEqual(['expired'])
        const metas = new Map(await collect(backend.entries()))
        expect(metas.get('post')!.method).toBe('POST')
        expect(metas.get('forever')!.expiresAt).toBeNull()
      })

      it.runIf(listing)('deleting while iterating entries() is allowed', async () => {
        for (let i = 0; i < 20; i++) await backend.set(`k${i}`, rec(`k${i}`, 'x'))
        for await (const [key] of backend.entries()) await backend.delete([key])
        expect(await keysOf(backend)).toEqual([])
      })
    })

    describe.runIf(!listing)('a store that cannot list', () => {
      it('entries(), deleteMatching() and stats() reject with an UnsupportedError naming the backend', async () => {
        await backend.set('a', rec('a', 'x'))
        for (const attempt of [collect(backend.entries()), backend.deleteMatching({ expiredAt: Date.now() }), backend.stats()]) {
          const error = await attempt.then(() => undefined, (e: unknown) => e)
          expect((error as { code?: string }).code).toBe('ERR_FETCHCACHE_UNSUPPORTED')
          expect((error as Error).message).toMatch(/not supported by the \w+ backend/)
        }
        expect(await backend.get('a')).toBeDefined()
      })
    })

    describe.runIf(listing)('expiry', () => {
      it('deleteMatching({ expiredAt }) removes exactly the expired entries', async () => {
        const now = Date.now()
        for (let i = 0; i < 10; i++) await backend.set(`old${i}`, rec(`old${i}`, 'x'.repeat(100), { expiresAt: now - 1000 - i }))
        for (let i = 0; i < 5; i++) await backend.set(`new${i}`, rec(`new${i}`, 'x', { expiresAt: now + 60_000 }))
        await backend.set('never', rec('never', 'x', { expiresAt: null }))
        expect(await backend.deleteMatching!({ expiredAt: now })).toBe(10)
        expect(await keysOf(backend)).toEqual(['never', 'new0', 'new1', 'new2', 'new3', 'new4'])
        expect(await backend.get('old3')).toBeUndefined()
        expect(await backend.deleteMatching!({ expiredAt: now })).toBe(0)
        expect(await backend.deleteMatching!({ urls: [] })).toBe(0)
        expect(await backend.deleteMatching!({ urls: ['http://h/new2', 'http://h/never'] })).toBe(2)
        expect(await keysOf(backend)).toEqual(['new0', 'new1', 'new3', 'new4'])
      })

      it('stats() counts entries and the bytes of bodies and metadata', async () => {
        const records = [rec('a', 'x'.repeat(1000)), rec('b', ''), rec('c', 'ccc')]
        for (const r of records) await backend.set(r.meta.key, r)
        expect(await backend.stats!()).toEqual({ entries: 3, bytes: records.reduce((s, r) => s + weigh(r.meta, r.body.byteLength), 0) })
        await backend.delete(['a'])
        expect((await backend.stats!()).entries).toBe(2)
      })
    })

    describe.runIf(listing)('pruning', () => pruningCases(spec.name, () => backend, keysOf))

    describe.runIf(spec.limits)('limits and eviction', () => {
      it.each([
        [{ maxEntries: 0 }, /maxEntries: expected a positive whole number; got 0/],
        [{ maxSize: -1 }, /maxSize: expected a positive whole number; got -1/],
        [{ maxEntrySize: 1.5 }, /maxEntrySize: expected a positive whole number; got 1.5/],
        [{ maxSize: '1MB' as unknown as number }, /maxSize: .*got '1MB'/],
      ])('rejects %j with a ConfigError naming the option', (options, message) => {
        expect(() => spec.open(tmp.dir, options)).toThrow(message)
        try {
          spec.open(tmp.dir, options)
        } catch (error) {
          expect((error as { code?: string }).code).toBe('ERR_FETCHCACHE_CONFIG')
        }
      })

      it('an entry over maxEntrySize is silently not stored, and takes the old value with it', async () => {
        const b = open({ maxEntrySize: 2000 }, join(tmp.dir, 'limited'))
        await b.set('k', rec('k', 'small'))
        await expect(b.set('k', rec('k', 'x'.repeat(3000)))).resolves.toBeUndefined()
        expect(await b.get('k')).toBeUndefined()
        await b.set('big', rec('big', 'x'.repeat(5000)))
        expect(await keysOf(b)).toEqual([])
        await b.set('ok', rec('ok', 'x'.repeat(1000)))
        expect(await keysOf(b)).toEqual(['ok'])
      })

      it('maxEntries: the least recently used go first, reads count as use', async () => {
        const b = open({ maxEntries: 3 }, join(tmp.dir, 'limited'))
        for (const k of ['a', 'b', 'c']) await b.set(k, rec(k, k))
        await b.get('a')
        await b.set('d', rec('d', 'd'))
        expect(await keysOf(b)).toEqual(['a', 'c', 'd'])
        expect(await b.get('b')).toBeUndefined()
        expect((await b.stats!()).entries).toBe(3)
      })

      it('entries of no use go first, however recently used', async () => {
        const now = Date.now()
        const b = open({ maxEntries: 3 }, join(tmp.dir, 'limited'))
        await b.set('live1', rec('live1', 'x'))
        await b.set('live2', rec('live2', 'x'))
        await b.set('dead', rec('dead', 'x', { expiresAt: now - 10_000, staleIfErrorUntil: 0, staleWhileRevalidateUntil: 0 }))
        await b.get('dead')
        await b.set('live3', rec('live3', 'x'))
        expect(await keysOf(b)).toEqual(['live1', 'live2', 'live3'])
      })

      it('the entry just written is never the one evicted, even if already of no use', async () => {
        const b = open({ maxEntries: 2 }, join(tmp.dir, 'limited'))
        await b.set('a', rec('a', 'x'))
        await b.set('b', rec('b', 'x'))
        // EXPIRE_IMMEDIATELY: stored to be revalidated on its next use.
        await b.set('now', rec('now', 'x', { expiresAt: Date.now() - 1 }))
        expect(await keysOf(b)).toEqual(['b', 'now'])
      })

      it('an expired entry still usable for stale-if-error or stale-while-revalidate is not "of no use"', async () => {
        const now = Date.now()
        const b = open({ maxEntries: 3 }, join(tmp.dir, 'limited'))
        await b.set('lru', rec('lru', 'x'))
        await b.set('sie', rec('sie', 'x', { expiresAt: now - 10_000, staleIfErrorUntil: now + 60_000 }))
        await b.set('swr', rec('swr', 'x', { expiresAt: now - 10_000, staleWhileRevalidateUntil: now + 60_000 }))
        await b.set('new', rec('new', 'x'))
        expect(await keysOf(b)).toEqual(['new', 'sie', 'swr'])
      })

      it('fills past maxSize with 1,000 entries: under the cap, the most recently used kept, the least recently used gone', async () => {
        const maxSize = 256 * 1024
        const dir = join(tmp.dir, 'filled')
        const b = open({ maxSize }, dir)
        const hot = ['e0', 'e1', 'e2', 'e3', 'e4']
        const body = (i: number) => Buffer.alloc(1024, i % 256)
        for (let i = 0; i < 1000; i++) {
          await b.set(`e${i}`, rec(`e${i}`, body(i)))
          if (i % 10 === 9) for (const k of hot) await b.get(k)
          if (i % 100 === 99) expect((await b.stats!()).bytes).toBeLessThanOrEqual(maxSize)
        }
        const stats = await b.stats!()
        expect(stats.bytes).toBeLessThanOrEqual(maxSize)
        const kept = await keysOf(b)
        expect(kept.length).toBe(stats.entries)
        // Eviction may leave some headroom below the cap, but not much.
        const weight = weigh(rec('e0', body(0)).meta, 1024)
        expect(kept.length).toBeLessThanOrEqual(Math.floor(maxSize / weight))
        expect(kept.length).toBeGreaterThan(Math.floor((0.8 * maxSize) / weight))
        for (const k of hot) expect(same((await b.get(k))?.body, body(Number(k.slice(1))))).toBe(true)
        for (let i = 980; i < 1000; i++) expect(same((await b.get(`e${i}`))?.body, body(i))).toBe(true)
        for (let i = 5; i < 800; i++) expect(kept).not.toContain(`e${i}`)
        for (let i = 5; i < 800; i += 97) expect(await b.get(`e${i}`)).toBeUndefined()
        await spec.checkFootprint?.(dir, b, maxSize)
      }, 60_000)
    })

    describe.runIf(spec.shared)('two instances on one store', () => {
      it('what one writes or deletes, the other sees', async () => {
        const other = open()
        await backend.set('a', rec('a', 'from one'))
        expect(Buffer.from((await other.get('a'))!.body).toString()).toBe('from one')
        await other.set('b', rec('b', 'from other'))
        await expectKeys(backend, ['a', 'b'])
        expect(await other.delete(['a'])).toBe(1)
        expect(await backend.get('a')).toBeUndefined()
        await backend.set('b', rec('b', 'replaced'))
        expect(Buffer.from((await other.get('b'))!.body).toString()).toBe('replaced')
      })

      describe.runIf(spec.child)('and a second process', () => {
        let build: Build
        beforeAll(() => {
          build = buildBackends([`src/backends/${spec.child!}.ts`])
        })
        afterAll(() => build?.cleanup())

        function child(path: string, plan: { writes?: string[]; reads?: string[]; deletes?: string[] }) {
          return new Promise<{ seen: Record<string, string | null>; deleted: number }>((ok, fail) => {
            const p = spawn(process.execPath, [resolve(import.meta.dirname, 'child.mjs'), build.dir, spec.child!, path, JSON.stringify(plan)])
            let out = ''
            let err = ''
            p.stdout.on('data', (c: Buffer) => (out += c))
            p.stderr.on('data', (c: Buffer) => (err += c))
            p.on('error', fail)
            p.on('close', (code) => (code === 0 ? ok(JSON.parse(out)) : fail(new Error(`child exited ${code}: ${err}`))))
          })
        }

        it('writes from both processes at the same time all land; each reads and deletes the other\'s', async () => {
          const dir = join(tmp.dir, 'shared')
          const path = spec.storePath!(dir)
          const mine = open(undefined, dir)
          const parentKeys = Array.from({ length: 20 }, (_, i) => `parent-${i}`)
          const childKeys = Array.from({ length: 100 }, (_, i) => `child-${i}`)
          for (const k of parentKeys) await mine.set(k, sharedRecord(k))
          const running = child(path, { writes: childKeys, reads: ['parent-3', 'parent-4', 'never-written'], deletes: ['parent-5'] })
          let finished = false
          void running.finally(() => (finished = true)).catch(() => {})
          // Keep writing for as long as the other process runs, so that the writes interleave.
          while (!finished && parentKeys.length < 2000) {
            const k = `parent-${parentKeys.length}`
            await mine.set(k, sharedRecord(k))
            parentKeys.push(k)
            await new Promise((r) => setImmediate(r))
          }
          const result = await running
          expect(parentKeys.length).toBeGreaterThan(20)
          expect(result.seen['parent-3']).toBe(Buffer.from(sharedRecord('parent-3').body).toString('base64'))
          expect(result.seen['never-written']).toBeNull()
          expect(result.deleted).toBe(1)
          expect(await mine.get('parent-5')).toBeUndefined()
          const expected = [...parentKeys.filter((k) => k !== 'parent-5'), ...childKeys].sort()
          await expectKeys(mine, expected)
          for (const k of childKeys) {
            const got = await mine.get(k)
            expect(got?.meta).toEqual(sharedRecord(k).meta)
            expect(same(got?.body, sharedRecord(k).body)).toBe(true)
          }
        }, 30_000)
      })
    })

    describe('after close()', () => {
      it('every operation rejects with a BackendError; close() again is fine', async () => {
        await backend.set('a', rec('a', 'x'))
        await backend.close()
        const rejects = async (p: Promise<unknown>) => {
          const error = await p.then(() => undefined, (e: unknown) => e)
          expect((error as { code?: string }).code).toBe('ERR_FETCHCACHE_BACKEND')
        }
        await rejects(backend.get('a'))
        await rejects(backend.set('b', rec('b', 'x')))
        await rejects(backend.delete(['a']))
        await rejects(backend.clear())
        await rejects(collect(backend.entries()))
        await rejects(backend.stats())
        await rejects(backend.deleteMatching({ expiredAt: Date.now() }))
        ;(backend as { touch?: (key: string) => void }).touch?.('a')
        await expect(backend.close()).resolves.toBeUndefined()
      })

      it.runIf(spec.persistent)('a new instance on the same store reads what the closed one wrote', async () => {
        await backend.set('a', rec('a', 'kept'))
        await backend.get('a')
        await backend.close()
        const again = open()
        expect(Buffer.from((await again.get('a'))!.body).toString()).toBe('kept')
        await expectKeys(again, ['a'])
      })
    })
  })
}

/**
 * Upgrade safety: fixtures/ holds a SQLite cache and a cacache folder written by this format
 * version (fixtures/make-fixtures.mjs). Copies of them must open and serve their entries byte
 * for byte, and an entry that cannot be decoded must be a miss that is removed, never a crash.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import Database from 'better-sqlite3'
import cacache from 'cacache'
import { Agent, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Backend, cacheInterceptor, type EntryMeta, FileBackend, SQLiteBackend } from '../src/index.js'
import { tempDir } from './helpers/tmp.js'

const fixtures = resolve(import.meta.dirname, '../fixtures')
const expected = (JSON.parse(readFileSync(join(fixtures, 'entries.json'), 'utf8')) as Array<{ key: string; meta: EntryMeta; body: string }>).map((e) => ({
  ...e,
  body: Buffer.from(e.body, 'base64'),
}))
const byUrl = (url: string) => expected.find((e) => e.meta.url === url && e.meta.kind === 'response')!

let tmp: ReturnType<typeof tempDir>
beforeEach(() => {
  tmp = tempDir()
})
afterEach(() => tmp.cleanup())

const stores = [
  {
    name: 'SQLite',
    open(): { backend: SQLiteBackend; path: string } {
      const path = join(tmp.dir, 'fixture.sqlite')
      cpSync(join(fixtures, 'sqlite-v1.sqlite'), path)
      return { backend: new SQLiteBackend({ path }), path }
    },
  },
  {
    name: 'cacache',
    open(): { backend: FileBackend; path: string } {
      const path = join(tmp.dir, 'fixture')
      cpSync(join(fixtures, 'cacache-v1'), path, { recursive: true })
      return { backend: new FileBackend({ path }), path }
    },
  },
] as const

/** An interceptor that never reaches a network: what is not stored is a 504. */
function offline(backend: Backend, errors: unknown[]) {
  const interceptor = cacheInterceptor({ backend, onlyIfCached: true, onError: (e) => errors.push(e) })
  return { interceptor, dispatcher: new Agent().compose(interceptor) }
}

describe.each(stores)('a %s cache written by format v1', ({ open }) => {
  it('serves every entry byte for byte, with its metadata', async () => {
    const { backend } = open()
    for (const e of expected) {
      const got = await backend.get(e.key)
      expect(got?.meta).toEqual(e.meta)
      expect(Buffer.from(got!.body).equals(e.body)).toBe(true)
    }
    const listed = new Map<string, EntryMeta>()
    for await (const [key, meta] of backend.entries()) listed.set(key, meta)
    expect([...listed.keys()].sort()).toEqual(expected.map((e) => e.key).sort())
    const expiredAt = Date.UTC(2025, 0, 15, 13)
    const expired: string[] = []
    for await (const [key] of backend.entries({ expiredAt })) expired.push(key)
    expect(expired).toEqual([byUrl('http://fixtures.test/expired').key])
    await backend.close()
  })

  it('answers requests through the engine (keys, Vary and raw encoded bodies included)', async () => {
    const { backend } = open()
    const errors: unknown[] = []
    const { interceptor, dispatcher } = offline(backend, errors)
    for (const [url, headers] of [
      ['http://fixtures.test/text', {}],
      ['http://fixtures.test/binary?b=2&a=1', {}],
      ['http://fixtures.test/empty', {}],
      ['http://fixtures.test/vary', { accept: 'application/json' }],
    ] as const) {
      const res = await request(url, { dispatcher, headers })
      const body = Buffer.from(await res.body.arrayBuffer())
      expect(res.statusCode, url).toBe(200)
      expect(res.headers['cache-status'], url).toMatch(/hit/)
      expect(body.equals(byUrl(new URL(url).href.replace('b=2&a=1', 'a=1&b=2')).body), url).toBe(true)
    }
    const gz = await request('http://fixtures.test/gzip', { dispatcher })
    expect(gz.headers['content-encoding']).toBe('gzip')
    expect(Buffer.from(await gz.body.arrayBuffer()).equals(byUrl('http://fixtures.test/gzip').body)).toBe(true)
    const other = await request('http://fixtures.test/vary', { dispatcher, headers: { accept: 'text/html' } })
    expect(other.statusCode).toBe(504)
    await other.body.dump()
    expect(errors).toEqual([])
    await dispatcher.close()
    await interceptor.cache.close()
    await backend.close()
  })
})

describe('an entry that cannot be decoded is a miss, is reported, and is removed', () => {
  const text = () => byUrl('http://fixtures.test/text')

  async function missThenGone(backend: Backend, stillThere: () => Promise<boolean>) {
    const errors: unknown[] = []
    const { interceptor, dispatcher } = offline(backend, errors)
    const res = await request('http://fixtures.test/text', { dispatcher })
    expect(res.statusCode).toBe(504)
    await res.body.dump()
    await interceptor.cache.flush()
    expect(errors.map((e) => (e as { code?: string }).code)).toContain('ERR_FETCHCACHE_CORRUPT_ENTRY')
    expect(await stillThere()).toBe(false)
    // The rest of the store is untouched.
    const bin = await request('http://fixtures.test/binary?a=1&b=2', { dispatcher })
    expect(bin.statusCode).toBe(200)
    await bin.body.dump()
    await dispatcher.close()
    await backend.close()
  }

  it.each([
    ['metadata that is not JSON', '{"v":1,'],
    ['metadata of another format version', JSON.stringify({ ...text().meta, v: 2 })],
    ['metadata with fields missing', JSON.stringify({ v: 1, kind: 'response' })],
  ])('SQLite: %s', async (_label, meta) => {
    const { backend, path } = stores[0].open()
    const raw = new Database(path)
    raw.prepare('UPDATE responses_v1 SET meta = ? WHERE key = ?').run(meta, text().key)
    raw.close()
    await missThenGone(backend, async () => {
      const db = new Database(path, { readonly: true })
      const row = db.prepare('SELECT 1 FROM responses_v1 WHERE key = ?').get(text().key)
      db.close()
      return row !== undefined
    })
  })

  it.each([
    ['metadata of another format version', 'meta'],
    ['a body whose bytes were damaged', 'body'],
    ['a body that is gone', 'missing'],
  ] as const)('cacache: %s', async (_label, damage) => {
    const { backend, path } = stores[1].open()
    const indexKey = `fetchcache:v1:${text().key}`
    const info = (await cacache.get.info(path, indexKey))!
    if (damage === 'meta') await cacache.index.insert(path, indexKey, info.integrity, { metadata: { ...text().meta, v: 2 }, size: info.size! })
    if (damage === 'body') writeFileSync(info.path, Buffer.alloc(info.size!, 1))
    if (damage === 'missing') await cacache.rm.content(path, info.integrity)
    await missThenGone(backend, async () => (await cacache.get.info(path, indexKey)) !== null || (await cacache.get.hasContent(path, info.integrity)) !== false)
  })
})

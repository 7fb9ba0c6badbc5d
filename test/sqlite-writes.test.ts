// SQLiteBackend's write path (issue 14): rows queued in one turn of the event loop share one
// transaction, the process's own lease on a key goes in the commit that stores the entry, and
// the backend stays consistent with its queue. Real SQLite files, a second connection as the
// "other process".
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type CacheRecord, SQLiteBackend } from '../src/index.js'
import { meta } from './helpers/meta.js'
import { tempDir } from './helpers/tmp.js'

let tmp: ReturnType<typeof tempDir>
let path: string
let backend: SQLiteBackend
let other: Database.Database

beforeEach(() => {
  tmp = tempDir()
  path = join(tmp.dir, 'c.sqlite')
  backend = new SQLiteBackend({ path })
  other = new Database(path, { readonly: true })
})

afterEach(async () => {
  other.close()
  await backend.close()
  tmp.cleanup()
})

function record(key: string, body: string): CacheRecord {
  return { meta: meta({ key, url: `http://h/${key}`, size: body.length }), body: Buffer.from(body) }
}
const committed = (key: string) => other.prepare('SELECT count(*) AS n FROM responses_v1 WHERE key = ?').get(key) as { n: number }
const leaseRows = () => (other.prepare('SELECT count(*) AS n FROM leases_v1').get() as { n: number }).n

describe('SQLiteBackend write batching', () => {
  it('resolves set() only once the row is committed, visible to another connection', async () => {
    const written = backend.set('a', record('a', 'one'))
    expect(committed('a').n).toBe(0)
    await written
    expect(committed('a').n).toBe(1)
  })

  it('answers get() from rows not yet committed, byte for byte', async () => {
    const written = backend.set('a', record('a', 'queued body'))
    const got = await backend.get('a')
    expect(Buffer.from(got!.body).toString()).toBe('queued body')
    expect(got!.meta.key).toBe('a')
    await written
    expect(Buffer.from((await backend.get('a'))!.body).toString()).toBe('queued body')
  })

  it('keeps the last of two writes to one key queued together', async () => {
    await Promise.all([backend.set('a', record('a', 'first')), backend.set('a', record('a', 'second'))])
    const row = other.prepare('SELECT body FROM responses_v1 WHERE key = ?').get('a') as { body: Buffer }
    expect(row.body.toString()).toBe('second')
  })

  it('commits queued rows before delete, stats and entries, so operations keep their order', async () => {
    void backend.set('a', record('a', 'x'))
    void backend.set('b', record('b', 'y'))
    expect(await backend.stats()).toMatchObject({ entries: 2 })
    const keys: string[] = []
    for await (const [key] of backend.entries()) keys.push(key)
    expect(keys.sort()).toEqual(['a', 'b'])
    void backend.set('c', record('c', 'z'))
    expect(await backend.delete(['c'])).toBe(1)
    expect(await backend.get('c')).toBeUndefined()
  })

  it('drops queued rows on clear(), and their writers still resolve', async () => {
    const written = backend.set('a', record('a', 'x'))
    await backend.clear()
    await written
    expect(await backend.get('a')).toBeUndefined()
    expect(committed('a').n).toBe(0)
  })

  it('commits what is queued on close()', async () => {
    void backend.set('a', record('a', 'x'))
    await backend.close()
    expect(committed('a').n).toBe(1)
  })

  it('replaces a queued row with nothing when a later value is over maxEntrySize', async () => {
    const small = new SQLiteBackend({ path: join(tmp.dir, 'small.sqlite'), maxEntrySize: 2000 })
    const first = small.set('a', record('a', 'fits'))
    await small.set('a', record('a', 'x'.repeat(4000)))
    await first
    expect(await small.get('a')).toBeUndefined()
    await small.close()
  })
})

describe('SQLiteBackend leases folded into the entry write', () => {
  it('releases our lease on a key in the commit that stores it', async () => {
    expect(await backend.leases.acquire('k', 'me', 60_000)).toBe(true)
    expect(leaseRows()).toBe(1)
    await backend.set('k', record('k', 'body'))
    expect(committed('k').n).toBe(1)
    expect(leaseRows()).toBe(0)
    // Another process can take it at once; our late release() must not free its lease.
    const second = new SQLiteBackend({ path })
    expect(await second.leases.acquire('k', 'them', 60_000)).toBe(true)
    await backend.leases.release('k', 'me')
    expect(leaseRows()).toBe(1)
    expect(await backend.leases.acquire('k', 'me', 60_000)).toBe(false)
    await second.close()
  })

  it('keeps leases on other keys, and release() still gives back a lease whose entry was never written', async () => {
    expect(await backend.leases.acquire('k', 'me', 60_000)).toBe(true)
    expect(await backend.leases.acquire('j', 'me', 60_000)).toBe(true)
    await backend.set('k', record('k', 'body'))
    expect(leaseRows()).toBe(1)
    await backend.leases.release('j', 'me')
    expect(leaseRows()).toBe(0)
  })
})

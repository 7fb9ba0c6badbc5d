/**
 * SQLiteBackend's write-behind (src/backends/sqlite-batch.ts): writes that arrive together
 * share one transaction, and nothing a caller or another process relies on changes. A second
 * connection to the same file (better-sqlite3, or a second backend) plays the other process;
 * the exit row uses a real child process.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { type CacheRecord, SQLiteBackend } from '../src/index.js'
import { buildBackends, type Build } from './conformance/build.js'
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
  vi.useRealTimers()
  other.close()
  await backend.close()
  tmp.cleanup()
})

function record(key: string, body: string): CacheRecord {
  return { meta: meta({ key, url: `http://h/${key}`, size: body.length, createdAt: Date.now(), expiresAt: Date.now() + 60_000 }), body: Buffer.from(body) }
}

/** What the other connection sees committed. */
function committed(): string[] {
  return (other.prepare('SELECT key FROM responses_v1 ORDER BY key').pluck().all() as string[])
}

describe('SQLiteBackend write-behind', () => {
  it('writes that arrive together are committed together, and each set() resolves only once committed', async () => {
    const writes = ['a', 'b', 'c'].map((k) => backend.set(k, record(k, `body ${k}`)))
    // Queued: not in the file yet...
    expect(committed()).toEqual([])
    await writes[0]
    // ...and the first one resolving means all three are in it: one transaction.
    expect(committed()).toEqual(['a', 'b', 'c'])
    await Promise.all(writes)
  })

  it('this process reads its own queued write, byte for byte', async () => {
    const write = backend.set('k', record('k', 'queued body'))
    expect(committed()).toEqual([])
    const got = await backend.get('k')
    expect(Buffer.from(got!.body).toString()).toBe('queued body')
    expect(got!.meta.key).toBe('k')
    await write
    expect(Buffer.from((await backend.get('k'))!.body).toString()).toBe('queued body')
  })

  it.each([
    ['delete()', async (b: SQLiteBackend) => expect(await b.delete(['k'])).toBe(1)],
    ['deleteMatching()', async (b: SQLiteBackend) => expect(await b.deleteMatching({ urls: ['http://h/k'] })).toBe(1)],
    ['entries()', async (b: SQLiteBackend) => {
      const keys: string[] = []
      for await (const [key] of b.entries()) keys.push(key)
      expect(keys).toEqual(['k'])
    }],
    ['stats()', async (b: SQLiteBackend) => expect((await b.stats()).entries).toBe(1)],
  ])('%s sees a queued write: the queue is committed first', async (_name, check) => {
    const write = backend.set('k', record('k', 'x'))
    await check(backend)
    await write
  })

  it('a later write of the same key wins, whatever order the transactions land in', async () => {
    const first = backend.set('k', record('k', 'old'))
    const second = backend.set('k', record('k', 'new'))
    await Promise.all([first, second])
    expect(other.prepare('SELECT body FROM responses_v1 WHERE key = ?').pluck().get('k')).toEqual(Buffer.from('new'))
  })

  it('one bad write in a batch fails alone: the others are committed', async () => {
    const bad = record('bad', 'x')
    // status is NOT NULL: this row cannot be inserted.
    ;(bad.meta as { status: unknown }).status = null
    const results = await Promise.allSettled([backend.set('a', record('a', 'a')), backend.set('bad', bad), backend.set('c', record('c', 'c'))])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(committed()).toEqual(['a', 'c'])
  })

  it('a fake clock (vi.useFakeTimers) does not hold writes back', async () => {
    vi.useFakeTimers()
    await backend.set('k', record('k', 'x'))
    expect(committed()).toEqual(['k'])
  })

  it('close() commits what is queued', async () => {
    const write = backend.set('k', record('k', 'x'))
    await backend.close()
    await write
    expect(committed()).toEqual(['k'])
  })
})

describe('leases and the queue', () => {
  const owner = 'me'
  const rival = 'other process'

  it('a lease is released no earlier than the entry of its fetch is committed', async () => {
    const second = new SQLiteBackend({ path })
    try {
      expect(await backend.leases.acquire('k', owner, 60_000)).toMatchObject({ held: true })
      const write = backend.set('k', record('k', 'x'))
      const release = backend.leases.release('k', owner)
      // The entry is queued: the rival must not get the lease yet, or it would fetch again.
      expect(await second.leases.acquire('k', rival, 60_000)).toMatchObject({ held: false })
      await Promise.all([write, release])
      // Committed together: the rival now takes the lease and is told the entry is stored.
      const grant = await second.leases.acquire('k', rival, 60_000)
      expect(grant).toMatchObject({ held: true })
      expect((grant as { storedAt: number | null }).storedAt).not.toBeNull()
    } finally {
      await second.close()
    }
  })

  it('a lease taken again before its release was committed stays held', async () => {
    const second = new SQLiteBackend({ path })
    try {
      await backend.leases.acquire('k', owner, 60_000)
      const release = backend.leases.release('k', owner)
      expect(await backend.leases.acquire('k', owner, 60_000)).toMatchObject({ held: true })
      await release
      await backend.set('x', record('x', 'x'))
      expect(await second.leases.acquire('k', rival, 60_000)).toMatchObject({ held: false })
    } finally {
      await second.close()
    }
  })

  it('a file whose lease table was made by an earlier build (a rowid table) takes and gives back leases as before', async () => {
    const old = join(tmp.dir, 'old.sqlite')
    const db = new Database(old)
    db.exec('CREATE TABLE leases_v1 (key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL)')
    db.close()
    const a = new SQLiteBackend({ path: old })
    const b = new SQLiteBackend({ path: old })
    try {
      expect(await a.leases.acquire('k', owner, 60_000)).toMatchObject({ held: true })
      expect(await b.leases.acquire('k', rival, 60_000)).toMatchObject({ held: false })
      await a.leases.release('k', owner)
      expect(await b.leases.acquire('k', rival, 60_000)).toMatchObject({ held: true })
    } finally {
      await a.close()
      await b.close()
    }
  })

  it("a lease's grant reads the entry this process queued for its key", async () => {
    void backend.set('k', record('k', 'x'))
    const grant = await backend.leases.acquire('k', owner, 60_000)
    expect((grant as { storedAt: number | null }).storedAt).not.toBeNull()
  })
})

describe('a process that exits', () => {
  let build: Build
  beforeAll(() => {
    build = buildBackends(['src/backends/sqlite.ts'])
  })
  afterAll(() => build.cleanup())

  it('commits its queued writes as it exits, even by process.exit() straight after set()', () => {
    const script = `
      const { SQLiteBackend } = await import(${JSON.stringify(join(build.dir, 'backends/sqlite.js'))})
      const b = new SQLiteBackend({ path: ${JSON.stringify(path)} })
      const meta = ${JSON.stringify(record('exit', 'exit body').meta)}
      void b.set('exit', { meta, body: Buffer.from('exit body') })
      process.exit(0)`
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    expect(other.prepare('SELECT body FROM responses_v1 WHERE key = ?').pluck().get('exit')).toEqual(Buffer.from('exit body'))
  })
})

/**
 * SQLiteBackend's write-behind (src/backends/sqlite-batch.ts): the writes the engine makes after
 * a response (`batching.set`) share transactions, and nothing a caller or another process relies
 * on changes. A second connection to the same file plays the other process (a better-sqlite3
 * connection holding BEGIN IMMEDIATE is the other process's write lock); the exit rows use a
 * real child process.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { type CacheRecord, CorruptEntryError, SQLiteBackend } from '../src/index.js'
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
  backend = new SQLiteBackend({ path, busyTimeout: 2000 })
  other = new Database(path)
})

afterEach(async () => {
  vi.useRealTimers()
  if (other.inTransaction) other.exec('ROLLBACK')
  other.close()
  await backend.close()
  tmp.cleanup()
})

function record(key: string, body: string): CacheRecord {
  return { meta: meta({ key, url: `http://h/${key}`, size: body.length, createdAt: Date.now(), expiresAt: Date.now() + 60_000 }), body: Buffer.from(body) }
}

const soon = (key: string, body: string) => backend.batching.set(key, record(key, body))

/** What the other connection sees committed. */
function committed(): string[] {
  return other.prepare('SELECT key FROM responses_v1 ORDER BY key').pluck().all() as string[]
}

function bodyOf(key: string): Buffer | undefined {
  return other.prepare('SELECT body FROM responses_v1 WHERE key = ?').pluck().get(key) as Buffer | undefined
}

/** The other process takes the write lock for `ms`. */
function lockFor(ms: number): void {
  const db = other
  db.exec('BEGIN IMMEDIATE')
  setTimeout(() => db.open && db.inTransaction && db.exec('COMMIT'), ms)
}

const turn = () => new Promise((resolve) => setImmediate(resolve))

describe('SQLiteBackend write-behind (batching.set)', () => {
  it('writes that arrive together are committed together, and each resolves only once committed', async () => {
    const writes = ['a', 'b', 'c'].map((k) => soon(k, `body ${k}`))
    // Queued: not in the file yet...
    expect(committed()).toEqual([])
    await writes[0]
    // ...and the first one resolving means all three are in it: one transaction.
    expect(committed()).toEqual(['a', 'b', 'c'])
    await Promise.all(writes)
  })

  it('set() is not held: it is committed before the next turn of the event loop, after what was queued', async () => {
    const queued = soon('q', 'queued')
    const direct = backend.set('d', record('d', 'direct'))
    let resolvedFirst = false
    await Promise.race([direct.then(() => (resolvedFirst = true)), turn()])
    expect(resolvedFirst).toBe(true)
    expect(committed()).toEqual(['d', 'q'])
    await queued
  })

  it('this process reads its own queued write, byte for byte, and a copy: changing what it was served changes nothing stored', async () => {
    const write = soon('k', 'queued body')
    expect(committed()).toEqual([])
    const got = await backend.get('k')
    expect(Buffer.from(got!.body).toString()).toBe('queued body')
    got!.body[0] = 'X'.charCodeAt(0)
    await write
    expect(bodyOf('k')!.toString()).toBe('queued body')
  })

  it('bytes changed after the write was queued read back as damage (a miss), never as an entry', async () => {
    const r = record('k', 'original')
    const write = backend.batching.set('k', r)
    r.body[0] = 'X'.charCodeAt(0)
    await write
    const fresh = new SQLiteBackend({ path })
    try {
      await expect(fresh.get('k')).rejects.toBeInstanceOf(CorruptEntryError)
    } finally {
      await fresh.close()
    }
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
    const write = soon('k', 'x')
    await check(backend)
    await write
  })

  it('a full batch (64 writes) is committed at once: a delete in the same turn comes after it', async () => {
    const writes = Array.from({ length: 64 }, (_, i) => soon(`k${i}`, 'x'))
    expect(await backend.delete(['k0'])).toBe(1)
    await Promise.all(writes)
    expect(committed()).not.toContain('k0')
    expect(committed()).toHaveLength(63)
  })

  it('under another process\'s lock, a change waits for the commit under way, and reads see the newest value throughout', async () => {
    await backend.set('k', record('k', 'old'))
    lockFor(150)
    const write = soon('k', 'new')
    const commit = backend.batching.set('other', record('other', 'x')).then(() => 'committed')
    void backend['batch'].flush()
    // Being committed (waiting for the lock): still this process's latest value.
    expect(Buffer.from((await backend.get('k'))!.body).toString()).toBe('new')
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(Buffer.from((await backend.get('k'))!.body).toString()).toBe('new')
    // A read of many rows waits for that commit too (in WAL it could read at once, without it).
    expect((await backend.stats()).entries).toBe(2)
    // The delete waits for that commit: after it, nothing is left, not the older write landing late.
    expect(await backend.delete(['k'])).toBe(1)
    await write
    expect(await commit).toBe('committed')
    expect(bodyOf('k')).toBeUndefined()
  })

  it('a batch that waits out busyTimeout fails once, as a whole, not entry by entry', { timeout: 10_000 }, async () => {
    await backend.close()
    backend = new SQLiteBackend({ path, busyTimeout: 200 })
    lockFor(1500)
    const started = performance.now()
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => soon(`k${i}`, 'x')))
    const ms = performance.now() - started
    expect(results.every((r) => r.status === 'rejected')).toBe(true)
    // One busyTimeout (200 ms) and the batch delay, not ten busyTimeouts.
    expect(ms).toBeLessThan(1000)
  })

  it('a later write of the same key wins', async () => {
    const first = soon('k', 'old')
    const second = soon('k', 'new')
    await Promise.all([first, second])
    expect(bodyOf('k')!.toString()).toBe('new')
  })

  it('one bad write in a batch fails alone: the others are committed', async () => {
    const bad = record('bad', 'x')
    // status is NOT NULL: this row cannot be inserted.
    ;(bad.meta as { status: unknown }).status = null
    const results = await Promise.allSettled([soon('a', 'a'), backend.batching.set('bad', bad), soon('c', 'c')])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(committed()).toEqual(['a', 'c'])
  })

  it('a fake clock (vi.useFakeTimers) does not hold writes back', async () => {
    vi.useFakeTimers()
    await soon('k', 'x')
    expect(committed()).toEqual(['k'])
  })

  it('close() commits what is queued', async () => {
    const write = soon('k', 'x')
    await backend.close()
    await write
    expect(committed()).toEqual(['k'])
  })
})

describe('leases and the queue', () => {
  const owner = 'me'
  const rival = 'other process'
  const grantOf = async (b: SQLiteBackend, who: string) => (await b.leases.acquire('k', who, 60_000)) as { held: boolean; storedAt: number | null }
  /** The other process's backend on the same file. */
  let second: SQLiteBackend
  beforeEach(() => {
    second = new SQLiteBackend({ path })
  })
  afterEach(async () => {
    await second.close()
  })

  it('a lease released after its entry was queued is given back no earlier than the entry is committed', async () => {
    expect((await grantOf(backend, owner)).held).toBe(true)
    const write = soon('k', 'x')
    const release = backend.leases.release('k', owner)
    // The entry is queued: the rival must not get the lease yet, or it would fetch again.
    expect((await grantOf(second, rival)).held).toBe(false)
    await Promise.all([write, release])
    const grant = await grantOf(second, rival)
    expect(grant.held).toBe(true)
    expect(grant.storedAt).not.toBeNull()
  })

  it('a lease taken again before its release was committed stays held', async () => {
    await grantOf(backend, owner)
    const release = backend.leases.release('k', owner)
    expect((await grantOf(backend, owner)).held).toBe(true)
    await release
    await soon('x', 'x')
    expect((await grantOf(second, rival)).held).toBe(false)
  })

  it('…also while that release waits for another process\'s lock', async () => {
    await grantOf(backend, owner)
    lockFor(150)
    const release = backend.leases.release('k', owner)
    void backend['batch'].flush()
    expect((await grantOf(backend, owner)).held).toBe(true)
    await release
    expect((await grantOf(second, rival)).held).toBe(false)
  })

  it('two owners\' releases of one key are two releases', async () => {
    await backend.leases.acquire('warm-up', owner, 1)
    other.exec("INSERT INTO leases_v1 (key, owner, expires_at) VALUES ('k', 'B', 9999999999999)")
    await Promise.all([backend.leases.release('k', 'B'), backend.leases.release('k', 'A')])
    expect(other.prepare("SELECT owner FROM leases_v1 WHERE key = 'k'").pluck().get()).toBeUndefined()
  })

  it('a file whose lease table was made by an earlier build (a rowid table) takes and gives back leases as before', async () => {
    const old = join(tmp.dir, 'old.sqlite')
    const db = new Database(old)
    db.exec('CREATE TABLE leases_v1 (key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL)')
    db.close()
    const a = new SQLiteBackend({ path: old })
    const b = new SQLiteBackend({ path: old })
    try {
      expect((await grantOf(a, owner)).held).toBe(true)
      expect((await grantOf(b, rival)).held).toBe(false)
      await a.leases.release('k', owner)
      expect((await grantOf(b, rival)).held).toBe(true)
    } finally {
      await a.close()
      await b.close()
    }
  })

  it("a lease's grant reads the entry this process queued for its key", async () => {
    void soon('k', 'x')
    expect((await grantOf(backend, owner)).storedAt).not.toBeNull()
  })
})

describe('a process that exits', () => {
  let build: Build
  beforeAll(() => {
    build = buildBackends(['src/backends/sqlite.ts'])
  })
  afterAll(() => build.cleanup())

  it.each([1, 63, 64, 130])('commits its %i queued writes as it exits, even by process.exit() straight after', (n) => {
    const script = `
      const { SQLiteBackend } = await import(${JSON.stringify(join(build.dir, 'backends/sqlite.js'))})
      const b = new SQLiteBackend({ path: ${JSON.stringify(path)} })
      const meta = ${JSON.stringify(record('exit', 'exit body').meta)}
      for (let i = 0; i < ${n}; i++) void b.batching.set('exit' + i, { meta: { ...meta, key: 'exit' + i }, body: Buffer.from('exit body') })
      process.exit(0)`
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    expect(committed()).toHaveLength(n)
    expect(bodyOf('exit0')!.toString()).toBe('exit body')
  })
})

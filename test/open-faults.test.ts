/**
 * A cache file that cannot be opened read-write never fails the program (issue 11): a damaged
 * file is moved aside and a new one made; an unwritable one is opened read-only, or the cache
 * runs without a store; `onError` is told; every request gets the origin's bytes. Inspection
 * (`openCache`) still throws a clear error: it is asked about that one file.
 */
import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { cacheInterceptor, createCachedFetch, installCache, openCache, uninstallCache } from '../src/index.js'
import { buildBackends, type Build } from './conformance/build.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

let tmp: ReturnType<typeof tempDir>
let origin: Origin

beforeEach(async () => {
  tmp = tempDir()
  origin = await startOrigin({
    '/a': reply(200, { 'cache-control': 'max-age=600' }, 'body of a'),
    '/b': reply(200, { 'cache-control': 'max-age=600' }, 'body of b'),
  })
})

afterEach(async () => {
  await origin.close()
  tmp.cleanup()
})

/** A cache file at <dir>/c.sqlite holding /a and /b, closed cleanly. */
async function filledCache(): Promise<string> {
  const name = join(tmp.dir, 'c')
  const f = createCachedFetch({ name })
  for (const p of ['/a', '/b']) await (await f(`${origin.url}${p}`)).arrayBuffer()
  await f.cache.close()
  return name
}

/** Three requests through a fresh cache on `name`: what they got, and what onError heard. */
async function run(name: string) {
  const errors: Error[] = []
  const f = createCachedFetch({ name, onError: (e) => errors.push(e as Error) })
  const got: Array<[string, string | null]> = []
  for (const p of ['/a', '/b', '/a']) {
    const res = await f(`${origin.url}${p}`)
    expect(res.status).toBe(200)
    got.push([await res.text(), res.headers.get('cache-status')])
    await f.cache.flush()
  }
  await f.cache.close()
  return { errors, got }
}

const asideFiles = (dir: string) => readdirSync(dir).filter((n) => n.includes('.corrupt-')).sort()

describe('a damaged file is moved aside and the cache starts over', () => {
  const damages: Array<[string, (path: string) => void]> = [
    ['a damaged header (SQLITE_NOTADB)', (path) => {
      const fd = openSync(path, 'r+')
      writeSync(fd, Buffer.alloc(100, 0xab), 0, 100, 0)
      closeSync(fd)
    }],
    ['a file cut in half', (path) => truncateSync(path, Math.floor(statSync(path).size / 2))],
    ['a v1 table of an unknown shape', (path) => {
      const db = new Database(path)
      db.exec('DROP TABLE responses_v1; CREATE TABLE responses_v1 (id INTEGER PRIMARY KEY, key TEXT NOT NULL, url TEXT NOT NULL, method TEXT NOT NULL, status INTEGER NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER, dead_at INTEGER, accessed_at INTEGER NOT NULL, size INTEGER NOT NULL, weight INTEGER NOT NULL, meta TEXT NOT NULL, body BLOB NOT NULL, crc INTEGER)')
      db.close()
    }],
  ]

  it.each(damages)('%s', async (_name, damage) => {
    const name = await filledCache()
    // Bodies big enough that cutting the file in half loses pages of the table.
    damage(`${name}.sqlite`)
    const { errors, got } = await run(name)
    expect(got.map(([body]) => body)).toEqual(['body of a', 'body of b', 'body of a'])
    expect(got[2]![1]).toMatch(/hit/)
    expect(errors.length).toBeGreaterThan(0)
    expect(errors.map((e) => e.message).join('\n')).toMatch(/moved to .*c\.sqlite\.corrupt-/)
    expect(asideFiles(tmp.dir).filter((n) => /^c\.sqlite\.corrupt-[-\dT]+Z$/.test(n))).toHaveLength(1)
    // The next start finds a sound file: no more errors.
    const again = await run(name)
    expect(again.errors).toEqual([])
    expect(again.got.every(([, status]) => /hit/.test(status ?? ''))).toBe(true)
  })

  it('a WAL and shared memory left beside a damaged file never reach the new one', async () => {
    const name = join(tmp.dir, 'c')
    // A damaged file with the WAL and shared memory a crashed process left beside it.
    for (const suffix of ['', '-wal', '-shm']) writeFileSync(`${name}.sqlite${suffix}`, Buffer.alloc(8192, 0x5a))
    const { errors, got } = await run(name)
    expect(got.map(([body]) => body)).toEqual(['body of a', 'body of b', 'body of a'])
    const aside = asideFiles(tmp.dir)
    expect(aside.map((n) => n.replace(/corrupt-.*Z/, 'corrupt-T'))[0]).toBe('c.sqlite.corrupt-T')
    // SQLite removes a WAL it cannot use when it closes the file; whatever is left moves with
    // it. Nothing of the old file stays beside the new one, to be replayed into it.
    for (const suffix of ['-wal', '-shm']) {
      const path = `${name}.sqlite${suffix}`
      if (existsSync(path)) expect(readFileSync(path).subarray(0, 8).equals(Buffer.alloc(8, 0x5a))).toBe(false)
    }
    expect(errors.length).toBeGreaterThan(0)
  })

  it('every front end starts, and openCache throws a clear error naming the file', async () => {
    const name = await filledCache()
    const path = `${name}.sqlite`
    const garble = () => {
      const fd = openSync(path, 'r+')
      writeSync(fd, Buffer.alloc(100, 0xab), 0, 100, 0)
      closeSync(fd)
    }
    garble()
    expect(() => openCache({ name })).toThrow(/cannot open SQLite cache .*c\.sqlite.*SQLITE_NOTADB/)
    const errors: unknown[] = []
    const interceptor = cacheInterceptor({ name, onError: (e) => errors.push(e) })
    await interceptor.cache.close()
    garble()
    const installed = installCache({ name, onError: (e) => errors.push(e) })
    const res = await fetch(`${origin.url}/a`)
    expect(await res.text()).toBe('body of a')
    uninstallCache()
    await installed.close()
    expect(errors.length).toBeGreaterThanOrEqual(2)
  })
})

// Permission bits stop everyone but root: as root, the scenario runs in a child process as the
// unprivileged user `nobody` (setpriv), so these tests mean the same wherever they run.
const root = process.getuid?.() === 0
const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].some((p) => existsSync(p))
if (root && !setpriv) console.warn('SKIPPED: permission tests need setpriv (util-linux) to drop root; root writes through permission bits')

describe.skipIf(root && !setpriv)('a location the cache cannot write', () => {
  let build: Build
  beforeAll(() => {
    build = buildBackends(['src/index.ts'])
  })
  afterAll(() => build.cleanup())

  async function child(scenario: string, readOnly = false) {
    const args = [join(import.meta.dirname, 'workers/open-faults-child.mjs'), build.dir, scenario, tmp.dir, origin.url, readOnly ? 'readOnly' : '']
    if (root) chownSync(tmp.dir, 65534, 65534)
    const cmd = root ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...args] : [process.execPath, ...args]
    // Asynchronously: the origin answering the child lives in this process.
    const { stdout } = await promisify(execFile)(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 30_000 })
    const out = JSON.parse(stdout) as {
      uid: number
      thrown?: string
      errors: string[]
      responses: Array<{ path: string; status: number; body: string; cacheStatus: string | null }>
    }
    expect(out.uid).not.toBe(0)
    expect(out.thrown).toBeUndefined()
    for (const r of out.responses) {
      expect(r.status).toBe(200)
      expect(r.body).toBe(`body of ${r.path.slice(1)}`)
    }
    return out
  }

  it('a write-protected file (0400) is opened read-only: hits are served, nothing is stored', async () => {
    const out = await child('readonly-file')
    expect(out.responses.map((r) => /hit/.test(r.cacheStatus ?? ''))).toEqual([true, false, false])
    expect(out.errors.join('\n')).toMatch(/read-only/)
    // /a from the file; /b twice from the origin (setup fetched /a once).
    expect(origin.count('/a')).toBe(1)
    expect(origin.count('/b')).toBe(2)
  })

  it.each([false, true])('a read-only folder (readOnly: %s): requests go uncached, onError is told', async (readOnly) => {
    const out = await child('readonly-folder', readOnly)
    expect(out.errors.join('\n')).toMatch(/uncached|read-only/)
    expect(origin.count('/b')).toBeGreaterThanOrEqual(1)
  })
})

// A full disk needs a small file system of its own: a tmpfs, which only root may mount.
describe('a full disk', () => {
  const canMount = root && (() => {
    try {
      execFileSync('mountpoint', ['--version'], { stdio: 'ignore' })
      return true
    } catch {
      return false
    }
  })()
  if (!canMount) console.warn('SKIPPED: the full-disk test mounts a 2 MiB tmpfs and needs root (and util-linux)')

  it.skipIf(!canMount)('on reopen, with a WAL left by a killed process: requests go to the origin, onError is told', async () => {
    const disk = join(tmp.dir, 'disk')
    mkdirSync(disk)
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', disk])
    } catch (error) {
      console.warn(`SKIPPED: cannot mount a tmpfs here (${(error as Error).message.split('\n')[0]})`)
      return
    }
    try {
      const name = join(disk, 'c')
      const f = createCachedFetch({ name })
      await (await f(`${origin.url}/a`)).arrayBuffer()
      await f.cache.close()
      // A writer killed mid-work leaves its WAL behind.
      const script = `const D = require('better-sqlite3'); const db = new D(${JSON.stringify(`${name}.sqlite`)}); db.pragma('wal_autocheckpoint = 0'); db.exec("CREATE TABLE filler (b BLOB)"); for (let i = 0; i < 20; i++) db.prepare('INSERT INTO filler VALUES (?)').run(Buffer.alloc(16384)); process.kill(process.pid, 'SIGKILL')`
      try {
        execFileSync(process.execPath, ['-e', script], { cwd: import.meta.dirname })
      } catch {
        // Killed, as meant.
      }
      expect(existsSync(`${name}.sqlite-wal`)).toBe(true)
      // Fill the disk.
      try {
        for (let i = 0; ; i++) writeFileSync(join(disk, `fill-${i}`), Buffer.alloc(64 * 1024))
      } catch (error) {
        expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC')
      }
      const { errors, got } = await run(name)
      expect(got.map(([body]) => body)).toEqual(['body of a', 'body of b', 'body of a'])
      expect(errors.length).toBeGreaterThan(0)
    } finally {
      execFileSync('umount', [disk])
    }
  })
})

/**
 * Crash leftovers in a FileBackend folder (issue 11): what a killed writer leaves is swept on
 * the next open and by vacuum(); what a live writer is writing is never touched. And the
 * folder's default cap. Real cacache folders, real second processes.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import cacache from 'cacache'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FileBackend } from '../src/index.js'
import { writerGone, writerId } from '../src/backends/file-leftovers.js'
import { rec } from './conformance/suite.js'
import { buildBackends, type Build } from './conformance/build.js'
import { tempDir } from './helpers/tmp.js'

let build: Build
let tmp: ReturnType<typeof tempDir>
const children: ChildProcessByStdio<null, Readable, null>[] = []
beforeAll(() => {
  build = buildBackends(['src/backends/file.ts'])
})
afterAll(() => build.cleanup())
beforeEach(() => {
  tmp = tempDir()
})
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
  tmp.cleanup()
})

/** Must match bigBody() in workers/leftover-writer.mjs. */
function bigBody(key: string, mib: number): Buffer {
  // The key's digest over and over, each 4 KiB block numbered: a misplaced or lost block shows.
  const out = Buffer.alloc(mib * 1024 * 1024, createHash('sha256').update(key).digest())
  for (let i = 0; i < out.length; i += 4096) out.writeUInt32BE(i / 4096, i)
  return out
}

function writer(folder: string, ...args: string[]): ChildProcessByStdio<null, Readable, null> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'workers/leftover-writer.mjs'), build.dir, folder, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  return child
}

function firstLine(child: ChildProcessByStdio<null, Readable, null>): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      if (text.includes('\n')) resolve(text.slice(0, text.indexOf('\n')))
    })
    child.on('exit', (code) => reject(new Error(`writer exited (${String(code)}) before its first line`)))
  })
}

function exited(child: ChildProcessByStdio<null, Readable, null>): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.on('exit', (code) => resolve(code)))
}

describe('writerGone: how a sweep knows a writer is gone', () => {
  it.each<[string, () => string, boolean]>([
    ['this live process', () => writerId(), false],
    ['not a writer folder (an older version, another cacache user)', () => 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6', false],
    ['another host: its pid means nothing here', () => writerId().replace(/^w1\.[0-9a-f]{8}/, 'w1.00000000'), false],
    // Linux: a live pid with another start time is a reused pid. Elsewhere start is 0: unknown, live.
    ['this pid with another start time (reused pid)', () => writerId().replace(/\.(\d+)\.(\d+)\.([0-9a-f]+)$/, '.$1.1.$3'), existsSync('/proc/self/stat')],
  ])('%s', (_what, name, gone) => {
    expect(writerGone(name())).toBe(gone)
  })

  it('a pid that is no longer alive', async () => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
    await new Promise((resolve) => child.on('exit', resolve))
    expect(writerGone(writerId().replace(/\.(\d+)\.(\d+)\.([0-9a-f]+)$/, `.${child.pid}.$2.$3`))).toBe(true)
  })
})

describe('FileBackend crash leftovers', () => {
  it("a SIGKILLed writer's temp files and orphaned body go on the next open; a live one's stay, however old", { timeout: 30_000 }, async () => {
    const folder = join(tmp.dir, 'c')
    const child = writer(folder, 'hold')
    const left = JSON.parse(await firstLine(child)) as { writerDir: string; partial: string; orphan: string }
    // An orphaned body far older than any write under way: it goes even while a writer lives.
    const old = await cacache.put(folder, 'scratch-old', Buffer.from('an old orphan'))
    await (cacache.rm.entry as (dir: string, key: string, opts: { removeFully: boolean }) => Promise<unknown>)(folder, 'scratch-old', { removeFully: true })
    const hourAgo = new Date(Date.now() - 3_600_000)
    utimesSync(join(folder, 'content-v2', contentPathOf(String(old))), hourAgo, hourAgo)

    // The writer lives: its partial file stays though an hour old, its young orphan stays too.
    // No gone writer: the sweep on open does not even walk the bodies; vacuum() always does.
    const open = new FileBackend({ path: folder })
    expect(await open.swept).toEqual({ tmpBytes: 0, orphanBytes: 0, goneWriters: 0 })
    expect(await cacache.get.hasContent(folder, String(old))).not.toBe(false)
    await open.vacuum()
    expect(existsSync(left.partial)).toBe(true)
    expect(await cacache.get.hasContent(folder, left.orphan)).not.toBe(false)
    expect(await cacache.get.hasContent(folder, String(old))).toBe(false)
    await open.close()

    child.kill('SIGKILL')
    await exited(child)
    const next = new FileBackend({ path: folder })
    const swept = await next.swept
    expect(swept).toEqual({ tmpBytes: 1024 * 1024, orphanBytes: Buffer.byteLength('orphaned body of a cut write'), goneWriters: 1 })
    expect(existsSync(join(folder, 'tmp', left.writerDir))).toBe(false)
    expect(await cacache.get.hasContent(folder, left.orphan)).toBe(false)
    // What the killed writer had finished is still served, byte for byte.
    expect(Buffer.from((await next.get('held'))!.body).toString()).toBe('held body')
    await next.close()
  })

  it("a SIGKILLed process that only deleted is known gone too: the next open removes the body its cut delete left", async () => {
    const folder = join(tmp.dir, 'c')
    const child = writer(folder, 'deleter')
    const left = JSON.parse(await firstLine(child)) as { writerDir: string; orphan: string }
    expect(left.writerDir).toMatch(/^w1\./)
    child.kill('SIGKILL')
    await exited(child)
    const next = new FileBackend({ path: folder })
    expect(await next.swept).toEqual({ tmpBytes: 0, orphanBytes: Buffer.byteLength('body of a cut delete'), goneWriters: 1 })
    expect(await cacache.get.hasContent(folder, left.orphan)).toBe(false)
    await next.close()
  })

  it('vacuum() sweeps them too, and close() leaves no temp folder behind', async () => {
    const folder = join(tmp.dir, 'c')
    const child = writer(folder, 'hold')
    const left = JSON.parse(await firstLine(child)) as { writerDir: string; partial: string; orphan: string }
    const open = new FileBackend({ path: folder })
    await open.swept
    child.kill('SIGKILL')
    await exited(child)
    await open.set('mine', rec('mine', 'my body'))
    await open.vacuum()
    expect(existsSync(join(folder, 'tmp', left.writerDir))).toBe(false)
    expect(await cacache.get.hasContent(folder, left.orphan)).toBe(false)
    await open.close()
    expect(readdirSync(join(folder, 'tmp'))).toEqual([])
  })

  it("a live writer's big bodies written while others open and vacuum the folder read back byte for byte", { timeout: 60_000 }, async () => {
    const folder = join(tmp.dir, 'c')
    const COUNT = 4
    const MIB = 16
    const child = writer(folder, 'big', String(COUNT), String(MIB))
    const done = exited(child)
    let finished = false
    void done.then(() => (finished = true))
    // Sweep over and over while it writes: a fresh open (its sweep) and a vacuum each time.
    for (let round = 0; round < 500 && !finished; round++) {
      const b = new FileBackend({ path: folder })
      await b.swept
      await b.vacuum()
      await b.close()
    }
    expect(await done).toBe(0)
    const b = new FileBackend({ path: folder })
    for (let i = 0; i < COUNT; i++) expect(Buffer.from((await b.get(`big${i}`))!.body).equals(bigBody(`big${i}`, MIB)), `big${i}`).toBe(true)
    await b.close()
  })
})

describe('FileBackend default cap', () => {
  it('is 1 GiB unless set; Infinity lifts it; a smaller cap evicts the least recently used', async () => {
    expect(new FileBackend({ path: join(tmp.dir, 'a') }).limits.maxSize).toBe(1024 ** 3)
    expect(new FileBackend({ path: join(tmp.dir, 'b'), maxSize: Infinity }).limits.maxSize).toBe(Infinity)
    expect(() => new FileBackend({ onError: 'log' as unknown as () => void })).toThrow(/FileBackend onError: expected a function; got 'log'/)
    const b = new FileBackend({ path: join(tmp.dir, 'c'), maxSize: 8 * 1024 })
    for (let i = 0; i < 6; i++) await b.set(`k${i}`, rec(`k${i}`, Buffer.alloc(2000, i)))
    const stats = await b.stats()
    expect(stats.bytes).toBeLessThanOrEqual(8 * 1024)
    expect(await b.get('k0')).toBeUndefined()
    expect(Buffer.from((await b.get('k5'))!.body).equals(Buffer.alloc(2000, 5))).toBe(true)
    await b.close()
  })
})

/** content-v2/sha512/xx/yy/rest for an integrity, as cacache lays it out. */
function contentPathOf(integrity: string): string {
  const hex = Buffer.from(integrity.replace(/^sha512-/, ''), 'base64').toString('hex')
  return join('sha512', hex.slice(0, 2), hex.slice(2, 4), hex.slice(4))
}

/**
 * Crash safety (issue 11): a process filling a store with bodies of 1 B – 2 MiB is SIGKILLed at
 * seeded random moments, 30 times per backend; after each kill the store is opened afresh and
 * every entry it serves is byte-identical to what was written for its key. A damaged entry
 * may be a miss (reported as CorruptEntryError), never wrong bytes. The folder backend's sweep
 * on open leaves nothing of the killed writer: no temp file, no body without an index entry.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import cacache from 'cacache'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CorruptEntryError, FileBackend, SQLiteBackend, type Backend } from '../src/index.js'
import { buildBackends, type Build } from './conformance/build.js'
import { tempDir } from './helpers/tmp.js'

const KILLS = 30

/** Must match bodyOf() in workers/crash-writer.mjs. */
function bodyOf(key: string): Buffer {
  const digest = createHash('sha256').update(key).digest()
  const size = 1 + (digest.readUInt32BE(0) % (2 * 1024 * 1024))
  const out = Buffer.alloc(size)
  for (let i = 0; i < size; i += 32) digest.copy(out, i, 0, Math.min(32, size - i))
  return out
}

let build: Build
let tmp: ReturnType<typeof tempDir>
beforeAll(() => {
  build = buildBackends()
  tmp = tempDir()
})
afterAll(() => {
  build.cleanup()
  tmp.cleanup()
})

/** Start the writer, let it run `ms` after it is ready, SIGKILL it. */
function killAfter(kind: string, path: string, seed: number, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(import.meta.dirname, 'workers/crash-writer.mjs'), build.dir, kind, path, String(seed)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.stdout.once('data', () => setTimeout(() => child.kill('SIGKILL'), ms))
    child.on('error', reject)
    child.on('exit', (_code, signal) => {
      clearTimeout(guard)
      signal === 'SIGKILL' ? resolve() : reject(new Error(`writer exited on its own (${String(_code)})`))
    })
  })
}

/** What the sweep on open left of the killed writer: temp files and bodies no entry points to. */
async function leftovers(path: string, backend: FileBackend): Promise<{ tmp: string[]; orphans: string[] }> {
  await backend.swept
  const files = (dir: string): string[] =>
    existsSync(dir) ? readdirSync(dir, { withFileTypes: true, recursive: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name)) : []
  const live = new Set(Object.values(await cacache.ls(path)).map((e) => e.path))
  return { tmp: files(join(path, 'tmp')), orphans: files(join(path, 'content-v2')).filter((f) => !live.has(f)) }
}

describe.each([
  ['sqlite', (path: string) => new SQLiteBackend({ path })],
  ['file', (path: string) => new FileBackend({ path })],
] as const)('%s: SIGKILL mid-write', (kind, open) => {
  it(`${KILLS} kills: every entry served afterwards is byte-identical`, { timeout: 300_000 }, async () => {
    const path = join(tmp.dir, kind === 'sqlite' ? 'crash.sqlite' : 'crash')
    let seed = kind === 'sqlite' ? 11 : 23
    let served = 0
    for (let round = 0; round < KILLS; round++) {
      seed = (seed * 1103515245 + 12345) >>> 0
      await killAfter(kind, path, seed, 100 + (seed % 1400))
      const backend: Backend = open(path)
      if (backend instanceof FileBackend) expect(await leftovers(path, backend), `round ${round}`).toEqual({ tmp: [], orphans: [] })
      for await (const [key] of backend.entries()) {
        try {
          const record = await backend.get(key)
          if (record === undefined) continue
          expect(Buffer.from(record.body).equals(bodyOf(record.meta.key)), `round ${round}: ${key}`).toBe(true)
          served++
        } catch (error) {
          // Damage must be detected, never served.
          expect(error).toBeInstanceOf(CorruptEntryError)
        }
      }
      await backend.close()
    }
    expect(served).toBeGreaterThan(KILLS)
  })
})

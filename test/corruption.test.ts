/**
 * Damaged cache files (issue 11): a damaged entry is a miss, is removed, and `onError` hears of
 * it once; the caller always gets the origin's bytes.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createCachedFetch } from '../src/index.js'
import { checksum } from '../src/backends/sqlite-schema.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

let tmp: ReturnType<typeof tempDir>
let origin: Origin
const BODY = Buffer.from('x'.repeat(1000) + 'the end')

beforeEach(async () => {
  tmp = tempDir()
  origin = await startOrigin({ '/a': reply(200, { 'cache-control': 'max-age=600' }, BODY) })
})

afterEach(async () => {
  await origin.close()
  tmp.cleanup()
})

function codes(errors: unknown[]): string[] {
  return errors.map((e) => (e as { code?: string }).code ?? String(e))
}

/** Store /a, damage the store with `damage`, fetch /a twice more: what the caller and onError saw. */
async function damagedRun(backend: 'sqlite' | 'filesystem', damage: (name: string) => void) {
  const name = join(tmp.dir, 'c')
  const errors: unknown[] = []
  const f1 = createCachedFetch({ name, backend })
  await (await f1(`${origin.url}/a`)).arrayBuffer()
  await f1.cache.close()
  damage(name)
  const f2 = createCachedFetch({ name, backend, onError: (e) => errors.push(e) })
  const bodies: Buffer[] = []
  const statuses: string[] = []
  for (let i = 0; i < 3; i++) {
    const res = await f2(`${origin.url}/a`)
    statuses.push(res.headers.get('cache-status') ?? '')
    bodies.push(Buffer.from(await res.arrayBuffer()))
    await f2.cache.flush()
  }
  await f2.cache.close()
  return { errors, bodies, statuses }
}

function sqliteBody(name: string, change: (body: Buffer) => Buffer): void {
  const db = new Database(`${name}.sqlite`)
  const [key, body] = db.prepare('SELECT key, body FROM responses_v1').raw(true).get() as [string, Buffer]
  db.prepare('UPDATE responses_v1 SET body = ? WHERE key = ?').run(change(Buffer.from(body)), key)
  db.close()
}

describe('SQLite: a damaged body is a miss, removed, reported once', () => {
  it.each([
    ['cut to 10 bytes', (b: Buffer) => b.subarray(0, 10)],
    ['one flipped byte', (b: Buffer) => (b[500]! ^= 1, b)],
  ])('%s', async (_name, change) => {
    const { errors, bodies, statuses } = await damagedRun('sqlite', (name) => sqliteBody(name, change))
    for (const body of bodies) expect(body.equals(BODY)).toBe(true)
    expect(origin.count('/a')).toBe(2)
    expect(statuses[0]).not.toMatch(/hit/)
    expect(statuses[2]).toMatch(/hit/)
    expect(codes(errors)).toEqual(['ERR_FETCHCACHE_CORRUPT_ENTRY'])
  })

  it('an entry of a later format version (a newer build sharing the store) is a miss, never misread', async () => {
    const { errors, bodies } = await damagedRun('sqlite', (name) => {
      const db = new Database(`${name}.sqlite`)
      const [key, meta, body] = db.prepare('SELECT key, meta, body FROM responses_v1').raw(true).get() as [string, string, Buffer]
      const later = meta.replace('"v":1', '"v":2')
      expect(later).not.toBe(meta)
      // A valid checksum: the entry is whole, only of a format this build does not read.
      db.prepare('UPDATE responses_v1 SET meta = ?, crc = ? WHERE key = ?').run(later, checksum(later, body), key)
      db.close()
    })
    for (const body of bodies) expect(body.equals(BODY)).toBe(true)
    expect(origin.count('/a')).toBe(2)
    expect(codes(errors)).toEqual(['ERR_FETCHCACHE_CORRUPT_ENTRY'])
    expect((errors[0] as Error).message).toMatch(/entry format 2 is not 1/)
  })

  it('a filesystem entry of a later format version is a miss too', async () => {
    const { errors, bodies } = await damagedRun('filesystem', (name) => {
      const index = join(name, 'index-v5')
      for (const file of walkFiles(index)) {
        const text = readFileSync(file, 'utf8')
        // cacache index lines: "<sha1 of the JSON>\t<JSON>"; rewrite the JSON and its hash.
        const lines = text.split('\n').filter(Boolean).map((line) => {
          const json = line.slice(line.indexOf('\t') + 1).replace('"v":1', '"v":2')
          return `${createHash('sha1').update(json).digest('hex')}\t${json}`
        })
        writeFileSync(file, `\n${lines.join('\n')}`)
      }
    })
    for (const body of bodies) expect(body.equals(BODY)).toBe(true)
    expect(origin.count('/a')).toBe(2)
    expect(codes(errors)).toEqual(['ERR_FETCHCACHE_CORRUPT_ENTRY'])
  })

  it('a flipped byte in the stored metadata is caught too', async () => {
    const { errors, bodies } = await damagedRun('sqlite', (name) => {
      const db = new Database(`${name}.sqlite`)
      db.prepare(`UPDATE responses_v1 SET meta = replace(meta, 'max-age=600', 'max-age=900')`).run()
      db.close()
    })
    for (const body of bodies) expect(body.equals(BODY)).toBe(true)
    expect(codes(errors)).toEqual(['ERR_FETCHCACHE_CORRUPT_ENTRY'])
  })
})

describe('FileBackend: a damaged body is reported once', () => {
  it('one flipped byte in the content file', async () => {
    const { errors, bodies } = await damagedRun('filesystem', (name) => {
      const dir = join(name, 'content-v2')
      const files: string[] = []
      const walk = (d: string) => {
        for (const e of readdirSync(d)) {
          const p = join(d, e)
          if (statSync(p).isDirectory()) walk(p)
          else files.push(p)
        }
      }
      walk(dir)
      expect(files).toHaveLength(1)
      const data = readFileSync(files[0]!)
      data[600]! ^= 1
      writeFileSync(files[0]!, data)
    })
    for (const body of bodies) expect(body.equals(BODY)).toBe(true)
    expect(origin.count('/a')).toBe(2)
    expect(codes(errors)).toEqual(['ERR_FETCHCACHE_CORRUPT_ENTRY'])
  })
})

describe('SQLite files written before checksums', () => {
  it('are upgraded in place: old rows are served (checked by size), new rows carry a checksum', async () => {
    const name = join(tmp.dir, 'old')
    const errors: unknown[] = []
    const f1 = createCachedFetch({ name })
    await (await f1(`${origin.url}/a`)).arrayBuffer()
    await f1.cache.close()
    // The file as the previous release left it: no crc column.
    const db = new Database(`${name}.sqlite`)
    db.exec('ALTER TABLE responses_v1 DROP COLUMN crc')
    db.close()
    const f2 = createCachedFetch({ name, onError: (e) => errors.push(e) })
    const res = await f2(`${origin.url}/a`)
    expect(res.headers.get('cache-status')).toMatch(/hit/)
    expect(Buffer.from(await res.arrayBuffer()).equals(BODY)).toBe(true)
    origin.route('/b', reply(200, { 'cache-control': 'max-age=600' }, 'b'))
    await (await f2(`${origin.url}/b`)).arrayBuffer()
    await f2.cache.close()
    expect(errors).toEqual([])
    expect(origin.count('/a')).toBe(1)
    const after = new Database(`${name}.sqlite`, { readonly: true })
    const rows = after.prepare('SELECT url, crc FROM responses_v1 ORDER BY id').raw(true).all() as Array<[string, number | null]>
    after.close()
    expect(rows.map(([url, crc]) => [url.slice(-2), crc === null])).toEqual([['/a', true], ['/b', false]])
  })
})

describe('SQLite: garbage pages', () => {
  it('a damaged page is reported once per entry, which is removed (or, where SQLite cannot delete it, never read again); callers get the origin bytes', async () => {
    const N = 40
    const bodyOf = (i: number) => Buffer.from(`${i}:`.padEnd(6000, String.fromCharCode(97 + (i % 26))))
    for (let i = 0; i < N; i++) origin.route(`/p${i}`, reply(200, { 'cache-control': 'max-age=600' }, bodyOf(i)))
    const name = join(tmp.dir, 'pages')
    const f1 = createCachedFetch({ name })
    for (let i = 0; i < N; i++) await (await f1(`${origin.url}/p${i}`)).arrayBuffer()
    await f1.cache.close()
    // Seeded garbage over a few pages in the body area of the file (4 KiB pages).
    const path = `${name}.sqlite`
    const data = readFileSync(path)
    const pages = data.length / 4096
    let seed = 7
    for (const at of [0.45, 0.6, 0.75, 0.9]) {
      const page = Math.floor(pages * at)
      for (let b = 0; b < 4096; b++) data[page * 4096 + b] = (seed = (seed * 1103515245 + 12345) >>> 0) & 0xff
    }
    writeFileSync(path, data)
    const errors: unknown[] = []
    const f2 = createCachedFetch({ name, onError: (e) => errors.push(e) })
    const passes: number[] = []
    for (let pass = 0; pass < 3; pass++) {
      const before = errors.length
      for (let i = 0; i < N; i++) {
        const res = await f2(`${origin.url}/p${i}`)
        expect(res.status).toBe(200)
        expect(Buffer.from(await res.arrayBuffer()).equals(bodyOf(i))).toBe(true)
        await f2.cache.flush()
      }
      passes.push(errors.length - before)
    }
    await f2.cache.close()
    expect(passes[0]).toBeGreaterThan(0)
    // One report per damaged entry, each naming it.
    const keys = errors.map((e) => /^entry (\w+): (checksum mismatch|damaged page)/.exec((e as Error).message)?.[1])
    expect(keys.every((k) => k !== undefined)).toBe(true)
    expect(new Set(keys).size).toBe(keys.length)
    // Reported in the first pass, removed then: the later passes are quiet.
    expect(passes.slice(1)).toEqual([0, 0])
  })
})

function walkFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walkFiles(join(dir, d.name)) : [join(dir, d.name)]))
}

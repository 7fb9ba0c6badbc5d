/**
 * MemcachedBackend against a real memcached on a free loopback port: the conformance cases a
 * store without listing allows, large entries split across items, native expiry, leases, and
 * what happens when the server is down or stalls.
 */
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemcachedBackend } from '../src/index.js'
import { createClient, loadMemjs, type MemcachedClient } from '../src/backends/memcached-client.js'
import { backendConformance, rec } from './conformance/suite.js'
import { dumpKeys, memcachedAvailable, type MemcachedServer, startMemcached } from './helpers/memcached.js'

const available = memcachedAvailable()
/** One namespace per store folder: the suite's "same dir, same store" on one server. */
const ns = (dir: string) => `t${createHash('sha256').update(dir).digest('hex').slice(0, 12)}:`

let server: MemcachedServer
beforeAll(async () => {
  // Room for the suite's 50 MiB body.
  if (available) server = await startMemcached({ memoryMb: 256 })
})
afterAll(async () => server?.stop())

describe.runIf(available)('MemcachedBackend on a real memcached', () => {
  backendConformance({
    name: 'MemcachedBackend',
    // A generous deadline: a 50 MiB body on a loaded test machine.
    open: (dir, options) => new MemcachedBackend({ servers: server.address, namespace: ns(dir), ownsServers: true, timeoutMs: 10_000, ...options }),
    storePath: (dir) => JSON.stringify({ servers: server.address, namespace: ns(dir), timeoutMs: 10_000 }),
    shared: true,
    persistent: true,
    child: 'memcached',
    // Memcached's own -m and LRU bound it; there is no listing to check eviction with.
    limits: false,
    listing: false,
  })
})

describe('loading the client library', () => {
  it('a missing package is an error naming it', async () => {
    await expect(loadMemjs('memjs-not-installed')).rejects.toThrow("the memcached backend needs the package 'memjs-not-installed': npm install memjs-not-installed")
  })
})

describe.runIf(available)('MemcachedBackend: large entries (memcached -I 32k)', () => {
  let small: MemcachedServer
  let raw: MemcachedClient
  beforeAll(async () => {
    small = await startMemcached({ itemSize: '32k' })
    raw = await createClient([small.address], 1000)
  })
  afterAll(async () => {
    raw?.close()
    await small?.stop()
  })

  const body = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31 + (i >> 8)) % 256))

  it('an entry over the item limit is split across items and read back byte for byte', async () => {
    const b = new MemcachedBackend({ servers: small.address, namespace: 'big1:', maxItemSize: 32 * 1024 })
    await b.set('k', rec('k', body))
    const got = await b.get('k')
    expect(Buffer.compare(Buffer.from(got!.body), body)).toBe(0)
    const keys = (await dumpKeys(small.port)).filter((k) => k.startsWith('big1:'))
    // 200 kB in items of under 32 KiB: a head and at least six parts.
    expect(keys.length).toBeGreaterThanOrEqual(7)
    await b.close()
  })

  it('a part evicted from memcached makes the entry a miss, never a shorter body', async () => {
    const b = new MemcachedBackend({ servers: small.address, namespace: 'big2:', maxItemSize: 32 * 1024 })
    await b.set('k', rec('k', body))
    const part = (await dumpKeys(small.port)).find((k) => k.startsWith('big2:') && k.endsWith(':3'))
    expect(part).toBeDefined()
    expect(await raw.delete(part!)).toBe(true)
    expect(await b.get('k')).toBeUndefined()
    // The head went with it: the next read is a plain miss.
    expect((await dumpKeys(small.port)).filter((k) => k.startsWith('big2:') && !k.includes(':', 'big2:'.length))).toEqual([])
    await b.close()
  })

  it('an entry over maxEntrySize is not stored, and takes the old value with it', async () => {
    const b = new MemcachedBackend({ servers: small.address, namespace: 'big3:', maxItemSize: 32 * 1024, maxEntrySize: 100_000 })
    await b.set('k', rec('k', 'small'))
    await b.set('k', rec('k', body))
    expect(await b.get('k')).toBeUndefined()
    await b.close()
  })

  it('keys are hashed under the namespace: short, printable, no spaces', async () => {
    const b = new MemcachedBackend({ servers: small.address, namespace: 'keys:', maxItemSize: 32 * 1024 })
    await b.set('GET http://h/ with spaces\nand a newline '.repeat(40), rec('x', 'x'))
    const keys = (await dumpKeys(small.port)).filter((k) => k.startsWith('keys:'))
    // The entry, and its URL's generation (see deleteMatching).
    expect(keys).toHaveLength(2)
    for (const key of keys) expect(key).toMatch(/^keys:(url:)?[A-Za-z0-9_-]{43}$/)
    await b.close()
  })
})

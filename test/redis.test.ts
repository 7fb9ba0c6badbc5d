/**
 * RedisBackend against a real redis-server (no persistence, KEYS renamed away so that any use
 * of it fails): the conformance suite, then what is Redis's own — layout, native expiry,
 * namespaces, the URL index, leases, limits through maxmemory, and the `backend: 'redis'` option.
 */
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Backend, ConfigError, createCachedFetch, RedisBackend } from '../src/index.js'
import { assertInstalled } from '../src/backends/redis-client.js'
import { backendConformance, keysOf, rec } from './conformance/suite.js'
import { startOrigin, type Origin } from './helpers/origin.js'
import { redisAvailable, type RedisServer, startRedis } from './helpers/redis.js'

const available = redisAvailable()
let server: RedisServer
let namespaces = 0
const opened: Backend[] = []

beforeAll(async () => {
  if (available) server = await startRedis({ args: ['--rename-command', 'KEYS', ''] })
}, 30_000)
afterAll(async () => {
  for (const b of opened.splice(0)) await b.close()
  await server?.cleanup()
})

/** The same folder means the same store: a namespace per folder. */
function namespaceOf(dir: string): string {
  return `t${createHash('sha1').update(dir).digest('hex').slice(0, 10)}:`
}

function open(options: ConstructorParameters<typeof RedisBackend>[0] = {}): RedisBackend {
  const b = new RedisBackend({ url: server.url, namespace: `unit${++namespaces}:`, ...options })
  opened.push(b)
  return b
}

describe.runIf(available)('RedisBackend', () => {
  backendConformance({
    name: 'RedisBackend',
    // A generous timeout: the 50 MiB body on a busy 2-core CI machine.
    open: (dir, options) => new RedisBackend({ url: server.url, namespace: namespaceOf(dir), commandTimeout: 10_000, ...options }),
    storePath: (dir) => JSON.stringify({ url: server.url, namespace: namespaceOf(dir), commandTimeout: 10_000 }),
    shared: true,
    persistent: true,
    child: 'redis',
    // maxEntries and maxSize are the server's (maxmemory); tested below.
    limits: false,
  })

  describe('storage', () => {
    it('one hash per entry, metadata and raw body bytes together; PEXPIREAT from deadAt plus the grace', async () => {
      const b = open({ expiryGrace: 5000 })
      const body = Uint8Array.from({ length: 300 }, (_, i) => i % 256)
      const r = rec('k', body)
      await b.set('k', r)
      const key = `${b.namespace}e:k`
      expect(server.cli('type', key).trim()).toBe('hash')
      expect(server.cli('hkeys', key).trim().split('\n').sort()).toEqual(['b', 'm'])
      // Binary, never base64: the stored field is exactly the body's length.
      expect(Number(server.cli('hstrlen', key, 'b'))).toBe(300)
      expect(Number(server.cli('pexpiretime', key))).toBe(r.meta.deadAt! + 5000)
    })

    it('an entry that never dies has no expiry; one already dead (grace 0) is gone at once', async () => {
      const b = open({ expiryGrace: 0 })
      await b.set('forever', rec('forever', 'x', { expiresAt: null, deadAt: null }))
      expect(Number(server.cli('pttl', `${b.namespace}e:forever`))).toBe(-1)
      await b.set('dead', rec('dead', 'x', { expiresAt: Date.now() - 10, deadAt: Date.now() - 10 }))
      expect(await b.get('dead')).toBeUndefined()
      expect(await keysOf(b)).toEqual(['forever'])
    })

    it('clear() removes its namespace only, even one with glob characters', async () => {
      const a = open({ namespace: 'ns*[a]:' })
      const other = open({ namespace: 'ns-other:' })
      await a.set('x', rec('x', '1'))
      await other.set('y', rec('y', '2'))
      server.cli('set', 'unrelated', 'keep')
      await a.clear()
      expect(await keysOf(a)).toEqual([])
      expect(await keysOf(other)).toEqual(['y'])
      expect(server.cli('get', 'unrelated').trim()).toBe('keep')
    })

    it('a damaged entry reads as a CorruptEntryError and is not listed', async () => {
      const b = open()
      await b.set('ok', rec('ok', 'x'))
      server.cli('hset', `${b.namespace}e:bad`, 'm', '{not json', 'b', 'x')
      await expect(b.get('bad')).rejects.toMatchObject({ code: 'ERR_FETCHCACHE_CORRUPT_ENTRY' })
      expect(await keysOf(b)).toEqual(['ok'])
    })
  })

  describe('the URL index', () => {
    const scans = () => Number(/cmdstat_scan:calls=(\d+)/.exec(server.cli('info', 'commandstats'))?.[1] ?? 0)

    it('invalidating a URL reads its index, never SCANs, and drops stale members', async () => {
      const b = open()
      for (let i = 0; i < 50; i++) await b.set(`k${i}`, rec(`k${i}`, 'x', { url: `http://h/${i % 5}` }))
      await b.delete(['k0']) // leaves a stale member in http://h/0's index
      const before = scans()
      expect(await b.deleteMatching({ urls: ['http://h/0'] })).toBe(9)
      expect(scans()).toBe(before)
      expect(server.cli('exists', `${b.namespace}u:http://h/0`).trim()).toBe('0')
      expect((await keysOf(b)).length).toBe(40)
    })

    it('an entry key re-stored for another URL is not deleted with the first URL', async () => {
      const b = open()
      await b.set('k', rec('k', 'x', { url: 'http://h/a' }))
      await b.set('k', rec('k', 'x', { url: 'http://h/b' }))
      expect(await b.deleteMatching({ urls: ['http://h/a'] })).toBe(0)
      expect(await keysOf(b, { urls: ['http://h/b'] })).toEqual(['k'])
    })

    it('the index lives as long as its longest-lived entry', async () => {
      const b = open({ expiryGrace: 0 })
      const now = Date.now()
      await b.set('short', rec('short', 'x', { url: 'http://h/i', deadAt: now + 60_000 }))
      await b.set('long', rec('long', 'x', { url: 'http://h/i', deadAt: now + 120_000 }))
      expect(Number(server.cli('pexpiretime', `${b.namespace}u:http://h/i`))).toBe(now + 120_000)
      await b.set('never', rec('never', 'x', { url: 'http://h/i', deadAt: null }))
      expect(Number(server.cli('pttl', `${b.namespace}u:http://h/i`))).toBe(-1)
    })
  })

  describe('leases (SET NX PX)', () => {
    it('one holder at a time; the holder renews; release only by the holder; an expired lease is free', async () => {
      const one = open()
      const two = new RedisBackend({ url: server.url, namespace: one.namespace })
      opened.push(two)
      expect(await one.leases.acquire('k', 'A', 10_000)).toBe(true)
      expect(await two.leases.acquire('k', 'B', 10_000)).toBe(false)
      expect(await one.leases.acquire('k', 'A', 10_000)).toBe(true)
      await two.leases.release('k', 'B')
      expect(await two.leases.acquire('k', 'B', 10_000)).toBe(false)
      await one.leases.release('k', 'A')
      expect(await two.leases.acquire('k', 'B', 50)).toBe(true)
      // A crashed holder: its lease expires by itself (Redis time, so a real wait of 100 ms).
      await new Promise((r) => setTimeout(r, 100))
      expect(await one.leases.acquire('k', 'A', 10_000)).toBe(true)
    })
  })

  describe('limits', () => {
    it('maxEntries and maxSize are refused, naming maxmemory; maxEntrySize is enforced', async () => {
      expect(() => new RedisBackend({ url: server.url, maxSize: 1000 } as never)).toThrow(/RedisBackend maxSize: .*maxmemory/)
      expect(() => new RedisBackend({ url: server.url, maxEntries: 10 } as never)).toThrow(ConfigError)
      const b = open({ maxEntrySize: 2000 })
      await b.set('k', rec('k', 'small'))
      await b.set('k', rec('k', 'x'.repeat(3000)))
      expect(await b.get('k')).toBeUndefined()
      expect(await keysOf(b)).toEqual([])
    })

    it('under maxmemory with allkeys-lru: writes keep succeeding, memory stays capped, what is kept reads back whole', async () => {
      const capped = await startRedis({ args: ['--maxmemory', '4mb', '--maxmemory-policy', 'allkeys-lru'] })
      const b = new RedisBackend({ url: capped.url })
      try {
        const body = (i: number) => Buffer.alloc(32 * 1024, i % 256)
        for (let i = 0; i < 400; i++) await b.set(`e${i}`, rec(`e${i}`, body(i)))
        const used = Number(/used_memory:(\d+)/.exec(capped.cli('info', 'memory'))![1])
        // Redis evicts before it runs a write, so the last write (one 32 KiB entry and its index
        // entry) may still stand above the cap until the next one.
        expect(used).toBeLessThanOrEqual(4 * 1024 * 1024 + 64 * 1024)
        const kept = (await b.stats()).entries
        expect(kept).toBeGreaterThan(20)
        expect(kept).toBeLessThan(400)
        // Which entries survive is Redis's choice: its LRU clock counts seconds, and 400 writes
        // land within one, so the keys tie and eviction among them is by sampling. What we
        // promise is that every entry still there reads back whole, and a miss otherwise.
        let read = 0
        for (let i = 0; i < 400; i++) {
          const r = await b.get(`e${i}`)
          if (r === undefined) continue
          read++
          expect(Buffer.from(r.body).equals(body(i))).toBe(true)
        }
        // Redis also evicts before read commands while it stands above the cap (the last write
        // may have left it there), so a few entries counted above may go during this loop.
        expect(read).toBeLessThanOrEqual(kept)
        expect(read).toBeGreaterThan(20)
      } finally {
        await b.close()
        await capped.cleanup()
      }
    }, 30_000)
  })

  describe('a full Redis under noeviction', () => {
    it('refuses writes: every response still arrives whole, and onError hears of each refused write', async () => {
      const full = await startRedis({ args: ['--maxmemory', '1mb', '--maxmemory-policy', 'noeviction'] })
      const origin = await startOrigin()
      const body = Buffer.alloc(256 * 1024, 7)
      origin.route('/big', (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=600' })
        res.end(body)
      })
      const errors: unknown[] = []
      const f = createCachedFetch({ backend: 'redis', redis: full.url, onError: (e) => errors.push(e) })
      try {
        for (let i = 0; i < 8; i++) expect(Buffer.from(await (await f(`${origin.url}/big?${i}`)).arrayBuffer()).equals(body)).toBe(true)
        expect(errors.length).toBeGreaterThan(0)
        expect(String((errors[0] as Error).cause)).toMatch(/OOM/)
      } finally {
        await f.cache.close()
        await origin.close()
        await full.cleanup()
      }
    }, 30_000)
  })

  describe("backend: 'redis'", () => {
    let origin: Origin
    beforeAll(async () => {
      origin = await startOrigin()
      origin.route('/r', (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'application/octet-stream' })
        res.end(Buffer.from([0, 1, 2, 255]))
      })
    })
    afterAll(() => origin?.close())

    it('caches through Redis: the second request is a hit, bytes exact', async () => {
      const f = createCachedFetch({ backend: 'redis', redis: { url: server.url, namespace: 'opt:' } })
      try {
        for (let i = 0; i < 2; i++) {
          const res = await f(`${origin.url}/r`)
          expect(Buffer.from(await res.arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 255]))
        }
        expect(origin.count('/r')).toBe(1)
        expect(server.cli('--scan', '--pattern', 'opt:e:*').trim().split('\n')).toHaveLength(1)
      } finally {
        await f.cache.close()
      }
    })

    it('takes a URL string, or a client you made', async () => {
      const f = createCachedFetch({ backend: 'redis', redis: server.url })
      await f.cache.close()
      const { Redis } = await import('ioredis')
      const client = new Redis(server.url)
      const g = createCachedFetch({ backend: 'redis', redis: client })
      await g(`${origin.url}/r`)
      await g.cache.close()
      // Not ours to close.
      expect(await client.ping()).toBe('PONG')
      client.disconnect()
    })

    it.each([
      [{ backend: 'redis', redis: 'http://127.0.0.1:6379' }, /redis: expected a URL like 'redis:\/\/host:6379'.*got 'http:\/\/127.0.0.1:6379'/],
      [{ backend: 'redis', redis: 42 }, /redis: expected a redis:\/\/ URL, an ioredis client or RedisBackend options; got 42/],
      [{ backend: 'redis', redis: { namespace: '' } }, /RedisBackend namespace: expected a non-empty string; got ''/],
      [{ backend: 'redis', redis: { commandTimeout: -5 } }, /RedisBackend commandTimeout: expected a positive whole number; got -5/],
      [{ backend: 'sqlite', redis: 'redis://127.0.0.1' }, /redis: only used with backend: 'redis'/],
    ])('rejects %j with a ConfigError', (options, message) => {
      expect(() => createCachedFetch(options as never)).toThrow(message)
      expect(() => createCachedFetch(options as never)).toThrow(ConfigError)
    })

    it('a missing client package is named in the error', () => {
      expect(() => assertInstalled('fetchcache-no-such-package')).toThrow("the package 'fetchcache-no-such-package' is not installed; install it with: npm install fetchcache-no-such-package")
    })
  })
})

/**
 * Redis as managed services run it: TLS only (a self-signed certificate made here with the
 * openssl CLI), a password, and an ACL user without dangerous commands; and a real 3-node
 * Redis Cluster (the conformance suite runs against it through an ioredis Cluster client).
 */
import { readFileSync } from 'node:fs'
import type { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCachedFetch, RedisBackend, TieredBackend } from '../src/index.js'
import { backendConformance, keysOf, rec } from './conformance/suite.js'
import { type Origin, startOrigin } from './helpers/origin.js'
import { makeCertificate, redisAvailable, type RedisCluster, type RedisServer, startCluster, startRedis } from './helpers/redis.js'
import { tempDir } from './helpers/tmp.js'

const available = redisAvailable()
const withOpenssl = available && redisAvailable(['openssl'])

describe.runIf(withOpenssl)('Redis over TLS with a password and an ACL user', () => {
  let server: RedisServer
  let ca: Buffer
  let origin: Origin
  const certs = tempDir('fetchcache-redis-tls-')

  beforeAll(async () => {
    const cert = makeCertificate(certs.dir)
    ca = readFileSync(cert.cert)
    server = await startRedis({
      tls: cert,
      password: 'default-secret',
      // What a managed service gives an application: its keys and channels, no dangerous commands.
      args: ['--user', 'app', 'on', '>app-secret', '~fetchcache:*', '&fetchcache:*', '+@all', '-@dangerous'],
    })
    origin = await startOrigin()
    origin.route('/tls', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end('over tls')
    })
  }, 30_000)
  afterAll(async () => {
    await origin?.close()
    await server?.cleanup()
    certs.cleanup()
  })

  it.each([
    ['the default user with requirepass', 'rediss://:default-secret@127.0.0.1'],
    ['an ACL user', 'rediss://app:app-secret@127.0.0.1'],
  ])('%s: stores, reads, lists, leases and publishes', async (_label, base) => {
    const b = new RedisBackend({ url: `${base}:${server.port}`, tls: { ca } })
    const t = new TieredBackend({ backend: b })
    try {
      await t.set('k', rec('k', Buffer.from([0, 255, 1])))
      expect(Buffer.from((await t.get('k'))!.body)).toEqual(Buffer.from([0, 255, 1]))
      expect(await keysOf(t)).toEqual(['k'])
      expect(await b.leases.acquire('k', 'me', 1000)).toBe(true)
      await b.leases.release('k', 'me')
      await b.watching
      expect(await t.deleteMatching({ urls: ['http://h/k'] })).toBe(1)
      await t.clear()
    } finally {
      await t.close()
    }
  })

  it('through the cache: the second request is a hit; a wrong password is a miss reported to onError, never a failure', async () => {
    const f = createCachedFetch({ backend: 'redis', redis: { url: `rediss://app:app-secret@127.0.0.1:${server.port}`, tls: { ca } } })
    const errors: unknown[] = []
    const wrong = createCachedFetch({ backend: 'redis', redis: { url: `rediss://app:wrong@127.0.0.1:${server.port}`, tls: { ca } }, onError: (e) => errors.push(e) })
    try {
      expect(await (await f(`${origin.url}/tls`)).text()).toBe('over tls')
      const hit = await f(`${origin.url}/tls`)
      expect(hit.headers.get('cache-status')).toContain('hit')
      expect(await hit.text()).toBe('over tls')
      expect(origin.count('/tls')).toBe(1)
      expect(await (await wrong(`${origin.url}/tls`)).text()).toBe('over tls')
      expect(errors.length).toBeGreaterThan(0)
    } finally {
      await f.cache.close()
      await wrong.cache.close()
    }
  })
})

describe.runIf(available)('Redis Cluster (3 masters)', () => {
  let cluster: RedisCluster
  let client: Cluster

  beforeAll(async () => {
    cluster = await startCluster()
    const { Cluster } = await import('ioredis')
    client = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })), { redisOptions: { commandTimeout: 30_000 } })
    await new Promise<void>((ok, fail) => {
      client.once('ready', () => ok())
      client.once('error', fail)
    })
  }, 60_000)
  afterAll(async () => {
    client?.disconnect()
    await cluster?.cleanup()
  })

  backendConformance({
    name: 'RedisBackend on a Cluster',
    open: (dir) => new RedisBackend({ client, namespace: `c${dir.slice(-8)}:`, commandTimeout: 30_000 }),
    shared: true,
    persistent: true,
    limits: false,
  })

  it('entries spread over all three masters, and listing finds every one', async () => {
    const b = new RedisBackend({ client, namespace: 'spread:' })
    try {
      for (let i = 0; i < 60; i++) await b.set(`k${i}`, rec(`k${i}`, `v${i}`))
      const perNode = client.nodes('master').map((n) => n.dbsize())
      for (const n of await Promise.all(perNode)) expect(n).toBeGreaterThan(0)
      expect((await keysOf(b)).length).toBe(60)
      await b.clear()
      expect(await keysOf(b)).toEqual([])
    } finally {
      await b.close()
    }
  })
})

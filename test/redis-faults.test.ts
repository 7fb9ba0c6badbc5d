/**
 * Redis faults never fail a request: Redis down at start, stopped and restarted mid-run, and a
 * server that stops answering (CLIENT PAUSE). Every request is answered from the origin with
 * exact bytes, onError hears of the fault, no request waits much past one command timeout, and
 * the backend finds the server again by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCachedFetch } from '../src/index.js'
import { type Origin, startOrigin } from './helpers/origin.js'
import { redisAvailable, type RedisServer, startRedis } from './helpers/redis.js'
import { freePort } from './helpers/net.js'

const available = redisAvailable()
const TIMEOUT = 300
/** Room for a loaded 2-core CI machine; still far below every fault's own length. */
const SLACK = 700
const BODY = Buffer.from([0, 1, 2, 3, 254, 255])
let origin: Origin

beforeAll(async () => {
  origin = await startOrigin()
  origin.route('/r', (_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600' })
    res.end(BODY)
  })
  // Warm up what every first request pays for (the client's import, undici), so that timings
  // below measure the cache's waits only.
  await import('ioredis')
  const warm = createCachedFetch({ backend: 'memory' })
  await (await warm(`${origin.url}/r`)).arrayBuffer()
  await warm.cache.close()
})
afterAll(() => origin?.close())

function cachedFetch(url: string, namespace: string) {
  const errors: string[] = []
  const f = createCachedFetch({ backend: 'redis', redis: { url, namespace, commandTimeout: TIMEOUT }, onError: (e) => errors.push(String((e as Error).cause ?? e)) })
  /** One request: its bytes, its Cache-Status, and how long it took. */
  const get = async (path = '/r') => {
    const started = performance.now()
    const res = await f(`${origin.url}${path}`)
    const body = Buffer.from(await res.arrayBuffer())
    return { body, status: res.headers.get('cache-status') ?? '', ms: performance.now() - started }
  }
  return { f, errors, get }
}

/** Repeat a request until it is a hit (the backend reconnected and stored), bounded. */
async function untilHit(get: () => Promise<{ status: string }>, limitMs = 10_000): Promise<void> {
  const deadline = performance.now() + limitMs
  while (performance.now() < deadline) {
    if ((await get()).status.includes('hit')) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`no hit within ${limitMs} ms`)
}

describe.runIf(available)('Redis faults', () => {
  it('down at start: requests go to the origin, onError hears it; once Redis is up, the cache works by itself', async () => {
    const port = await freePort()
    const { f, errors, get } = cachedFetch(`redis://127.0.0.1:${port}`, 'down:')
    let server: RedisServer | undefined
    try {
      for (let i = 0; i < 3; i++) {
        const r = await get()
        expect(r.body).toEqual(BODY)
        expect(r.ms).toBeLessThan(TIMEOUT + SLACK)
      }
      expect(errors.length).toBeGreaterThan(0)
      expect(errors.join('\n')).toMatch(/BackendError/)
      server = await startRedis({ port })
      await untilHit(get)
    } finally {
      await f.cache.close()
      await server?.cleanup()
    }
  }, 30_000)

  it('stopped mid-run and restarted: every request answered with exact bytes; caching resumes', async () => {
    const server = await startRedis()
    const { f, errors, get } = cachedFetch(server.url, 'restart:')
    try {
      await get()
      expect((await get()).status).toContain('hit')
      await server.stop()
      const before = origin.count('/r')
      for (let i = 0; i < 5; i++) {
        const r = await get()
        expect(r.body).toEqual(BODY)
        expect(r.ms).toBeLessThan(TIMEOUT + SLACK)
      }
      expect(origin.count('/r') - before).toBe(5)
      expect(errors.length).toBeGreaterThan(0)
      await server.start()
      await untilHit(get)
    } finally {
      await f.cache.close()
      await server.cleanup()
    }
  }, 30_000)

  it('a server that stops answering: each request waits about one command timeout, then none at all', async () => {
    const server = await startRedis()
    const { f, errors, get } = cachedFetch(server.url, 'slow:')
    try {
      await get()
      expect((await get()).status).toContain('hit')
      // CLIENT PAUSE blocks every client, redis-cli included: let it run out rather than UNPAUSE.
      server.cli('client', 'pause', '3000', 'ALL')
      const times: number[] = []
      for (let i = 0; i < 4; i++) {
        const r = await get()
        expect(r.body).toEqual(BODY)
        times.push(r.ms)
      }
      // The first meets the timeout; the next ones fail fast (the backend waits for a PING).
      expect(times[0]).toBeGreaterThanOrEqual(TIMEOUT - 10)
      for (const ms of times) expect(ms).toBeLessThan(TIMEOUT + SLACK)
      expect(errors.join('\n')).toMatch(/timed out/)
      await untilHit(get)
    } finally {
      await f.cache.close()
      await server.cleanup()
    }
  }, 30_000)
})

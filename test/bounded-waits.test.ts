/**
 * Every wait inside the cache is bounded (issue 11): a request waits at most its own origin
 * time plus `lockTimeout`, whatever another request sharing its flight does.
 */
import { Agent, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { cacheInterceptor } from '../src/index.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'
import { join } from 'node:path'

let tmp: ReturnType<typeof tempDir>
let origin: Origin
const BIG = Buffer.alloc(8 * 1024 * 1024, 'z')

beforeEach(async () => {
  tmp = tempDir()
  origin = await startOrigin({ '/big': reply(200, { 'cache-control': 'max-age=600' }, BIG) })
})

afterEach(async () => {
  await origin.close()
  tmp.cleanup()
})

describe.each(['memory', 'sqlite', 'filesystem'] as const)('%s: a request that joined another one\'s flight', (backend) => {
  it('is not held hostage by a leader whose caller never reads the body', { timeout: 20_000 }, async () => {
    const interceptor = cacheInterceptor({ backend, name: join(tmp.dir, 'c'), lockTimeout: 1 })
    const dispatcher = new Agent().compose(interceptor)
    // The leader: headers arrive, the body is never read (the stream stays paused).
    const leader = await request(`${origin.url}/big`, { dispatcher })
    expect(leader.statusCode).toBe(200)
    const started = performance.now()
    const follower = await request(`${origin.url}/big`, { dispatcher })
    const body = Buffer.from(await follower.body.arrayBuffer())
    const waited = performance.now() - started
    expect(body.equals(BIG)).toBe(true)
    // lockTimeout (1 s) plus its own origin request, with room for a loaded machine.
    expect(waited).toBeLessThan(6000)
    await leader.body.arrayBuffer()
    await dispatcher.close().catch(() => {})
    await interceptor.cache.close()
  })

  it('waits at most lockTimeout on a paused leader whose unstorable response it cannot share, then fetches alone', { timeout: 20_000 }, async () => {
    // no-store and no waiter when its headers came: the leader captures nothing and honours its
    // caller's pause, so its flight settles only when that caller reads the body.
    const payload = Buffer.alloc(4 * 1024 * 1024, 'n')
    origin.route('/private', reply(200, { 'cache-control': 'no-store' }, payload))
    const interceptor = cacheInterceptor({ backend, name: join(tmp.dir, 'c'), lockTimeout: 0.5 })
    const dispatcher = new Agent().compose(interceptor)
    const leader = await request(`${origin.url}/private`, { dispatcher })
    const started = performance.now()
    const follower = await request(`${origin.url}/private`, { dispatcher })
    const body = Buffer.from(await follower.body.arrayBuffer())
    expect(body.equals(payload)).toBe(true)
    expect(performance.now() - started).toBeLessThan(500 + 1500)
    expect(origin.count('/private')).toBe(2)
    expect(Buffer.from(await leader.body.arrayBuffer()).equals(payload)).toBe(true)
    await dispatcher.close().catch(() => {})
    await interceptor.cache.close()
  })

  it('gives up on a leader whose origin stalls mid-body after lockTimeout, and fetches on its own', { timeout: 20_000 }, async () => {
    let n = 0
    const stalled: Array<import('node:http').ServerResponse> = []
    origin.route('/slow', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '10' })
      if (n++ === 0) {
        res.write('hello')
        stalled.push(res)
      } else res.end('hello world'.slice(0, 10))
    })
    const interceptor = cacheInterceptor({ backend, name: join(tmp.dir, 'c'), lockTimeout: 1 })
    const dispatcher = new Agent().compose(interceptor)
    const leader = await request(`${origin.url}/slow`, { dispatcher })
    const started = performance.now()
    const follower = await request(`${origin.url}/slow`, { dispatcher })
    expect(await follower.body.text()).toBe('hello worl')
    expect(performance.now() - started).toBeLessThan(5000)
    for (const res of stalled) res.destroy()
    await leader.body.text().catch(() => {})
    await dispatcher.close().catch(() => {})
    await interceptor.cache.close()
  })
})

/**
 * Cache-Status and cacheInfo() tell what happened: a response served from storage says `hit`
 * even while the write that put it there is still settling (FileBackend writes take a while),
 * and a response that was just stored reports when it was stored and when it expires.
 */
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Agent, request } from 'undici'
import { cacheInfo, cacheInterceptor, createCachedFetch, type CachedFetch } from '../src/index.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

let origin: Origin
let tmp: ReturnType<typeof tempDir>
const fetches: CachedFetch[] = []

beforeEach(async () => {
  tmp = tempDir()
  origin = await startOrigin({ '/a': reply(200, { 'cache-control': 'max-age=60' }, 'A') })
})

afterEach(async () => {
  for (const f of fetches.splice(0)) await f.cache.close()
  await origin.close()
  tmp.cleanup()
})

function cached(backend: 'filesystem' | 'sqlite' | 'memory'): CachedFetch {
  const f = createCachedFetch({ backend, name: join(tmp.dir, `c-${backend}`) })
  fetches.push(f)
  return f
}

describe.each(['filesystem', 'sqlite', 'memory'] as const)('%s backend', (backend) => {
  it('an immediate second request for a stored URL is a hit, as stats() counts it', async () => {
    const f = cached(backend)
    const first = await f(`${origin.url}/a`)
    expect(await first.text()).toBe('A')
    // No flush: the write may still be under way when the second request arrives.
    const second = await f(`${origin.url}/a`)
    expect(await second.text()).toBe('A')
    expect(second.headers.get('cache-status')).toMatch(/^fetchcache; hit; ttl=\d+/)
    expect(origin.count('/a')).toBe(1)
    expect((await f.cache.stats()).hits).toBe(1)
  })

  it('cacheInfo() on a response that was just stored gives the entry its createdAt and expiresAt', async () => {
    const f = cached(backend)
    const before = Date.now()
    const first = await f(`${origin.url}/a`)
    await first.text()
    await f.cache.flush()
    const stored = cacheInfo(first)!
    expect(stored).toMatchObject({ fromCache: false, revalidated: false })
    expect(stored.createdAt!.getTime()).toBeGreaterThanOrEqual(before)
    expect(stored.expiresAt!.getTime()).toBe(stored.createdAt!.getTime() + 60_000)
    // The same times as the entry the next request is served from.
    const hit = cacheInfo(await f(`${origin.url}/a`))!
    expect(hit).toMatchObject({ fromCache: true, createdAt: stored.createdAt, expiresAt: stored.expiresAt, key: stored.key })
  })

  it('cacheInfo() on an undici request() result just stored through cacheInterceptor gives the same times', async () => {
    const interceptor = cacheInterceptor({ backend, name: join(tmp.dir, `i-${backend}`) })
    const agent = new Agent().compose(interceptor)
    try {
      const before = Date.now()
      const first = await request(`${origin.url}/a`, { dispatcher: agent })
      await first.body.text()
      const stored = cacheInfo(first)!
      expect(stored).toMatchObject({ fromCache: false, revalidated: false })
      expect(stored.createdAt!.getTime()).toBeGreaterThanOrEqual(before)
      expect(stored.expiresAt!.getTime()).toBe(stored.createdAt!.getTime() + 60_000)
      await interceptor.cache.flush()
      const hit = await request(`${origin.url}/a`, { dispatcher: agent })
      await hit.body.text()
      expect(cacheInfo(hit)).toMatchObject({ fromCache: true, key: stored.key })
      expect(cacheInfo(hit)!.expiresAt!.getTime() - stored.expiresAt!.getTime()).toBeLessThan(1000)
    } finally {
      await agent.close()
      await interceptor.cache.close()
    }
  })
})

import { join } from 'node:path'
import { getGlobalDispatcher, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  installCache,
  installedCache,
  isCacheInstalled,
  uninstallCache,
  withCacheDisabled,
  withCacheOptions,
} from '../src/index.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

let origin: Origin
let tmp: ReturnType<typeof tempDir>

beforeEach(async () => {
  tmp = tempDir()
  origin = await startOrigin({
    '/a': reply(200, { 'cache-control': 'max-age=60' }, 'A'),
    '/plain': reply(200, {}, 'plain'),
  })
})

afterEach(async () => {
  await uninstallCache()
  await origin.close()
  tmp.cleanup()
})

async function get(path: string): Promise<string> {
  const res = await fetch(origin.url + path)
  const body = await res.text()
  await installedCache()?.flush()
  return `${body} ${res.headers.get('cache-status')?.split(';')[1]?.trim() ?? 'none'}`
}

describe('installCache', () => {
  it('caches global fetch and undici requests through the global dispatcher, in <name>.sqlite', async () => {
    const cache = installCache({ name: join(tmp.dir, 'http_cache') })
    expect(isCacheInstalled()).toBe(true)
    expect(await get('/a')).toBe('A fwd=uri-miss')
    expect(await get('/a')).toBe('A hit')
    const res = await request(`${origin.url}/a`)
    expect(await res.body.text()).toBe('A')
    expect(res.headers['cache-status']).toMatch(/hit/)
    expect(origin.count('/a')).toBe(1)
    expect(await cache.urls()).toEqual([`${origin.url}/a`])
    const { existsSync } = await import('node:fs')
    expect(existsSync(join(tmp.dir, 'http_cache.sqlite'))).toBe(true)
  })

  it('uninstall restores exactly the fetch and dispatcher that were there', async () => {
    const fetchBefore = globalThis.fetch
    const dispatcherBefore = getGlobalDispatcher()
    installCache({ backend: 'memory' })
    expect(globalThis.fetch).not.toBe(fetchBefore)
    expect(getGlobalDispatcher()).not.toBe(dispatcherBefore)
    await uninstallCache()
    expect(isCacheInstalled()).toBe(false)
    expect(globalThis.fetch).toBe(fetchBefore)
    expect(getGlobalDispatcher()).toBe(dispatcherBefore)
    expect(await get('/a')).toBe('A none')
    expect(await get('/a')).toBe('A none')
    expect(origin.count('/a')).toBe(2)
  })

  it('a fetch and a dispatcher kept while installed keep working after uninstall, uncached', async () => {
    installCache({ name: join(tmp.dir, 'kept') })
    // What a client built while installed holds on to (an OpenAI or Octokit client keeps fetch).
    const keptFetch = globalThis.fetch
    const keptDispatcher = getGlobalDispatcher()
    expect(await get('/a')).toBe('A fwd=uri-miss')
    await uninstallCache()
    const res = await keptFetch(`${origin.url}/a`)
    expect(await res.text()).toBe('A')
    expect(res.headers.get('cache-status')).toBeNull()
    const raw = await request(`${origin.url}/a`, { dispatcher: keptDispatcher })
    expect(await raw.body.text()).toBe('A')
    expect(raw.headers['cache-status']).toBeUndefined()
    expect(origin.count('/a')).toBe(3)
  })

  it('a response arriving after uninstall does not claim to be stored', async () => {
    const errors: unknown[] = []
    installCache({ name: join(tmp.dir, 'late'), onError: (e) => errors.push(e) })
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    let arrived!: () => void
    const reached = new Promise<void>((r) => (arrived = r))
    origin.route('/slow', async (_req, res) => {
      arrived()
      await gate
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end('slow')
    })
    const pending = fetch(`${origin.url}/slow`)
    await reached
    await uninstallCache()
    release()
    const res = await pending
    expect(await res.text()).toBe('slow')
    expect(res.headers.get('cache-status')).not.toMatch(/stored/)
    expect(errors).toEqual([])
  })

  it('a second install replaces the first instead of stacking', async () => {
    const fetchBefore = globalThis.fetch
    const dispatcherBefore = getGlobalDispatcher()
    installCache({ backend: 'memory' })
    installCache({ backend: 'memory' })
    expect(await get('/a')).toBe('A fwd=uri-miss')
    // One cache layer: exactly one fetchcache member in Cache-Status.
    const res = await fetch(`${origin.url}/a`)
    expect(res.headers.get('cache-status')?.match(/fetchcache/g)).toHaveLength(1)
    await uninstallCache()
    expect(globalThis.fetch).toBe(fetchBefore)
    expect(getGlobalDispatcher()).toBe(dispatcherBefore)
  })
})

describe('scopes', () => {
  it('withCacheDisabled turns the cache off for everything inside, async calls included', async () => {
    installCache({ backend: 'memory' })
    await get('/a')
    const inside = await withCacheDisabled(async () => {
      await new Promise((r) => setTimeout(r, 1))
      return Promise.all([get('/a'), request(`${origin.url}/a`).then((r) => r.body.text())])
    })
    expect(inside).toEqual(['A none', 'A'])
    expect(origin.count('/a')).toBe(3)
    expect(await get('/a')).toBe('A hit')
  })

  it('withCacheOptions applies per-request options to everything inside', async () => {
    installCache({ backend: 'memory' })
    await withCacheOptions({ expireAfter: '1h' }, async () => {
      await get('/plain')
      const res = await fetch(`${origin.url}/plain`)
      expect(res.headers.get('cache-status')).toMatch(/hit; ttl=3600/)
    })
    const miss = await withCacheOptions({ onlyIfCached: true }, () => fetch(`${origin.url}/nothing`))
    expect(miss.status).toBe(504)
    expect(origin.count('/nothing')).toBe(0)
    expect(() => withCacheOptions({ expireAfter: 'soon' }, () => 1)).toThrow(/withCacheOptions.expireAfter: .*'soon'/)
  })
})

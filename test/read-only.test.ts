/**
 * readOnly: the cache is read and never written, by any path. One row per path that writes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { createCachedFetch } from '../src/index.js'
import { startOrigin, type Origin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

let origin: Origin
const tmp = tempDir()

beforeAll(async () => {
  origin = await startOrigin({
    // Always revalidated (no-cache), answered 304 when the client has v1.
    '/validated': (req, res) => {
      if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304, { etag: '"v1"', 'cache-control': 'no-cache' }).end()
      res.writeHead(200, { etag: '"v1"', 'cache-control': 'no-cache', 'content-type': 'text/plain' }).end('stored body')
    },
    '/fresh': (_req, res) => void res.writeHead(200, { 'cache-control': 'max-age=600' }).end('fresh body'),
    '/new': (_req, res) => void res.writeHead(200, { 'cache-control': 'max-age=600' }).end('new body'),
  })
  // Seed the file with a writable cache.
  const writer = createCachedFetch({ name: join(tmp.dir, 'c') })
  await (await writer(`${origin.url}/validated`)).text()
  await (await writer(`${origin.url}/fresh`)).text()
  await writer.cache.close()
})

afterAll(async () => {
  await origin.close()
  tmp.cleanup()
})

const inm = (path: string) => origin.seen.filter((r) => r.url === path).map((r) => r.headers['if-none-match'])

describe('readOnly never writes', () => {
  it('a 304 refreshes nothing and removes nothing: the next use revalidates the same entry', async () => {
    const reader = createCachedFetch({ name: join(tmp.dir, 'c'), readOnly: true })
    for (let i = 0; i < 2; i++) {
      const res = await reader(`${origin.url}/validated`)
      expect(await res.text()).toBe('stored body')
      expect(res.headers.get('cache-status')).toMatch(/fwd=stale; fwd-status=304/)
    }
    await reader.cache.close()
    // Seed request, then two revalidations with the stored validator: the entry is still there.
    expect(inm('/validated')).toEqual([undefined, '"v1"', '"v1"'])
  })

  it('a miss is fetched and not stored', async () => {
    const reader = createCachedFetch({ name: join(tmp.dir, 'c'), readOnly: true })
    const first = await reader(`${origin.url}/new`)
    expect(await first.text()).toBe('new body')
    expect(first.headers.get('cache-status')).not.toMatch(/stored/)
    await (await reader(`${origin.url}/new`)).text()
    await reader.cache.close()
    expect(origin.count('/new')).toBe(2)
  })

  it('an unsafe method invalidates nothing', async () => {
    const reader = createCachedFetch({ name: join(tmp.dir, 'c'), readOnly: true })
    const before = origin.count('/fresh')
    await (await reader(`${origin.url}/fresh`, { method: 'POST' })).text()
    const res = await reader(`${origin.url}/fresh`)
    expect(await res.text()).toBe('fresh body')
    expect(res.headers.get('cache-status')).toMatch(/hit/)
    await reader.cache.close()
    expect(origin.count('/fresh')).toBe(before + 1)
  })
})

// The fast path's miss lookup handed on to the interceptor (pipeline/handoff.ts, issue 14): it
// is taken only by exactly the same request, soon, and once; anything else reads again.
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createCachedFetch, SQLiteBackend } from '../src/index.js'
import { Handoffs } from '../src/pipeline/handoff.js'
import { Deadline } from '../src/util/deadline.js'
import type { Lookup } from '../src/pipeline/lookup.js'
import type { Prepared, Scope } from '../src/pipeline/prepare/prepare.js'
import { type Origin, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

const base: Prepared = {
  method: 'GET',
  href: 'http://127.0.0.1:1/a',
  url: 'http://127.0.0.1:1/a',
  key: 'k',
  host: '127.0.0.1:1',
  headers: { accept: '*/*', 'user-agent': 'node' },
  options: {} as Prepared['options'],
  modes: {},
}
const miss: Lookup = { action: { action: 'fetch', fwd: 'uri-miss', reason: 'nothing stored' } as Lookup['action'], record: undefined }
const scope: Scope = { modes: { refresh: true } }
const deadline = new Deadline(10_000)

describe('Handoffs.take', () => {
  afterEach(() => vi.useRealTimers())

  it.each<[string, Partial<Prepared>, Scope | undefined]>([
    ['another method', { method: 'HEAD' }, undefined],
    ['another URL as requested', { href: 'http://127.0.0.1:1/a?' }, undefined],
    ['another header value', { headers: { accept: 'text/html', 'user-agent': 'node' } }, undefined],
    ['one header more', { headers: { ...base.headers, referer: 'http://x.test/' } }, undefined],
    ['one header fewer', { headers: { accept: '*/*' } }, undefined],
    ['another scope', {}, scope],
  ])('is not taken by %s under the same key, and stays for its own request', (_, change, takerScope) => {
    const h = new Handoffs()
    h.offer(base, undefined, miss, deadline)
    expect(h.take({ ...base, ...change }, takerScope)).toBeUndefined()
    expect(h.take({ ...base }, undefined)?.lookup).toBe(miss)
  })

  it('is taken once', () => {
    const h = new Handoffs()
    h.offer(base, scope, miss, deadline)
    expect(h.take({ ...base, headers: { ...base.headers } }, scope)?.lookup).toBe(miss)
    expect(h.take(base, scope)).toBeUndefined()
    expect(h.size).toBe(0)
  })

  it('is never made of a lookup that found a record (it may be replaced before the dispatch)', () => {
    const h = new Handoffs()
    const found = { ...miss, record: { meta: {}, body: new Uint8Array() } } as unknown as Lookup
    expect(h.offer(base, undefined, found, deadline)).toBeUndefined()
    expect(h.take(base, undefined)).toBeUndefined()
  })

  it('is not taken after 100 ms, and is gone', () => {
    vi.useFakeTimers({ toFake: ['performance'] })
    const h = new Handoffs()
    h.offer(base, undefined, miss, deadline)
    vi.advanceTimersByTime(101)
    expect(h.take(base, undefined)).toBeUndefined()
    expect(h.size).toBe(0)
  })

  it('is withdrawn by its fetch, not by another one offered since', () => {
    const h = new Handoffs()
    const first = h.offer(base, undefined, miss, deadline)
    const second = h.offer(base, undefined, miss, deadline)
    h.withdraw(first)
    expect(h.size).toBe(1)
    h.withdraw(second)
    expect(h.size).toBe(0)
  })
})

describe('createCachedFetch hands on only to the same request', () => {
  let tmp: ReturnType<typeof tempDir>
  let origin: Origin
  let inner: SQLiteBackend
  beforeEach(async () => {
    tmp = tempDir()
    inner = new SQLiteBackend({ path: join(tmp.dir, 'c.sqlite') })
    origin = await startOrigin({
      '/v': (req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'referer' })
        res.end(`for ${req.headers.referer ?? 'none'}`)
      },
    })
  })
  afterEach(async () => {
    await origin.close()
    await inner.close()
    tmp.cleanup()
  })

  // A fetch's `referrer` becomes a Referer header that Node's fetch adds on dispatch, which the
  // fast path does not key on: its lookup finds no variant, the dispatched request has one.
  it('a fetch whose dispatched headers differ from the fast path\'s is looked up again, and hits', async () => {
    const f = createCachedFetch({ backend: inner })
    const get = () => f(`${origin.url}/v`, { referrer: 'http://x.test/' })
    expect(await (await get()).text()).toBe('for http://x.test/')
    await f.cache.flush()
    const again = await get()
    expect(await again.text()).toBe('for http://x.test/')
    expect(again.headers.get('cache-status')).toMatch(/hit/)
    expect(origin.count('/v')).toBe(1)
    // And a fetch without a referrer is not given that variant.
    expect(await (await f(`${origin.url}/v`)).text()).toBe('for none')
    expect(origin.count('/v')).toBe(2)
    await f.cache.close()
  })

  // The handed-on "nothing stored" is not the last word: another process that stores between
  // the fast path's lookup and this one's lease is seen (the lease grant), and its entry served.
  it('a fetch that took the handoff still serves what another process stored before its lease', async () => {
    origin.route('/x', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end('from origin')
    })
    const probe = createCachedFetch({ backend: inner, keyFn: () => 'fixed-key' })
    await (await probe(`${origin.url}/x`)).text()
    await probe.cache.flush()
    await probe.cache.close()
    const stored = (await inner.get('fixed-key'))!
    await inner.clear()
    const acquire = inner.leases.acquire.bind(inner.leases)
    let planted = false
    inner.leases.acquire = async (key, owner, ttl) => {
      if (!planted) {
        planted = true
        await inner.set('fixed-key', { meta: { ...stored.meta, createdAt: Date.now() }, body: Buffer.from('from other') })
      }
      return acquire(key, owner, ttl)
    }
    const f = createCachedFetch({ backend: inner, keyFn: () => 'fixed-key' })
    const r = await f(`${origin.url}/x`)
    expect(planted).toBe(true)
    expect(await r.text()).toBe('from other')
    expect(origin.count('/x')).toBe(1)
    await f.cache.close()
  })

  it('leaves no handoff behind, taken or not', async () => {
    const f = createCachedFetch({ backend: inner })
    await Promise.all([1, 2, 3].map(async () => (await f(`${origin.url}/v`)).text()))
    await Promise.all([1, 2, 3].map(async () => (await f(`${origin.url}/v`, { referrer: 'http://y.test/' })).text()))
    await f.cache.flush()
    const engine = (f.cache as unknown as { engine: { handoffs: Handoffs } }).engine
    expect(engine.handoffs.size).toBe(0)
    await f.cache.close()
  })
})

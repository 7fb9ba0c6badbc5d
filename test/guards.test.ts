/**
 * The guards that keep a stored or shared response from reaching a request it does not
 * answer: Vary checks on read and on coalescing, the lease re-check, the response URL.
 */
import { request } from 'undici'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { MemoryBackend, SQLiteBackend, createCachedFetch } from '../src/index.js'
import { type Closers, composeCache } from './helpers/compose.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

let origin: Origin
const closers: Closers = []
beforeEach(async () => {
  origin = await startOrigin()
})
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  await origin.close()
})

async function get(dispatcher: import('undici').Dispatcher, path: string, headers: Record<string, string> = {}) {
  const res = await request(origin.url + path, { dispatcher, headers })
  return { status: res.statusCode, cs: String(res.headers['cache-status']), body: Buffer.from(await res.body.arrayBuffer()).toString() }
}

async function only(backend: MemoryBackend) {
  const out = []
  for await (const [key, meta] of backend.entries()) out.push({ key, meta })
  return out
}

it('a variant whose stored Vary request headers differ from the request is never served', async () => {
  const backend = new MemoryBackend()
  const { ic, dispatcher } = composeCache({ backend }, closers)
  origin.route('/lang', (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'accept-language' })
    res.end(`hello ${req.headers['accept-language']}`)
  })
  await get(dispatcher, '/lang', { 'accept-language': 'en' })
  await ic.cache.flush()
  const variant = (await only(backend)).find((e) => e.meta.kind === 'response')!
  await backend.set(variant.key, { meta: { ...variant.meta, requestHeaders: { ...variant.meta.requestHeaders, 'accept-language': 'fr' } }, body: Buffer.from('hello fr') })
  const r = await get(dispatcher, '/lang', { 'accept-language': 'en' })
  expect(r.body).toBe('hello en')
  expect(origin.count('/lang')).toBe(2)
})

it('a lease taken after another process stored the entry serves that entry (acquireFor looks again)', async () => {
  const tmp = tempDir()
  const backend = new SQLiteBackend({ path: `${tmp.dir}/c.sqlite` })
  closers.push(async () => {
    await backend.close()
    tmp.cleanup()
  })
  origin.route('/x', reply(200, { 'cache-control': 'max-age=60' }, 'from origin'))
  // Learn the stored shape once, then start empty.
  const probe = composeCache({ backend, keyFn: () => 'fixed-key' }, closers)
  await get(probe.dispatcher, '/x')
  await probe.ic.cache.flush()
  const stored = (await backend.get('fixed-key'))!
  await backend.clear()
  const { dispatcher } = composeCache({ backend, keyFn: () => 'fixed-key' }, closers)
  // The other process stores between our lookup and our lease.
  const acquire = backend.leases.acquire.bind(backend.leases)
  let planted = false
  backend.leases.acquire = async (key, owner, ttl) => {
    if (!planted) {
      planted = true
      await backend.set('fixed-key', { meta: { ...stored.meta, createdAt: Date.now() }, body: Buffer.from('from other') })
    }
    return acquire(key, owner, ttl)
  }
  const r = await get(dispatcher, '/x')
  expect(planted).toBe(true)
  expect(r.body).toBe('from other')
  expect(origin.count('/x')).toBe(1)
})

it('fetch fast hit: response.url has no fragment, as fetch reports it', async () => {
  origin.route('/json', reply(200, { 'cache-control': 'max-age=60', 'content-type': 'application/json' }, '{}'))
  const f = createCachedFetch({ backend: 'memory' })
  closers.push(() => f.cache.close())
  const first = await f(`${origin.url}/json#part`)
  await first.text()
  await f.cache.flush()
  const second = await f(`${origin.url}/json#part`)
  expect(second.headers.get('cache-status')).toMatch(/; hit/)
  expect(first.url).toBe(`${origin.url}/json`)
  expect(second.url).toBe(first.url)
})

it('an unstorable response with Vary is not shared with a coalesced waiter whose Vary headers differ', async () => {
  const { dispatcher } = composeCache({}, closers, { connections: 8 })
  origin.route('/v', (req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'cache-control': 'no-store', vary: 'accept-language' })
      res.end(`hello ${req.headers['accept-language']}`)
    }, 150)
  })
  const [en, fr] = await Promise.all([get(dispatcher, '/v', { 'accept-language': 'en' }), get(dispatcher, '/v', { 'accept-language': 'fr' })])
  expect(en.body).toBe('hello en')
  expect(fr.body).toBe('hello fr')
  expect(origin.count('/v')).toBe(2)
})

it('Vary: * on an unstorable response: a coalesced waiter fetches for itself', async () => {
  const { dispatcher } = composeCache({}, closers, { connections: 8 })
  origin.route('/star', (_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'cache-control': 'no-store', vary: '*' })
      res.end('star')
    }, 150)
  })
  const results = await Promise.all([get(dispatcher, '/star'), get(dispatcher, '/star')])
  expect(results.map((r) => r.body)).toEqual(['star', 'star'])
  expect(origin.count('/star')).toBe(2)
})

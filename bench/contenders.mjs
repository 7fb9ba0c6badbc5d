// The contenders: each one is a way of doing "GET a URL and read the whole body".
// make(name, ctx) -> { label, backend, op(url) -> Promise<bytes>, status(url) -> Promise<string>,
//                      flush(), close() }
//
// backend: 'sqlite' | 'memory' | 'disk' | 'none' | 'floor-sqlite' | 'floor-memory' — picks the
// floor a contender is compared with in the table.
import { join } from 'node:path'

const LIST = {
  'fc-fetch-sqlite': { label: 'fetchcache createCachedFetch (SQLite)', backend: 'sqlite', api: 'fetch' },
  'fc-fetch-memory': { label: 'fetchcache createCachedFetch (memory)', backend: 'memory', api: 'fetch' },
  'fc-fetch-tiered': { label: 'fetchcache createCachedFetch (tiered: memory + SQLite)', backend: 'sqlite', api: 'fetch' },
  'fc-fetch-redis': { label: 'fetchcache createCachedFetch (Redis, loopback)', backend: 'redis', api: 'fetch' },
  'fc-interceptor-redis-request': { label: 'fetchcache cacheInterceptor + undici request (Redis, loopback)', backend: 'redis', api: 'request' },
  'fc-interceptor-sqlite-request': { label: 'fetchcache cacheInterceptor + undici request (SQLite)', backend: 'sqlite', api: 'request' },
  'fc-interceptor-memory-request': { label: 'fetchcache cacheInterceptor + undici request (memory)', backend: 'memory', api: 'request' },
  'fc-install-sqlite-fetch': { label: 'fetchcache installCache + global fetch (SQLite)', backend: 'sqlite', api: 'fetch' },
  'node-fetch': { label: 'Node global fetch, no cache', backend: 'none', api: 'fetch' },
  'node-fetch-agent7': { label: 'Node global fetch + undici 7 Agent as dispatcher, no cache', backend: 'none', api: 'fetch' },
  'undici-request': { label: 'undici 7 request, no cache', backend: 'none', api: 'request' },
  'undici-fetch': { label: 'undici 7 fetch, no cache', backend: 'none', api: 'fetch' },
  'undici-cache-request': { label: 'undici interceptors.cache MemoryCacheStore + request', backend: 'memory', api: 'request' },
  'undici-cache-fetch': { label: 'undici interceptors.cache MemoryCacheStore + fetch', backend: 'memory', api: 'fetch' },
  mfh: { label: 'make-fetch-happen 15 (cacache)', backend: 'disk', api: 'fetch' },
  'floor-sqlite': { label: 'floor: better-sqlite3 point read + Response', backend: 'floor-sqlite', api: 'fetch' },
  'floor-memory': { label: 'floor: Map.get + Response', backend: 'floor-memory', api: 'fetch' },
}

export const CONTENDERS = LIST

/** Redis contenders: the server run.mjs started, a namespace of this process's own. */
function redisOptions(ctx) {
  const url = process.env.FETCHCACHE_BENCH_REDIS
  if (!url) throw new Error('FETCHCACHE_BENCH_REDIS is not set (run.mjs starts a redis-server)')
  return { backend: 'redis', redis: { url, namespace: `bench:${ctx.dir}:` } }
}

/**
 * `fc-fetch-sqlite@base` is `fc-fetch-sqlite` over another build of fetchcache (run.mjs's
 * BENCH_BASELINE): before and after, interleaved in one run.
 */
export const BASE_SUFFIX = '@base'
export const plain = (name) => (name.endsWith(BASE_SUFFIX) ? name.slice(0, -BASE_SUFFIX.length) : name)
export const labelOf = (name) => (LIST[plain(name)] ? `${LIST[plain(name)].label}${name.endsWith(BASE_SUFFIX) ? ' [baseline build]' : ''}` : name)

/** A header from a fetch Headers or an undici request() headers object. */
const hv = (h, n) => (typeof h.get === 'function' ? h.get(n) : h[n]) ?? undefined
const FC_STATUS = (h) => hv(h, 'cache-status') ?? 'no cache-status'

/** Size of the MemoryCacheStore: large enough that no scenario evicts (fair to the miss path). */
const UNDICI_STORE = { maxCount: 1_000_000, maxSize: 1024 * 1024 * 1024, maxEntrySize: 8 * 1024 * 1024 }

/**
 * ctx: { dir: fresh temp dir for this process, name?: SQLite store base name to use instead of
 * a fresh one (pre-populated stores), module?: what to import as fetchcache (a baseline build) }
 */
export async function make(full, ctx) {
  const name = plain(full)
  const meta = LIST[name]
  if (!meta) throw new Error(`unknown contender ${full}`)
  const importFc = () => import(ctx.module ?? 'fetchcache')
  const base = ctx.name ?? join(ctx.dir, 'cache')
  const fetchLike = (f, hitOf) => ({
    op: async (url) => {
      const r = await f(url)
      return (await r.arrayBuffer()).byteLength
    },
    status: async (url) => {
      const r = await f(url)
      await r.arrayBuffer()
      return hitOf(r.headers)
    },
  })
  const requestLike = (req, hitOf) => ({
    op: async (url) => {
      const r = await req(url)
      return (await r.body.arrayBuffer()).byteLength
    },
    status: async (url) => {
      const r = await req(url)
      await r.body.arrayBuffer()
      return hitOf(r.headers)
    },
  })
  const out = { ...meta, name: full, flush: async () => {}, close: async () => {} }

  switch (name) {
    case 'fc-fetch-sqlite':
    case 'fc-fetch-memory':
    case 'fc-fetch-tiered': {
      const fc = await importFc()
      let options
      let backend
      if (name === 'fc-fetch-sqlite') options = { name: base }
      else if (name === 'fc-fetch-memory') options = { backend: 'memory' }
      else {
        // A memory LRU in front of SQLite (default tier limits); a Backend instance is the caller's to close.
        if (typeof fc.TieredBackend !== 'function') throw new Error('fetchcache exports no TieredBackend')
        backend = new fc.TieredBackend({ backend: new fc.SQLiteBackend({ path: `${base}.sqlite` }) })
        options = { backend }
      }
      const f = fc.createCachedFetch(options)
      return {
        ...out,
        ...fetchLike(f, FC_STATUS),
        flush: () => f.cache.flush(),
        close: async () => {
          await f.cache.close()
          await backend?.close()
        },
      }
    }
    case 'fc-fetch-redis': {
      const fc = await import('fetchcache')
      const f = fc.createCachedFetch(redisOptions(ctx))
      return { ...out, ...fetchLike(f, FC_STATUS), flush: () => f.cache.flush(), close: () => f.cache.close() }
    }
    case 'fc-interceptor-redis-request':
    case 'fc-interceptor-sqlite-request':
    case 'fc-interceptor-memory-request': {
      const fc = await importFc()
      const { Agent, request } = await import('undici')
      const ic = fc.cacheInterceptor(name.includes('sqlite') ? { name: base } : name.includes('redis') ? redisOptions(ctx) : { backend: 'memory' })
      const agent = new Agent()
      const dispatcher = agent.compose(ic)
      return {
        ...out,
        ...requestLike((url) => request(url, { dispatcher }), FC_STATUS),
        flush: () => ic.cache.flush(),
        close: async () => {
          await ic.cache.close()
          await agent.close()
        },
      }
    }
    case 'fc-install-sqlite-fetch': {
      const fc = await importFc()
      const cache = fc.installCache({ name: base })
      return { ...out, ...fetchLike((url) => globalThis.fetch(url), FC_STATUS), flush: () => cache.flush(), close: () => fc.uninstallCache() }
    }
    case 'node-fetch':
      return { ...out, ...fetchLike((url) => globalThis.fetch(url), () => 'no cache') }
    case 'node-fetch-agent7': {
      // What createCachedFetch's misses ride on, without the cache: Node's bundled fetch
      // dispatching into an undici 7 Agent (handler API bridged between the two versions).
      const { Agent } = await import('undici')
      const agent = new Agent()
      return { ...out, ...fetchLike((url) => globalThis.fetch(url, { dispatcher: agent }), () => 'no cache'), close: () => agent.close() }
    }
    case 'undici-request':
    case 'undici-fetch':
    case 'undici-cache-request':
    case 'undici-cache-fetch': {
      const { Agent, request, fetch, interceptors, cacheStores } = await import('undici')
      const agent = new Agent()
      const cached = name.startsWith('undici-cache')
      const dispatcher = cached ? agent.compose(interceptors.cache({ store: new cacheStores.MemoryCacheStore(UNDICI_STORE) })) : agent
      // undici's cache marks what it served with an Age header.
      const hitOf = (h) => (!cached ? 'no cache' : hv(h, 'age') !== undefined ? `hit (age: ${hv(h, 'age')})` : 'not from cache (no age)')
      const api = name.endsWith('request') ? requestLike((url) => request(url, { dispatcher }), hitOf) : fetchLike((url) => fetch(url, { dispatcher }), hitOf)
      return { ...out, ...api, close: () => agent.close() }
    }
    case 'mfh': {
      const { default: makeFetchHappen } = await import('make-fetch-happen')
      const f = makeFetchHappen.defaults({ cachePath: join(ctx.dir, 'cacache') })
      return { ...out, ...fetchLike(f, (h) => `x-local-cache-status: ${hv(h, 'x-local-cache-status')}`) }
    }
    case 'floor-sqlite':
    case 'floor-memory':
      return floor(name, ctx, out)
    default:
      throw new Error(`unknown contender ${name}`)
  }
}

/**
 * The floors: the least a hit can cost. One request to the origin (untimed) captures body and
 * headers; a hit is then a prepared better-sqlite3 point read by key (or a Map.get), a new
 * Response over the bytes with the stored headers, and reading the body back.
 */
async function floor(name, ctx, out) {
  const stored = new Map()
  const capture = async (url) => {
    const r = await globalThis.fetch(url)
    const body = Buffer.from(await r.arrayBuffer())
    const headers = {}
    for (const [k, v] of r.headers) if (k !== 'connection' && k !== 'keep-alive') headers[k] = v
    return { body, headers }
  }
  let get
  let put
  let close = async () => {}
  if (name === 'floor-memory') {
    get = (url) => stored.get(url)
    put = (url, e) => stored.set(url, e)
  } else {
    const { default: Database } = await import('better-sqlite3')
    const db = new Database(join(ctx.dir, 'floor.sqlite'))
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.exec('CREATE TABLE entries (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, headers TEXT NOT NULL, body BLOB NOT NULL)')
    const ins = db.prepare('INSERT OR REPLACE INTO entries (key, headers, body) VALUES (?, ?, ?)')
    const sel = db.prepare('SELECT body FROM entries WHERE key = ?').pluck(true)
    // Headers of a floor entry are known to the floor (a fixed object): the floor prices the read.
    const headersOf = new Map()
    get = (url) => {
      const body = sel.get(url)
      return body === undefined ? undefined : { body, headers: headersOf.get(url) }
    }
    put = (url, e) => {
      headersOf.set(url, e.headers)
      ins.run(url, JSON.stringify(e.headers), e.body)
    }
    close = async () => db.close()
  }
  const entry = async (url) => {
    let e = get(url)
    if (e === undefined) {
      put(url, await capture(url))
      e = get(url)
    }
    return e
  }
  return {
    ...out,
    op: async (url) => {
      const e = get(url) ?? (await entry(url))
      const r = new Response(e.body, { status: 200, headers: e.headers })
      return (await r.arrayBuffer()).byteLength
    },
    status: async (url) => {
      await entry(url)
      return 'floor'
    },
    close,
  }
}

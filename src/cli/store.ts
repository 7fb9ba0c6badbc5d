/**
 * `--cache PATH` and `--backend` → an open Cache. SQLite: the file, with or without its
 * `.sqlite` extension. Filesystem: the folder. Without `--backend`, a folder is read as a
 * filesystem cache and anything else as SQLite. A store that is not there is an error (exit 2),
 * never a new empty cache — except for `import` and `get`, which write to it and create it.
 */
import { statSync } from 'node:fs'
import type { Cache } from '../inspect/cache.js'
import type { OpenCacheOptions } from '../inspect/open.js'
import type { CacheOptions } from '../config/types.js'
import type { Backend } from '../backends/contract.js'
import { usage } from './errors.js'

export const BACKENDS = ['sqlite', 'filesystem', 'memcached', 'redis'] as const
export type BackendName = (typeof BACKENDS)[number]

export interface StoreArgs {
  cache: string
  backend?: BackendName
  /** With --backend memcached: the servers. */
  memcached?: string
  /** With --backend redis: the server's URL, and the key prefix. */
  redis?: string
  namespace?: string
}

export interface Store {
  cache: Cache
  /** What the user is told the store is: the file or folder. */
  path: string
  backend: BackendName
  /** What the cache was opened with (the backend instance, for a file opened as one): `get` builds its cached fetch on them. */
  options: CacheOptions
  close(): Promise<void>
}

function kind(path: string): 'file' | 'folder' | undefined {
  const stat = statSync(path, { throwIfNoEntry: false })
  return stat === undefined ? undefined : stat.isDirectory() ? 'folder' : 'file'
}

interface Target {
  path: string
  backend: BackendName
  options: CacheOptions
  /** A SQLite file under another extension: opened as an instance, closed by us. */
  instance?: boolean
}

export function resolveStore(args: StoreArgs): Target {
  const path = args.cache
  if (path === '') throw usage('--cache: expected a path')
  if (args.backend === 'redis') return redisStore(args)
  const backend: BackendName = args.backend ?? (kind(path) === 'folder' ? 'filesystem' : 'sqlite')
  if (backend === 'memcached') {
    // No memory tier: each command reads the servers as they are now.
    const servers = args.memcached ?? '127.0.0.1:11211'
    return { path: servers, backend, options: { backend, memcached: { servers, memoryTtlMs: 0 } } }
  }
  if (backend === 'filesystem') {
    return { path, backend, options: { name: path, backend: 'filesystem' } }
  }
  if (path.endsWith('.sqlite')) return { path, backend, options: { name: path.slice(0, -'.sqlite'.length) } }
  if (kind(path) === 'folder') throw usage(`${path} is a folder; a SQLite cache is a file (use --backend filesystem for a folder cache)`)
  if (kind(path) === 'file' && kind(`${path}.sqlite`) === undefined) {
    return { path, backend, options: {}, instance: true }
  }
  return { path: `${path}.sqlite`, backend, options: { name: path } }
}

/** A Redis cache: the server's URL (its password hidden in what is shown) and a namespace. */
function redisStore(args: StoreArgs): Target {
  const url = args.redis ?? 'redis://127.0.0.1:6379'
  const namespace = args.namespace ?? 'fetchcache:'
  const shown = `${url.replace(/\/\/[^@/]*@/, '//***@')} ${namespace}`
  return { path: shown, backend: 'redis', options: { backend: 'redis', redis: { url, namespace } } }
}

/** Open the store; `create` lets a missing one be made (import, get). */
export async function openStore(args: StoreArgs, create = false): Promise<Store> {
  const target = resolveStore(args)
  // The library (SQLite, cacache) is loaded only by commands that open a store: --help and
  // usage errors stay fast.
  const [{ CacheNotFoundError, openCache }, { SQLiteBackend }] = await Promise.all([import('../inspect/open.js'), import('../backends/sqlite.js')])
  let backend: Backend | undefined
  let cache: Cache
  let options: CacheOptions
  try {
    if (target.instance) {
      backend = new SQLiteBackend({ path: target.path })
      options = { backend }
      cache = openCache(options)
    } else {
      options = target.options
      cache = openCache({ ...options, create } satisfies OpenCacheOptions)
    }
  } catch (error) {
    if (error instanceof CacheNotFoundError) {
      throw usage(`${error.message} (give the cache with --cache PATH${target.backend === 'sqlite' ? '' : ' --backend filesystem'})`)
    }
    // The library's "cannot open SQLite cache …" already says where: give its cause, once.
    const inner = error instanceof Error && error.cause instanceof Error && /^cannot open /.test(error.message) ? error.cause : error
    throw usage(`cannot open ${target.backend} cache ${target.path}: ${inner instanceof Error ? inner.message : String(inner)}`)
  }
  return {
    cache,
    path: target.path,
    backend: target.backend,
    options,
    close: async () => {
      await cache.close()
      await backend?.close()
    },
  }
}

/** Run `work` on the open store and always close it. */
export async function withStore<T>(args: StoreArgs, work: (store: Store) => Promise<T>, create = false): Promise<T> {
  const store = await openStore(args, create)
  try {
    return await work(store)
  } finally {
    await store.close()
  }
}

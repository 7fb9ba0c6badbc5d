/**
 * openCache(): a Cache over an existing store, for inspection and maintenance without
 * fetching anything (listing, deleting, stats, HAR export and import). It refuses to open a
 * store that is not there, so a mistyped path never leaves an empty cache file behind;
 * `create: true` allows making one (to import fixtures into).
 */
import { statSync } from 'node:fs'
import { Cache } from './cache.js'
import { createEngine } from '../pipeline/create.js'
import { FetchCacheError } from '../util/errors.js'
import { resolveSettings } from '../config/options.js'
import type { CacheOptions } from '../config/types.js'

export interface OpenCacheOptions extends CacheOptions {
  /** Create the store when it does not exist. Default false: throw CacheNotFoundError. */
  create?: boolean
}

/** openCache() was pointed at a store that does not exist. */
export class CacheNotFoundError extends FetchCacheError {
  constructor(
    message: string,
    /** The file or folder that was looked for. */
    readonly path: string,
  ) {
    super('ERR_FETCHCACHE_NOT_FOUND', message)
  }
}

/** Where a named backend keeps its store, and whether that is a file or a folder. */
export function storeLocation(options: CacheOptions): { path: string; kind: 'file' | 'folder' } | undefined {
  const settings = resolveSettings(options)
  const { backend } = settings
  if (backend === 'sqlite') return { path: `${settings.name}.sqlite`, kind: 'file' }
  if (backend === 'filesystem') return { path: settings.name, kind: 'folder' }
  return undefined
}

export function openCache(options: OpenCacheOptions = {}): Cache {
  const { create = false, ...rest } = options
  if (!create) {
    const where = storeLocation(rest)
    if (where) {
      const stat = statSync(where.path, { throwIfNoEntry: false })
      if (!stat) throw new CacheNotFoundError(`no cache at ${where.path}`, where.path)
      if (where.kind === 'file' ? !stat.isFile() : !stat.isDirectory()) {
        throw new CacheNotFoundError(`${where.path} is not a ${where.kind === 'file' ? 'SQLite file' : 'cache folder'}`, where.path)
      }
    }
  }
  // Inspection is asked about one file: a file it cannot open is a clear error, not a fresh cache.
  return new Cache(createEngine(rest, false))
}

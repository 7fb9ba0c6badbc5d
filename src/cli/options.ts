/** Option parsers and the entry filter options shared by ls, purge and export. */
import { type Command, InvalidArgumentError, Option } from 'commander'
import type { CacheFilter } from '../inspect/types.js'
import { parseDuration as parseLibraryDuration } from '../config/expiry.js'
import { BACKENDS, type StoreArgs } from './store.js'

/** Seconds, or a duration like 90s, 5m, 12h, 7d, 2w. */
export function parseDuration(value: string): number {
  try {
    // The library's own parser: `--older-than` takes exactly what `olderThan` takes.
    return parseLibraryDuration(value, 'duration', '7d')
  } catch {
    throw new InvalidArgumentError('expected seconds or a duration like 90s, 5m, 12h, 7d, 2w.')
  }
}

export function parseStatuses(value: string, previous: number[] = []): number[] {
  const out = [...previous]
  for (const part of value.split(',')) {
    const n = Number(part.trim())
    if (!Number.isInteger(n) || n < 100 || n > 599) throw new InvalidArgumentError('expected HTTP status codes, e.g. 200 or 301,308.')
    out.push(n)
  }
  return out
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

/** The options every command takes (also accepted before the command name). */
export function addStoreOptions(program: Command): Command {
  return program
    .addOption(new Option('-c, --cache <path>', 'the cache: a .sqlite file (extension optional) or a filesystem cache folder').default('http_cache').env('FETCHCACHE_CACHE'))
    .addOption(new Option('-b, --backend <name>', 'storage backend (default: filesystem for a folder, else sqlite)').choices(BACKENDS).env('FETCHCACHE_BACKEND'))
    .addOption(new Option('--memcached <servers>', 'with --backend memcached: host:port[,host:port…] (default 127.0.0.1:11211)').env('FETCHCACHE_MEMCACHED'))
    .addOption(new Option('--redis <url>', 'with --backend redis: the server (default redis://127.0.0.1:6379)').env('FETCHCACHE_REDIS'))
    .addOption(new Option('--namespace <prefix>', 'with --backend redis: the key prefix (default fetchcache:)'))
    .option('--json', 'machine-readable JSON on stdout')
}

export interface GlobalOptions extends StoreArgs {
  json?: boolean
}

export function globals(command: Command): GlobalOptions {
  const o = command.optsWithGlobals<GlobalOptions>()
  return {
    cache: o.cache,
    ...(o.backend === undefined ? {} : { backend: o.backend }),
    ...(o.memcached === undefined ? {} : { memcached: o.memcached }),
    ...(o.redis === undefined ? {} : { redis: o.redis }),
    ...(o.namespace === undefined ? {} : { namespace: o.namespace }),
    ...(o.json ? { json: true } : {}),
  }
}

/** --host, --method, --status, --expired, --fresh, --older-than. */
export function addFilterOptions(command: Command): Command {
  return command
    .option('--host <host>', 'only this host (example.com or example.com:8080)')
    .option('--method <method>', 'only this request method')
    .option('--status <codes>', 'only these statuses (comma-separated, repeatable)', parseStatuses)
    .addOption(new Option('--expired', 'only entries past their expiry').conflicts('fresh'))
    .option('--fresh', 'only entries still fresh')
    .option('--older-than <duration>', 'only entries stored longer ago than this (e.g. 7d, 12h, 3600)', parseDuration)
}

export interface FilterOptions {
  host?: string
  method?: string
  status?: number[]
  expired?: boolean
  fresh?: boolean
  olderThan?: number
}

export function toFilter(glob: string | undefined, o: FilterOptions): CacheFilter {
  const f: CacheFilter = {}
  if (glob !== undefined) f.url = glob
  if (o.host !== undefined) f.host = o.host
  if (o.method !== undefined) f.method = o.method
  if (o.status !== undefined) f.status = o.status
  if (o.expired) f.expired = true
  if (o.fresh) f.expired = false
  if (o.olderThan !== undefined) f.olderThan = o.olderThan
  return f
}

export function hasFilter(f: CacheFilter): boolean {
  return Object.keys(f).length > 0
}

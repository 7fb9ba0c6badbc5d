/**
 * The Redis client behind RedisBackend: ioredis, an optional peer dependency loaded only when a
 * RedisBackend makes its own connection, and the settings that keep a sick server from slowing
 * requests down.
 *
 * Why ioredis (over node-redis): a per-command timeout (`commandTimeout`) that also covers
 * commands queued while connecting; one API for a single server and a Cluster (with
 * `nodes('master')` to SCAN each shard); `*Buffer` variants of every command, so bodies go in
 * and out as bytes with no type-mapping setup; automatic pipelining; and it is maintained in
 * the redis organisation (6.x, Node >= 20).
 */
import { createRequire } from 'node:module'
import type { ConnectionOptions } from 'node:tls'
import type { Cluster, Redis, RedisOptions } from 'ioredis'
import { debug } from '../util/debug.js'
import { BackendError, ConfigError, show } from '../util/errors.js'

export const CLIENT_PACKAGE = 'ioredis'

/** A connected ioredis client: one server or a Cluster. */
export type RedisClient = Redis | Cluster

/** How long Redis may stay silent before a command counts as failed (ms); see README. */
export const DEFAULT_COMMAND_TIMEOUT = 1000
/** Longest wait between reconnection attempts (ms). */
const RECONNECT_MAX_MS = 2000

/** Fail at construction, naming the package, rather than at the first request. */
export function assertInstalled(name = CLIENT_PACKAGE, where = 'RedisBackend'): void {
  try {
    createRequire(import.meta.url).resolve(name)
  } catch {
    throw new ConfigError(`${where}: the package '${name}' is not installed; install it with: npm install ${name}`)
  }
}

export function isClient(value: unknown): value is RedisClient {
  const v = value as Record<string, unknown> | null
  return typeof v === 'object' && v !== null && typeof v.hmgetBuffer === 'function' && typeof v.duplicate === 'function' && typeof v.status === 'string'
}

export function isCluster(client: RedisClient): client is Cluster {
  return typeof (client as Cluster).nodes === 'function' && (client as { isCluster?: boolean }).isCluster === true
}

/** Check a `redis://` / `rediss://` URL; the message names the option. */
export function checkUrl(value: unknown, option: string): string {
  let url: URL | undefined
  try {
    url = typeof value === 'string' ? new URL(value) : undefined
  } catch {
    url = undefined
  }
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:')) {
    throw new ConfigError(`${option}: expected a URL like 'redis://host:6379' or 'rediss://user:pass@host:6380/0'; got ${show(value)}`)
  }
  return value as string
}

/** Make our own connection: lazily imported, bounded commands, quick reconnects. */
export async function connect(url: string, commandTimeout: number, tls: ConnectionOptions | undefined): Promise<RedisClient> {
  let Ctor: typeof Redis
  try {
    const mod = (await import(CLIENT_PACKAGE)) as { Redis?: typeof Redis; default?: typeof Redis }
    Ctor = mod.Redis ?? mod.default!
  } catch (error) {
    throw new BackendError(`RedisBackend needs the package '${CLIENT_PACKAGE}': npm install ${CLIENT_PACKAGE}`, error)
  }
  const options: RedisOptions = {
    ...clientOptions(commandTimeout),
    // rediss:// turns TLS on by itself; these add a CA, a client certificate, servername…
    ...(tls ? { tls: { ...tls } } : {}),
  }
  const client = new Ctor(url, options as never)
  quiet(client, url)
  return client
}

/**
 * - `commandTimeout` bounds every command, including those queued while (re)connecting.
 * - `maxRetriesPerRequest: 0`: a command caught by a lost connection fails at once instead of
 *   being replayed later; for a cache a miss is cheaper than a wait.
 * - reconnect forever, at most RECONNECT_MAX_MS apart, so a restarted server is found again.
 */
export function clientOptions(commandTimeout: number): RedisOptions {
  return {
    commandTimeout,
    connectTimeout: Math.max(commandTimeout, 1000),
    maxRetriesPerRequest: 0,
    enableAutoPipelining: true,
    // The ready check runs INFO, which ACL users of managed services often may not; a server
    // still loading its data answers LOADING, which is a miss like any other error.
    enableReadyCheck: false,
    // After close(), a socket ioredis is still ending may keep the process alive this long.
    disconnectTimeout: 200,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), RECONNECT_MAX_MS),
  }
}

/** ioredis prints unhandled 'error' events; our failures reach the caller as rejections instead. */
export function quiet(client: { on(event: 'error', f: (e: Error) => void): unknown }, what: string): void {
  client.on('error', (error: Error) => debug('redis %s: %s', what.replace(/\/\/[^@/]*@/, '//***@'), error.message))
}

/**
 * Statuses in which a command would only wait: the connection is lost and being re-made.
 * Commands then fail at once (a miss), rather than each waiting out its timeout.
 */
const DOWN = new Set(['reconnecting', 'close', 'end'])

export function isDown(client: RedisClient): boolean {
  return DOWN.has(client.status)
}

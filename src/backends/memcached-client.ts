/**
 * The Memcached client, seen from MemcachedBackend: the few commands it uses, the lazy load of
 * `memjs` (an optional peer dependency: only users of this backend install it), and a hard
 * time bound on every command, so that a slow or dead server can never hold a request up.
 *
 * Why memjs (1.3): it speaks the binary protocol, so bodies travel as raw bytes with their
 * length (no text-protocol framing, no base64); it spreads keys over several servers, fails
 * over from a dead one and has per-request timeouts; it has no dependencies, runs on Node 20
 * (`engines: >=0.10`), supports SASL (managed Memcached), and is the most used Node client
 * (about 2.1 M weekly downloads, against 0.6 M for `memcached` — text protocol, two
 * dependencies — and 0.1 M for memcache-client — text protocol, four). What it lacks (CAS,
 * multi-get) this backend does without: see memcached-lease.ts and the parts in slices.
 */
import { orTimeout } from '../util/deadline.js'
import { BackendError, ConfigError, show } from '../util/errors.js'

/** The commands MemcachedBackend uses: a memjs `Client` has them all. */
export interface MemcachedClient {
  get(key: string): Promise<{ value: Buffer | null; flags?: Buffer | null }>
  set(key: string, value: Buffer | string, options?: { expires?: number }): Promise<boolean | null>
  add(key: string, value: Buffer | string, options?: { expires?: number }): Promise<boolean | null>
  delete(key: string): Promise<boolean | null>
  flush(): Promise<Record<string, boolean | Error>>
  close(): void
}

const COMMANDS = ['get', 'set', 'add', 'delete', 'flush', 'close'] as const

/** Check an existing client passed in: a wrong object fails when the cache is made. */
export function checkClient(value: unknown, where: string): MemcachedClient {
  const c = value as Record<string, unknown> | null
  const missing = typeof c === 'object' && c !== null ? COMMANDS.filter((name) => typeof c[name] !== 'function') : [...COMMANDS]
  if (missing.length > 0) {
    throw new ConfigError(`${where}: expected a memjs Client (with ${COMMANDS.join(', ')}); got ${typeof c === 'object' && c !== null ? `an object without ${missing.join(', ')}` : show(value)}`)
  }
  return value as MemcachedClient
}

/** `host:port`, `host` (port 11211), or memjs's `user:pass@host:port`. */
const SERVER = /^(?:[^\s@,]+@)?[A-Za-z0-9._-]+(?::\d{1,5})?$/

export function checkServers(value: unknown, where: string): string[] {
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value
  if (!Array.isArray(list) || list.length === 0 || list.some((s) => typeof s !== 'string' || !SERVER.test(s))) {
    throw new ConfigError(`${where}: expected 'host:port' or a list of them (e.g. ['10.0.0.1:11211', '10.0.0.2:11211']); got ${show(value)}`)
  }
  return list as string[]
}

interface MemjsModule {
  Client: { create(servers: string, options: Record<string, unknown>): MemcachedClient }
}

/** Import the client library by name; a missing one is an error that says what to install. */
export async function loadMemjs(name = 'memjs'): Promise<MemjsModule> {
  let mod: Partial<MemjsModule> & { default?: Partial<MemjsModule> }
  try {
    mod = (await import(name)) as typeof mod
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new BackendError(`the memcached backend needs the package '${name}': npm install ${name}`, error)
    }
    throw new BackendError(`cannot load '${name}': ${(error as Error).message}`, error)
  }
  const client = mod.Client ?? mod.default?.Client
  if (typeof client?.create !== 'function') throw new BackendError(`'${name}' has no Client.create: is it memjs?`)
  return { Client: client }
}

/** How long a dead server is left alone before memjs tries it again, in seconds. */
const RETRY_DEAD_SERVER_S = 2

/** A memjs client for these servers, with its timeouts tied to ours and its logging off. */
export async function createClient(servers: readonly string[], timeoutMs: number): Promise<MemcachedClient> {
  const { Client } = await loadMemjs()
  return Client.create(servers.join(','), {
    // One attempt (memjs reads 0 as "default"): our own deadline bounds the command anyway.
    retries: 1,
    timeout: timeoutMs / 1000,
    conntimeout: timeoutMs / 1000,
    keepAlive: true,
    // A server that failed is skipped (its keys go to the next server, or the command fails
    // at once) for a few seconds, so a dead server costs no connect attempt per request.
    failover: true,
    failoverTime: RETRY_DEAD_SERVER_S,
    // Faults reach the user through onError, not the console.
    logger: { log() {} },
  })
}

/** `work`, or a BackendError once `ms` have passed: no command waits longer than that. */
export async function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  try {
    return await orTimeout(work, ms, () => new BackendError(`memcached ${what}: no answer within ${ms} ms`))
  } catch (error) {
    throw error instanceof BackendError ? error : new BackendError(`memcached ${what} failed: ${(error as Error)?.message ?? String(error)}`, error)
  }
}

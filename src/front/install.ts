/**
 * installCache(): cache the whole process. Node's global fetch is replaced by a cached fetch
 * (with the fast hit path) and the undici global dispatcher gets the cache interceptor, so
 * `undici.request()` and anything else on the global dispatcher is cached too.
 */
import type { Cache } from '../inspect/cache.js'
import { createEngine } from '../pipeline/create.js'
import { fetchFor } from './fetch.js'
import { cachedDispatcher } from './interceptor.js'
import { nativeFetch } from './native.js'
import { undici } from './undici.js'
import type { CacheOptions } from '../config/types.js'

// undici keeps the global dispatcher under these symbols (.1 is what Node's bundled copy reads).
const SYMBOLS = [Symbol.for('undici.globalDispatcher.1'), Symbol.for('undici.globalDispatcher.2')] as const

interface Installed {
  cache: Cache
  previous: unknown[]
  previousFetch: typeof fetch
}

let installed: Installed | undefined

const slots = globalThis as unknown as Record<symbol, unknown>

/** Cache every fetch and undici request of this process; a second call replaces the first. */
export function installCache(options: CacheOptions = {}): Cache {
  const engine = createEngine(options)
  const { Dispatcher, getGlobalDispatcher, setGlobalDispatcher } = undici()
  if (installed) void uninstallCache()
  const previous = SYMBOLS.map((s) => slots[s])
  const current = getGlobalDispatcher()
  // Compose onto the dispatcher in place when it is one of ours (undici 7), so a user's
  // ProxyAgent or mock keeps working; another copy of undici gets a fresh Agent, kept open.
  const dispatcher = cachedDispatcher(engine, current instanceof Dispatcher ? current : undefined, true)
  setGlobalDispatcher(dispatcher)
  const previousFetch = globalThis.fetch
  const cachedFetch = fetchFor(engine, dispatcher, nativeFetch, previousFetch)
  globalThis.fetch = cachedFetch as typeof fetch
  installed = { cache: cachedFetch.cache, previous, previousFetch }
  return cachedFetch.cache
}

/**
 * Put back exactly the fetch and global dispatcher that were there; closes the cache. A fetch
 * or dispatcher kept from the installed time keeps working, uncached.
 */
export async function uninstallCache(): Promise<void> {
  const state = installed
  if (!state) return
  installed = undefined
  SYMBOLS.forEach((s, i) => {
    slots[s] = state.previous[i]
  })
  globalThis.fetch = state.previousFetch
  await state.cache.close()
}

export function isCacheInstalled(): boolean {
  return installed !== undefined
}

/** The cache installCache() set up, if any. */
export function installedCache(): Cache | undefined {
  return installed?.cache
}

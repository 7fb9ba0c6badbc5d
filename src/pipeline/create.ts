import { FileBackend } from '../backends/file.js'
import { MemoryBackend } from '../backends/memory.js'
import { MemcachedBackend } from '../backends/memcached.js'
import { TieredBackend } from '../backends/tiered.js'
import { SQLiteBackend } from '../backends/sqlite.js'
import { RedisBackend } from '../backends/redis.js'
import { openForCache } from '../backends/sqlite-open.js'
import { Engine } from './engine.js'
import { resolveSettings } from '../config/options.js'
import type { CacheOptions } from '../config/types.js'

/**
 * Validate options and open the backend they name: the one place an engine is made.
 * `recover`: a SQLite file that cannot be opened is moved aside, opened read-only or done
 * without (told to onError, see sqlite-open.ts) instead of throwing; inspection passes false.
 * Inspection does not prune in the background either (prune.ts): it must not change what it
 * looks at.
 */
export function createEngine(options: CacheOptions = {}, recover = true): Engine {
  const engine = openEngine(options, recover)
  if (recover) engine.pruner.start()
  return engine
}

function openEngine(options: CacheOptions, recover: boolean): Engine {
  const settings = resolveSettings(options)
  const b = settings.backend
  if (b === 'sqlite') {
    const path = `${settings.name}.sqlite`
    if (!recover) return new Engine(settings, new SQLiteBackend({ path }), true)
    const opened = openForCache(path, (readOnly) => new SQLiteBackend({ path, readOnly }))
    const engine = new Engine(opened.readOnly ? { ...settings, readOnly: true } : settings, opened.backend, true)
    for (const problem of opened.problems) engine.report(problem)
    return engine
  }
  if (b === 'filesystem') {
    // The sweep of crash leftovers on open runs in the background: its faults go to onError.
    let engine: Engine | undefined
    engine = new Engine(settings, new FileBackend({ path: settings.name, onError: (e) => engine?.report(e) }), true)
    return engine
  }
  if (b === 'memory') return new Engine(settings, new MemoryBackend(), true)
  if (b === 'memcached') {
    // A memory tier whose copies live memoryTtlMs at most: Memcached cannot tell this process
    // that another one replaced or deleted an entry, so that is the bound on serving an old one.
    const { memoryTtlMs = 5000, ...options } = settings.memcached ?? {}
    const store = new MemcachedBackend(options)
    return new Engine(settings, memoryTtlMs > 0 ? new TieredBackend({ backend: store, memory: { maxAgeMs: memoryTtlMs } }) : store, true)
  }
  if (b === 'redis') return new Engine(settings, new RedisBackend(settings.redis), true)
  return new Engine(settings, b, false)
}

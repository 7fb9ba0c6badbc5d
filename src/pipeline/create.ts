import { FileBackend } from '../backends/file.js'
import { MemoryBackend } from '../backends/memory.js'
import { MemcachedBackend } from '../backends/memcached.js'
import { TieredBackend } from '../backends/tiered.js'
import { SQLiteBackend } from '../backends/sqlite.js'
import { RedisBackend } from '../backends/redis.js'
import { Engine } from './engine.js'
import { resolveSettings } from '../config/options.js'
import type { CacheOptions } from '../config/types.js'

/** Validate options and open the backend they name: the one place an engine is made. */
export function createEngine(options: CacheOptions = {}): Engine {
  const settings = resolveSettings(options)
  const b = settings.backend
  if (b === 'sqlite') return new Engine(settings, new SQLiteBackend({ path: `${settings.name}.sqlite` }), true)
  if (b === 'filesystem') return new Engine(settings, new FileBackend({ path: settings.name }), true)
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

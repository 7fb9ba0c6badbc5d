/** The `redis` cache option: a URL, a client you made, or RedisBackend options; checked here, opened by createEngine. */
import type { RedisBackendOptions } from '../backends/redis.js'
import { checkUrl, isClient } from '../backends/redis-client.js'
import { ConfigError, show } from '../util/errors.js'

export function redisOption(value: unknown, backend: unknown): RedisBackendOptions | undefined {
  if (value === undefined) return backend === 'redis' ? {} : undefined
  if (backend !== 'redis') throw new ConfigError(`redis: only used with backend: 'redis'; got backend ${show(backend ?? 'sqlite')}`)
  if (typeof value === 'string') return { url: checkUrl(value, 'redis') }
  if (isClient(value)) return { client: value }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as RedisBackendOptions
  throw new ConfigError(`redis: expected a redis:// URL, an ioredis client or RedisBackend options; got ${show(value)}`)
}

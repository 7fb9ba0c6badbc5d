/**
 * Lua scripts of RedisBackend. Each touches exactly one key (KEYS[1]), so each runs atomically
 * on one server and works unchanged on Redis Cluster (one key is one slot).
 */
import type { RedisClient } from './redis-client.js'

const SCRIPTS = {
  /**
   * Add an entry key to a URL's index set, and keep the set alive at least as long as its
   * longest-lived entry ('' = one never expires). A set with no expiry and more than one member
   * stays without one: some member may need it forever.
   */
  fetchcacheIndex: `
local added = redis.call('SADD', KEYS[1], ARGV[1])
if ARGV[2] == '' then redis.call('PERSIST', KEYS[1]) return added end
local at = tonumber(ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 then
  if redis.call('SCARD', KEYS[1]) == 1 then redis.call('PEXPIREAT', KEYS[1], at) end
  return added
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now + ttl < at then redis.call('PEXPIREAT', KEYS[1], at) end
return added`,
  /** A lease: SET NX PX, or renew one we already hold. ARGV: owner, ttl ms. */
  fetchcacheLease: `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`,
  /** Give a lease back only if we still hold it (an expired one may be someone else's now). */
  fetchcacheRelease: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
} as const

export interface Scripts {
  fetchcacheIndex(key: string, member: string, expireAt: string): Promise<number>
  fetchcacheLease(key: string, owner: string, ttlMs: number): Promise<number>
  fetchcacheRelease(key: string, owner: string): Promise<number>
}

/** Define the scripts on a client (EVALSHA, loaded on first use); a client keeps them. */
export function withScripts(client: RedisClient): RedisClient & Scripts {
  const c = client as RedisClient & Record<string, unknown>
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    if (typeof c[name] !== 'function') client.defineCommand(name, { numberOfKeys: 1, lua })
  }
  return client as RedisClient & Scripts
}

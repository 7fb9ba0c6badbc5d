/**
 * `Cache.stats()`: what the store holds (one pass over the listing, no body read), its cap and
 * use, with what this process's engine counted and its background pruning did.
 */
import { isExpired } from '../rules/decide-read.js'
import { isDead } from '../backends/limits.js'
import type { Backend } from '../backends/contract.js'
import type { Engine } from '../pipeline/engine.js'
import type { Counts } from '../pipeline/stats.js'
import type { CacheStats, HostStats, StoreCounts } from './types.js'

export function hostOf(url: string): { host: string; hostname: string } | undefined {
  try {
    const u = new URL(url)
    return { host: u.host.toLowerCase(), hostname: u.hostname.toLowerCase() }
  } catch {
    return undefined
  }
}

function zeroCounts(): Counts & { hitRatio: number } {
  return { hits: 0, misses: 0, revalidations: 0, staleServed: 0, stores: 0, errors: 0, hitRatio: 0 }
}

/** The byte cap of the store of record (behind a memory tier), when it states a finite one. */
function maxSizeOf(backend: Backend): number | null {
  const store = (backend as { back?: Backend }).back ?? backend
  const limits = (store as { limits?: { maxSize?: unknown } }).limits
  return typeof limits?.maxSize === 'number' && Number.isFinite(limits.maxSize) ? limits.maxSize : null
}

export async function cacheStats(engine: Engine, now: number): Promise<CacheStats> {
  const counters = engine.stats.snapshot()
  const store: StoreCounts = { entries: 0, bytes: 0, expired: 0 }
  const hosts = new Map<string, StoreCounts>()
  let dead = 0
  for await (const [, meta] of engine.backend.entries()) {
    if (meta.kind !== 'response') continue
    const host = hostOf(meta.url)?.host ?? '(invalid URL)'
    let h = hosts.get(host)
    if (!h) hosts.set(host, (h = { entries: 0, bytes: 0, expired: 0 }))
    const expired = isExpired(meta, now) ? 1 : 0
    if (isDead(meta, now)) dead++
    for (const c of [store, h]) {
      c.entries++
      c.bytes += meta.size
      c.expired += expired
    }
  }
  const perHost: Record<string, HostStats> = {}
  const names = new Set([...hosts.keys(), ...Object.keys(counters.hosts)])
  for (const host of [...names].sort()) {
    perHost[host] = { ...(hosts.get(host) ?? { entries: 0, bytes: 0, expired: 0 }), ...(counters.hosts[host] ?? zeroCounts()) }
  }
  const { hosts: _, ...total } = counters
  const { bytes: storeBytes } = await engine.backend.stats()
  return { ...store, ...total, dead, maxSize: maxSizeOf(engine.backend), storeBytes, pruning: engine.pruner.state(), hosts: perHost }
}

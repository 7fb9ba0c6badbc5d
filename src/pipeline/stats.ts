/** Counters of what the engine did, in total and per host, for `cache.stats()`. */
export interface Counts {
  hits: number
  misses: number
  revalidations: number
  staleServed: number
  stores: number
  errors: number
}

export type CountName = keyof Counts

function zero(): Counts {
  return { hits: 0, misses: 0, revalidations: 0, staleServed: 0, stores: 0, errors: 0 }
}

function ratio(c: Counts): number {
  const total = c.hits + c.misses
  return total === 0 ? 0 : c.hits / total
}

export class EngineStats {
  private readonly total = zero()
  private readonly hosts = new Map<string, Counts>()

  /** Count one event, in total and for `host`. */
  count(name: CountName, host?: string): void {
    this.total[name]++
    if (host === undefined) return
    let c = this.hosts.get(host)
    if (!c) this.hosts.set(host, (c = zero()))
    c[name]++
  }

  /** A response served from storage; `stale` when it was past its freshness lifetime. */
  hit(host: string, stale: boolean): void {
    this.count('hits', host)
    if (stale) this.count('staleServed', host)
  }

  snapshot(): Counts & { hitRatio: number; hosts: Record<string, Counts & { hitRatio: number }> } {
    const hosts: Record<string, Counts & { hitRatio: number }> = {}
    for (const [host, c] of [...this.hosts].sort()) hosts[host] = { ...c, hitRatio: ratio(c) }
    return { ...this.total, hitRatio: ratio(this.total), hosts }
  }
}

/** Counters of what the engine did, for `cache.stats()` and the demo. */
export class EngineStats {
  hits = 0
  misses = 0
  revalidations = 0
  staleServed = 0
  stores = 0
  errors = 0

  get hitRatio(): number {
    const total = this.hits + this.misses
    return total === 0 ? 0 : this.hits / total
  }

  snapshot() {
    return {
      hits: this.hits,
      misses: this.misses,
      revalidations: this.revalidations,
      staleServed: this.staleServed,
      stores: this.stores,
      errors: this.errors,
      hitRatio: this.hitRatio,
    }
  }
}

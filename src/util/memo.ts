/**
 * A bounded memo: a Map that forgets its oldest entry when full. The hot paths memoise pure
 * work per URL or per stored text (key hashing, URL serialisation, entry decoding); the bound
 * keeps a crawl over millions of URLs from growing memory without limit.
 */
export class Memo<K, V> {
  private readonly map = new Map<K, V>()

  constructor(private readonly max = 4096) {}

  get(key: K): V | undefined {
    return this.map.get(key)
  }

  has(key: K): boolean {
    return this.map.has(key)
  }

  /** The value for `key`, made by `make` on the first ask (an undefined value is remembered too). */
  through(key: K, make: () => V): V {
    let value = this.map.get(key)
    if (value === undefined && !this.map.has(key)) this.set(key, (value = make()))
    return value as V
  }

  set(key: K, value: V): void {
    // Map keeps insertion order: the first key is the oldest.
    if (this.map.size >= this.max && !this.map.has(key)) this.map.delete(this.map.keys().next().value as K)
    this.map.set(key, value)
  }
}

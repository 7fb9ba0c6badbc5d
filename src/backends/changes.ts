/**
 * Not part of the Backend contract: a shared store that can tell this process what other
 * processes changed (RedisBackend, through pub/sub) offers `watch(listener)`. TieredBackend
 * uses it to drop its memory copies of entries changed elsewhere.
 */

/** What changed in the store: these keys, or everything (a clear, or messages possibly missed). */
export type StoreChange = { keys: readonly string[] } | { all: true }

export type ChangeListener = (change: StoreChange) => void

/** The `watch` of a backend that offers it; it returns the function that stops watching. */
export function watchOf(backend: object): ((listener: ChangeListener) => () => void) | undefined {
  const watch = (backend as { watch?: unknown }).watch
  return typeof watch === 'function' ? (watch.bind(backend) as (listener: ChangeListener) => () => void) : undefined
}

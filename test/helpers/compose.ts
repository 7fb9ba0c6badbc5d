import { Agent, type Dispatcher } from 'undici'
import { type CacheInterceptor, type CacheOptions, cacheInterceptor } from '../../src/index.js'

/** Things to close after a test, in order. */
export type Closers = Array<() => Promise<unknown>>

/** A cache interceptor (memory unless told otherwise) on a new Agent; both are closed with `closers`. */
export function composeCache(options: CacheOptions, closers: Closers, agent: Agent.Options = {}): { ic: CacheInterceptor; dispatcher: Dispatcher } {
  const ic = cacheInterceptor({ backend: 'memory', ...options })
  const dispatcher = new Agent(agent).compose(ic)
  closers.push(() => ic.cache.close(), () => dispatcher.close())
  return { ic, dispatcher }
}

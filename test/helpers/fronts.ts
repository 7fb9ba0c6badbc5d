/**
 * The three ways a caller meets the cache, behind one `send(path, headers)`: createCachedFetch,
 * cacheInterceptor on an Agent with undici's request(), and on a Client with path-only requests.
 * Each send waits for the cache's writes, so the next one sees them.
 */
import { Agent, Client, type Dispatcher, request } from 'undici'
import { type CacheOptions, cacheInterceptor, createCachedFetch } from '../../src/index.js'

export type Front = 'fetch' | 'request' | 'Client'
export const FRONTS: readonly Front[] = ['fetch', 'request', 'Client']

export interface Sent {
  status: number
  /** Header values as the caller sees them, repeated lines joined with ", " (as fetch joins them). */
  headers: Record<string, string>
  body: string
}

export interface Harness {
  send(path: string, headers?: Record<string, string>, init?: { method: 'POST'; body: string }): Promise<Sent>
  close(): Promise<void>
}

function joined(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v
  return out
}

export function harness(front: Front, originUrl: string, options: CacheOptions = {}): Harness {
  if (front === 'fetch') {
    const f = createCachedFetch({ backend: 'memory', ...options })
    return {
      async send(path, headers = {}, init) {
        const res = await f(originUrl + path, { headers, ...init })
        const body = await res.text()
        await f.cache.flush()
        return { status: res.status, headers: Object.fromEntries(res.headers), body }
      },
      close: () => f.cache.close(),
    }
  }
  const ic = cacheInterceptor({ backend: 'memory', ...options })
  const base: Dispatcher = front === 'Client' ? new Client(originUrl) : new Agent()
  const d = base.compose(ic)
  return {
    async send(path, headers = {}, init) {
      const method = init?.method ?? 'GET'
      const payload = init?.body ?? null
      const res = front === 'Client' ? await d.request({ path, method, headers, body: payload }) : await request(originUrl + path, { dispatcher: d, headers, method, body: payload })
      const body = await res.body.text()
      await ic.cache.flush()
      return { status: res.statusCode, headers: joined(res.headers), body }
    },
    async close() {
      await ic.cache.close()
      await base.close()
    },
  }
}

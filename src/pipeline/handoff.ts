/**
 * The fast path's lookup, handed on to the interceptor (issue 14: one backend read per miss).
 * createCachedFetch looks a request up before it enters Node's fetch; on a miss, fetch then
 * dispatches the same request through the cache interceptor, whose send() would read the
 * backend again. The fast path leaves its result here, keyed by the primary key, and send()
 * takes it instead of reading — only when it is provably the answer send() would compute:
 *
 *   - the same request: same key, method, URL, header record (so the same Vary variant) and
 *     the same scope object (so the same modes and per-request options);
 *   - nothing usable stored: only a lookup without a record is handed on. Reusing "nothing
 *     stored" after another request stored the entry costs at most one origin fetch, never a
 *     wrong or stale response; a record could have been replaced meanwhile, so it is read again;
 *   - recent: taken within MAX_AGE_MS of the lookup, and withdrawn when the fetch settles.
 *
 * No AsyncLocalStorage: on Node 20 a run turns promise hooks on for good (front/fetch.ts
 * keeps empty scopes out of it), and nothing is ever sent to the origin to carry it.
 */
import type { ReadAction } from '../rules/decide-read.js'
import type { CacheRecord } from '../backends/contract.js'
import type { Deadline } from '../util/deadline.js'
import type { Prepared, Scope } from './prepare/prepare.js'

/** A lookup's answer (lookup.ts Lookup), said here by shape: lookup.ts reaches the engine, which holds the handoffs. */
interface Lookup {
  action: ReadAction
  record: CacheRecord | undefined
}

/** A handoff waits a few event-loop turns (fetch's own steps), never longer than this. */
const MAX_AGE_MS = 100

export interface Handoff {
  readonly p: Prepared
  readonly scope: Scope | undefined
  readonly lookup: Lookup
  /** The request's deadline, started by the fast path: the dispatch goes on with it, so a request waits one lockTimeout in all, not one per path. */
  readonly deadline: Deadline
  readonly at: number
}

export class Handoffs {
  private readonly byKey = new Map<string, Handoff>()

  /** Leave a miss's lookup for the dispatch that follows; undefined when there is nothing to hand on. */
  offer(p: Prepared, scope: Scope | undefined, lookup: Lookup, deadline: Deadline): Handoff | undefined {
    if (lookup.record !== undefined) return undefined
    const handoff: Handoff = { p, scope, lookup, deadline, at: performance.now() }
    this.byKey.set(p.key, handoff)
    return handoff
  }

  /** The lookup handed on for exactly this request, with its deadline, taken (used once); else undefined: read. */
  take(p: Prepared, scope: Scope | undefined): Handoff | undefined {
    const h = this.byKey.get(p.key)
    if (h === undefined) return undefined
    if (performance.now() - h.at > MAX_AGE_MS) {
      this.byKey.delete(p.key)
      return undefined
    }
    // Another request under the same key (other headers, another scope): it reads for itself.
    if (h.scope !== scope || h.p.method !== p.method || h.p.href !== p.href || h.p.url !== p.url || !sameHeaders(h.p.headers, p.headers)) return undefined
    this.byKey.delete(p.key)
    return h
  }

  /** The fetch settled: a handoff its dispatch did not take goes. */
  withdraw(h: Handoff | undefined): void {
    if (h !== undefined && this.byKey.get(h.p.key) === h) this.byKey.delete(h.p.key)
  }

  get size(): number {
    return this.byKey.size
  }
}

function sameHeaders(a: Record<string, string>, b: Record<string, string>): boolean {
  const names = Object.keys(a)
  if (names.length !== Object.keys(b).length) return false
  return names.every((name) => Object.hasOwn(b, name) && a[name] === b[name])
}

/**
 * Step 2: find the stored response a prepared request may be given (through the Vary marker)
 * and ask decideRead what to do with it. A backend fault is a miss: reported, never thrown; a
 * corrupt entry is removed. So is a read still unanswered at the request's deadline (a stalled
 * file system, a Redis server that does not answer): it never holds the request longer.
 */
import { decideRead, type ReadAction, requestDirectives } from '../rules/decide-read.js'
import { selectable } from '../rules/vary.js'
import { debug } from '../util/debug.js'
import { type Deadline, LATE } from '../util/deadline.js'
import { BackendError, CorruptEntryError } from '../util/errors.js'
import type { CacheRecord } from '../backends/contract.js'
import type { Engine } from './engine.js'
import type { Prepared } from './prepare/prepare.js'
import { variantKey } from './prepare/key.js'

export interface Lookup {
  action: ReadAction
  record: CacheRecord | undefined
}

export async function lookup(engine: Engine, p: Prepared, deadline: Deadline): Promise<Lookup> {
  let record = await read(engine, p.key, deadline)
  let varyMiss = false
  if (record?.meta.kind === 'vary') {
    record = await read(engine, variantKey(p.key, record.meta.vary, p.headers), deadline)
    varyMiss = record === undefined
  }
  // RFC 9111 §4 and §4.1: same method and URL (a key collision must never serve another
  // request's response; a key function decides what "same URL" means), matching Vary fields.
  if (record && !selectable(record.meta, { method: p.method, url: engine.settings.keyFn ? undefined : p.url, headers: p.headers })) {
    debug('%s %s: stored entry (%s %s) not selectable for this request', p.method, p.url, record.meta.method, record.meta.url)
    record = undefined
  }
  let action = decideRead({ entry: record?.meta, ...requestDirectives(p.headers), modes: p.modes, now: engine.now() })
  // RFC 9211 §2.2: the URI is stored, but no variant matches this request's Vary fields.
  if (varyMiss && action.action === 'fetch') action = { ...action, fwd: 'vary-miss', reason: 'no stored variant matches Vary' }
  if (debug.enabled) debug('%s %s: %s (%s)', p.method, p.url, action.action, action.reason)
  return { action, record }
}

async function read(engine: Engine, key: string, deadline: Deadline): Promise<CacheRecord | undefined> {
  // A read of this key the backend has not answered yet, well past its deadline: a miss at
  // once, rather than a second lockTimeout queued behind it (the fast hit path, then send()).
  if (engine.writer.isRemoving(key) || engine.stalledReads.has(key)) return undefined
  try {
    const work = engine.backend.get(key)
    const got = await deadline.within(work)
    if (got !== LATE) return got
    engine.stalledReads.add(key)
    void work.then(undefined, () => {}).finally(() => engine.stalledReads.delete(key))
    engine.report(new BackendError(`read of ${key} took over lockTimeout (${engine.settings.lockTimeout} s); a miss`))
    return undefined
  } catch (error) {
    if (!(error instanceof CorruptEntryError)) {
      engine.report(new BackendError(`read of ${key} failed`, error))
      return undefined
    }
    // A corrupt entry is a miss, removed and reported once (a second read may race the removal).
    if (engine.writer.removeCorrupt(key)) {
      debug('corrupt entry %s removed: %s', key, error.message)
      engine.report(error)
    }
    return undefined
  }
}

/**
 * Step 2: find the stored response a prepared request may be given (through the Vary marker)
 * and ask decideRead what to do with it. A backend fault is a miss: reported, never thrown; a
 * corrupt entry is removed. So is a read still unanswered at the request's deadline (a stalled
 * file system, a Redis server that does not answer): it never holds the request longer.
 */
import { decideRead, type ReadAction, requestDirectives } from '../rules/decide-read.js'
import { languageCandidates, selectableByLanguage } from '../rules/language.js'
import { selectable, type Wanted } from '../rules/vary.js'
import { isMarkerVariant } from '../backends/entry.js'
import { debug } from '../util/debug.js'
import { type Deadline, LATE } from '../util/deadline.js'
import { BackendError, CorruptEntryError } from '../util/errors.js'
import { type CacheRecord, type EntryMeta, NOT_NOW } from '../backends/contract.js'
import type { Engine } from './engine.js'
import type { Prepared } from './prepare/prepare.js'
import { variantKey } from './prepare/key.js'
import { extended } from '../util/objects.js'

export interface Lookup {
  action: ReadAction
  record: CacheRecord | undefined
}

/**
 * The lookup, synchronous when it can be: a backend that answers on the spot (contract.ts
 * BackendImmediate) and no Vary marker in the way give a hit its action without a promise or a
 * turn of the microtask queue; anything else is the same steps, awaited (lookupAfter).
 */
export function lookup(engine: Engine, p: Prepared, deadline: Deadline): Lookup | Promise<Lookup> {
  const first = readEntry(engine, p.key, deadline)
  if (first instanceof Promise || first?.meta.kind === 'vary') return lookupAfter(engine, p, first, deadline)
  return decided(engine, p, first && selectable(first.meta, wanted(engine, p)) ? first : notSelectable(p, first), false)
}

// RFC 9111 §4 and §4.1: same method and URL (a key collision must never serve another
// request's response; a key function decides what "same URL" means), matching Vary fields.
function wanted(engine: Engine, p: Prepared): Wanted {
  return { method: p.method, url: engine.settings.keyFn ? undefined : p.url, headers: p.headers }
}

async function lookupAfter(engine: Engine, p: Prepared, first: ReturnType<typeof readEntry>, deadline: Deadline): Promise<Lookup> {
  const want = wanted(engine, p)
  let record = await first
  let varyMiss = false
  if (record?.meta.kind === 'vary') {
    const marker = record.meta
    const exactKey = variantKey(p.key, marker.vary, p.headers)
    record = await readEntry(engine, exactKey, deadline)
    // As before selection by language: vary-miss only when no variant is stored at the exact key.
    const exactAbsent = record === undefined
    if (record && !selectable(record.meta, want)) record = notSelectable(p, record)
    record ??= await byLanguage(engine, marker, exactKey, want, deadline)
    varyMiss = exactAbsent && record === undefined
  } else if (record && !selectable(record.meta, want)) record = notSelectable(p, record)
  return decided(engine, p, record, varyMiss)
}

/** decideRead on what was found. */
function decided(engine: Engine, p: Prepared, record: CacheRecord | undefined, varyMiss: boolean): Lookup {
  const { cc, pragmaNoCache } = requestDirectives(p.headers)
  let action = decideRead({ entry: record?.meta, cc, pragmaNoCache, modes: p.modes, now: engine.now() })
  // RFC 9211 §2.2: the URI is stored, but no variant matches this request's Vary fields.
  if (varyMiss && action.action === 'fetch') action = extended(action, { fwd: 'vary-miss' as const, reason: 'no stored variant matches Vary' })
  if (debug.enabled) debug('%s %s: %s (%s)', p.method, p.url, action.action, action.reason)
  return { action, record }
}

function notSelectable(p: Prepared, record: CacheRecord | undefined): undefined {
  if (record) debug('%s %s: stored entry (%s %s) not selectable for this request', p.method, p.url, record.meta.method, record.meta.url)
  return undefined
}

/** How many listed variants one request reads at most looking for an acceptable language. */
const LANGUAGE_READS = 4

/**
 * No exact variant: one of the variants the marker lists whose Content-Language this request's
 * Accept-Language accepts (rules/language.ts), best first. The list only narrows the reads: each
 * record read must itself pass selectableByLanguage, so a listed variant since replaced or
 * removed is a miss, never a wrong answer. A marker without a list (written before it existed)
 * selects nothing here.
 */
async function byLanguage(engine: Engine, marker: EntryMeta, exactKey: string, wanted: Wanted, deadline: Deadline): Promise<CacheRecord | undefined> {
  if (!marker.vary.includes('accept-language') || !Array.isArray(marker.variants)) return undefined
  const keys = languageCandidates(marker.variants.filter(isMarkerVariant), wanted.headers).filter((k) => k !== exactKey)
  for (const key of keys.slice(0, LANGUAGE_READS)) {
    const record = await readEntry(engine, key, deadline)
    if (record && selectableByLanguage(record.meta, wanted)) {
      debug('%s %s: variant %s selected by Content-Language', wanted.method, wanted.url ?? '', key)
      return record
    }
  }
  return undefined
}

/**
 * One entry read on a request's path: bounded by its deadline, a fault or a late answer a miss
 * (reported), a corrupt entry removed and reported once. Parts are read through it too (parts.ts).
 * Answered on the spot when the backend can (BackendImmediate): a value in hand needs no bound.
 */
export function readEntry(engine: Engine, key: string, deadline: Deadline): CacheRecord | undefined | Promise<CacheRecord | undefined> {
  // A read of this key the backend has not answered yet, well past its deadline: a miss at
  // once, rather than a second lockTimeout queued behind it (the fast hit path, then send()).
  if (engine.writer.isRemoving(key) || engine.stalledReads.has(key)) return undefined
  const immediate = engine.backend.immediate
  if (immediate === undefined) return readLater(engine, key, deadline)
  try {
    const got = immediate.get(key)
    return got === NOT_NOW ? readLater(engine, key, deadline) : got
  } catch (error) {
    return readFailed(engine, key, error)
  }
}

/** The read through the backend's promise, bounded by the request's deadline. */
async function readLater(engine: Engine, key: string, deadline: Deadline): Promise<CacheRecord | undefined> {
  try {
    const work = engine.backend.get(key)
    const got = await deadline.within(work)
    if (got !== LATE) return got
    engine.stalledReads.add(key)
    void work.then(undefined, () => {}).finally(() => engine.stalledReads.delete(key))
    engine.report(new BackendError(`read of ${key} took over lockTimeout (${engine.settings.lockTimeout} s); a miss`))
    return undefined
  } catch (error) {
    return readFailed(engine, key, error)
  }
}

/** A failed read is a miss: a fault reported, a corrupt entry removed and reported once (a second read may race the removal). */
function readFailed(engine: Engine, key: string, error: unknown): undefined {
  if (!(error instanceof CorruptEntryError)) {
    engine.report(new BackendError(`read of ${key} failed`, error))
    return undefined
  }
  if (engine.writer.removeCorrupt(key)) {
    debug('corrupt entry %s removed: %s', key, error.message)
    engine.report(error)
  }
  return undefined
}

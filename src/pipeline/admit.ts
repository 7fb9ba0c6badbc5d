/**
 * A response obtained elsewhere (a HAR file), stored through the same rules as one that came
 * through the cache: prepare, decideWrite, maxEntrySize, the writer.
 */
import type { RequestInfoForKey } from '../config/types.js'
import { BackendError } from '../util/errors.js'
import type { Engine } from './engine.js'
import { prepare } from './prepare/prepare.js'
import type { Received } from './store.js'

/** Stores the response; resolves to undefined when stored, else the reason it was not. Throws when the write fails. */
export async function admit(engine: Engine, request: RequestInfoForKey, received: Received): Promise<string | undefined> {
  const p = prepare(engine, request, undefined)
  if ('bypass' in p) return p.reason
  const d = engine.decide(p, received.status, received.headers)
  if (d.action !== 'store') return d.reason
  if (received.body.byteLength > engine.settings.maxEntrySize) return 'body over maxEntrySize'
  // The writer reports a failed write to onError instead of throwing; an import must not
  // claim an entry it did not write.
  if (!(await engine.writer.store(p, received, d, false))) throw new BackendError(`write of ${request.url} failed`)
  return undefined
}

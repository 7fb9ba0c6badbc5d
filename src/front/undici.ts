/**
 * undici, loaded on first use. Importing it is most of a cold start (about 100 ms of 150 on
 * the benchmark machine), and a process whose first requests are hits answered by the fast
 * path of createCachedFetch never needs it. undici is CommonJS, so a synchronous require works,
 * and it returns the very module instance an `import 'undici'` elsewhere gets (one Dispatcher
 * class for `instanceof`).
 */
import { createRequire } from 'node:module'
import type * as Undici from 'undici'

let loaded: typeof Undici | undefined

export function undici(): typeof Undici {
  return (loaded ??= createRequire(import.meta.url)('undici') as typeof Undici)
}

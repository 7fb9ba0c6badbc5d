/** `fetchcache show URL|KEY`: one entry in full, and what the cache would do with it now. */
import type { Command } from 'commander'
import { parseCacheControl } from '../../rules/cache-control.js'
import type { Cache } from '../../inspect/cache.js'
import { currentAge, decideRead, remainingTtl, staleIfErrorAllows } from '../../rules/decide-read.js'
import type { EntryMeta } from '../../backends/contract.js'
import { assertNever } from '../../util/assert.js'
import { notFound } from '../errors.js'
import { bytes, duration, fields, iso, print, printJson, relative } from '../format.js'
import { globals } from '../options.js'
import { withStore } from '../store.js'
import { entryJson } from './ls.js'

export interface Verdict {
  action: 'serve' | 'serve-and-refresh' | 'revalidate' | 'fetch'
  reason: string
  /** One sentence for people: "would be served: fresh for 2m more". */
  text: string
}

function validatorText(meta: EntryMeta): string {
  const etag = meta.headers.etag
  if (etag !== undefined) return `has ETag ${Array.isArray(etag) ? etag.join(', ') : etag}`
  const lm = meta.headers['last-modified']
  if (lm !== undefined) return `has Last-Modified ${Array.isArray(lm) ? lm.join(', ') : lm}`
  return 'no validator'
}

/**
 * What a plain request (no Cache-Control of its own, no per-request options) would get now:
 * decideRead, the function the engine itself asks, on this entry.
 */
export function verdict(meta: EntryMeta, now: number): Verdict {
  const action = decideRead({ entry: meta, cc: parseCacheControl(undefined), pragmaNoCache: false, modes: {}, now })
  const ttl = remainingTtl(meta, now)
  switch (action.action) {
    case 'serve':
      return { action: 'serve', reason: action.reason, text: ttl === Infinity ? 'would be served: fresh, never expires' : `would be served: fresh for ${duration(ttl)} more` }
    case 'serve-and-refresh':
      return { action: 'serve-and-refresh', reason: action.reason, text: `would be served stale and refreshed in the background: ${action.reason}` }
    case 'revalidate':
      return { action: 'revalidate', reason: action.reason, text: `would be revalidated: ${action.reason}; ${validatorText(meta)}` }
    case 'fetch':
      return { action: 'fetch', reason: action.reason, text: `would not be served: ${action.reason}; fetched again` }
    case 'gateway-timeout':
      // Only a request with only-if-cached gets this; a plain one never does.
      return { action: 'fetch', reason: action.reason, text: `would not be served: ${action.reason}` }
    default:
      return assertNever(action)
  }
}

/** What staleIfErrorAllows (RFC 5861 §4) says now, with its window for a person to read. */
function staleIfError(meta: EntryMeta, now: number): string {
  const until = meta.staleIfErrorUntil
  if (staleIfErrorAllows(meta, now)) return until === null ? 'yes, with no limit' : `until ${iso(until)} (${relative(until, now)})`
  return until === null || until === 0 || meta.mustRevalidate ? 'no' : `no (window ended ${relative(until, now)})`
}

function freshness(meta: EntryMeta, now: number): string {
  const ttl = remainingTtl(meta, now)
  if (ttl === Infinity) return 'fresh, never expires'
  return ttl > 0 ? `fresh for ${duration(ttl)} more` : `stale for ${duration(-ttl)}`
}

/** The entries ARG names: a key (a Vary marker's key names its variants), else a URL. */
async function find(cache: Cache, arg: string): Promise<EntryMeta[]> {
  const record = await cache.getEntry(arg).catch(() => undefined)
  if (record?.meta.kind === 'response') return [record.meta]
  const out: EntryMeta[] = []
  const urls = record ? [record.meta.url] : [arg]
  for await (const meta of cache.entries({ urls })) {
    if (!record || meta.method === record.meta.method) out.push(meta)
  }
  return out.sort((a, b) => (a.method < b.method ? -1 : a.method > b.method ? 1 : a.createdAt - b.createdAt))
}

function headerLines(map: Readonly<Record<string, string | string[]>>): string {
  const lines = Object.entries(map).flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((v) => `  ${name}: ${v}`))
  return lines.length > 0 ? lines.join('\n') : '  (none)'
}

function human(meta: EntryMeta, now: number): string {
  const v = verdict(meta, now)
  const pairs: Array<[string, string]> = [
    ['key', meta.key],
    ['status', `${meta.status} ${meta.statusText}`.trim()],
    ['stored', `${iso(meta.createdAt)} (${relative(meta.createdAt, now)})`],
    ['age', duration(currentAge(meta, now))],
    ['expires', meta.expiresAt === null ? 'never' : `${iso(meta.expiresAt)} (${relative(meta.expiresAt, now)})`],
    ['freshness', freshness(meta, now)],
    ['size', bytes(meta.size)],
  ]
  if (meta.vary.length > 0) pairs.push(['vary', meta.vary.map((n) => `${n}: ${meta.requestHeaders[n] ?? '(absent)'}`).join('; ')])
  if (meta.mustRevalidate) pairs.push(['must-revalidate', 'yes: never served stale'])
  pairs.push(['stale-if-error', staleIfError(meta, now)])
  pairs.push(['now', v.text])
  return [`${meta.method} ${meta.url}`, fields(pairs), '', 'request headers', headerLines(meta.requestHeaders), '', 'response headers', headerLines(meta.headers)].join('\n')
}

export function register(program: Command): void {
  program
    .command('show')
    .summary('show one stored entry in full')
    .description('Show a stored entry in full: headers, expiry, freshness, and whether a plain request would be served from it now (and why). A URL shows every stored variant and method; a key shows that entry. Exits 1 when nothing is stored.')
    .argument('<url-or-key>', 'the URL (as stored: query sorted, no fragment) or the entry key')
    .addHelpText('after', `
Examples:
  fetchcache show https://api.example.com/users/1
  fetchcache show 3b1f0c2a9d8e7f6a5b4c3d2e1f0a9b8c --json`)
    .action(async (arg: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd)
      await withStore(g, async ({ cache }) => {
        const now = cache.now()
        const list = await find(cache, arg)
        if (list.length === 0) throw notFound(`nothing stored for ${arg}`)
        if (g.json) {
          return printJson(
            list.map((m) => ({
              ...entryJson(m, now),
              statusText: m.statusText,
              age: currentAge(m, now),
              ttl: remainingTtl(m, now) === Infinity ? null : remainingTtl(m, now),
              vary: m.vary,
              mustRevalidate: m.mustRevalidate,
              // ISO time; null: no limit; false: never served stale on error.
              staleIfErrorUntil: m.mustRevalidate || m.staleIfErrorUntil === 0 ? false : iso(m.staleIfErrorUntil),
              requestHeaders: m.requestHeaders,
              headers: m.headers,
              verdict: verdict(m, now),
            })),
          )
        }
        print(list.map((m) => human(m, now)).join('\n\n'))
      })
    })
}

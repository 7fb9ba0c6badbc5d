/**
 * Selection by language under `Vary: Accept-Language` (RFC 9111 §4.1: a cache MAY select among
 * stored responses "using the selection rules of the content negotiation mechanism"). When no
 * stored variant has this request's exact Accept-Language, one whose Content-Language the
 * request accepts may be given instead:
 * - the candidates are only those its Vary marker lists (EntryMeta.variants), reached through
 *   the primary key, which separates users (credentials digests, pipeline/prepare/key.ts);
 * - every other field the variant's Vary names must match exactly, method and URL too;
 * - its Content-Language must have a quality above 0 in the request's Accept-Language (RFC 9110
 *   §12.5.4, RFC 4647 §3.3.1 basic filtering); a response without one is never selected so;
 * - the best quality wins, then the most recent.
 * An Accept-Language or Content-Language that does not parse selects nothing (a miss).
 */
import { headerValue } from './cache-control.js'
import { storedValue } from './credentials.js'
import { normalizeFieldValue, varyMatches, type Wanted } from './vary.js'
import type { EntryMeta, MarkerVariant } from '../backends/contract.js'

/** RFC 4647 §2.1 basic language-range, lower-cased: `*` or alpha{1,8} *("-" alphanum{1,8}). */
const RANGE = /^(\*|[a-z]{1,8}(-[a-z0-9]{1,8})*)$/
/** A language tag as basic filtering reads it (RFC 5646 tags are of this shape), lower-cased. */
const TAG = /^[a-z]{1,8}(-[a-z0-9]{1,8})*$/
/** RFC 9110 §12.4.2 qvalue. */
const QVALUE = /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/

const AL = 'accept-language'

export interface LanguageRange {
  range: string
  q: number
}

/**
 * An Accept-Language value as ranges with their weights (RFC 9110 §12.5.4, §12.4.2); undefined
 * when any member does not parse: a value the cache cannot read exactly selects nothing, since
 * skipping a member (`*, en;q=bad`) could accept what the client meant to refuse.
 */
export function parseAcceptLanguage(value: string): LanguageRange[] | undefined {
  const out: LanguageRange[] = []
  for (const member of value.split(',')) {
    if (member.trim() === '') continue
    const [rangePart, ...params] = member.split(';')
    const range = rangePart!.trim().toLowerCase()
    if (!RANGE.test(range)) return undefined
    let q = 1
    for (const param of params) {
      const m = /^\s*q\s*=\s*([^\s]*)\s*$/i.exec(param)
      if (m === null || !QVALUE.test(m[1]!)) return undefined
      q = Number(m[1])
    }
    out.push({ range, q })
  }
  return out
}

/** A Content-Language value (RFC 9110 §8.5, `#language-tag`) as sorted lower-case tags; undefined when absent, empty or malformed. */
export function contentLanguageTags(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined
  const tags = value.split(',').map((t) => t.trim().toLowerCase()).filter((t) => t !== '')
  if (tags.length === 0 || !tags.every((t) => TAG.test(t))) return undefined
  return [...new Set(tags)].sort()
}

/** RFC 4647 §3.3.1: a range matches a tag equal to it or starting with it followed by "-"; `*` matches any. */
export function rangeMatches(range: string, tag: string): boolean {
  return range === '*' || tag === range || tag.startsWith(range + '-')
}

/** Among ranges matching one tag, a longer one is more specific; `*` least. */
function specificity(range: string): number {
  return range === '*' ? 0 : range.length
}

/**
 * How much the request wants content in these languages: for each tag, the weight of the
 * longest range that matches it (the rule RFC 2616 §14.4 spelled out: `en;q=0.5, en-gb;q=0`
 * refuses en-GB; `*` counts least), and for content meant for several audiences (§8.5: more
 * than one tag) the best of its tags. 0: not acceptable (a range with q=0, or none matches).
 *
 * A tag matched only by `*` counts 0 here too: a wildcard says any language will do, not which
 * one the origin would send. Node's fetch sends `Accept-Language: *` when the caller sets none,
 * so taking it would hand a plain fetch whatever language another caller asked for. Only a
 * language the request names selects: the conservative reading of RFC 9111 §4.1's "MAY".
 */
export function languageQuality(tags: readonly string[], ranges: readonly LanguageRange[]): number {
  let best = 0
  for (const tag of tags) {
    let match: LanguageRange | undefined
    for (const r of ranges) {
      if (!rangeMatches(r.range, tag)) continue
      const d = specificity(r.range) - (match === undefined ? -1 : specificity(match.range))
      // The same range listed twice: the lower weight, so a refusal is never overridden.
      if (d > 0 || (d === 0 && r.q < match!.q)) match = r
    }
    if (match !== undefined && match.range !== '*') best = Math.max(best, match.q)
  }
  return best
}

/**
 * The marker entry for a stored response (EntryMeta.variants), or undefined when it could not
 * be selected by language: its Vary does not name Accept-Language, names `*`, or it has no
 * readable Content-Language.
 */
export function markerVariant(meta: EntryMeta): MarkerVariant | undefined {
  if (!meta.vary.includes(AL) || meta.vary.includes('*')) return undefined
  const tags = contentLanguageTags(headerValue(meta.headers, 'content-language'))
  if (tags === undefined) return undefined
  const fields: Record<string, string | null> = {}
  // requestHeaders already keeps credentials as digests (credentials.ts storedRequestHeaders).
  for (const name of meta.vary) if (name !== AL) fields[name] = normalizeFieldValue(name, meta.requestHeaders[name]) ?? null
  return { key: meta.key, language: tags.join(', '), fields }
}

/**
 * The keys of the listed variants this request may be given by language, best first: the
 * other recorded fields equal the request's, the recorded language has a quality above 0; by
 * quality, then most recent (the list is newest first). A pre-filter only: the record read
 * must still pass selectableByLanguage, as it may have been replaced since it was listed.
 */
export function languageCandidates(variants: readonly MarkerVariant[], headers: Readonly<Record<string, string>>): string[] {
  const accept = headers[AL]
  const ranges = accept === undefined ? undefined : parseAcceptLanguage(accept)
  if (ranges === undefined) return []
  const scored: Array<{ key: string; q: number }> = []
  for (const v of variants) {
    const sameFields = Object.entries(v.fields).every(([name, value]) => (normalizeFieldValue(name, storedValue(name, headers[name])) ?? null) === value)
    if (!sameFields) continue
    const q = languageQuality(v.language.split(', '), ranges)
    if (q > 0) scored.push({ key: v.key, q })
  }
  // Array.prototype.sort is stable: equal qualities keep the list's newest-first order.
  return scored.sort((a, b) => b.q - a.q).map((s) => s.key)
}

/**
 * selectable() with Accept-Language relaxed, and only it: the stored response must be for the
 * same method and URL (§4), its Vary must name Accept-Language and not `*`, every other field
 * its Vary names must match exactly (§4.1, credentials compared as digests), and its
 * Content-Language must be acceptable (quality above 0) to the request's Accept-Language.
 */
export function selectableByLanguage(meta: EntryMeta, wanted: Wanted): boolean {
  if (meta.kind !== 'response' || meta.method !== wanted.method) return false
  if (wanted.url !== undefined && meta.url !== wanted.url) return false
  if (!meta.vary.includes(AL) || meta.vary.includes('*')) return false
  if (!varyMatches(meta.vary.filter((name) => name !== AL), meta.requestHeaders, wanted.headers, storedValue)) return false
  const accept = wanted.headers[AL]
  const ranges = accept === undefined ? undefined : parseAcceptLanguage(accept)
  const tags = contentLanguageTags(headerValue(meta.headers, 'content-language'))
  return ranges !== undefined && tags !== undefined && languageQuality(tags, ranges) > 0
}

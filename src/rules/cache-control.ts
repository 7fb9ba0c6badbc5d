/**
 * Cache-Control directives (RFC 9111 §5.2). http-cache-semantics parses these internally but
 * does not export its parser; the read side needs the request's directives on every lookup.
 */
import { Memo } from '../util/memo.js'
export type Directives = ReadonlyMap<string, string | true>

const EMPTY: Directives = new Map()

/**
 * Parsed values, by text: a miss parses its response's Cache-Control three times or more
 * (storability, freshness, stale windows) and most responses of a site send the same few
 * values. Only short values are kept, so a hostile one cannot make the memo large.
 */
const parsed = new Memo<string, Directives>(512)
const MEMO_MAX_LENGTH = 256

export function parseCacheControl(value: string | readonly string[] | undefined): Directives {
  if (value === undefined || value.length === 0) return EMPTY
  const text = typeof value === 'string' ? value : value.join(',')
  if (text.length > MEMO_MAX_LENGTH) return parse(text)
  return parsed.through(text, () => parse(text))
}

function parse(text: string): Directives {
  const out = new Map<string, string | true>()
  for (const part of text.split(',')) {
    const eq = part.indexOf('=')
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase()
    if (name === '') continue
    // §5.2: "a recipient SHOULD use the first occurrence" when a directive repeats.
    if (out.has(name)) continue
    out.set(name, eq === -1 ? true : part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'))
  }
  return out
}

/** RFC 9111 §1.2.2: a delta-seconds too large to represent is taken as 2^31. */
const MAX_DELTA = 2147483648

/**
 * Seconds of a delta-seconds directive (RFC 9111 §1.2.2: `1*DIGIT`), undefined when absent or
 * invalid: `60s`, `-1`, `1.5`, `1e3` and an empty value are not delta-seconds.
 */
export function seconds(directives: Directives, name: string): number | undefined {
  const v = directives.get(name)
  if (v === undefined || v === true || !/^\d+$/.test(v)) return undefined
  return Math.min(Number(v), MAX_DELTA)
}

export function headerValue(headers: Readonly<Record<string, string | string[]>>, name: string): string | undefined {
  const v = headers[name]
  return Array.isArray(v) ? v.join(', ') : v
}

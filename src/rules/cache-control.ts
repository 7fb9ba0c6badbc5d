/**
 * Cache-Control directives (RFC 9111 §5.2). http-cache-semantics parses these internally but
 * does not export its parser; the read side needs the request's directives on every lookup.
 */
export type Directives = ReadonlyMap<string, string | true>

const EMPTY: Directives = new Map()

export function parseCacheControl(value: string | readonly string[] | undefined): Directives {
  if (value === undefined || value.length === 0) return EMPTY
  const out = new Map<string, string | true>()
  const text = typeof value === 'string' ? value : value.join(',')
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

/** Seconds of a delta-seconds directive, undefined when absent or invalid (§1.2.2). */
export function seconds(directives: Directives, name: string): number | undefined {
  const v = directives.get(name)
  if (v === undefined || v === true) return undefined
  const n = Number.parseInt(v, 10)
  return Number.isNaN(n) || n < 0 ? undefined : n
}

export function headerValue(headers: Readonly<Record<string, string | string[]>>, name: string): string | undefined {
  const v = headers[name]
  return Array.isArray(v) ? v.join(', ') : v
}

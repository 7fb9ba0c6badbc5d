/**
 * The Cache-Status response header (RFC 9211), so cache behaviour is visible with no library
 * call: `fetchcache; hit; ttl=120; key="…"`, `fetchcache; fwd=uri-miss; stored`,
 * `fetchcache; fwd=stale; fwd-status=304`.
 */
export const CACHE_NAME = 'fetchcache'

export type Forward = 'bypass' | 'method' | 'uri-miss' | 'vary-miss' | 'miss' | 'request' | 'stale'

/** Members left out are not written; `undefined` is allowed so callers need no conditional spread (a slow literal in V8, util/objects.ts). */
export interface StatusParts {
  hit?: boolean | undefined
  fwd?: Forward | undefined
  fwdStatus?: number | undefined
  stored?: boolean | undefined
  collapsed?: boolean | undefined
  ttl?: number | undefined
  key?: string | undefined
  detail?: string | undefined
}

export function formatCacheStatus(p: StatusParts): string {
  let out = CACHE_NAME
  // RFC 9211 §2.1 hit, §2.2 fwd, §2.3 fwd-status, §2.4 ttl (may be negative), §2.5 stored,
  // §2.6 collapsed, §2.7 key, §2.8 detail.
  if (p.hit) out += '; hit'
  if (p.fwd !== undefined) out += `; fwd=${p.fwd}`
  if (p.fwdStatus !== undefined) out += `; fwd-status=${p.fwdStatus}`
  if (p.ttl !== undefined && Number.isFinite(p.ttl)) out += `; ttl=${Math.round(p.ttl)}`
  if (p.stored) out += '; stored'
  if (p.collapsed) out += '; collapsed'
  if (p.key !== undefined) out += `; key="${p.key}"`
  if (p.detail !== undefined) out += `; detail="${p.detail.replace(/["\\]/g, '')}"`
  return out
}

/** Split on `sep` outside double-quoted strings (RFC 8941 sf-string may hold ',' and ';'). */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const parts: string[] = []
  let current = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quoted && ch === '\\') {
      current += ch + (text[i + 1] ?? '')
      i++
      continue
    }
    if (ch === '"') quoted = !quoted
    if (ch === sep && !quoted) {
      parts.push(current)
      current = ''
    } else current += ch
  }
  parts.push(current)
  return parts
}

/** Parse our own member of a Cache-Status field (the last `fetchcache` entry wins). */
export function parseCacheStatus(value: string | null | undefined): StatusParts | undefined {
  if (!value) return undefined
  const members = splitOutsideQuotes(value, ',')
  const mine = members.map((m) => m.trim()).filter((m) => m === CACHE_NAME || m.startsWith(`${CACHE_NAME};`)).pop()
  if (mine === undefined) return undefined
  const out: StatusParts = {}
  for (const param of splitOutsideQuotes(mine, ';').slice(1)) {
    const eq = param.indexOf('=')
    const name = (eq === -1 ? param : param.slice(0, eq)).trim()
    const raw = eq === -1 ? '' : param.slice(eq + 1).trim()
    const val = raw.replace(/^"(.*)"$/s, '$1').replace(/\\(.)/g, '$1')
    if (name === 'hit') out.hit = true
    else if (name === 'stored') out.stored = true
    else if (name === 'collapsed') out.collapsed = true
    else if (name === 'fwd') out.fwd = val as StatusParts['fwd'] & string
    else if (name === 'fwd-status') out.fwdStatus = Number(val)
    else if (name === 'ttl') out.ttl = Number(val)
    else if (name === 'key') out.key = val
    else if (name === 'detail') out.detail = val
  }
  return out
}

/** RFC 9211 §2: each cache appends its member to the Cache-Status field, after those before it. */
export function appendCacheStatus(existing: string | string[] | undefined, ours: string): string {
  const prior = Array.isArray(existing) ? existing.join(', ') : existing
  return prior ? `${prior}, ${ours}` : ours
}

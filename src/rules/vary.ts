/**
 * Vary matching (RFC 9111 §4.1): a stored response is selected only when every field its Vary
 * names has the same value in the new request as in the one that got it stored, absent
 * included. `*`, and any name that is not a field name (an entry written before malformed Vary
 * values were read as `*`), match nothing.
 *
 * §4.1 lets a cache compare values after "combining multiple field lines and normalizing
 * whitespace per field definition". Normalised here (normalizeFieldValue):
 * - every field: list members split on commas outside quoted strings, whitespace around them
 *   dropped, empty members dropped (RFC 9110 §5.6.1), so `Foo: 1, 2`, `Foo:  1 ,2` and two
 *   lines `1` and `2` (joined with ", " when read) compare equal;
 * - Accept-Language also ignores case (language tags are case-insensitive, RFC 5646 §2.1.1) and
 *   member order (a client's list order is not a preference: q-values are, RFC 9110 §12.5.4),
 *   with whitespace around `;q=` dropped.
 * Nothing else: other fields' values are compared as sent (case can matter in them).
 */
/** RFC 9110 §5.6.2 token (lower-cased): what a field name is made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/

export function isFieldName(name: string): boolean {
  return TOKEN.test(name)
}

export function varyMatches(vary: readonly string[], stored: Readonly<Record<string, string>>, request: Readonly<Record<string, string>>): boolean {
  for (const name of vary) {
    if (name === '*' || !isFieldName(name)) return false
    if (normalizeFieldValue(name, stored[name]) !== normalizeFieldValue(name, request[name])) return false
  }
  return true
}

/** Split a field value on commas outside double-quoted strings. */
function members(value: string): string[] {
  const out: string[] = []
  let current = ''
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!
    if (quoted && ch === '\\') {
      current += ch + (value[i + 1] ?? '')
      i++
      continue
    }
    if (ch === '"') quoted = !quoted
    if (ch === ',' && !quoted) {
      out.push(current)
      current = ''
    } else current += ch
  }
  out.push(current)
  return out.map((m) => m.trim()).filter((m) => m !== '')
}

/** A request field's value as Vary compares it (see above); undefined stays undefined. */
export function normalizeFieldValue(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const list = members(value)
  if (name === 'accept-language') return list.map((m) => m.toLowerCase().replace(/\s*;\s*/g, ';')).sort().join(', ')
  return list.join(', ')
}

/**
 * Vary matching (RFC 9111 §4.1): a stored response is selected only when every field its Vary
 * names has the same value in the new request as in the one that got it stored, absent
 * included. `*`, and any name that is not a field name (an entry written before malformed Vary
 * values were read as `*`), match nothing.
 */
/** RFC 9110 §5.6.2 token (lower-cased): what a field name is made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/

export function isFieldName(name: string): boolean {
  return TOKEN.test(name)
}

export function varyMatches(vary: readonly string[], stored: Readonly<Record<string, string>>, request: Readonly<Record<string, string>>): boolean {
  for (const name of vary) {
    if (name === '*' || !isFieldName(name)) return false
    if (stored[name] !== request[name]) return false
  }
  return true
}

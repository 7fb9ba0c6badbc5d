/**
 * URL patterns as requests-cache reads them: a glob is matched against the URL without its
 * scheme, as a prefix (`'api.example.com/v1'` covers everything below it), `*` matches any
 * run of characters and `?` one; a RegExp is searched in the full URL.
 */
export function compilePattern(pattern: string | RegExp): RegExp {
  if (pattern instanceof RegExp) return pattern
  const body = pattern.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\*+$/, '')
  let source = ''
  for (const ch of body) {
    if (ch === '*') source += '.*'
    else if (ch === '?') source += '.'
    else source += ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&')
  }
  return new RegExp(`^(?:[a-z][a-z0-9+.-]*://)?${source}`, 'i')
}

export function matchesPattern(url: string, compiled: RegExp): boolean {
  compiled.lastIndex = 0
  return compiled.test(url)
}

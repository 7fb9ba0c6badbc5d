import { ConfigError, show } from './errors.js'

/**
 * URL patterns as requests-cache reads them (fnmatch): a glob is matched against the URL
 * without its scheme, as a prefix (`'api.example.com/v1'` covers everything below it), `*`
 * matches any run of characters, `?` one, `[seq]` one of seq and `[!seq]` one not in it; a
 * RegExp is searched in the full URL. A glob that could never match (an unclosed `[`) is a
 * ConfigError naming `option`, not a rule that silently never applies.
 */
export function compilePattern(pattern: string | RegExp, option = 'pattern'): RegExp {
  if (pattern instanceof RegExp) return pattern
  const body = pattern.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\*+$/, '')
  let source = ''
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!
    if (ch === '*') source += '.*'
    else if (ch === '?') source += '.'
    else if (ch === '[') {
      // fnmatch: ']' right after '[' or '[!' is a member, not the end.
      const start = body[i + 1] === '!' ? i + 2 : i + 1
      const end = body.indexOf(']', start + 1)
      if (end === -1) throw new ConfigError(`${option}: the glob ${show(pattern)} has a '[' without its ']', so it would match nothing (write [[] for a literal '[')`)
      const negate = start === i + 2
      const members = body.slice(start, end).replace(/[\\\]^]/g, '\\$&')
      source += `[${negate ? '^' : ''}${members}]`
      i = end
    } else source += ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&')
  }
  return new RegExp(`^(?:[a-z][a-z0-9+.-]*://)?${source}`, 'i')
}

export function matchesPattern(url: string, compiled: RegExp): boolean {
  compiled.lastIndex = 0
  return compiled.test(url)
}

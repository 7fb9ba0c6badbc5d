/**
 * What may be written about a request in a log line or an error message: never a value the user
 * asked us to ignore (`ignoredParameters`: API keys, tokens, passwords in the query string).
 */

/** The URL with the value of every ignored query parameter replaced by `REDACTED`. */
export function redactUrl(url: string, ignored: ReadonlySet<string>): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    // Not parseable, so not checkable: say nothing of it rather than risk a secret.
    return '(unparseable URL)'
  }
  if (ignored.size === 0 || u.search === '') return u.href
  let changed = false
  for (const name of new Set(u.searchParams.keys())) {
    if (ignored.has(name)) {
      u.searchParams.set(name, 'REDACTED')
      changed = true
    }
  }
  return changed ? u.href : url
}

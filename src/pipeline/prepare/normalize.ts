/**
 * Request normalisation for keys: two requests that mean the same thing get the same key,
 * and parameters the user chose to ignore never reach the key or the store.
 */

/** URL with sorted query, no fragment, default port dropped (WHATWG URL does that), ignored parameters removed. */
export function normalizeUrl(url: string, ignored: ReadonlySet<string>): string {
  const u = new URL(url)
  u.hash = ''
  if (u.search !== '') {
    const params = [...u.searchParams].filter(([name]) => !ignored.has(name))
    params.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    u.search = new URLSearchParams(params).toString()
  }
  return u.href
}

function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(value).sort()) out[k] = sortDeep((value as Record<string, unknown>)[k])
    return out
  }
  return value
}

/**
 * The body as it counts for the key: JSON with sorted keys and form fields sorted, with ignored
 * top-level fields removed; anything else byte for byte.
 */
export function normalizeBody(body: Uint8Array, contentType: string | undefined, ignored: ReadonlySet<string>): Uint8Array | string {
  const type = (contentType ?? '').toLowerCase()
  const text = () => Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')
  if (type.includes('json')) {
    try {
      const parsed: unknown = JSON.parse(text())
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
        for (const name of ignored) delete (parsed as Record<string, unknown>)[name]
      }
      return JSON.stringify(sortDeep(parsed))
    } catch {
      return body
    }
  }
  if (type.includes('application/x-www-form-urlencoded')) {
    const params = [...new URLSearchParams(text())].filter(([name]) => !ignored.has(name))
    params.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    return new URLSearchParams(params).toString()
  }
  return body
}

/** Copy of request headers without the ignored ones: what the store may keep. */
export function redactHeaders(headers: Readonly<Record<string, string>>, ignored: ReadonlySet<string>): Record<string, string> {
  if (ignored.size === 0) return { ...headers }
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) if (!ignored.has(name)) out[name] = value
  return out
}

/** `fetchcache get URL`: a curl-like fetch through the cache. */
import type { Command } from 'commander'
import { parseCacheStatus } from '../../rules/cache-status.js'
import { cacheInfo } from '../../inspect/info.js'
import { CliError, EXIT, notFound, usage } from '../errors.js'
import { print, printJson } from '../format.js'
import { collect, globals } from '../options.js'
import { withStore } from '../store.js'
import type { CachedFetch } from '../../front/fetch.js'
import { cacheStatusColor, out } from '../style.js'

interface GetOptions {
  body?: boolean
  headers?: boolean
  offline?: boolean
  refresh?: boolean
  forceRefresh?: boolean
  method: string
  header: string[]
}

function requestHeaders(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const h of list) {
    const colon = h.indexOf(':')
    if (colon <= 0) throw usage(`--header: expected 'Name: value'; got '${h}'`)
    out[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim()
  }
  return out
}

function bodyText(body: Uint8Array): { body: string } | { bodyBase64: string } {
  const buf = Buffer.from(body)
  const text = buf.toString('utf8')
  return Buffer.from(text, 'utf8').equals(buf) ? { body: text } : { bodyBase64: buf.toString('base64') }
}

export function register(program: Command): void {
  program
    .command('get')
    .summary('fetch a URL through the cache')
    .description('Fetch a URL through the cache, as the library would (a hit, a revalidation or a miss that is stored), and print the status and Cache-Status. Exits 0 for any HTTP response.')
    .argument('<url>', 'absolute http(s) URL')
    .option('--body', 'print the response body after the status lines')
    .option('-i, --headers', 'print every response header, not only Cache-Status')
    .option('--offline', 'never contact the origin; exit 1 when the URL is not stored (onlyIfCached)')
    .option('--refresh', 'revalidate a stored response with the origin now (refresh)')
    .option('--force-refresh', 'skip the stored response, fetch and store a new one (forceRefresh)')
    .option('-X, --method <method>', 'GET or HEAD', 'GET')
    .option('-H, --header <header>', "request header 'Name: value' (repeatable)", collect, [])
    .addHelpText('after', `
Examples:
  fetchcache get https://api.example.com/users/1
  fetchcache get https://api.example.com/users/1 --offline --body
  fetchcache get https://api.example.com/users/1 --refresh --json`)
    .action(get)
}

async function get(url: string, o: GetOptions, command: Command): Promise<void> {
  const g = globals(command)
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw usage(`not an absolute URL: ${url}`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw usage(`not an http(s) URL: ${url}`)
  const method = o.method.toUpperCase()
  if (method !== 'GET' && method !== 'HEAD') throw usage(`--method: expected GET or HEAD; got '${o.method}'`)
  const headers = requestHeaders(o.header)
  // Loaded here: undici is most of the start-up time, and only `get` needs it.
  const { createCachedFetch } = await import('../../front/fetch.js')
  // `get` stores what it fetches, so like `import` it starts a cache that is not there yet; the
  // fetch is the library's own cached fetch on the same store, closed before the store is.
  return withStore(g, async ({ options }) => {
    const cachedFetch = createCachedFetch(options)
    try {
      await fetchAndPrint(cachedFetch, parsed, method, headers, o, g.json === true)
    } finally {
      await cachedFetch.cache.close()
    }
  }, true)
}

async function fetchAndPrint(cachedFetch: CachedFetch, parsed: URL, method: string, headers: Record<string, string>, o: GetOptions, json: boolean): Promise<void> {
  let res: Response
  try {
    res = await cachedFetch(parsed.href, {
      method,
      headers,
      ...(o.offline ? { onlyIfCached: true } : {}),
      ...(o.refresh ? { refresh: true } : {}),
      ...(o.forceRefresh ? { forceRefresh: true } : {}),
    })
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause
    const why = cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error)
    throw new CliError(`${method} ${parsed.href}: ${why}`, EXIT.FAILED)
  }
  const body = new Uint8Array(await res.arrayBuffer())
  const cacheStatus = res.headers.get('cache-status')
  const status = parseCacheStatus(cacheStatus)
  if (res.status === 504 && status?.detail?.startsWith('only-if-cached')) {
    throw notFound(`not in the cache: ${method} ${parsed.href} (--offline)`)
  }
  if (json) {
    printJson({
      url: parsed.href,
      method,
      status: res.status,
      statusText: res.statusText,
      cacheStatus,
      fromCache: cacheInfo(res)?.fromCache ?? false,
      headers: Object.fromEntries(res.headers),
      ...(o.body ? bodyText(body) : {}),
    })
    return
  }
  const statusLine = `${res.status} ${res.statusText}`.trim()
  const lines = [res.status >= 400 ? out.red(statusLine) : statusLine]
  if (o.headers) for (const [name, value] of res.headers) lines.push(`${name}: ${name === 'cache-status' ? cacheStatusColor(value) : value}`)
  else lines.push(`cache-status: ${cacheStatus === null ? '(none)' : cacheStatusColor(cacheStatus)}`)
  print(lines.join('\n'))
  if (o.body) {
    process.stdout.write('\n')
    process.stdout.write(body)
    if (body.byteLength > 0 && body[body.byteLength - 1] !== 0x0a && process.stdout.isTTY) process.stdout.write('\n')
  }
}

/** Read what the cache needs from undici dispatch options: method, URL, headers, body. */
import { stringify } from 'node:querystring'
import type { Dispatcher } from 'undici'
import { Memo } from '../../util/memo.js'

/**
 * The URL undici will request: origin (the dispatcher's own when given: a Client or Pool sends
 * to its origin whatever the options say), path, and the `query` option serialised as undici
 * serialises it (node:querystring), so that `{ query: { i: 1 } }` and `/?i=1` key alike.
 */
export function dispatchUrl(opts: Dispatcher.DispatchOptions, dispatcherOrigin?: string): string {
  const origin = dispatcherOrigin ?? opts.origin
  let path = opts.path
  if (opts.query) {
    const query = stringify(opts.query as Parameters<typeof stringify>[0])
    if (query !== '') path += (path.includes('?') ? '&' : '?') + query
  }
  // The common case needs no URL parse: an origin string and an absolute path. Keys normalise
  // the URL anyway (once per URL, memoised).
  if (typeof origin === 'string' && path.startsWith('/') && !origin.endsWith('/')) return origin + path
  return new URL(path, origin as string | URL).href
}

/** usableOrigin by origin string: a dispatcher sends to few origins, and each parse is a URL object per request. */
const origins = new Memo<string, string | undefined>(256)

/** The dispatch options' origin when it is an absolute http(s) URL; undefined otherwise. */
export function usableOrigin(origin: Dispatcher.DispatchOptions['origin']): string | undefined {
  if (origin === undefined || origin === null) return undefined
  const text = String(origin)
  return origins.through(text, () => parseOrigin(text))
}

function parseOrigin(text: string): string | undefined {
  try {
    const u = new URL(text)
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : undefined
  } catch {
    return undefined
  }
}

/** Lower-case header names, repeated values joined as one field value (RFC 9110 §5.3). */
export function headerRecord(headers: Dispatcher.DispatchOptions['headers'] | Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {}
  const add = (name: unknown, value: unknown) => {
    if (value === undefined || value === null) return
    const key = String(name).toLowerCase()
    const v = Array.isArray(value) ? value.map(String).join(', ') : String(value)
    out[key] = key in out ? `${out[key]}, ${v}` : v
  }
  if (headers == null) return out
  if (Array.isArray(headers) && headers.length > 0 && Array.isArray(headers[0])) {
    // HeadersInit's pair form: [[name, value], ...] (also what spreading a Headers gives).
    for (const pair of headers as unknown as Array<[unknown, unknown]>) add(pair[0], pair[1])
  } else if (Array.isArray(headers)) {
    // undici's flat form: [name, value, name, value, ...]
    for (let i = 0; i + 1 < headers.length; i += 2) add(headers[i], headers[i + 1])
  } else if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const pair of headers as Iterable<[string, string]>) add(pair[0], pair[1])
  } else {
    for (const [name, value] of Object.entries(headers)) add(name, value)
  }
  return out
}

export type BodyRead = { ok: true; body: Uint8Array | undefined } | { ok: false }

const NO_BODY: BodyRead = { ok: true, body: undefined }

/**
 * The request body as bytes, for the key. Streams and iterables are read whole (the caller
 * then forwards the bytes). A body we cannot replay byte for byte (FormData) is not keyed.
 * Bytes in hand (or none) are answered at once: a GET then waits for no promise here.
 */
export function readBody(body: unknown): BodyRead | Promise<BodyRead> {
  if (body === undefined || body === null) return NO_BODY
  if (typeof body === 'string') return { ok: true, body: Buffer.from(body) }
  if (body instanceof Uint8Array) return { ok: true, body }
  if (body instanceof ArrayBuffer) return { ok: true, body: new Uint8Array(body) }
  return readLater(body)
}

async function readLater(body: unknown): Promise<BodyRead> {
  if (typeof (body as Blob).arrayBuffer === 'function' && typeof (body as Blob).size === 'number') {
    return { ok: true, body: new Uint8Array(await (body as Blob).arrayBuffer()) }
  }
  if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' || typeof (body as Iterable<unknown>)[Symbol.iterator] === 'function') {
    const chunks: Buffer[] = []
    for await (const chunk of body as AsyncIterable<unknown>) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array))
    }
    return { ok: true, body: Buffer.concat(chunks) }
  }
  return { ok: false }
}

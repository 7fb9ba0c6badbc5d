/**
 * A real HTTP origin on 127.0.0.1, port 0, for tests: routes are plain functions, and every
 * request it receives is recorded so tests can assert on what the origin saw.
 */
import { createHash } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface SeenRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  body: Buffer
}

export type Route = (req: SeenRequest, res: http.ServerResponse) => void | Promise<void>

export interface Origin {
  url: string
  /** Every request received, in order. */
  seen: SeenRequest[]
  /** How many requests reached this path (query included). */
  count(path: string): number
  route(path: string, handler: Route): void
  close(): Promise<void>
}

export async function startOrigin(routes: Record<string, Route> = {}): Promise<Origin> {
  const table = new Map(Object.entries(routes))
  const seen: SeenRequest[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const entry: SeenRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) }
      seen.push(entry)
      const path = entry.url.split('?')[0]!
      const handler = table.get(entry.url) ?? table.get(path)
      if (!handler) {
        res.writeHead(404, { 'content-type': 'text/plain' })
        res.end('no route')
        return
      }
      Promise.resolve(handler(entry, res)).catch((error: unknown) => {
        res.destroy(error as Error)
      })
    })
  })
  // Sockets must not outlive a test file.
  const sockets = new Set<import('node:net').Socket>()
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    count: (path) => seen.filter((r) => r.url === path).length,
    route: (path, handler) => void table.set(path, handler),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/** A route answering with a fixed status, headers and body. */
export function reply(status: number, headers: http.OutgoingHttpHeaders, body: string | Buffer = ''): Route {
  return (_req, res) => {
    res.writeHead(status, headers)
    res.end(body)
  }
}

/**
 * `/item/0` … `/item/<count - 1>` for the multi-process tests (test/workers/load.mjs checks the
 * bytes): each GET answers after 100 ms (so concurrent misses overlap) with the sha256 of
 * "body-i" in hex, repeated to 4 KiB, cacheable for an hour; any other method answers "ok".
 */
export function routeItems(origin: Origin, count: number): void {
  for (let i = 0; i < count; i++) {
    const body = createHash('sha256').update(`body-${i}`).digest('hex').repeat(64)
    origin.route(`/item/${i}`, (req, res) => {
      setTimeout(() => {
        res.writeHead(200, req.method === 'GET' ? { 'cache-control': 'max-age=3600', 'content-type': 'text/plain' } : {})
        res.end(req.method === 'GET' ? body : 'ok')
      }, 100)
    })
  }
}

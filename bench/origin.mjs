// The benchmark's origin: its own process, 127.0.0.1 only, no artificial latency.
//
//   GET /json/<size>?i=<n>   a JSON body of exactly <size> bytes, unique per (size, n),
//                            Cache-Control: max-age=3600 and a strong ETag (304 on a match)
//
// Bodies are unique per URL so content-addressed stores (cacache) cannot deduplicate them.
// Talks to its parent over IPC: sends { port } once listening; answers { op: 'count', id }
// with { id, requests } so the orchestrator can check that cache hits never reached it.
import http from 'node:http'
import { randomBytes } from 'node:crypto'

const RUN = randomBytes(4).toString('hex')
const POOL_SIZE = 2 * 1024 * 1024 + 4096
// base64url characters: valid inside a JSON string without escaping.
const POOL = randomBytes((POOL_SIZE * 3) / 4 + 3).toString('base64url').slice(0, POOL_SIZE)

const recent = new Map()
const RECENT_MAX = 256

function body(size, i) {
  const id = `${size}:${i}`
  let b = recent.get(id)
  if (b) return b
  const head = `{"i":${JSON.stringify(i)},"size":${size},"data":"`
  const tail = '"}'
  const fill = Math.max(0, size - head.length - tail.length)
  const off = (Math.abs(hashCode(i)) * 7919) % (POOL.length - fill)
  b = Buffer.from(head + POOL.slice(off, off + fill) + tail)
  recent.set(id, b)
  if (recent.size > RECENT_MAX) recent.delete(recent.keys().next().value)
  return b
}

function hashCode(s) {
  let h = 0
  for (let k = 0; k < s.length; k++) h = (Math.imul(h, 31) + s.charCodeAt(k)) | 0
  return h
}

let requests = 0
const server = http.createServer((req, res) => {
  requests++
  const q = req.url.indexOf('?')
  const path = q === -1 ? req.url : req.url.slice(0, q)
  const m = /^\/json\/(\d+)$/.exec(path)
  if (!m || Number(m[1]) > 8 * 1024 * 1024) {
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': '2' })
    res.end('{}')
    return
  }
  const size = Number(m[1])
  const params = new URLSearchParams(q === -1 ? '' : req.url.slice(q + 1))
  const i = params.toString() || '0'
  const etag = `"${RUN}-${size}-${hashCode(i).toString(16)}"`
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { etag, 'cache-control': 'max-age=3600' })
    res.end()
    return
  }
  const b = body(size, i)
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': String(b.length),
    'cache-control': 'max-age=3600',
    etag,
  })
  res.end(b)
})
server.keepAliveTimeout = 30_000

// Standalone (`node bench/origin.mjs [port]`, for profiling by hand): print the base URL.
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const { port } = server.address()
  if (process.send) process.send({ port })
  else process.stdout.write(`http://127.0.0.1:${port}\n`)
})
process.on('disconnect', () => process.exit(0))
process.on('message', (m) => {
  if (m && m.op === 'count') process.send({ id: m.id, requests })
  if (m && m.op === 'stop') server.close(() => process.exit(0))
})

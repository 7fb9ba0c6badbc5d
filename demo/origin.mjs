// The demo's API origin: a child process on 127.0.0.1 with realistic latency (60-140 ms).
import http from 'node:http'
import { createHash } from 'node:crypto'

const started = Date.now()
let requests = 0
const users = Array.from({ length: 30 }, (_, i) => ({ id: i + 1, name: `user-${i + 1}`, team: ['core', 'web', 'data'][i % 3] }))
const etag = (body) => `"${createHash('sha1').update(body).digest('hex').slice(0, 16)}"`

function route(req) {
  const url = new URL(req.url, 'http://127.0.0.1')
  if (url.pathname === '/api/users') {
    const page = Number(url.searchParams.get('page') ?? 1)
    const body = JSON.stringify({ page, users: users.slice((page - 1) * 10, page * 10) })
    return { status: 200, headers: { 'cache-control': 'max-age=300' }, body }
  }
  const m = /^\/api\/users\/(\d+)$/.exec(url.pathname)
  if (m) {
    const user = users[Number(m[1]) - 1]
    if (!user) return { status: 404, headers: {}, body: JSON.stringify({ error: 'not found' }) }
    return { status: 200, headers: { 'cache-control': 'max-age=600' }, body: JSON.stringify(user) }
  }
  if (url.pathname === '/api/status') {
    // Changes rarely, but clients must check: no-cache + ETag → revalidated with a 304.
    const body = JSON.stringify({ status: 'ok', since: started })
    return { status: 200, headers: { 'cache-control': 'no-cache', etag: etag(body) }, body }
  }
  return { status: 404, headers: {}, body: '{}' }
}

const server = http.createServer((req, res) => {
  requests++
  const { status, headers, body } = route(req)
  const delay = 60 + Math.random() * 80
  setTimeout(() => {
    if (headers.etag && req.headers['if-none-match'] === headers.etag) {
      res.writeHead(304, { etag: headers.etag, 'cache-control': headers['cache-control'] })
      res.end()
      return
    }
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(body)
  }, delay)
})

server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
// If the demo dies, do not linger.
process.on('disconnect', () => process.exit(0))
process.on('message', (m) => {
  if (m === 'count') process.send({ requests })
  if (m === 'stop') server.close(() => process.exit(0))
})

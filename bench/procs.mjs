// Many processes, one SQLite file, for `npm run bench` (bench/run.mjs):
//
// - misses(n): n processes, each making `count` misses on URLs of its own (16 in flight)
//   against an origin that answers after `delayMs`; the aggregate rate is all requests over the
//   window from the first process's first request to the last one's last write. The goal
//   compares 4 processes with 1: writers of one file must not queue behind each other.
// - coalesced(n): the stress test's mixed run (test/workers/stress-worker.mjs, the current
//   build): n processes, 500 requests each over 50 URLs; cross-process coalescing must keep
//   origin requests at or below URLs + processes.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = dirname(fileURLToPath(import.meta.url))
const STRESS = join(HERE, '..', 'test', 'workers', 'stress-worker.mjs')

export async function startSlowOrigin(delayMs) {
  let requests = 0
  const server = http.createServer((req, res) => {
    requests++
    const id = req.url.split('/').pop()
    const body = createHash('sha256').update(`body-${id}`).digest('hex').repeat(64)
    setTimeout(() => {
      res.writeHead(200, { 'cache-control': 'max-age=3600', 'content-type': 'text/plain' })
      res.end(body)
    }, delayMs)
  })
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok))
  return { base: `http://127.0.0.1:${server.address().port}`, requests: () => requests, close: () => new Promise((ok) => server.close(ok)) }
}

function node(args) {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (c) => (out += c))
    child.stderr.on('data', (c) => (err += c))
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      if (code === 0) ok(JSON.parse(out.trim().split('\n').pop()))
      else fail(new Error(`worker exited ${code}: ${err.trim().split('\n').slice(-2).join(' | ')}`))
    })
  })
}

/** n processes of `count` misses each on one fresh SQLite file: { rps, errors, originRequests }. */
export async function misses(origin, n, { count = 400, concurrency = 16, module } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'fetchcache-procs-'))
  const before = origin.requests()
  try {
    const tag = Math.random().toString(36).slice(2, 8)
    const runs = await Promise.all(
      Array.from({ length: n }, (_, i) => node([join(HERE, 'procs-worker.mjs'), origin.base, join(dir, 'shared'), String(count), String(concurrency), `${tag}-${i}`, ...(module ? [module] : [])])),
    )
    const start = Math.min(...runs.map((r) => r.start))
    const end = Math.max(...runs.map((r) => r.end))
    const total = runs.reduce((s, r) => s + r.requests, 0)
    const errors = runs.reduce((s, r) => s + r.failures + r.mismatches + r.backendErrors, 0)
    const stored = runs.reduce((s, r) => s + r.stored, 0)
    return { rps: total / ((end - start) / 1000), total, stored, errors, originRequests: origin.requests() - before }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The stress test's mixed run: n processes over `urls` shared URLs. */
export async function coalesced(origin, n, { requests = 500, urls = 50 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'fetchcache-procs-'))
  const before = origin.requests()
  try {
    const runs = await Promise.all(Array.from({ length: n }, (_, i) => node([STRESS, origin.base, 'sqlite', join(dir, 'shared'), String(requests), String(urls), '16', String(i + 1)])))
    const errors = runs.reduce((s, r) => s + r.failures + r.mismatches + r.backendErrors, 0)
    return { originRequests: origin.requests() - before, urls, processes: n, errors }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

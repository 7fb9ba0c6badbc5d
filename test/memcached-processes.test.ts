/**
 * Many processes, one memcached: 4 processes x 500 requests over 50 URLs with a slow origin,
 * each through its own memory tier in front of the shared servers. Every body must be
 * byte-identical, no error may reach a caller or onError, and the origin must see each URL
 * about once (leases with `add`): at most distinct URLs + one per process.
 */
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memcachedAvailable, type MemcachedServer, startMemcached } from './helpers/memcached.js'
import { type Origin, startOrigin } from './helpers/origin.js'

const root = resolve(import.meta.dirname, '..')
const PROCESSES = 4
const REQUESTS = 500
const URLS = 50
const available = memcachedAvailable()
// A build of its own beside node_modules: dist/ may be rebuilt by another test file meanwhile.
const build = join(root, 'node_modules', '.fetchcache-memcached', `test-${process.pid}`)
let origin: Origin
let server: MemcachedServer

beforeAll(async () => {
  if (!available) return
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', build], { cwd: root })
  server = await startMemcached()
  origin = await startOrigin()
  for (let i = 0; i < URLS; i++) {
    const body = createHash('sha256').update(`body-${i}`).digest('hex').repeat(64)
    origin.route(`/item/${i}`, (_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'cache-control': 'max-age=3600', 'content-type': 'text/plain' })
        res.end(body)
      }, 100)
    })
  }
}, 120_000)

afterAll(async () => {
  await origin?.close()
  await server?.stop()
  rmSync(build, { recursive: true, force: true })
})

interface WorkerResult {
  failures: number
  mismatches: number
  backendErrors: number
  sampleErrors: string[]
  statuses: Record<string, number>
}

function runWorker(seed: number): Promise<WorkerResult> {
  // A generous command timeout: 4 workers and vitest share a busy 2-core machine.
  const extra = JSON.stringify({ memcached: { servers: server.address, namespace: 'procs:', timeoutMs: 5000 } })
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [join(root, 'test/workers/stress-worker.mjs'), origin.url, 'memcached', 'unused', String(REQUESTS), String(URLS), '16', String(seed), extra], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, FETCHCACHE_DIST: pathToFileURL(join(build, 'index.js')).href },
    })
    let out = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    child.on('exit', (code) => (code === 0 ? ok(JSON.parse(out.trim().split('\n').pop()!) as WorkerResult) : fail(new Error(`worker exited ${code}: ${out}`))))
  })
}

describe.runIf(available)(`memcached shared by ${PROCESSES} processes`, () => {
  it(`${PROCESSES} processes x ${REQUESTS} requests over ${URLS} URLs: no errors, exact bodies, ~one origin request per URL`, async () => {
    const started = performance.now()
    const results = await Promise.all(Array.from({ length: PROCESSES }, (_, i) => runWorker(i + 1)))
    const originRequests = origin.seen.length
    const summary = JSON.stringify({ originRequests, ms: Math.round(performance.now() - started), results })
    console.log(`memcached, ${PROCESSES} processes: ${summary}`)
    expect(results.reduce((s, r) => s + r.failures, 0), summary).toBe(0)
    expect(results.reduce((s, r) => s + r.mismatches, 0), summary).toBe(0)
    expect(results.reduce((s, r) => s + r.backendErrors, 0), summary).toBe(0)
    expect(originRequests, summary).toBeLessThanOrEqual(URLS + PROCESSES)
    expect(originRequests).toBeGreaterThanOrEqual(URLS)
  }, 120_000)
})

/**
 * Many processes, one memcached: 4 processes x 500 requests over 50 URLs with a slow origin,
 * each through its own memory tier in front of the shared servers. Every body must be
 * byte-identical, no error may reach a caller or onError, and the origin must see each URL
 * about once (leases with `add`): at most distinct URLs + one per process.
 */
import { spawn } from 'node:child_process'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildBackends, type Build } from './conformance/build.js'
import { memcachedAvailable, type MemcachedServer, startMemcached } from './helpers/memcached.js'
import { type Origin, routeItems, startOrigin } from './helpers/origin.js'

const root = resolve(import.meta.dirname, '..')
const PROCESSES = 4
const REQUESTS = 500
const URLS = 50
const available = memcachedAvailable()
// Plain JavaScript for the workers, of its own (dist/ may be rebuilt by another test file
// meanwhile): src transpiled without a type check, as redis-processes.test.ts does.
let build: Build | undefined
let origin: Origin
let server: MemcachedServer

beforeAll(async () => {
  if (!available) return
  build = buildBackends(['src/index.ts'])
  server = await startMemcached()
  origin = await startOrigin()
  routeItems(origin, URLS)
}, 120_000)

afterAll(async () => {
  await origin?.close()
  await server?.stop()
  build?.cleanup()
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
      env: { ...process.env, FETCHCACHE_DIST: pathToFileURL(join(build!.dir, 'index.js')).href },
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

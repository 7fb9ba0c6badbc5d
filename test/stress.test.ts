/**
 * Many processes, one cache: 4 processes x 500 requests over 50 URLs with a slow origin share
 * one store. Every body must be byte-identical, no error may reach a caller, and the origin
 * must see each URL about once: at most distinct URLs + one per process (the bound we state).
 */
import { execFileSync, spawn } from 'node:child_process'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Origin, routeItems, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

const root = resolve(import.meta.dirname, '..')
const PROCESSES = 4
const REQUESTS = 500
const URLS = 50
let origin: Origin
let tmp: ReturnType<typeof tempDir>

beforeAll(async () => {
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root })
  tmp = tempDir('fetchcache-stress-')
  origin = await startOrigin()
  origin.route('/item', () => {})
  routeItems(origin, URLS)
}, 120_000)

afterAll(async () => {
  await origin?.close()
  tmp?.cleanup()
})

interface WorkerResult {
  failures: number
  mismatches: number
  backendErrors: number
  sampleErrors: string[]
  statuses: Record<string, number>
}

function runWorker(backend: string, name: string, seed: number): Promise<WorkerResult> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [join(root, 'test/workers/stress-worker.mjs'), origin.url, backend, name, String(REQUESTS), String(URLS), '16', String(seed)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    child.on('exit', (code) => (code === 0 ? ok(JSON.parse(out.trim().split('\n').pop()!) as WorkerResult) : fail(new Error(`worker exited ${code}: ${out}`))))
  })
}

describe.each(["sqlite", "filesystem"])(`%s backend shared by ${PROCESSES} processes`, (backend) => {
  it(`${PROCESSES} processes x ${REQUESTS} requests over ${URLS} URLs: no errors, exact bodies, ~one origin request per URL`, async () => {
    const before = origin.seen.length
    const name = join(tmp.dir, `shared-${backend}`)
    const results = await Promise.all(Array.from({ length: PROCESSES }, (_, i) => runWorker(backend, name, i + 1)))
    const originRequests = origin.seen.length - before
    const summary = { originRequests, results }
    expect(results.reduce((s, r) => s + r.failures, 0), JSON.stringify(summary)).toBe(0)
    expect(results.reduce((s, r) => s + r.mismatches, 0), JSON.stringify(summary)).toBe(0)
    expect(results.reduce((s, r) => s + r.backendErrors, 0), JSON.stringify(summary)).toBe(0)
    expect(originRequests, JSON.stringify(summary)).toBeLessThanOrEqual(URLS + PROCESSES)
    expect(originRequests).toBeGreaterThanOrEqual(URLS)
  }, 120_000)
})

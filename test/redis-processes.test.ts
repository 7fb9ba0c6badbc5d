/**
 * Many processes, one Redis: 4 processes, each a memory tier in front of the same Redis,
 * 500 requests each over 50 URLs with a slow origin. Every body byte-identical, no error, the
 * origin sees each URL about once (at most URLs + processes: leases coalesce across processes),
 * and an unsafe-method invalidation on one process leaves the others' memory tiers within the
 * stated bound (pub/sub; see src/backends/redis-changes.ts).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createInterface } from 'node:readline'
import { resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Build, buildBackends } from './conformance/build.js'
import { type Origin, routeItems, startOrigin } from './helpers/origin.js'
import { redisAvailable, type RedisServer, startRedis } from './helpers/redis.js'

const PROCESSES = 4
const REQUESTS = 500
const URLS = 50
/** The stated bound for an invalidation to reach the other processes' memory tiers. */
const BOUND_MS = 250

const available = redisAvailable()
let origin: Origin
let server: RedisServer
let build: Build

beforeAll(async () => {
  if (!available) return
  // Plain JavaScript for the workers: src transpiled (no type check) into node_modules/.cache.
  build = buildBackends(['src/index.ts'])
  server = await startRedis()
  origin = await startOrigin()
  routeItems(origin, URLS)
}, 60_000)

afterAll(async () => {
  await origin?.close()
  await server?.cleanup()
  build?.cleanup()
})

interface Worker {
  next(type: string): Promise<Record<string, unknown>>
  send(command: Record<string, unknown>): void
  process: ChildProcessWithoutNullStreams
}

function startWorker(seed: number): Worker {
  const p = spawn(process.execPath, [resolve(import.meta.dirname, 'workers/redis-worker.mjs'), build.dir, origin.url, server.url, 'multi:', String(REQUESTS), String(URLS), '16', String(seed)])
  let err = ''
  p.stderr.on('data', (c: Buffer) => (err += c))
  const lines: Array<Record<string, unknown>> = []
  const waiting: Array<() => void> = []
  createInterface({ input: p.stdout }).on('line', (line) => {
    lines.push(JSON.parse(line) as Record<string, unknown>)
    waiting.splice(0).forEach((w) => w())
  })
  return {
    process: p,
    send: (command) => p.stdin.write(`${JSON.stringify(command)}\n`),
    next: (type) =>
      new Promise((ok, fail) => {
        const look = () => {
          const i = lines.findIndex((l) => l.type === type)
          if (i >= 0) return ok(lines.splice(i, 1)[0]!)
          if (p.exitCode !== null) return fail(new Error(`worker exited ${p.exitCode}: ${err}`))
          waiting.push(look)
        }
        p.once('exit', look)
        look()
      }),
  }
}

describe.runIf(available)(`a memory tier per process over one Redis, ${PROCESSES} processes`, () => {
  it(`${PROCESSES} x ${REQUESTS} requests over ${URLS} URLs: no errors, exact bodies, ~one origin request per URL; an invalidation reaches every process within ${BOUND_MS} ms`, async () => {
    const workers = Array.from({ length: PROCESSES }, (_, i) => startWorker(i + 1))
    try {
      const results = await Promise.all(workers.map((w) => w.next('ran')))
      const originRequests = origin.seen.length
      const summary = JSON.stringify({ originRequests, results })
      for (const r of results) {
        expect(r.failures, summary).toBe(0)
        expect(r.mismatches, summary).toBe(0)
        expect(r.backendErrors, summary).toBe(0)
      }
      expect(originRequests, summary).toBeLessThanOrEqual(URLS + PROCESSES)
      expect(originRequests, summary).toBeGreaterThanOrEqual(URLS)

      // Every process has /item/7 in its memory tier; process 0 POSTs to it.
      const url = `${origin.url}/item/7`
      for (const w of workers.slice(1)) w.send({ type: 'watch', url })
      for (const w of workers.slice(1)) expect((await w.next('watching')).had).toBeGreaterThan(0)
      workers[0]!.send({ type: 'invalidate', url })
      const { at: invalidatedAt, status } = (await workers[0]!.next('invalidated')) as { at: number; status: number }
      expect(status).toBe(200)
      const observed = (await Promise.all(workers.slice(1).map((w) => w.next('observed')))) as Array<{ at: number; left: number }>
      const lags = observed.map((o) => Math.round(o.at - invalidatedAt))
      console.log(`invalidation reached the other processes' memory tiers after ${lags.join(', ')} ms (bound ${BOUND_MS} ms)`)
      for (const o of observed) expect(o.left).toBe(0)
      for (const lag of lags) expect(lag).toBeLessThanOrEqual(BOUND_MS)

      for (const w of workers) w.send({ type: 'exit' })
      for (const w of workers) expect((await w.next('closed')).backendErrors).toBe(0)
    } finally {
      for (const w of workers) if (w.process.exitCode === null) w.process.kill()
    }
  }, 120_000)
})

/**
 * Hostile headers end to end (issue 11): a real origin on 127.0.0.1 answers with generated
 * Cache-Control, Expires, Date, Age, Vary, ETag and Last-Modified values (test/helpers/hostile.ts)
 * and a body unique to each request; createCachedFetch with a real SQLite file asks twice, the
 * faked clock moved in between. For every case: no throw, no unhandled rejection, the caller's
 * bytes are what the origin sent for that request, or for the first one when reuse was allowed —
 * by the independent oracle (a hit without the origin), by a 304 to a conditional request, or by
 * a stale window the response itself granted (RFC 5861). So a no-store or Vary `*` response is
 * never served from the cache, no-cache never without a conditional request, a Vary mismatch
 * never, and a response the oracle says is stale never as a plain hit.
 * Seeded and capped; the pure-rule properties are in test/hostile-headers.test.ts.
 */
import type { ServerResponse } from 'node:http'
import { join } from 'node:path'
import fc from 'fast-check'
import { Agent, type Dispatcher, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type CacheInterceptor, cacheInterceptor, createCachedFetch } from '../src/index.js'
import { allowedFreshness, directivesOf, forbidsStore, type Hostile, headersOf, hostile, saysNoCache } from './helpers/hostile.js'
import { type Origin, type SeenRequest, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

const NOW = Date.UTC(2026, 5, 15, 12)
const SEED = 20261202
/** Statuses that carry a body and are not followed as redirects by fetch. */
const STATUSES = [200, 203, 404, 410, 500]
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/

interface Case {
  h: Hostile
  /** Seconds between the two requests. */
  later: number
  /** The request's X-V value, first and second request (a Vary on x-v tells them apart). */
  xv: [string, string]
  /** Send Cache-Control and Vary as one field line per member (RFC 9110 §5.3: the same field). */
  split: boolean
}

const cases: fc.Arbitrary<Case> = fc.record({
  h: hostile(NOW, STATUSES),
  later: fc.oneof(fc.constantFrom(0, 1, 59, 60, 61, 3600, 86400), fc.integer({ min: 0, max: 10 ** 6 })),
  xv: fc.tuple(fc.constantFrom('a', 'b'), fc.constantFrom('a', 'b')),
  split: fc.boolean(),
})

/** Vary as the oracle reads it (RFC 9110 §12.5.5): field names, or `bad` for `*` / not a list of names. */
function varyOf(h: Hostile): { names: string[]; bad: boolean } {
  const names = (h.vary ?? '').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '')
  return { names, bad: names.some((n) => n === '*' || !TOKEN.test(n)) }
}

/** What the origin answered to each request of one case. */
interface Answer {
  status: number
  body: string
  conditional: boolean
}

let origin: Origin
let tmp: ReturnType<typeof tempDir>
let cachedFetch: ReturnType<typeof createCachedFetch>
let ic: CacheInterceptor
let dispatcher: Dispatcher
let n = 0
const rejections: unknown[] = []
const onRejection = (reason: unknown) => void rejections.push(reason)

beforeAll(async () => {
  process.on('unhandledRejection', onRejection)
  vi.useFakeTimers({ toFake: ['Date'] })
  origin = await startOrigin()
  tmp = tempDir('fetchcache-hostile-')
  cachedFetch = createCachedFetch({ backend: 'sqlite', name: join(tmp.dir, 'hostile') })
  ic = cacheInterceptor({ backend: 'sqlite', name: join(tmp.dir, 'hostile-interceptor') })
  dispatcher = new Agent().compose(ic)
})

afterAll(async () => {
  await cachedFetch.cache.close()
  await ic.cache.close()
  await dispatcher.close()
  await origin.close()
  tmp.cleanup()
  vi.useRealTimers()
  process.off('unhandledRejection', onRejection)
})

/** The origin for one case: the generated headers, a 304 to an If-None-Match naming its ETag. */
function route(path: string, h: Hostile, split: boolean, answers: Answer[]): void {
  const headers: Record<string, string | string[]> = headersOf(h)
  for (const name of ['cache-control', 'vary']) {
    const v = headers[name]
    if (split && typeof v === 'string' && v.includes(',')) headers[name] = v.split(',')
  }
  origin.route(path, (req: SeenRequest, res: ServerResponse) => {
    // Node would add a Date from the real clock; the case's own Date, or none, is what is tested.
    res.sendDate = false
    const inm = req.headers['if-none-match']
    const conditional = inm !== undefined || req.headers['if-modified-since'] !== undefined
    if (h.etag !== undefined && inm !== undefined && inm.split(',').map((s) => s.trim()).includes(h.etag.trim())) {
      answers.push({ status: 304, body: '', conditional })
      res.writeHead(304, headers)
      res.end()
      return
    }
    const body = `${path} answer ${answers.length + 1}`
    answers.push({ status: h.status, body, conditional })
    res.writeHead(h.status, { ...headers, 'content-type': 'text/plain' })
    res.end(body)
  })
}

/**
 * A hit without the origin, `later` seconds after the response was received at `receivedAt`:
 * storable, same variant, not no-cache (§5.2.2.4), fresh per the oracle (§4.2).
 */
function expectHitAllowed(h: Hostile, receivedAt: number, later: number, xv: [string, string], cs: string): void {
  const vary = varyOf(h)
  expect(forbidsStore(h), 'no-store response served from the cache').toBe(false)
  expect(vary.bad, 'Vary * / malformed served from the cache').toBe(false)
  expect(vary.names.includes('x-v') && xv[0] !== xv[1], 'Vary mismatch served').toBe(false)
  expect(saysNoCache(h), 'no-cache served without a conditional request').toBe(false)
  const allowed = allowedFreshness(h, receivedAt)
  expect(later, `stale (fresh for ${allowed}s) served as a hit: ${cs}`).toBeLessThan(allowed)
  expect(cs).toMatch(/; hit/)
}

type Front = 'createCachedFetch' | 'cacheInterceptor'

/** One request through a front; the interceptor sees the field lines as arrays, fetch joined. */
async function get(front: Front, path: string, xv: string): Promise<{ body: string; cs: string }> {
  if (front === 'createCachedFetch') {
    const res = await cachedFetch(origin.url + path, { headers: { 'x-v': xv } })
    const body = await res.text()
    await cachedFetch.cache.flush()
    return { body, cs: res.headers.get('cache-status') ?? '' }
  }
  const res = await request(origin.url + path, { dispatcher, headers: { 'x-v': xv } })
  const body = await res.body.text()
  await ic.cache.flush()
  return { body, cs: String(res.headers['cache-status'] ?? '') }
}

describe.each(['createCachedFetch', 'cacheInterceptor'] as const)('hostile headers end to end (%s, SQLite, real origin)', (front) => {
  it('two requests per case: the right bytes, and no reuse RFC 9111 forbids', async () => {
    await fc.assert(
      fc.asyncProperty(cases, async ({ h, later, xv, split }) => {
        const path = `/h${n++}`
        const answers: Answer[] = []
        route(path, h, split, answers)
        vi.setSystemTime(NOW)
        const first = await get(front, path, xv[0])
        expect(answers).toHaveLength(1)
        expect(first.body).toBe(answers[0]!.body)
        vi.setSystemTime(NOW + later * 1000)
        const second = await get(front, path, xv[1])
        const asked = answers.length - 1
        const reused = second.body === first.body
        if (!reused) {
          // Not the stored bytes: then exactly what the origin sent for this request.
          expect(asked).toBe(1)
          expect(second.body).toBe(answers[1]!.body)
          return
        }
        const cc = directivesOf(h.cacheControl)
        const vary = varyOf(h)
        // §5.2.2.5 / §4.1: never stored, so never reused by any path.
        expect(forbidsStore(h), 'no-store response served from the cache').toBe(false)
        expect(vary.bad, 'Vary * / malformed served from the cache').toBe(false)
        if (asked === 0) return expectHitAllowed(h, NOW, later, xv, second.cs)
        // The origin was asked and the old bytes served: a 304 to our conditional request
        // (§4.3.4), or a stale window the response granted (RFC 5861 §3, §4), never a plain hit.
        const last = answers[answers.length - 1]!
        const notModified = last.status === 304 && last.conditional
        const swr = !saysNoCache(h) && !cc.has('must-revalidate') && cc.has('stale-while-revalidate')
        const sie = !saysNoCache(h) && !cc.has('must-revalidate') && cc.has('stale-if-error') && last.status >= 500
        expect(notModified || swr || sie, `old bytes after the origin answered ${last.status}: ${second.cs}`).toBe(true)
        if (!notModified) expect(second.cs).toMatch(/detail=|fwd=stale/)
      }),
      { seed: SEED, numRuns: 100 },
    )
    expect(rejections).toEqual([])
  }, 30_000)
})

/** The stored response's fields with each field the 304 carries replacing its own (RFC 9111 §3.2). */
function merged(base: Hostile, h: Hostile): Hostile {
  const out: Hostile = { ...base }
  for (const [k, v] of Object.entries(h) as Array<[keyof Hostile, never]>) if (v !== undefined && k !== 'status') out[k] = v
  return out
}

describe.each(['createCachedFetch', 'cacheInterceptor'] as const)('hostile 304 fields end to end (%s)', (front) => {
  // A stored response that is stale at once and has an ETag: the next request revalidates, and
  // the origin's 304 carries the generated fields. A third request may be a hit only if the
  // stored response, updated with those fields (§4.3.4), allows it.
  const base: Hostile = { status: 200, cacheControl: 'max-age=0', pragma: undefined, expires: undefined, date: undefined, lastModified: undefined, age: undefined, vary: undefined, etag: '"v"' }
  it('a hit after a 304 is allowed by the updated response: no-store, Vary, no-cache, freshness', async () => {
    const case304 = fc.record({ h: hostile(NOW, [200]), later: fc.constantFrom(0, 1, 60, 3600, 10 ** 6), xv: fc.tuple(fc.constantFrom('a', 'b'), fc.constantFrom('a', 'b')) })
    await fc.assert(
      fc.asyncProperty(case304, async ({ h, later, xv }) => {
        const path = `/m${n++}`
        const answers: string[] = []
        const h304 = { ...headersOf(h), etag: '"v"' }
        origin.route(path, (req, res) => {
          res.sendDate = false
          if (req.headers['if-none-match'] === '"v"') {
            answers.push('304')
            res.writeHead(304, h304)
            return void res.end()
          }
          answers.push(`${path} answer ${answers.length + 1}`)
          res.writeHead(200, headersOf(base))
          res.end(answers[answers.length - 1])
        })
        vi.setSystemTime(NOW - 1000)
        const first = await get(front, path, xv[0])
        vi.setSystemTime(NOW)
        const second = await get(front, path, xv[0])
        expect(second.body).toBe(first.body)
        const asked = answers.length
        vi.setSystemTime(NOW + later * 1000)
        const third = await get(front, path, xv[1])
        if (answers.length === asked) {
          expect(third.body).toBe(first.body)
          expectHitAllowed(merged(base, { ...h, etag: '"v"' }), NOW, later, xv, third.cs)
        } else expect([first.body, answers[answers.length - 1]]).toContain(third.body)
      }),
      { seed: SEED, numRuns: 60 },
    )
    expect(rejections).toEqual([])
  }, 30_000)
})

describe.each(['createCachedFetch', 'cacheInterceptor'] as const)('hostile headers, concurrent requests (%s)', (front) => {
  // Two requests at once, different X-V: one may wait for the other's response (collapsing,
  // RFC 9111 §4) and get it only if the response's Vary does not tell the two apart (§4.1).
  it('a collapsed request never gets a response its Vary does not select', async () => {
    const concurrent = fc.record({ h: hostile(NOW, STATUSES), xv: fc.tuple(fc.constantFrom('a', 'b'), fc.constantFrom('a', 'b')) })
    await fc.assert(
      fc.asyncProperty(concurrent, async ({ h, xv }) => {
        const path = `/c${n++}`
        let count = 0
        origin.route(path, (req, res) => {
          res.sendDate = false
          const body = `${path} answer ${++count} for x-v=${String(req.headers['x-v'])}`
          setTimeout(() => {
            res.writeHead(h.status, headersOf(h))
            res.end(body)
          }, 15)
        })
        vi.setSystemTime(NOW)
        const got = await Promise.all(xv.map((v) => get(front, path, v)))
        const vary = varyOf(h)
        got.forEach((g, i) => {
          const servedFor = /x-v=(\w+)$/.exec(g.body)?.[1]
          if (servedFor !== xv[i]) expect(vary.bad || vary.names.includes('x-v'), `x-v=${xv[i]} got ${g.body} (${g.cs})`).toBe(false)
        })
      }),
      { seed: SEED, numRuns: 40 },
    )
    expect(rejections).toEqual([])
  }, 30_000)
})

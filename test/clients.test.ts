/**
 * Which clients installCache() caches: each row of the README's clients table, with the real
 * client library against a loopback origin. "Cached" means the second identical call never
 * reached the origin and the caller saw our Cache-Status; "not cached" means the origin saw
 * both calls (and, where there is one, the one-line way to route the client through the cache).
 */
import http from 'node:http'
import { Octokit } from '@octokit/core'
import axios from 'axios'
import got from 'got'
import ky from 'ky'
import OpenAI from 'openai'
import { fetch as undiciFetch, request, stream } from 'undici'
import { Writable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createCachedFetch, installCache, installedCache, uninstallCache } from '../src/index.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'

const JSON_60 = { 'content-type': 'application/json', 'cache-control': 'max-age=60' }
let origin: Origin

beforeEach(async () => {
  origin = await startOrigin({
    '/text': reply(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' }, 'hello'),
    '/repos/o/r': reply(200, JSON_60, JSON.stringify({ full_name: 'o/r' })),
    '/v1/models': reply(200, JSON_60, JSON.stringify({ object: 'list', data: [{ id: 'm1', object: 'model', created: 0, owned_by: 'me' }] })),
  })
  installCache({ backend: 'memory' })
})

afterEach(async () => {
  await uninstallCache()
  await origin.close()
})

/** Call twice, letting the first write land; the Cache-Status each call showed, and what reached the origin. */
async function twice(path: string, call: () => Promise<string | undefined>): Promise<{ statuses: Array<string | undefined>; originSaw: number }> {
  const first = await call()
  await installedCache()?.flush()
  const second = await call()
  return { statuses: [first, second].map((s) => s?.split(';')[1]?.trim()), originSaw: origin.count(path) }
}

const CACHED = { statuses: ['fwd=uri-miss', 'hit'], originSaw: 1 }
const NOT_CACHED = { statuses: [undefined, undefined], originSaw: 2 }

describe('cached by installCache(): global fetch and everything built on it', () => {
  it('global fetch', async () => {
    const r = await twice('/text', async () => {
      const res = await fetch(`${origin.url}/text`)
      expect(await res.text()).toBe('hello')
      return res.headers.get('cache-status') ?? undefined
    })
    expect(r).toEqual(CACHED)
  })

  it('ky', async () => {
    const r = await twice('/text', async () => {
      const res = await ky.get(`${origin.url}/text`)
      expect(await res.text()).toBe('hello')
      return res.headers.get('cache-status') ?? undefined
    })
    expect(r).toEqual(CACHED)
  })

  it('Octokit (@octokit/core)', async () => {
    const octokit = new Octokit({ baseUrl: origin.url })
    const r = await twice('/repos/o/r', async () => {
      const res = await octokit.request('GET /repos/{owner}/{repo}', { owner: 'o', repo: 'r' })
      expect(res.data).toEqual({ full_name: 'o/r' })
      return res.headers['cache-status'] as string | undefined
    })
    expect(r).toEqual(CACHED)
  })

  it('the OpenAI SDK (GET endpoints such as models.list; POSTs pass through)', async () => {
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${origin.url}/v1`, maxRetries: 0 })
    const r = await twice('/v1/models', async () => {
      const { data, response } = await client.models.list().withResponse()
      expect(data.data.map((m) => m.id)).toEqual(['m1'])
      return response.headers.get('cache-status') ?? undefined
    })
    expect(r).toEqual(CACHED)
  })

  it("axios with adapter: 'fetch'", async () => {
    const r = await twice('/text', async () => {
      const res = await axios.get<string>(`${origin.url}/text`, { adapter: 'fetch', responseType: 'text' })
      expect(res.data).toBe('hello')
      return res.headers['cache-status'] as string | undefined
    })
    expect(r).toEqual(CACHED)
  })
})

describe('cached by installCache(): undici on the global dispatcher', () => {
  it('undici request', async () => {
    const r = await twice('/text', async () => {
      const res = await request(`${origin.url}/text`)
      expect(await res.body.text()).toBe('hello')
      return res.headers['cache-status'] as string | undefined
    })
    expect(r).toEqual(CACHED)
  })

  it('undici stream', async () => {
    const r = await twice('/text', async () => {
      const chunks: Buffer[] = []
      let status: string | undefined
      await stream(`${origin.url}/text`, { method: 'GET' }, ({ headers }) => {
        status = headers['cache-status'] as string | undefined
        return new Writable({
          write(chunk: Buffer, _enc, done) {
            chunks.push(chunk)
            done()
          },
        })
      })
      expect(Buffer.concat(chunks).toString()).toBe('hello')
      return status
    })
    expect(r).toEqual(CACHED)
  })

  it('undici fetch', async () => {
    const r = await twice('/text', async () => {
      const res = await undiciFetch(`${origin.url}/text`)
      expect(await res.text()).toBe('hello')
      return res.headers.get('cache-status') ?? undefined
    })
    expect(r).toEqual(CACHED)
  })
})

describe('not cached: clients on node:http', () => {
  it("axios's default http adapter (adapter: 'fetch' routes it through the cache)", async () => {
    const r = await twice('/text', async () => {
      const res = await axios.get<string>(`${origin.url}/text`, { responseType: 'text' })
      expect(res.data).toBe('hello')
      return res.headers['cache-status'] as string | undefined
    })
    expect(r).toEqual(NOT_CACHED)
  })

  it('got (no way through the cache: it speaks node:http)', async () => {
    const r = await twice('/text', async () => {
      const res = await got(`${origin.url}/text`)
      expect(res.body).toBe('hello')
      return res.headers['cache-status'] as string | undefined
    })
    expect(r).toEqual(NOT_CACHED)
  })

  it('node:http', async () => {
    const r = await twice('/text', () =>
      new Promise((resolve, reject) => {
        http
          .get(`${origin.url}/text`, (res) => {
            res.resume()
            res.on('end', () => resolve(res.headers['cache-status'] as string | undefined))
          })
          .on('error', reject)
      }),
    )
    expect(r).toEqual(NOT_CACHED)
  })
})

describe("a client's own fetch option, without installCache()", () => {
  it('ky, Octokit and the OpenAI SDK given a createCachedFetch()', async () => {
    await uninstallCache()
    const cachedFetch = createCachedFetch({ backend: 'memory' })
    try {
      const viaKy = ky.create({ fetch: cachedFetch })
      const octokit = new Octokit({ baseUrl: origin.url, request: { fetch: cachedFetch } })
      const openai = new OpenAI({ apiKey: 'sk-test', baseURL: `${origin.url}/v1`, maxRetries: 0, fetch: cachedFetch })
      for (let i = 0; i < 2; i++) {
        expect(await viaKy.get(`${origin.url}/text`).text()).toBe('hello')
        expect((await octokit.request('GET /repos/{owner}/{repo}', { owner: 'o', repo: 'r' })).data).toEqual({ full_name: 'o/r' })
        expect((await openai.models.list()).data).toHaveLength(1)
        await cachedFetch.cache.flush()
      }
      expect([origin.count('/text'), origin.count('/repos/o/r'), origin.count('/v1/models')]).toEqual([1, 1, 1])
    } finally {
      await cachedFetch.cache.close()
    }
  })
})

describe('a client built while installed, used after uninstall', () => {
  it('the OpenAI SDK keeps the fetch it was given and goes on working, uncached', async () => {
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${origin.url}/v1`, maxRetries: 0 })
    await client.models.list()
    await uninstallCache()
    const { data, response } = await client.models.list().withResponse()
    expect(data.data.map((m) => m.id)).toEqual(['m1'])
    expect(response.headers.get('cache-status')).toBeNull()
    expect(origin.count('/v1/models')).toBe(2)
  })
})

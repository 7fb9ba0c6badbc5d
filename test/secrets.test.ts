/**
 * Secrets (issue 11): a secret in a query parameter, a JSON body field, a form field and a
 * header, all in `ignoredParameters`, never appears in debug output (NODE_DEBUG=fetchcache),
 * an `onError` message or Cache-Status. The scenario runs in a child process, where
 * NODE_DEBUG is read at start and debug output can be captured whole.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { buildBackends, type Build } from './conformance/build.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

const SECRETS = [1, 2, 3, 4].map((n) => `SECRET${n}xqqqq`)

let build: Build
let tmp: ReturnType<typeof tempDir>
let origin: Origin
let flaky = 0

beforeAll(() => {
  build = buildBackends(['src/index.ts'])
})
afterAll(() => build.cleanup())

beforeEach(async () => {
  tmp = tempDir()
  flaky = 0
  const ok = reply(200, { 'cache-control': 'max-age=600', etag: '"v1"' }, 'payload')
  origin = await startOrigin({
    '/data': ok,
    '/json': ok,
    '/form': ok,
    // Fresh for 0 s, then failing: the second request is served stale-if-error.
    '/flaky': (_req, res) => {
      if (flaky++ === 0) res.writeHead(200, { 'cache-control': 'max-age=0', 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT' }).end('payload')
      else res.destroy()
    },
  })
})

afterEach(async () => {
  await origin.close()
  tmp.cleanup()
})

async function scenario(backend: 'sqlite' | 'filesystem') {
  const name = join(tmp.dir, 'c')
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(import.meta.dirname, 'workers/secrets-child.mjs'), build.dir, backend, name, origin.url], {
    env: { ...process.env, NODE_DEBUG: 'fetchcache' },
    encoding: 'utf8',
    timeout: 60_000,
  })
  return { name, debug: stderr, ...(JSON.parse(stdout) as { statuses: string[]; errors: string[]; har: string }) }
}

describe.each(['sqlite', 'filesystem'] as const)('%s: secrets named in ignoredParameters', (backend) => {
  it('appear in no debug line, onError message or Cache-Status', async () => {
    const out = await scenario(backend)
    // The scenario did reach the paths that log URLs: bypasses, stores, stale-if-error.
    expect(out.debug).toMatch(/bypass/)
    expect(out.debug).toMatch(/store/)
    expect(out.statuses.join('\n')).toMatch(/stale-if-error/)
    expect(origin.count('/json?api_key=SECRET1xqqqq')).toBe(1)
    for (const secret of SECRETS) {
      expect(out.debug).not.toContain(secret)
      expect(out.errors.join('\n')).not.toContain(secret)
      expect(out.statuses.join('\n')).not.toContain(secret)
    }
  })
})

/**
 * Secrets (issue 11): a secret in a query parameter, a JSON body field, a form field and a
 * header, all in `ignoredParameters`, never appears in debug output (NODE_DEBUG=fetchcache),
 * an `onError` message or Cache-Status. The scenario runs in a child process, where
 * NODE_DEBUG is read at start and debug output can be captured whole.
 */
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
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
    '/vary': reply(200, { 'cache-control': 'max-age=600', vary: 'Authorization, Cookie' }, 'private payload'),
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
  return { name, debug: stderr, ...(JSON.parse(stdout) as { statuses: string[]; errors: string[]; har: string; walBytes: number; walSecrets: string[] }) }
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

  it('and Authorization and Cookie appear in no byte stored, nor in a HAR export; files are the user\'s alone', async () => {
    const out = await scenario(backend)
    // Vary: Authorization, Cookie — matched by digest: a hit for the same credentials, a miss for others.
    expect(out.statuses.slice(-3).map((s) => /hit/.test(s))).toEqual([false, true, false])
    const files = listFiles(tmp.dir)
    expect(files.length).toBeGreaterThan(0)
    if (backend === 'sqlite') expect(out.walBytes).toBeGreaterThan(0)
    expect(out.walSecrets).toEqual([])
    for (const secret of ALL_SECRETS) {
      for (const file of files) expect(readFileSync(file).includes(secret), `${secret} in ${file}`).toBe(false)
      expect(out.har).not.toContain(secret)
    }
    // Made by the cache: no one else may read them.
    const cacheRoot = backend === 'sqlite' ? `${out.name}.sqlite` : out.name
    expect(statSync(cacheRoot).mode & 0o077).toBe(0)
  })
})

const ALL_SECRETS = [1, 2, 3, 4, 5, 6].map((n) => `SECRET${n}xqqqq`)

function listFiles(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...listFiles(path))
    else out.push(path)
  }
  return out
}

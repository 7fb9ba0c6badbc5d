/**
 * The `fetchcache` command line on a Redis cache (`--backend redis --redis URL`), run as a
 * child process against a real redis-server filled through the library from a real origin.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCachedFetch } from '../src/index.js'
import { type Build, buildBackends } from './conformance/build.js'
import { type Origin, startOrigin } from './helpers/origin.js'
import { redisAvailable, type RedisServer, startRedis } from './helpers/redis.js'

const available = redisAvailable()
let server: RedisServer
let origin: Origin
let build: Build

beforeAll(async () => {
  if (!available) return
  build = buildBackends(['src/cli/main.ts', 'src/cli/program.ts'])
  server = await startRedis({ password: 'pw' })
  origin = await startOrigin()
  for (const path of ['/a', '/b', '/c']) {
    origin.route(path, (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' })
      res.end(`body of ${path}`)
    })
  }
}, 60_000)
afterAll(async () => {
  await origin?.close()
  await server?.cleanup()
  build?.cleanup()
})

function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.FETCHCACHE_CACHE
  delete env.FETCHCACHE_BACKEND
  delete env.FETCHCACHE_REDIS
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(build.dir, 'cli/main.js'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c))
    child.stderr.on('data', (c: Buffer) => (stderr += c))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

describe.runIf(available)('fetchcache --backend redis', () => {
  it('ls, stats and purge work on a Redis cache; the password never shows', async () => {
    const url = `redis://:pw@127.0.0.1:${server.port}`
    const f = createCachedFetch({ backend: 'redis', redis: { url, namespace: 'cli:' } })
    for (const path of ['/a', '/b', '/c']) await (await f(`${origin.url}${path}`)).text()
    await f.cache.close()
    const store = ['--backend', 'redis', '--redis', url, '--namespace', 'cli:']

    const ls = await cli(['ls', ...store, '--json'])
    expect(ls.stderr).toBe('')
    expect((JSON.parse(ls.stdout) as Array<{ url: string }>).map((e) => e.url).sort()).toEqual(['/a', '/b', '/c'].map((p) => `${origin.url}${p}`))

    const stats = await cli(['stats', ...store, '--json'])
    const s = JSON.parse(stats.stdout) as { cache: string; backend: string; entries: number }
    expect(s).toMatchObject({ backend: 'redis', entries: 3 })
    expect(s.cache).not.toContain('pw')

    const purge = await cli(['purge', ...store, '--url', `127.0.0.1:${origin.url.split(':').pop()}/a`])
    expect(purge.code).toBe(0)
    const after = await cli(['ls', ...store, '--json'])
    expect((JSON.parse(after.stdout) as unknown[]).length).toBe(2)

    // Another namespace on the same server is another cache.
    const other = await cli(['stats', '--backend', 'redis', '--redis', url, '--json'])
    expect(JSON.parse(other.stdout)).toMatchObject({ entries: 0 })
  }, 60_000)
})

/**
 * The `fetchcache` command line, as users run it: the built binary in a child process, against
 * real SQLite and filesystem caches filled through the library from a real origin on
 * 127.0.0.1. Checks output, `--json` (parsed), exit codes, and that bad input never touches
 * a cache.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import zlib from 'node:zlib'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createCachedFetch, openCache } from '../src/index.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

// Each test runs the binary a dozen times; a busy machine needs more than the default 20 s.
vi.setConfig({ testTimeout: 60_000 })

const root = resolve(import.meta.dirname, '..')
// A build of its own, beside node_modules so that imports resolve: `dist/` may be rebuilt by
// another test file (npm pack) while this one runs.
const out = join(root, 'node_modules', '.fetchcache-cli', `test-${process.pid}`)
const bin = join(out, 'cli', 'main.js')

beforeAll(() => {
  rmSync(out, { recursive: true, force: true })
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', out], { cwd: root, stdio: 'pipe' })
  } catch (error) {
    // tsc emits despite type errors; `npx tsc --noEmit` is where those are caught.
    if (!existsSync(bin)) throw error
  }
  expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true)
}, 120_000)

afterAll(() => rmSync(out, { recursive: true, force: true }))

interface Run {
  code: number
  stdout: string
  stderr: string
}

let tmp: ReturnType<typeof tempDir>

/** Run the binary; the origin in this process keeps serving while it runs. */
function cli(args: readonly string[], input?: string): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.FETCHCACHE_CACHE
  delete env.FETCHCACHE_BACKEND
  delete env.NODE_DEBUG
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: tmp.dir, env, stdio: ['pipe', 'pipe', 'pipe'] })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    child.stdout.on('data', (c: Buffer) => stdout.push(c))
    child.stderr.on('data', (c: Buffer) => stderr.push(c))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() }))
    child.stdin.end(input ?? '')
  })
}

async function json<T = unknown>(args: readonly string[]): Promise<T> {
  const r = await cli([...args, '--json'])
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  return JSON.parse(r.stdout) as T
}

/** A usage or lookup failure: exactly one line on stderr, nothing on stdout. */
function expectOneLineError(r: Run, code: number, pattern: RegExp): void {
  expect(r.code).toBe(code)
  expect(r.stdout).toBe('')
  expect(r.stderr.endsWith('\n')).toBe(true)
  expect(r.stderr.trimEnd()).toMatch(pattern)
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
}

beforeEach(() => {
  tmp = tempDir('fetchcache-cli-')
})
afterEach(() => tmp.cleanup())

describe('usage', () => {
  const COMMANDS = ['get', 'ls', 'show', 'stats', 'purge', 'export', 'import', 'vacuum']

  it('has --help for the program and every command, with the exit codes', async () => {
    const top = await cli(['--help'])
    expect(top.code).toBe(0)
    for (const c of COMMANDS) expect(top.stdout).toContain(`  ${c} `)
    expect(top.stdout).toContain('Exit codes:')
    for (const c of COMMANDS) {
      const r = await cli([c, '--help'])
      expect(r.code, c).toBe(0)
      expect(r.stdout, c).toContain(`Usage: fetchcache ${c}`)
      expect(r.stdout, c).toContain('--cache <path>')
      expect(r.stdout, c).toContain('Exit codes:')
    }
    expect((await cli(['help', 'purge'])).stdout).toContain('--older-than <duration>')
    expect((await cli(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
  })

  it('answers unknown flags, commands and bad values with one line and exit code 2', async () => {
    expectOneLineError(await cli(['ls', '--bogus']), 2, /^error: unknown option '--bogus'/)
    expectOneLineError(await cli(['lss']), 2, /^error: unknown command 'lss' \(Did you mean ls\?\)/)
    expectOneLineError(await cli(['purge', '--older-than', 'soon']), 2, /^error: option '--older-than <duration>' argument 'soon' is invalid/)
    expectOneLineError(await cli(['ls', '--status', 'ok']), 2, /argument 'ok' is invalid/)
    expectOneLineError(await cli(['ls', '--backend', 'mongodb']), 2, /argument 'mongodb' is invalid/)
    expectOneLineError(await cli(['show']), 2, /^error: missing required argument 'url-or-key'/)
    expectOneLineError(await cli(['export']), 2, /^error: required option '--har <file>' not specified/)
    const none = await cli([])
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('Usage: fetchcache')
  })

  it('never creates a cache that is not there: one line, exit code 2', async () => {
    expectOneLineError(await cli(['ls', '--cache', 'nothere']), 2, /^error: no cache at nothere\.sqlite/)
    expectOneLineError(await cli(['stats', '--cache', 'nothere.sqlite']), 2, /^error: no cache at nothere\.sqlite/)
    expectOneLineError(await cli(['ls', '--cache', 'nodir', '--backend', 'filesystem']), 2, /^error: no cache at nodir/)
    expectOneLineError(await cli(['ls']), 2, /^error: no cache at http_cache\.sqlite/)
    expect(existsSync(join(tmp.dir, 'nothere.sqlite'))).toBe(false)
    expect(existsSync(join(tmp.dir, 'nodir'))).toBe(false)
    expect(existsSync(join(tmp.dir, 'http_cache.sqlite'))).toBe(false)
  })

  it('refuses a file that is not a SQLite database without changing it', async () => {
    writeFileSync(join(tmp.dir, 'notes.sqlite'), 'just some text, not a database\n')
    expectOneLineError(await cli(['ls', '--cache', 'notes.sqlite']), 2, /^error: cannot open sqlite cache notes\.sqlite: file is not a database/)
    expect(readFileSync(join(tmp.dir, 'notes.sqlite'), 'utf8')).toBe('just some text, not a database\n')
  })

  it('refuses an import file that cannot be read or is not HAR, creating nothing', async () => {
    expectOneLineError(await cli(['import', 'missing.har', '--cache', 'new']), 2, /^error: cannot read missing\.har: ENOENT/)
    writeFileSync(join(tmp.dir, 'bad.har'), '{"log": {"entries": [{"request": {"method": "GET"}}]}}')
    expectOneLineError(await cli(['import', 'bad.har', '--cache', 'new']), 2, /^error: bad\.har is not a HAR file: log\.entries\[0\]\.response: expected an object/)
    writeFileSync(join(tmp.dir, 'text.har'), 'hello')
    expectOneLineError(await cli(['import', 'text.har', '--cache', 'new']), 2, /^error: text\.har is not a HAR file: not JSON/)
    expect(existsSync(join(tmp.dir, 'new.sqlite'))).toBe(false)
  })
})

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff])

describe.each([
  { backend: 'sqlite' as const, arg: (name: string) => `${name}.sqlite` },
  { backend: 'filesystem' as const, arg: (name: string) => name },
])('on a $backend cache', ({ backend, arg }) => {
  let origin: Origin
  let host: string
  let cache: string
  /** Bodies as the library's callers got them, by path. */
  let bodies: Map<string, Buffer>
  const PATHS = ['/api/users/1', '/api/users/2', '/api/items?page=1', '/static/app.js', '/static/logo.png', '/tagged', '/gone']

  beforeEach(async () => {
    origin = await startOrigin({
      '/api/users/1': reply(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' }, '{"id":1,"name":"Ada"}'),
      '/api/users/2': reply(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'cache-control': 'max-age=600' }, zlib.gzipSync('{"id":2,"name":"Grace"}')),
      '/api/users/3': reply(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' }, '{"id":3,"name":"Linus"}'),
      '/api/items': reply(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' }, '[1,2,3]'),
      '/static/app.js': reply(200, { 'content-type': 'text/javascript', 'cache-control': 'max-age=60' }, 'console.log(1)'),
      '/static/logo.png': reply(200, { 'content-type': 'image/png', 'cache-control': 'max-age=60' }, PNG),
      '/tagged': (req, res) => {
        if (req.headers['if-none-match'] === '"t1"') res.writeHead(304, { etag: '"t1"', 'cache-control': 'no-cache' }).end()
        else res.writeHead(200, { 'content-type': 'text/plain', etag: '"t1"', 'cache-control': 'no-cache' }).end('always revalidated')
      },
      '/gone': reply(404, { 'content-type': 'text/plain', 'cache-control': 'max-age=600' }, 'not here'),
    })
    host = new URL(origin.url).host
    const name = join(tmp.dir, 'cache')
    cache = arg(name)
    const f = createCachedFetch({ name, backend })
    bodies = new Map()
    for (const path of PATHS) {
      const res = await f(`${origin.url}${path}`)
      bodies.set(path, Buffer.from(await res.arrayBuffer()))
    }
    await f.cache.close()
  })
  afterEach(() => origin.close())

  const url = (path: string) => `${origin.url}${path}`

  interface Listed {
    key: string
    method: string
    url: string
    status: number
    size: number
    createdAt: string
    expiresAt: string | null
    expired: boolean
  }

  it('ls: a table by default, JSON with --json, filtered by glob, status, expiry and host', async () => {
    const r = await cli(['ls', '--cache', cache])
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^METHOD\s+STATUS\s+URL\s+SIZE\s+STORED\s+EXPIRES$/)
    expect(lines).toHaveLength(1 + PATHS.length + 1)
    expect(lines.at(-1)).toBe(`${PATHS.length} entries`)
    expect(r.stdout).toMatch(new RegExp(`GET\\s+404\\s+${url('/gone').replace(/[.?]/g, '\\$&')}\\s+8 B`))
    expect(r.stdout).toMatch(/\/tagged\s+18 B\s+\S.*\s+expired /)

    const all = await json<Listed[]>(['ls', '--cache', cache])
    expect(all.map((e) => new URL(e.url).pathname + new URL(e.url).search).sort()).toEqual([...PATHS].sort())
    const gz = all.find((e) => e.url.endsWith('/api/users/2'))!
    expect(gz).toMatchObject({ method: 'GET', status: 200, size: zlib.gzipSync('{"id":2,"name":"Grace"}').length, expired: false })
    expect(Date.parse(gz.expiresAt!) - Date.parse(gz.createdAt)).toBeGreaterThanOrEqual(599_000)

    expect((await json<Listed[]>(['ls', `${host}/api/users`, '--cache', cache])).map((e) => e.url)).toEqual([url('/api/users/1'), url('/api/users/2')])
    expect((await json<Listed[]>(['ls', `${host}/static/*.png`, '--cache', cache])).map((e) => e.url)).toEqual([url('/static/logo.png')])
    expect((await json<Listed[]>(['ls', '--status', '404', '--cache', cache])).map((e) => e.url)).toEqual([url('/gone')])
    expect((await json<Listed[]>(['ls', '--expired', '--cache', cache])).map((e) => e.url)).toEqual([url('/tagged')])
    expect(await json<Listed[]>(['ls', '--fresh', '--cache', cache])).toHaveLength(PATHS.length - 1)
    expect(await json<Listed[]>(['ls', '--host', '127.0.0.1', '--cache', cache])).toHaveLength(PATHS.length)
    expect(await json<Listed[]>(['ls', '--host', 'example.com', '--cache', cache])).toEqual([])
    expect((await cli(['ls', 'nomatch.example', '--cache', cache])).stdout).toBe('no entries\n')
    // Global options may come before the command, and --backend may be explicit.
    expect(await json<Listed[]>(['--cache', cache, '--backend', backend, 'ls'])).toHaveLength(PATHS.length)
  })

  it('show: headers, expiry, freshness, and why it would or would not be served now', async () => {
    const fresh = await cli(['show', url('/api/users/1'), '--cache', cache])
    expect(fresh.code).toBe(0)
    expect(fresh.stdout).toContain(`GET ${url('/api/users/1')}\n`)
    expect(fresh.stdout).toMatch(/^status\s+200 OK$/m)
    // max-age=600, stored a few seconds ago at most.
    expect(fresh.stdout).toMatch(/^expires\s+\d{4}-\d\d-\d\dT.*Z \(in 9m [1-5]\ds\)$/m)
    expect(fresh.stdout).toMatch(/^freshness\s+fresh for 9m [1-5]\ds more$/m)
    expect(fresh.stdout).toMatch(/^now\s+would be served: fresh for 9m [1-5]\ds more$/m)
    expect(fresh.stdout).toContain('response headers\n  content-type: application/json\n  cache-control: max-age=600\n')

    const stale = await cli(['show', url('/tagged'), '--cache', cache])
    expect(stale.stdout).toMatch(/^must-revalidate\s+yes/m)
    expect(stale.stdout).toMatch(/^now\s+would be revalidated: expired; has ETag "t1"$/m)

    interface Shown {
      key: string
      url: string
      headers: Record<string, string>
      verdict: { action: string; reason: string; text: string }
    }
    const [shown] = await json<Shown[]>(['show', url('/tagged'), '--cache', cache])
    expect(shown!.verdict).toMatchObject({ action: 'revalidate', reason: 'expired' })
    expect(shown!.headers.etag).toBe('"t1"')
    // By key too.
    const [byKey] = await json<Shown[]>(['show', shown!.key, '--cache', cache])
    expect(byKey!.url).toBe(url('/tagged'))
    // The URL as the user wrote it: query order does not matter.
    expect(await json<Shown[]>(['show', url('/api/items?page=1'), '--cache', cache])).toHaveLength(1)
  })

  it('show and get --offline of something not stored exit 1 with one line', async () => {
    expectOneLineError(await cli(['show', url('/nope'), '--cache', cache]), 1, /^error: nothing stored for http:\/\/127\.0\.0\.1:\d+\/nope$/)
    const seen = origin.seen.length
    expectOneLineError(await cli(['get', url('/api/users/3'), '--offline', '--cache', cache]), 1, /^error: not in the cache: GET .*\/api\/users\/3 \(--offline\)$/)
    expect(origin.seen.length).toBe(seen)
  })

  it('stats: entries, bytes and expired in total and per host', async () => {
    const s = await json<{ cache: string; backend: string; entries: number; bytes: number; expired: number; hits: number; hosts: Record<string, { entries: number; bytes: number }> }>(['stats', '--cache', cache])
    const stored = await json<Listed[]>(['ls', '--cache', cache])
    const bytes = stored.reduce((n, e) => n + e.size, 0)
    expect(s).toMatchObject({ backend, entries: PATHS.length, bytes, expired: 1, hits: 0 })
    expect(s.hosts[host]).toMatchObject({ entries: PATHS.length, bytes })
    const human = await cli(['stats', '--cache', cache])
    expect(human.stdout).toMatch(new RegExp(`^entries\\s+${PATHS.length} \\(1 expired\\)$`, 'm'))
    // Entries of no use (none here: the expired one has an ETag) and what counts against the cap.
    expect(s).toMatchObject({ dead: 0, maxSize: 1024 ** 3, pruning: { interval: 0, lastRunAt: null } })
    expect((s as unknown as { storeBytes: number }).storeBytes).toBeGreaterThan(bytes)
    expect(human.stdout).toMatch(/^of no use\s+0 \(removed by the next prune\)$/m)
    expect(human.stdout).toMatch(new RegExp(`^${host.replace(/\./g, '\\.')}\\s+${PATHS.length}\\s+1\\s+${bytes} B$`, 'm'))

    // Both disk backends have a default cap (1 GiB), shown with its use.
    expect((s as unknown as { cap: number | null }).cap).toBe(1024 ** 3)
    expect(human.stdout).toMatch(/^cap\s+1\.0 GiB \(0% used\)$/m)
  })

  it('purge: by expiry, URL glob, age or everything; --dry-run deletes nothing; no criterion is a usage error', async () => {
    expectOneLineError(await cli(['purge', '--cache', cache]), 2, /^error: purge: say what to purge/)
    expect(await json(['purge', '--expired', '--dry-run', '--cache', cache])).toEqual({ purged: 1, dryRun: true })
    expect(await json<Listed[]>(['ls', '--cache', cache])).toHaveLength(PATHS.length)
    expect(await json(['purge', '--expired', '--cache', cache])).toEqual({ purged: 1, dryRun: false })
    expect((await json<Listed[]>(['ls', '--cache', cache])).map((e) => e.url)).not.toContain(url('/tagged'))
    const r = await cli(['purge', '--url', `${host}/api/users`, '--cache', cache])
    expect(r).toMatchObject({ code: 0, stdout: 'purged 2 entries\n', stderr: '' })
    expect(await json(['purge', '--older-than', '1h', '--cache', cache])).toEqual({ purged: 0, dryRun: false })
    expect(await json(['purge', '--status', '404', '--url', host, '--cache', cache])).toEqual({ purged: 1, dryRun: false })
    expectOneLineError(await cli(['purge', '--all', '--expired', '--cache', cache]), 2, /--all deletes everything; give it alone/)
    expect(await json(['purge', '--all', '--cache', cache])).toEqual({ purged: PATHS.length - 4, dryRun: false })
    expect(await json(['ls', '--cache', cache])).toEqual([])
  })

  it('get: a hit from storage, a miss that is stored, a revalidation, and the body on request', async () => {
    let seen = origin.seen.length
    const hit = await cli(['get', url('/api/users/1'), '--cache', cache])
    expect(hit.code).toBe(0)
    expect(hit.stdout).toMatch(/^200 OK\ncache-status: fetchcache; hit; ttl=\d+; key="[0-9a-f]+"\n$/)
    expect(origin.seen.length).toBe(seen)

    const miss = await cli(['get', url('/api/users/3'), '--body', '--cache', cache])
    expect(miss.stdout).toMatch(/^200 OK\ncache-status: fetchcache; fwd=uri-miss; stored; key="[0-9a-f]+"\n\n\{"id":3,"name":"Linus"\}$/)
    expect(origin.seen.length).toBe(++seen)
    expect((await json<Listed[]>(['ls', `${host}/api/users/3`, '--cache', cache])).map((e) => e.url)).toEqual([url('/api/users/3')])

    // A gzip body is decoded, as fetch decodes it.
    const gz = await json<{ status: number; fromCache: boolean; body: string; headers: Record<string, string> }>(['get', url('/api/users/2'), '--body', '--cache', cache])
    expect(gz).toMatchObject({ status: 200, fromCache: true, body: '{"id":2,"name":"Grace"}' })

    const revalidated = await json<{ cacheStatus: string; body: string }>(['get', url('/tagged'), '--body', '--cache', cache])
    expect(revalidated.cacheStatus).toMatch(/^fetchcache; fwd=stale; fwd-status=304/)
    expect(revalidated.body).toBe('always revalidated')
    expect(origin.seen.at(-1)!.headers['if-none-match']).toBe('"t1"')

    await cli(['get', url('/api/users/1'), '--refresh', '--cache', cache])
    expect(origin.seen.length).toBe(seen + 2)
    const forced = await cli(['get', url('/api/users/1'), '--force-refresh', '-i', '--cache', cache])
    expect(forced.stdout).toMatch(/^cache-status: fetchcache; fwd=request; stored/m)
    expect(forced.stdout).toMatch(/^content-type: application\/json$/m)

    const offline = await cli(['get', url('/static/logo.png'), '--offline', '--body', '--json', '--cache', cache])
    expect(JSON.parse(offline.stdout).bodyBase64).toBe(PNG.toString('base64'))
  })

  it('get: an origin that cannot be reached exits 3', async () => {
    const closed = await startOrigin()
    const dead = closed.url
    await closed.close()
    expectOneLineError(await cli(['get', `${dead}/x`, '--cache', cache]), 3, /^error: GET http:\/\/127\.0\.0\.1:\d+\/x: connect ECONNREFUSED/)
    expectOneLineError(await cli(['get', 'not a url', '--cache', cache]), 2, /^error: not an absolute URL: not a url$/)
  })

  it('export --har, import into a new cache, replay offline with the origin closed: byte-identical', async () => {
    expect(await json(['export', '--har', 'fixtures.har', '--cache', cache])).toEqual({ exported: PATHS.length, file: 'fixtures.har' })
    const har = JSON.parse(readFileSync(join(tmp.dir, 'fixtures.har'), 'utf8')) as { log: { version: string; entries: Array<{ request: { url: string } }> } }
    expect(har.log.version).toBe('1.2')
    expect(har.log.entries).toHaveLength(PATHS.length)
    // A part of the cache, to stdout.
    const part = await cli(['export', `${host}/static`, '--har', '-', '--cache', cache])
    expect((JSON.parse(part.stdout) as typeof har).log.entries.map((e) => e.request.url).sort()).toEqual([url('/static/app.js'), url('/static/logo.png')])

    const replay = join(tmp.dir, 'replay', 'cache')
    const target = backend === 'sqlite' ? `${replay}.sqlite` : replay
    const imported = await cli(['import', 'fixtures.har', '--cache', target, '--backend', backend])
    expect(imported).toMatchObject({ code: 0, stderr: '', stdout: `imported ${PATHS.length} entries into ${target}\n` })
    expect(await json<Listed[]>(['ls', '--cache', target])).toEqual(await json<Listed[]>(['ls', '--cache', cache]))

    const seen = origin.seen.length
    await origin.close()
    const offline = createCachedFetch({ name: replay, backend, onlyIfCached: true })
    for (const path of PATHS) {
      const res = await offline(url(path))
      expect(res.headers.get('cache-status'), path).toMatch(/^fetchcache; hit/)
      expect(res.status).toBe(path === '/gone' ? 404 : 200)
      expect(Buffer.from(await res.arrayBuffer()), path).toEqual(bodies.get(path))
    }
    await offline.cache.close()
    expect(origin.seen.length).toBe(seen)
  })

  it('a malformed HAR leaves an existing cache as it was', async () => {
    const before = await json<Listed[]>(['ls', '--cache', cache])
    const good = (await cli(['export', '--har', '-', '--cache', cache])).stdout
    const broken = JSON.parse(good) as { log: { entries: Array<{ response: { status: unknown } }> } }
    broken.log.entries[3]!.response.status = 'OK'
    writeFileSync(join(tmp.dir, 'broken.har'), JSON.stringify(broken))
    await json(['purge', '--all', '--cache', cache])
    expectOneLineError(await cli(['import', 'broken.har', '--cache', cache]), 2, /^error: broken\.har is not a HAR file: log\.entries\[3\]\.response\.status: expected a whole number; got "OK"$/)
    expect(await json(['ls', '--cache', cache])).toEqual([])
    writeFileSync(join(tmp.dir, 'good.har'), good)
    await json(['import', 'good.har', '--cache', cache])
    expect(await json<Listed[]>(['ls', '--cache', cache])).toEqual(before)
  })

  it('vacuum compacts the store', async () => {
    await json(['purge', '--url', host, '--cache', cache])
    const r = await cli(['vacuum', '--cache', cache])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`^vacuumed ${cache.replace(/[.]/g, '\\.')}: [\\d.]+ (B|KiB|MiB) → [\\d.]+ (B|KiB|MiB)\\n$`))
    expect(await json(['vacuum', '--cache', cache])).toMatchObject({ cache, vacuumed: true })
  })

  it('keeps stderr clean on long work when it is not a terminal (no progress bar)', async () => {
    const entries = Array.from({ length: 250 }, (_, i) => ({
      startedDateTime: new Date().toISOString(),
      time: 0,
      request: { method: 'GET', url: `${origin.url}/bulk/${i}`, httpVersion: 'HTTP/1.1', cookies: [], headers: [], queryString: [], headersSize: -1, bodySize: -1 },
      response: { status: 200, statusText: 'OK', httpVersion: 'HTTP/1.1', cookies: [], headers: [{ name: 'cache-control', value: 'max-age=60' }], content: { size: 1, mimeType: 'text/plain', text: `${i}` }, redirectURL: '', headersSize: -1, bodySize: -1 },
      cache: {},
      timings: { send: 0, wait: 0, receive: 0 },
    }))
    writeFileSync(join(tmp.dir, 'bulk.har'), JSON.stringify({ log: { version: '1.2', creator: { name: 'test', version: '1' }, entries } }))
    for (const args of [['import', 'bulk.har'], ['export', '--har', 'all.har'], ['purge', '--url', `${host}/bulk`]]) {
      const r = await cli([...args, '--cache', cache])
      expect(r.code, args[0]).toBe(0)
      expect(r.stderr, args[0]).toBe('')
    }
    expect(await json<Listed[]>(['ls', '--cache', cache])).toHaveLength(PATHS.length)
  })
})

describe('paths', () => {
  it('takes a SQLite cache with or without its extension, and any other file name as is', async () => {
    const origin = await startOrigin({ '/x': reply(200, { 'cache-control': 'max-age=60' }, 'x') })
    try {
      const name = join(tmp.dir, 'store')
      const f = createCachedFetch({ name })
      await (await f(`${origin.url}/x`)).text()
      await f.cache.close()
      for (const c of ['store', 'store.sqlite', join(tmp.dir, 'store')]) expect(await json<unknown[]>(['ls', '--cache', c]), c).toHaveLength(1)
      // A fixture checked in under another extension.
      writeFileSync(join(tmp.dir, 'fixture.db'), readFileSync(`${name}.sqlite`))
      expect(await json<unknown[]>(['ls', '--cache', 'fixture.db'])).toHaveLength(1)
      // A folder given as a SQLite cache is a usage error.
      mkdirSync(join(tmp.dir, 'folder'))
      expectOneLineError(await cli(['ls', '--cache', 'folder', '--backend', 'sqlite']), 2, /^error: folder is a folder; a SQLite cache is a file/)
      // import may create, with its folders.
      const har = await cli(['export', '--har', '-', '--cache', 'store'])
      writeFileSync(join(tmp.dir, 'x.har'), har.stdout)
      expect(await json(['import', 'x.har', '--cache', 'deep/new/cache'])).toMatchObject({ imported: 1, skipped: [] })
      const reopened = openCache({ name: join(tmp.dir, 'deep', 'new', 'cache') })
      expect(await reopened.urls()).toEqual([`${origin.url}/x`])
      await reopened.close()
    } finally {
      await origin.close()
    }
  })
})

/**
 * The `fetchcache` command line from nothing and on a terminal: the built binary, run in an
 * empty folder, piped and under a real pseudo-terminal (util-linux `script`), against a real
 * origin on 127.0.0.1.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { type Origin, reply, startOrigin } from './helpers/origin.js'
import { tempDir } from './helpers/tmp.js'

vi.setConfig({ testTimeout: 60_000 })

const root = resolve(import.meta.dirname, '..')
// A build of its own (dist/ may be rebuilt by npm pack in another test file meanwhile).
const out = join(root, 'node_modules', '.fetchcache-cli', `start-${process.pid}`)
const bin = join(out, 'cli', 'main.js')
const LONG = `/api/${'segment/'.repeat(12)}end?page=2`

let origin: Origin
let tmp: ReturnType<typeof tempDir>

beforeAll(async () => {
  rmSync(out, { recursive: true, force: true })
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', out], { cwd: root, stdio: 'pipe' })
  } catch (error) {
    if (!existsSync(bin)) throw error
  }
  origin = await startOrigin({
    '/text': reply(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=600' }, 'no newline at the end'),
    [LONG]: reply(200, { 'cache-control': 'max-age=600' }, 'long'),
  })
}, 120_000)

afterAll(async () => {
  await origin?.close()
  rmSync(out, { recursive: true, force: true })
})

beforeEach(() => {
  tmp = tempDir('fetchcache-cli-start-')
})
afterEach(() => tmp.cleanup())

function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra }
  for (const name of ['FETCHCACHE_CACHE', 'FETCHCACHE_BACKEND', 'NODE_DEBUG', 'FORCE_COLOR']) if (!(name in extra)) delete env[name]
  if (!('NO_COLOR' in extra)) delete env.NO_COLOR
  return env
}

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** The binary with stdout and stderr piped. */
function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: tmp.dir, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    child.stdout.on('data', (c: Buffer) => stdout.push(c))
    child.stderr.on('data', (c: Buffer) => stderr.push(c))
    child.on('error', reject)
    child.on('close', (code) => done({ code: code ?? -1, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() }))
  })
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** The binary on a pseudo-terminal `columns` wide; what the terminal showed (\r\n as \n). */
function onTerminal(args: readonly string[], columns = 80, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const command = `stty cols ${columns} rows 24; exec ${quote(process.execPath)} ${[bin, ...args].map(quote).join(' ')}`
  return new Promise((done, reject) => {
    const child = spawn('script', ['-qefc', command, '/dev/null'], { cwd: tmp.dir, env: cleanEnv({ TERM: 'xterm', ...env }), stdio: ['ignore', 'pipe', 'pipe'] })
    const chunks: Buffer[] = []
    child.stdout.on('data', (c: Buffer) => chunks.push(c))
    child.on('error', reject)
    child.on('close', () => done(Buffer.concat(chunks).toString().replace(/\r\n/g, '\n')))
  })
}

const GREEN = '\u001b[32m'
const YELLOW = '\u001b[33m'
const RED = '\u001b[31m'

describe('get starts from nothing', () => {
  it('creates the cache it writes to in an empty folder; the inspection commands still refuse a missing one', async () => {
    expect(readdirSync(tmp.dir)).toEqual([])
    const ls = await cli(['ls'])
    expect(ls.code).toBe(2)
    expect(readdirSync(tmp.dir)).toEqual([])
    const first = await cli(['get', `${origin.url}/text`])
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(/^200 OK\ncache-status: fetchcache; fwd=uri-miss; stored/)
    expect(existsSync(join(tmp.dir, 'http_cache.sqlite'))).toBe(true)
    const second = await cli(['get', `${origin.url}/text`])
    expect(second.stdout).toMatch(/cache-status: fetchcache; hit/)
    expect((await cli(['get', `${origin.url}/text`, '--cache', 'made/here', '--backend', 'filesystem'])).code).toBe(0)
    expect(existsSync(join(tmp.dir, 'made', 'here'))).toBe(true)
  })
})

describe('on a terminal', () => {
  it('get --body ends with a newline on a terminal, and adds nothing to the bytes in a pipe', async () => {
    const tty = await onTerminal(['get', `${origin.url}/text`, '--body'])
    expect(tty.endsWith('no newline at the end\n')).toBe(true)
    const piped = await cli(['get', `${origin.url}/text`, '--body'])
    expect(piped.stdout.endsWith('\n\nno newline at the end')).toBe(true)
  })

  it('colours hits green and misses yellow on a terminal, never in a pipe or with NO_COLOR', async () => {
    const miss = await onTerminal(['get', `${origin.url}/text`])
    expect(miss).toContain(`${YELLOW}fetchcache; fwd=uri-miss`)
    const hit = await onTerminal(['get', `${origin.url}/text`])
    expect(hit).toContain(`${GREEN}fetchcache; hit`)
    expect(await onTerminal(['get', `${origin.url}/text`], 80, { NO_COLOR: '1' })).not.toContain('\u001b[')
    expect((await cli(['get', `${origin.url}/text`])).stdout).not.toContain('\u001b[')
    expect((await cli(['get', `${origin.url}/text`], { CI: 'true' })).stdout).not.toContain('\u001b[')
    const error = await onTerminal(['ls', '--cache', 'nothere'])
    expect(error).toContain(`${RED}error:`)
  })

  it('ls fits the terminal: long URLs shortened in the middle, in full with --wide or in a pipe', async () => {
    expect((await cli(['get', `${origin.url}${LONG}`])).code).toBe(0)
    const full = `${origin.url}${LONG}`
    const narrow = (await onTerminal(['ls'], 80, { NO_COLOR: '1' })).split('\n').filter((l) => l.length > 0)
    for (const line of narrow) expect(line.length).toBeLessThanOrEqual(80)
    const row = narrow.find((l) => l.startsWith('GET'))!
    expect(row).toContain('…')
    expect(row).toMatch(/ http:\/\/127\.0\.0\.1:\d*…[a-z/]*end\?page=2 /)
    expect(await onTerminal(['ls', '--wide'], 80, { NO_COLOR: '1' })).toContain(full)
    expect((await cli(['ls'])).stdout).toContain(full)
  })
})

describe('export --har', () => {
  it('creates missing folders for the file', async () => {
    await cli(['get', `${origin.url}/text`])
    const r = await cli(['export', '--har', 'out/deeper/api.har'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const har = JSON.parse(readFileSync(join(tmp.dir, 'out', 'deeper', 'api.har'), 'utf8')) as { log: { entries: unknown[] } }
    expect(har.log.entries).toHaveLength(1)
  })

  it('names the file it was asked to write when that fails, never a temporary one, and leaves none behind', async () => {
    await cli(['get', `${origin.url}/text`])
    mkdirSync(join(tmp.dir, 'taken'))
    writeFileSync(join(tmp.dir, 'taken', 'keep'), '')
    const r = await cli(['export', '--har', 'taken'])
    expect(r.code).toBe(3)
    expect(r.stderr.trimEnd()).toMatch(/^error: cannot write taken: E[A-Z]+: [a-z ]+$/)
    expect(r.stderr).not.toContain('.tmp')
    expect(readdirSync(tmp.dir).sort()).toEqual(['http_cache.sqlite', 'taken'])
  })
})

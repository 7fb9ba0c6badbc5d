/**
 * The package as users get it: `npm pack`, unpacked into another project's node_modules,
 * imported by name from plain Node (built JS) and type-checked from TypeScript (.d.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { tempDir } from './helpers/tmp.js'

const root = resolve(import.meta.dirname, '..')
let tmp: ReturnType<typeof tempDir>
let consumer: string

beforeAll(() => {
  tmp = tempDir('fetchcache-pack-')
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', tmp.dir], { cwd: root, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error' } })
  const tarball = join(tmp.dir, out.trim().split('\n').pop()!)
  consumer = join(tmp.dir, 'consumer')
  const modules = join(consumer, 'node_modules')
  mkdirSync(join(modules, 'fetchcache'), { recursive: true })
  execFileSync('tar', ['-xzf', tarball, '-C', join(modules, 'fetchcache'), '--strip-components=1'])
  // The package's dependencies, as npm would have installed them beside it.
  for (const dep of ['undici', 'better-sqlite3', 'http-cache-semantics', 'cacache', 'commander', 'cli-table3', 'cli-progress', 'picocolors', 'bindings', 'file-uri-to-path', '@types', 'typescript']) {
    symlinkSync(join(root, 'node_modules', dep), join(modules, dep))
  }
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }))
}, 120_000)

afterAll(() => tmp?.cleanup())

it('ships built JS, type declarations and the README, and nothing from test/', () => {
  const files = readdirSync(join(consumer, 'node_modules', 'fetchcache'))
  expect(files.sort()).toEqual(['LICENSE', 'README.md', 'dist', 'package.json'])
  const dist = readdirSync(join(consumer, 'node_modules', 'fetchcache', 'dist'))
  expect(dist).toContain('index.js')
  expect(dist).toContain('index.d.ts')
})

it('works when imported by name from the tarball', () => {
  const script = `
    import http from 'node:http'
    import { createCachedFetch } from 'fetchcache'
    let n = 0
    const server = http.createServer((q, s) => { n++; s.writeHead(200, { 'cache-control': 'max-age=60' }); s.end('hi') })
    await new Promise((r) => server.listen(0, '127.0.0.1', r))
    const f = createCachedFetch({ name: 'pkg_cache' })
    const url = 'http://127.0.0.1:' + server.address().port + '/'
    const a = await f(url); await a.text(); await f.cache.flush()
    const b = await f(url)
    console.log(JSON.stringify({ body: await b.text(), status: b.headers.get('cache-status').split(';')[1].trim(), n }))
    await f.cache.close(); server.close()
  `
  writeFileSync(join(consumer, 'run.mjs'), script)
  const out = execFileSync(process.execPath, ['run.mjs'], { cwd: consumer, encoding: 'utf8', timeout: 30_000 })
  expect(JSON.parse(out)).toEqual({ body: 'hi', status: 'hit', n: 1 })
})

it('works from CommonJS: require() returns the same module instance import() does', () => {
  const script = `
    const http = require('node:http')
    const fetchcache = require('fetchcache')
    const { createCachedFetch } = fetchcache
    let n = 0
    const server = http.createServer((q, s) => { n++; s.writeHead(200, { 'cache-control': 'max-age=60' }); s.end('hi') })
    server.listen(0, '127.0.0.1', async () => {
      const f = createCachedFetch({ backend: 'memory' })
      const url = 'http://127.0.0.1:' + server.address().port + '/'
      const a = await f(url); await a.text(); await f.cache.flush()
      const b = await f(url)
      const same = (await import('fetchcache')) === fetchcache
      console.log(JSON.stringify({ body: await b.text(), status: b.headers.get('cache-status').split(';')[1].trim(), n, same }))
      await f.cache.close(); server.close()
    })
  `
  writeFileSync(join(consumer, 'run.cjs'), script)
  const run = spawnSync(process.execPath, ['run.cjs'], { cwd: consumer, encoding: 'utf8', timeout: 30_000 })
  expect(run.stderr).toBe('') // no ExperimentalWarning either
  expect(JSON.parse(run.stdout)).toEqual({ body: 'hi', status: 'hit', n: 1, same: true })
})

it('require() on a Node that cannot load ES modules names the versions that can', () => {
  // --no-experimental-require-module gives the behaviour of Node before 20.19 / 22.12.
  writeFileSync(join(consumer, 'old.cjs'), `require('fetchcache')`)
  const run = spawnSync(process.execPath, ['--no-experimental-require-module', 'old.cjs'], { cwd: consumer, encoding: 'utf8', timeout: 30_000 })
  expect(run.status).toBe(1)
  expect(run.stderr).toContain(`require('fetchcache') needs Node 20.19+ or 22.12+`)
})

it('states the Node versions it supports in engines, the ones require(esm) needs', () => {
  const pkg = JSON.parse(readFileSync(join(consumer, 'node_modules', 'fetchcache', 'package.json'), 'utf8')) as { engines: { node: string } }
  expect(pkg.engines.node).toBe('^20.19.0 || >=22.12.0')
})

it('uninstall leaves a fetch kept from the installed time working when Node set the dispatcher first', () => {
  // Node's own undici sets the global dispatcher on its first fetch (importing axios is enough),
  // so installCache() makes an Agent of its own; a client built while installed keeps that fetch.
  const script = `
    import http from 'node:http'
    let n = 0
    const server = http.createServer((q, s) => { n++; s.writeHead(200, { 'cache-control': 'max-age=60' }); s.end('hi') })
    await new Promise((r) => server.listen(0, '127.0.0.1', r))
    const url = 'http://127.0.0.1:' + server.address().port + '/'
    await (await fetch(url)).text()
    const { installCache, uninstallCache } = await import('fetchcache')
    installCache({ backend: 'memory' })
    const kept = globalThis.fetch
    const first = await kept(url); await first.text()
    await uninstallCache()
    const after = await kept(url)
    console.log(JSON.stringify({ first: first.headers.get('cache-status').split(';')[1].trim(), body: await after.text(), status: after.headers.get('cache-status'), n }))
    server.close()
  `
  writeFileSync(join(consumer, 'kept.mjs'), script)
  // No explicit exit: the process must also end on its own (nothing left holding it open).
  const out = execFileSync(process.execPath, ['kept.mjs'], { cwd: consumer, encoding: 'utf8', timeout: 30_000 })
  expect(JSON.parse(out)).toEqual({ first: 'fwd=uri-miss', body: 'hi', status: null, n: 3 })
})

it('installs a working fetchcache command', () => {
  const bin = join(consumer, 'node_modules', 'fetchcache', 'dist', 'cli', 'main.js')
  const out = execFileSync(process.execPath, [bin, '--help'], { cwd: consumer, encoding: 'utf8' })
  expect(out).toMatch(/Usage: fetchcache/)
  const pkg = JSON.parse(readFileSync(join(consumer, 'node_modules', 'fetchcache', 'package.json'), 'utf8')) as { bin: Record<string, string> }
  expect(pkg.bin.fetchcache).toBe('./dist/cli/main.js')
})

it('type-checks a consumer written against the published declarations', () => {
  writeFileSync(
    join(consumer, 'use.ts'),
    `import { Agent } from 'undici'
     import { cacheInfo, cacheInterceptor, createCachedFetch, installCache, NEVER_EXPIRE, type CacheOptions } from 'fetchcache'
     const options: CacheOptions = { backend: 'memory', expireAfter: '5m', urlsExpireAfter: { 'example.com/static': NEVER_EXPIRE } }
     const f = createCachedFetch(options)
     const agent = new Agent().compose(cacheInterceptor(options))
     export async function main(): Promise<boolean | undefined> {
       installCache()
       const res: Response = await f('http://127.0.0.1/', { expireAfter: 60, cache: 'no-cache' })
       void agent
       return cacheInfo(res)?.fromCache
     }
     // @ts-expect-error an unknown backend name is a type error
     createCachedFetch({ backend: 'postgres' })
    `,
  )
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, types: ['node'], skipLibCheck: false }, files: ['use.ts'] }),
  )
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: consumer, encoding: 'utf8' })
}, 90_000) // a full tsc run: ~5 s alone, several times that on a busy 2-core machine

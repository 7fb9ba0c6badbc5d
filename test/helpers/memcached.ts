/**
 * A real `memcached` for tests, on a free loopback port, stopped in afterAll. Without the binary
 * the tests skip with a loud reason — unless FETCHCACHE_REQUIRE_SERVERS=1 (CI), where a missing
 * binary is a failure.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { connect } from 'node:net'
import { freePort } from './net.js'
import { setTimeout as sleep } from 'node:timers/promises'

export const memcachedBinary = spawnSync('memcached', ['-h'], { stdio: 'ignore' }).status === 0

/** Whether tests that need memcached run here; throws when CI requires them and the binary is missing. */
export function memcachedAvailable(): boolean {
  if (memcachedBinary) return true
  if (process.env.FETCHCACHE_REQUIRE_SERVERS === '1') {
    throw new Error('memcached is not installed, and FETCHCACHE_REQUIRE_SERVERS=1 forbids skipping its tests (apt-get install memcached)')
  }
  console.warn('\n*** SKIPPED: the Memcached backend tests need the memcached binary (apt-get install memcached) ***\n')
  return false
}


export interface MemcachedServer {
  port: number
  /** `127.0.0.1:<port>`, as `servers` takes it. */
  address: string
  /** Stop the server (SIGKILL: as a crash would); the port stays ours to start it again. */
  stop(): Promise<void>
  /** Start it again on the same port, empty. */
  start(): Promise<void>
  /** Pause (SIGSTOP) or resume (SIGCONT) it: a server that is up but does not answer. */
  pause(): void
  resume(): void
}

function parseSize(size: string): number {
  const m = /^(\d+)([km]?)$/.exec(size)
  if (!m) throw new Error(`item size: expected like '32k' or '1m'; got ${size}`)
  return Number(m[1]) * (m[2] === 'k' ? 1024 : m[2] === 'm' ? 1024 * 1024 : 1)
}

async function listening(port: number, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const up = await new Promise<boolean>((ok) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy()
        ok(true)
      })
      s.once('error', () => ok(false))
    })
    if (up) return
    await sleep(20)
  }
  throw new Error(`memcached did not listen on 127.0.0.1:${port}`)
}

/**
 * Start memcached on a free loopback port. `itemSize` is its `-I` (item size limit, e.g. '32k'),
 * `memoryMb` its `-m`.
 */
export async function startMemcached(options: { itemSize?: string; memoryMb?: number } = {}): Promise<MemcachedServer> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const args = ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', String(options.memoryMb ?? 64), '-I', options.itemSize ?? '1m', '-t', '1']
  // Below 1 MiB, the largest slab chunk must shrink with the item limit or memcached refuses to start.
  if (options.itemSize !== undefined) args.push('-o', `slab_chunk_max=${Math.floor(parseSize(options.itemSize) / 2)}`)
  // memcached refuses to run as root unless told which user to be.
  if (process.getuid?.() === 0) args.push('-u', 'root')
  const start = async () => {
    const c = spawn('memcached', args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    c.stderr!.on('data', (d: Buffer) => (err += d))
    const exited = new Promise<never>((_, fail) => c.once('exit', (code) => fail(new Error(`memcached exited (${code}): ${err}`))))
    exited.catch(() => {})
    child = c
    await Promise.race([listening(port, Date.now() + 5000), exited])
  }
  const stop = async () => {
    const c = child
    child = undefined
    if (!c || c.exitCode !== null) return
    const gone = new Promise((ok) => c.once('exit', ok))
    c.kill('SIGKILL')
    await gone
  }
  await start()
  return {
    port,
    address: `127.0.0.1:${port}`,
    stop,
    start,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
  }
}

/** Keys stored on the server (`lru_crawler metadump all`): test-only, to find a large entry's parts. */
export async function dumpKeys(port: number): Promise<string[]> {
  return new Promise((ok, fail) => {
    const s = connect(port, '127.0.0.1', () => s.write('lru_crawler metadump all\r\n'))
    let text = ''
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1')
      if (text.endsWith('END\r\n') || text.startsWith('ERROR') || text.includes('BUSY')) {
        s.destroy()
        if (!text.endsWith('END\r\n')) return fail(new Error(`metadump: ${text.trim()}`))
        ok([...text.matchAll(/^key=(\S+)/gm)].map((m) => decodeURIComponent(m[1]!)))
      }
    })
    s.once('error', fail)
  })
}

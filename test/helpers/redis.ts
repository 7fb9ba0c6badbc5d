/**
 * Real redis-server processes for tests: on free loopback ports, in a temp folder, with no
 * persistence; a single server (optionally TLS and a password), or a 3-node Cluster. Without
 * the binary the tests skip loudly, unless FETCHCACHE_REQUIRE_SERVERS=1 (CI), where they fail.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { freePort } from './net.js'
import { join } from 'node:path'
import { it } from 'vitest'
import { tempDir } from './tmp.js'

function installed(binary: string): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v "$0"', binary], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/**
 * Whether redis-server can run here. When it cannot: with FETCHCACHE_REQUIRE_SERVERS=1 a test
 * that fails is registered (CI must never skip these); otherwise a loud notice, and skip.
 */
export function redisAvailable(binaries: readonly string[] = ['redis-server', 'redis-cli']): boolean {
  const missing = binaries.filter((b) => !installed(b))
  if (missing.length === 0) return true
  const reason = `${missing.join(', ')} not installed (Debian: apt-get install redis-server${missing.includes('openssl') ? ' openssl' : ''})`
  if (process.env.FETCHCACHE_REQUIRE_SERVERS === '1') {
    it('has the servers it needs', () => {
      throw new Error(`FETCHCACHE_REQUIRE_SERVERS=1 but ${reason}`)
    })
  } else {
    console.warn(`\n*** SKIPPED: Redis tests: ${reason} ***\n`)
  }
  return false
}


export interface RedisServer {
  port: number
  /** `redis://127.0.0.1:PORT` (or `rediss://` with TLS; credentials not included). */
  url: string
  dir: string
  /** Stop (SIGTERM) and wait for the exit. */
  stop(): Promise<void>
  /** Start again on the same port with the same settings. */
  start(): Promise<void>
  /** redis-cli against this server; returns its output. */
  cli(...args: string[]): string
  /** Stop and remove the folder. */
  cleanup(): Promise<void>
}

export interface RedisServerOptions {
  /** Extra redis-server arguments, e.g. ['--maxmemory', '2mb']. */
  args?: string[]
  /** This port instead of a free one. */
  port?: number
  password?: string
  /** Serve TLS only, with this certificate (see makeCertificate). */
  tls?: Certificate
}

function launch(args: string[], dir: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const p = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    const timer = setTimeout(() => {
      p.kill('SIGKILL')
      reject(new Error(`redis-server did not start: ${out}`))
    }, 10_000)
    p.stdout!.on('data', (c: Buffer) => {
      out += c.toString()
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer)
        resolve(p)
      }
    })
    p.stderr!.on('data', (c: Buffer) => (out += c.toString()))
    p.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`redis-server exited ${code}: ${out}`))
    })
  })
}

function stopped(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    p.once('exit', () => resolve())
    p.kill('SIGTERM')
  })
}

export async function startRedis(options: RedisServerOptions = {}, tmp = tempDir('fetchcache-redis-')): Promise<RedisServer> {
  const port = options.port ?? (await freePort())
  const dir = tmp.dir
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'notice']
  if (options.tls) {
    args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', options.tls.cert, '--tls-key-file', options.tls.key, '--tls-ca-cert-file', options.tls.cert, '--tls-auth-clients', 'no')
  } else {
    args.push('--port', String(port))
  }
  if (options.password) args.push('--requirepass', options.password)
  args.push(...(options.args ?? []))
  let proc: ChildProcess | undefined = await launch(args, dir)
  const cliBase = ['-h', '127.0.0.1', '-p', String(port), ...(options.password ? ['--no-auth-warning', '-a', options.password] : [])]
  if (options.tls) cliBase.push('--tls', '--cacert', options.tls.cert)
  return {
    port,
    dir,
    url: `${options.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    async stop() {
      await stopped(proc)
      proc = undefined
    },
    async start() {
      proc ??= await launch(args, dir)
    },
    cli: (...a) => execFileSync('redis-cli', [...cliBase, ...a], { encoding: 'utf8' }),
    async cleanup() {
      await stopped(proc)
      proc = undefined
      tmp.cleanup()
    },
  }
}

export interface Certificate {
  cert: string
  key: string
}

/** A self-signed certificate for 127.0.0.1 and localhost, made with the openssl CLI. */
export function makeCertificate(dir: string): Certificate {
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { stdio: 'ignore' },
  )
  return { cert, key }
}

export interface RedisCluster {
  ports: number[]
  cleanup(): Promise<void>
}

/** Three masters (no replicas) joined with `redis-cli --cluster create`, waited until cluster_state:ok. */
export async function startCluster(): Promise<RedisCluster> {
  const tmp = tempDir('fetchcache-redis-cluster-')
  const servers: RedisServer[] = []
  try {
    for (let i = 0; i < 3; i++) {
      const dir = join(tmp.dir, `n${i}`)
      mkdirSync(dir)
      servers.push(
        await startRedis(
          { args: ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '2000'] },
          { dir, cleanup: () => {} },
        ),
      )
    }
    execFileSync('redis-cli', ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore' })
    const deadline = Date.now() + 15_000
    while (!servers.every((s) => s.cli('cluster', 'info').includes('cluster_state:ok'))) {
      if (Date.now() > deadline) throw new Error('cluster did not become ok')
      await new Promise((r) => setTimeout(r, 100))
    }
  } catch (error) {
    for (const s of servers) await s.cleanup()
    tmp.cleanup()
    throw error
  }
  return {
    ports: servers.map((s) => s.port),
    async cleanup() {
      for (const s of servers) await s.cleanup()
      tmp.cleanup()
    },
  }
}

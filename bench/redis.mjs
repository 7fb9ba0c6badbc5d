// The Redis server of the benchmark: FETCHCACHE_BENCH_REDIS if set, else a redis-server of
// our own on a free loopback port (no persistence), or none when the binary is missing.
import { execFileSync, spawn } from 'node:child_process'
import { createServer } from 'node:net'

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

export async function startBenchRedis() {
  if (process.env.FETCHCACHE_BENCH_REDIS) return { url: process.env.FETCHCACHE_BENCH_REDIS, stop() {} }
  try {
    execFileSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' })
  } catch {
    process.stderr.write('redis-server not installed: no Redis rows\n')
    return undefined
  }
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (c) => {
      out += c
      if (out.includes('Ready to accept connections')) resolve()
    })
    child.on('exit', (code) => reject(new Error(`redis-server exited ${code}`)))
  })
  child.stdout.resume()
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill() }
}

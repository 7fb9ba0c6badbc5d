// Cost of the per-entry checksum on the hit path (issue 11).
//   node bench/checksum.mjs [dist folder]      (default ./dist; build first: npm run build)
// Prints the raw CRC-32 cost for 1 KiB and 1 MiB, then the p50 of SQLiteBackend.get() and of a
// createCachedFetch hit for a SIZE-byte body (default 1024), so the same script run on two builds compares them.
import { crc32 } from 'node:zlib'
import http from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const dist = resolve(process.argv[2] ?? 'dist')
const fc = await import(pathToFileURL(join(dist, 'index.js')).href)
const p50 = (xs) => (xs.sort((a, b) => a - b), process.env.PCT && console.log([0.1, 0.25, 0.5, 0.75, 0.9].map((q) => xs[Math.floor(xs.length * q)].toFixed(0)).join(" ")), xs[Math.floor(xs.length / 2)])
const time = async (n, fn) => {
  const out = []
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint()
    await fn()
    out.push(Number(process.hrtime.bigint() - t) / 1000)
  }
  return out
}

for (const size of [1024, 1024 * 1024]) {
  const buf = Buffer.alloc(size, 7)
  const n = size > 1e5 ? 200 : 100_000
  const t = process.hrtime.bigint()
  for (let i = 0; i < n; i++) crc32(buf)
  console.log(`crc32 ${size} B: ${(Number(process.hrtime.bigint() - t) / n / 1000).toFixed(2)} µs`)
}

const dir = mkdtempSync(join(tmpdir(), 'fc-cksum-'))
const SIZE = Number(process.env.SIZE ?? 1024)
const N = SIZE > 1e5 ? 300 : 5000
const body = Buffer.alloc(SIZE, 'x')
const server = http.createServer((_q, r) => r.writeHead(200, { 'cache-control': 'max-age=3600' }).end(body))
await new Promise((r) => server.listen(0, '127.0.0.1', r))
const url = `http://127.0.0.1:${server.address().port}/x`
try {
  const backend = new fc.SQLiteBackend({ path: join(dir, 'b.sqlite') })
  const f = fc.createCachedFetch({ backend })
  await (await f(url)).arrayBuffer()
  await f.cache.flush()
  const keys = []
  for await (const [k] of backend.entries()) keys.push(k)
  await time(N / 2, () => backend.get(keys[0]))
  console.log(`SQLiteBackend.get ${SIZE} B p50: ${p50(await time(N * 4, () => backend.get(keys[0]))).toFixed(2)} µs`)
  await time(N / 10, async () => (await f(url)).arrayBuffer())
  console.log(`createCachedFetch hit ${SIZE} B p50: ${p50(await time(N, async () => (await f(url)).arrayBuffer())).toFixed(1)} µs`)
  await f.cache.close()
  await backend.close()
} finally {
  server.close()
  rmSync(dir, { recursive: true, force: true })
}

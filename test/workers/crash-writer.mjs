// Fills a store with bodies of 1 B – 2 MiB until killed. Each body is a pure function of its
// key, so a reader can check every byte. Prints "ready" once the store is open.
// node crash-writer.mjs <build dir> <sqlite|file> <store path> <seed>
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const [dir, kind, path, seedText] = process.argv.slice(2)
const mod = await import(pathToFileURL(join(dir, kind === 'sqlite' ? 'backends/sqlite.js' : 'backends/file.js')).href)
const backend = kind === 'sqlite' ? new mod.SQLiteBackend({ path }) : new mod.FileBackend({ path })

export function bodyOf(key) {
  const digest = createHash('sha256').update(key).digest()
  const size = 1 + (digest.readUInt32BE(0) % (2 * 1024 * 1024))
  const out = Buffer.alloc(size)
  for (let i = 0; i < size; i += 32) digest.copy(out, i, 0, Math.min(32, size - i))
  return out
}

let seed = Number(seedText)
process.stdout.write('ready\n')
for (let i = 0; ; i++) {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
  const key = `k${seed % 64}`
  const body = bodyOf(key)
  const meta = {
    v: 1, kind: 'response', key, method: 'GET', url: `http://crash.test/${key}`, status: 200, statusText: 'OK',
    headers: {}, requestHeaders: {}, vary: [], createdAt: Date.now(), expiresAt: null, initialAge: 0,
    staleIfErrorUntil: 0, staleWhileRevalidateUntil: 0, mustRevalidate: false, size: body.length, deadAt: null,
  }
  await backend.set(key, { meta, body })
}

// A second process on a FileBackend folder, for test/file-leftovers.test.ts.
// node leftover-writer.mjs <build dir> <folder> hold
//   Stores `held`, then leaves what a write cut short leaves: a partial body in its own temp
//   folder (dated an hour ago) and a body renamed into place whose index line never came.
//   Prints {"writerDir","partial","orphan"} and stays alive until killed.
// node leftover-writer.mjs <build dir> <folder> deleter
//   Only deletes (as `fetchcache purge` does), then leaves a body whose index line is gone, as a
//   delete cut between its two steps does. Prints {"writerDir","orphan"}; stays alive.
// node leftover-writer.mjs <build dir> <folder> big <count> <MiB>
//   Stores `big0`… with bodies of <MiB> MiB (bigBody() below), printing each key when done,
//   then closes and exits.
import { createHash } from 'node:crypto'
import { readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import cacache from 'cacache'

const [dir, folder, mode, countText, mibText] = process.argv.slice(2)
const { FileBackend } = await import(pathToFileURL(join(dir, 'backends/file.js')).href)
const backend = new FileBackend({ path: folder })

/** Must match bigBody() in file-leftovers.test.ts. */
export function bigBody(key, mib) {
  // The key's digest over and over, each 4 KiB block numbered: a misplaced or lost block shows.
  const out = Buffer.alloc(mib * 1024 * 1024, createHash('sha256').update(key).digest())
  for (let i = 0; i < out.length; i += 4096) out.writeUInt32BE(i / 4096, i)
  return out
}

function record(key, body) {
  const meta = {
    v: 1, kind: 'response', key, method: 'GET', url: `http://leftovers.test/${key}`, status: 200, statusText: 'OK',
    headers: {}, requestHeaders: {}, vary: [], createdAt: Date.now(), expiresAt: null, initialAge: 0,
    staleIfErrorUntil: 0, staleWhileRevalidateUntil: 0, mustRevalidate: false, size: body.length, deadAt: null,
  }
  return { meta, body }
}

if (mode === 'deleter') {
  const other = new FileBackend({ path: folder })
  await other.set('doomed', record('doomed', Buffer.from('doomed body')))
  await other.close()
  await backend.delete(['doomed'])
  const writerDir = readdirSync(join(folder, 'tmp')).find((n) => n.startsWith('w1.') && n.includes(`.${process.pid}.`))
  const orphan = String(await cacache.put(folder, 'scratch', Buffer.from('body of a cut delete')))
  await cacache.rm.entry(folder, 'scratch', { removeFully: true })
  process.stdout.write(JSON.stringify({ writerDir, orphan }) + '\n')
  setInterval(() => {}, 60_000)
} else if (mode === 'hold') {
  await backend.set('held', record('held', Buffer.from('held body')))
  // The first write made this backend's temp folder; a write under way has its file there.
  const writerDir = readdirSync(join(folder, 'tmp')).find((n) => n.startsWith('w1.') && n.includes(`.${process.pid}.`))
  const partial = join(folder, 'tmp', writerDir, 'c-partial')
  writeFileSync(partial, Buffer.alloc(1024 * 1024, 7))
  const hourAgo = new Date(Date.now() - 3_600_000)
  utimesSync(partial, hourAgo, hourAgo)
  // Renamed into content-v2/ but never indexed: exactly what cacache.put leaves without its index line.
  const orphan = String(await cacache.put(folder, 'scratch', Buffer.from('orphaned body of a cut write')))
  await cacache.rm.entry(folder, 'scratch', { removeFully: true })
  process.stdout.write(JSON.stringify({ writerDir, partial, orphan }) + '\n')
  setInterval(() => {}, 60_000)
} else {
  for (let i = 0; i < Number(countText); i++) {
    await backend.set(`big${i}`, record(`big${i}`, bigBody(`big${i}`, Number(mibText))))
    process.stdout.write(`big${i}\n`)
  }
  await backend.close()
}

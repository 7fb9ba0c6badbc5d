/**
 * What a killed FileBackend writer leaves in its folder, and how it is swept away.
 *
 * A SIGKILLed cacache write leaves (measured with test/workers/crash-writer.mjs):
 * - a temp file under `tmp/`: a body being written (up to its full size) or an index bucket
 *   being compacted, never renamed into place;
 * - an orphaned body in `content-v2/`: renamed into place before its index line was appended,
 *   or the old body of an overwrite or eviction whose index line was already gone.
 *
 * **Knowing a writer is gone.** Every FileBackend routes cacache's temp files into a folder of
 * its own, `tmp/<writer id>/`, made before its first write or delete and removed by close().
 * The id is `w1.<host>.<pid>.<start>.<random>`: `<host>` a digest of the host name, `<start>`
 * the process's start time in clock ticks since boot (Linux `/proc/<pid>/stat`; `0` elsewhere).
 * A writer is **gone** when it ran on this host and its pid is not alive (`kill(pid, 0)` fails
 * with ESRCH), or is alive with another start time (the pid was reused). A writer on another
 * host, or whose liveness cannot be read, counts as **live**.
 *
 * **The rules.**
 * - A gone writer's temp folder is removed whole; a live writer's is never touched, however old.
 * - A temp file outside any writer folder (older versions, other cacache users) or in a foreign
 *   host's folder is removed once older than TMP_GRACE_MS.
 * - An orphaned body is removed at once when no writer but the sweeping one (and that one idle)
 *   is live, since only a live writer can still append the index line naming it; otherwise once
 *   older than ORPHAN_GRACE_MS, far beyond the milliseconds between a body's rename and its
 *   index line. The index is listed again after the writers are checked, so a line appended by
 *   a writer that finished meanwhile still saves its body. The worst a wrong guess does (a
 *   writer stopped for longer than the grace) is make that entry a miss, never wrong bytes.
 *
 * The sweep on open is bounded by evidence: it always looks at `tmp/` (one folder per writer),
 * but lists the index and walks the bodies only when it found a gone writer's folder, the mark
 * every killed writer or deleter leaves. vacuum() always does both.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { lstat, readdir, rm, stat } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { cc, eachLimit, errorCode, walk } from './file-cacache.js'

export const TMP_GRACE_MS = 10 * 60_000
export const ORPHAN_GRACE_MS = 60_000

const HOST = createHash('sha256').update(hostname()).digest('hex').slice(0, 8)
const ID = /^w1\.([0-9a-f]{8})\.(\d+)\.(\d+)\.[0-9a-f]+$/

/** Start time of a process in clock ticks since boot, as a string; '0' when unknown. */
function startOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 22; the command name (field 2) may hold spaces and parentheses, so count after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '0'
  } catch {
    return '0'
  }
}

/** A fresh writer id for this process (one per FileBackend). */
export function writerId(): string {
  return `w1.${HOST}.${process.pid}.${startOf(process.pid)}.${randomBytes(4).toString('hex')}`
}

/** Whether the writer named by a temp folder is gone for sure (see the rules above). */
export function writerGone(name: string): boolean {
  const m = ID.exec(name)
  if (!m || m[1] !== HOST) return false
  const pid = Number(m[2])
  try {
    process.kill(pid, 0)
  } catch (error) {
    // EPERM: alive, another user's.
    return errorCode(error) === 'ESRCH'
  }
  const start = startOf(pid)
  return m[3] !== '0' && start !== '0' && start !== m[3]
}

export interface SweepResult {
  /** Bytes of temp files removed. */
  tmpBytes: number
  /** Bytes of orphaned bodies removed. */
  orphanBytes: number
  /** Gone writers whose temp folders were removed. */
  goneWriters: number
}

export interface SweepOptions {
  /** This backend's writer id: its folder is its own business. */
  self: string
  /** True while this backend has no write under way and started none since `since`. */
  idle: () => boolean
  /** Stop early (the backend was closed). */
  stopped: () => boolean
  /** Look for orphaned bodies even when no gone writer was found (vacuum). */
  always: boolean
}

async function size(path: string): Promise<{ bytes: number; mtimeMs: number } | undefined> {
  try {
    const s = await lstat(path)
    if (!s.isDirectory()) return { bytes: s.size, mtimeMs: s.mtimeMs }
    let bytes = 0
    for (const name of await readdir(path)) bytes += (await size(join(path, name)))?.bytes ?? 0
    return { bytes, mtimeMs: s.mtimeMs }
  } catch {
    return undefined
  }
}

async function remove(path: string): Promise<number> {
  const s = await size(path)
  if (!s) return 0
  await rm(path, { recursive: true, force: true })
  return s.bytes
}

/** Temp files: gone writers' folders whole, loose and foreign ones by age. */
async function sweepTmp(root: string, o: SweepOptions): Promise<{ bytes: number; gone: number }> {
  const tmp = join(root, 'tmp')
  const cutoff = Date.now() - TMP_GRACE_MS
  let bytes = 0
  let gone = 0
  for (const name of await readdir(tmp).catch(() => [] as string[])) {
    if (o.stopped()) break
    const path = join(tmp, name)
    if (name === o.self) continue
    if (writerGone(name)) {
      bytes += await remove(path)
      gone++
    } else if (ID.test(name)) {
      // A live writer's folder stays; files in a foreign host's folder go by age.
      if (ID.exec(name)?.[1] !== HOST) {
        for (const file of await walk(path, 1)) if (((await size(file))?.mtimeMs ?? Infinity) < cutoff) bytes += await remove(file)
      }
    } else if (((await size(path))?.mtimeMs ?? Infinity) < cutoff) bytes += await remove(path)
  }
  return { bytes, gone }
}

/** Whether a writer other than an idle `self` has a temp folder and may still be writing. */
async function othersLive(root: string, o: SweepOptions): Promise<boolean> {
  if (!o.idle()) return true
  for (const name of await readdir(join(root, 'tmp')).catch(() => [] as string[])) {
    if (name !== o.self && ID.test(name) && !writerGone(name)) return true
  }
  return false
}

async function indexed(root: string): Promise<Set<string>> {
  const live = new Set<string>()
  for await (const entry of cc.list(root)) live.add(entry.path)
  return live
}

/** Remove what killed writers left in the folder (see the rules above). */
export async function sweepLeftovers(root: string, o: SweepOptions): Promise<SweepResult> {
  const { bytes: tmpBytes, gone: goneWriters } = await sweepTmp(root, o)
  if (o.stopped() || (!o.always && goneWriters === 0)) return { tmpBytes, orphanBytes: 0, goneWriters }
  const live = await indexed(root)
  const candidates: string[] = []
  for (const dir of (await readdir(root).catch(() => [] as string[])).filter((d) => d.startsWith('content-v'))) {
    for (const file of await walk(join(root, dir), 4)) if (!live.has(file)) candidates.push(file)
  }
  if (candidates.length === 0 || o.stopped()) return { tmpBytes, orphanBytes: 0, goneWriters }
  // Writers first, then the index again: see the rules above for why this order.
  const cutoff = (await othersLive(root, o)) ? Date.now() - ORPHAN_GRACE_MS : Infinity
  const still = await indexed(root)
  let orphanBytes = 0
  await eachLimit(candidates, async (file) => {
    if (still.has(file) || o.stopped()) return
    const s = await stat(file).catch(() => undefined)
    if (s && s.mtimeMs < cutoff) {
      await rm(file, { force: true })
      orphanBytes += s.size
    }
  })
  return { tmpBytes, orphanBytes, goneWriters }
}

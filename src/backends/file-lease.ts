/**
 * Leases in a folder: a lock file per key, created with O_EXCL so that exactly one process
 * wins. It holds the owner and an expiry; an expired one (a crashed holder) is taken over by
 * renaming it away first, which again only one process can do.
 */
import { createHash } from 'node:crypto'
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'

export class FileLeases {
  private readonly dir: string

  constructor(root: string) {
    this.dir = join(root, 'leases-v1')
  }

  private path(key: string): string {
    return join(this.dir, createHash('sha256').update(key).digest('hex').slice(0, 40))
  }

  async acquire(key: string, owner: string, ttlMs: number): Promise<boolean> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    const path = this.path(key)
    const content = JSON.stringify({ owner, expiresAt: Date.now() + ttlMs })
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(path, 'wx')
        await handle.writeFile(content)
        await handle.close()
        return true
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      let held: { owner?: string; expiresAt?: number } = {}
      try {
        held = JSON.parse(await readFile(path, 'utf8')) as typeof held
      } catch {
        // Being written right now by its new holder, or just removed: try once more.
        continue
      }
      if (held.owner === owner) return true
      if ((held.expiresAt ?? 0) > Date.now()) return false
      // Expired: move it aside (atomic; one process wins), then compete for a fresh one.
      try {
        await rename(path, `${path}.${process.pid}.stale`)
        await rm(`${path}.${process.pid}.stale`, { force: true })
      } catch {
        // Someone else took it over first.
      }
    }
    return false
  }

  async release(key: string, owner: string): Promise<void> {
    const path = this.path(key)
    try {
      const held = JSON.parse(await readFile(path, 'utf8')) as { owner?: string }
      if (held.owner === owner) await rm(path, { force: true })
    } catch {
      // Already gone.
    }
  }
}

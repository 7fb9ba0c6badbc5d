/** `fetchcache vacuum`: give the space of deleted entries back to the file system. */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { bytes, print, printJson } from '../format.js'
import { globals } from '../options.js'
import { withStore } from '../store.js'

/** Bytes on disk: a SQLite file with its WAL, or everything in a cache folder. */
function sizeOf(path: string): number | undefined {
  const stat = statSync(path, { throwIfNoEntry: false })
  if (!stat) return undefined
  if (stat.isDirectory()) {
    let total = 0
    for (const entry of readdirSync(path, { withFileTypes: true, recursive: true })) {
      if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name), { throwIfNoEntry: false })?.size ?? 0
    }
    return total
  }
  return stat.size + (statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0)
}

export function register(program: Command): void {
  program
    .command('vacuum')
    .summary('compact the store')
    .description('Compact the store so that space freed by deleted entries goes back to the file system (SQLite VACUUM; garbage collection of a filesystem cache). A no-op, with a message, for a backend that has nothing to compact.')
    .addHelpText('after', `
Examples:
  fetchcache purge --expired && fetchcache vacuum`)
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd)
      await withStore(g, async ({ cache, path, backend }) => {
        const before = sizeOf(path)
        if (!(await cache.vacuum())) {
          if (g.json) return printJson({ cache: path, vacuumed: false })
          return print(`nothing to do: the ${backend} backend has no vacuum()`)
        }
        const after = sizeOf(path)
        if (g.json) return printJson({ cache: path, vacuumed: true, ...(before === undefined ? {} : { before }), ...(after === undefined ? {} : { after }) })
        print(before !== undefined && after !== undefined ? `vacuumed ${path}: ${bytes(before)} → ${bytes(after)}` : `vacuumed ${path}`)
      })
    })
}

/** `fetchcache ls [URL-GLOB]`: the stored responses, one per line. */
import { isExpired } from '../../rules/decide-read.js'
import type { Command } from 'commander'
import type { EntryMeta } from '../../backends/contract.js'
import { bytes, iso, print, printJson, relative, table } from '../format.js'
import { addFilterOptions, type FilterOptions, globals, toFilter } from '../options.js'
import { withStore } from '../store.js'

export function entryJson(meta: EntryMeta, now: number) {
  return {
    key: meta.key,
    method: meta.method,
    url: meta.url,
    status: meta.status,
    size: meta.size,
    createdAt: iso(meta.createdAt),
    expiresAt: iso(meta.expiresAt),
    expired: isExpired(meta, now),
  }
}

export function register(program: Command): void {
  const command = program
    .command('ls')
    .summary('list stored responses')
    .description('List the stored responses, sorted by URL. URL-GLOB is matched against the URL without its scheme, as a prefix: "api.example.com/v1", "*.example.com/*.json".')
    .argument('[url-glob]', 'only URLs matching this glob')
  addFilterOptions(command)
    .addHelpText('after', `
Examples:
  fetchcache ls
  fetchcache ls 'api.example.com/users' --status 200
  fetchcache ls --expired --json`)
    .action(async (glob: string | undefined, o: FilterOptions, cmd: Command) => {
      const g = globals(cmd)
      await withStore(g, async ({ cache }) => {
        const now = cache.now()
        const list: EntryMeta[] = []
        for await (const meta of cache.entries(toFilter(glob, o))) list.push(meta)
        list.sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : a.method < b.method ? -1 : a.method > b.method ? 1 : a.createdAt - b.createdAt))
        if (g.json) return printJson(list.map((m) => entryJson(m, now)))
        if (list.length === 0) return print('no entries')
        const rows = list.map((m) => [m.method, m.status, m.url, bytes(m.size), relative(m.createdAt, now), expiryCell(m, now)])
        print(table(['METHOD', 'STATUS', 'URL', 'SIZE', 'STORED', 'EXPIRES'], rows))
        print(`${list.length} ${list.length === 1 ? 'entry' : 'entries'}`)
      })
    })
}

function expiryCell(meta: EntryMeta, now: number): string {
  const r = relative(meta.expiresAt, now)
  return isExpired(meta, now) ? `expired ${r}` : r
}

/** `fetchcache ls [URL-GLOB]`: the stored responses, one per line. */
import { isExpired } from '../../rules/decide-read.js'
import type { Command } from 'commander'
import type { EntryMeta } from '../../backends/contract.js'
import { bytes, iso, print, printJson, relative, table } from '../format.js'
import { addFilterOptions, type FilterOptions, globals, toFilter } from '../options.js'
import { withStore } from '../store.js'
import { fitColumn, out, terminalWidth } from '../style.js'

interface LsOptions extends FilterOptions {
  wide?: boolean
}

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
    .option('-w, --wide', 'print URLs in full (on a terminal they are shortened in the middle to fit its width)')
  addFilterOptions(command)
    .addHelpText('after', `
Examples:
  fetchcache ls
  fetchcache ls --wide | grep users
  fetchcache ls 'api.example.com/users' --status 200
  fetchcache ls --expired --json`)
    .action(async (glob: string | undefined, o: LsOptions, cmd: Command) => {
      const g = globals(cmd)
      await withStore(g, async ({ cache }) => {
        const now = cache.now()
        const list: EntryMeta[] = []
        for await (const meta of cache.entries(toFilter(glob, o))) list.push(meta)
        list.sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : a.method < b.method ? -1 : a.method > b.method ? 1 : a.createdAt - b.createdAt))
        if (g.json) return printJson(list.map((m) => entryJson(m, now)))
        if (list.length === 0) return print('no entries')
        const head = ['METHOD', 'STATUS', 'URL', 'SIZE', 'STORED', 'EXPIRES']
        const plain = list.map((m) => [m.method, m.status, m.url, bytes(m.size), relative(m.createdAt, now), expiryCell(m, now)])
        const rows = fitColumn(head, plain, 2, o.wide ? undefined : terminalWidth())
        // Coloured after fitting (cli-table3 measures cells without their escapes): servable
        // entries green, expired ones yellow, error statuses red.
        const coloured = rows.map((r, i) => {
          const m = list[i]!
          return [r[0]!, m.status >= 400 ? out.red(String(r[1])) : r[1]!, r[2]!, r[3]!, r[4]!, isExpired(m, now) ? out.yellow(String(r[5])) : out.green(String(r[5]))]
        })
        print(table(head, coloured))
        print(`${list.length} ${list.length === 1 ? 'entry' : 'entries'}`)
      })
    })
}

function expiryCell(meta: EntryMeta, now: number): string {
  const r = relative(meta.expiresAt, now)
  return isExpired(meta, now) ? `expired ${r}` : r
}

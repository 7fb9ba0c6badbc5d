/** `fetchcache purge`: delete entries by expiry, age, URL glob, host or status. */
import type { Command } from 'commander'
import type { EntryMeta } from '../../backends/contract.js'
import { usage } from '../errors.js'
import { print, printJson } from '../format.js'
import { addFilterOptions, type FilterOptions, globals, hasFilter, toFilter } from '../options.js'
import { withProgress } from '../progress.js'
import { withStore } from '../store.js'

interface PurgeOptions extends FilterOptions {
  url?: string
  all?: boolean
  dryRun?: boolean
}

export function register(program: Command): void {
  const command = program
    .command('purge')
    .summary('delete entries: expired, older than, by URL glob')
    .description('Delete stored responses. Say which: an entry goes when it matches every criterion given. --all empties the cache.')
    .option('--url <glob>', 'URLs matching this glob (without scheme, as a prefix: "api.example.com/v1")')
  addFilterOptions(command)
    .option('--all', 'every entry')
    .option('-n, --dry-run', 'count what would go, delete nothing')
    .addHelpText('after', `
Examples:
  fetchcache purge --expired
  fetchcache purge --older-than 7d
  fetchcache purge --url 'api.example.com/v1/*' --status 404
  fetchcache purge --all --dry-run`)
    .action(async (o: PurgeOptions, cmd: Command) => {
      const g = globals(cmd)
      const filter = toFilter(o.url, o)
      if (o.all && hasFilter(filter)) throw usage('purge: --all deletes everything; give it alone')
      if (!o.all && !hasFilter(filter)) throw usage('purge: say what to purge: --expired, --older-than, --url, --host, --status, or --all')
      await withStore(g, async ({ cache }) => {
        const targets = new Map<string, EntryMeta>()
        for await (const meta of cache.entries(filter)) targets.set(meta.key, meta)
        let purged = targets.size
        if (!o.dryRun) {
          if (o.all) {
            await cache.clear()
          } else {
            purged = await withProgress('purging', () => targets.size, (update) => cache.remove(targets, update))
          }
        }
        if (g.json) return printJson({ purged, dryRun: o.dryRun === true })
        const n = `${purged} ${purged === 1 ? 'entry' : 'entries'}`
        print(o.dryRun ? `would purge ${n}` : `purged ${n}`)
      })
    })
}

/** `fetchcache stats`: what the store holds, in total and per host. */
import type { Command } from 'commander'
import { bytes, fields, print, printJson, table } from '../format.js'
import { globals } from '../options.js'
import { withStore } from '../store.js'

export function register(program: Command): void {
  program
    .command('stats')
    .summary('entries and bytes stored, in total and per host')
    .description(
      'Show what the store holds: entries, body bytes, expired entries and those of no use any more (which background pruning removes), in total and per host, and the store\'s cap with its use. Hit, miss and revalidation counters are kept in memory by the process that fetches (cache.stats() in your program); this command fetches nothing, so with --json they are all 0.',
    )
    .addHelpText('after', `
Examples:
  fetchcache stats
  fetchcache stats --cache ./fixtures/api.sqlite --json`)
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd)
      await withStore(g, async ({ cache, path, backend }) => {
        const s = await cache.stats()
        if (g.json) return printJson({ cache: path, backend, ...s, cap: s.maxSize })
        const cap = s.maxSize
        print(fields([
          ['cache', `${path} (${backend})`],
          ['entries', `${s.entries} (${s.expired} expired)`],
          // Past every window: what the background pruning of the caches using this store removes.
          ['of no use', `${s.dead} (removed by the next prune)`],
          ['size', `${bytes(s.bytes)} of bodies`],
          // The cap, when the store has one (SQLite and filesystem: 1 GiB unless set), and its use (bodies and metadata).
          ...(cap === null ? [] : [['cap', `${bytes(cap)} (${Math.round((100 * s.storeBytes) / cap)}% used)`] as [string, string]]),
        ]))
        const hosts = Object.entries(s.hosts).filter(([, h]) => h.entries > 0)
        if (hosts.length > 0) {
          print('')
          print(table(['HOST', 'ENTRIES', 'EXPIRED', 'SIZE'], hosts.map(([host, h]) => [host, h.entries, h.expired, bytes(h.bytes)]), ['left', 'right', 'right', 'right']))
        }
      })
    })
}

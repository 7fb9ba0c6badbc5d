/** `fetchcache export --har FILE`: the cache (or part of it) as a HAR 1.2 file. */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Command } from 'commander'
import { print, printJson } from '../format.js'
import { addFilterOptions, type FilterOptions, globals, toFilter } from '../options.js'
import { withProgress } from '../progress.js'
import { withStore } from '../store.js'
import { CliError, EXIT } from '../errors.js'

interface ExportOptions extends FilterOptions {
  har: string
  includeCredentials?: boolean
}

export function register(program: Command): void {
  const command = program
    .command('export')
    .summary('write stored responses to a HAR 1.2 file')
    .description(
      'Write the stored responses to a HAR 1.2 file, readable by any HAR viewer and by "fetchcache import". fetchcache\'s own metadata (key, expiry, stale windows) rides in the custom field _fetchcache, so an import restores every entry exactly, with byte-identical bodies.',
    )
    .argument('[url-glob]', 'only URLs matching this glob')
    .requiredOption('--har <file>', 'the HAR file to write ("-" for stdout)')
    .option('--include-credentials', 'keep stored Authorization, Proxy-Authorization and Cookie request headers (left out by default)')
  addFilterOptions(command)
    .addHelpText('after', `
Examples:
  fetchcache export --har fixtures/api.har
  fetchcache export 'api.example.com/v1' --har - | jq '.log.entries | length'`)
    .action(async (glob: string | undefined, o: ExportOptions, cmd: Command) => {
      const g = globals(cmd)
      await withStore(g, async ({ cache }) => {
        const filter = toFilter(glob, o)
        const count = async () => {
          let n = 0
          for await (const _ of cache.entries(filter)) n++
          return n
        }
        // HAR files get shared and committed as fixtures: say so when they may carry credentials.
        if (o.includeCredentials) process.stderr.write('warning: --include-credentials: the HAR file may hold Authorization and Cookie values; do not share or commit it\n')
        const har = await withProgress('exporting', count, (update) => cache.toHar(filter, update, { includeCredentials: o.includeCredentials === true }))
        const text = `${JSON.stringify(har, null, 2)}\n`
        const exported = har.log.entries.length
        if (o.har === '-') {
          process.stdout.write(text)
          return
        }
        // Written beside the target and renamed into place: a failed export leaves no half file.
        // Missing folders are made, as for any output file the user names.
        const tmp = `${o.har}.${process.pid}.tmp`
        try {
          mkdirSync(dirname(o.har), { recursive: true })
          writeFileSync(tmp, text)
          renameSync(tmp, o.har)
        } catch (error) {
          rmSync(tmp, { force: true })
          throw new CliError(`cannot write ${o.har}: ${reason(error)}`, EXIT.FAILED)
        }
        if (g.json) return printJson({ exported, file: o.har })
        print(`exported ${exported} ${exported === 1 ? 'entry' : 'entries'} to ${o.har}`)
      })
    })
}

/** "EACCES: permission denied" without the path: Node names the temporary file, the user gave another. */
function reason(error: unknown): string {
  const e = error as NodeJS.ErrnoException
  return e.code && typeof e.message === 'string' ? e.message.replace(/, \w+ '[^']*'(?: -> '[^']*')?$/, '') : String(error)
}

/** `fetchcache import FILE`: store the entries of a HAR file. */
import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { importParsed } from '../../inspect/har/import.js'
import { parseHar } from '../../inspect/har/parse.js'
import { HarFormatError } from '../../inspect/har/types.js'
import { usage } from '../errors.js'
import { print, printJson } from '../format.js'
import { globals } from '../options.js'
import { withProgress } from '../progress.js'
import { withStore } from '../store.js'

export function register(program: Command): void {
  program
    .command('import')
    .summary('store the entries of a HAR file (creates the cache if needed)')
    .description(
      'Store the entries of a HAR file in the cache, creating the cache if it does not exist. Entries exported by fetchcache come back exactly; entries from a browser or another tool are stored as if their responses had just arrived, by this cache\'s rules (entries those rules would not store are skipped and listed). The whole file is checked first: a malformed one changes nothing.',
    )
    .argument('<file>', 'HAR file ("-" for stdin)')
    .addHelpText('after', `
Examples:
  fetchcache import fixtures/api.har --cache test/fixtures/api_cache
  fetchcache import recording.har --json`)
    .action(async (file: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd)
      let text: string
      try {
        text = readFileSync(file === '-' ? 0 : file, 'utf8')
      } catch (error) {
        throw usage(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
      }
      // Checked before the cache is even opened: a bad file must not create or touch it.
      let entries: ReturnType<typeof parseHar>
      try {
        entries = parseHar(JSON.parse(text.replace(/^\uFEFF/, '')))
      } catch (error) {
        const message = error instanceof HarFormatError ? error.message : `not JSON: ${(error as Error).message}`
        throw usage(`${file} is not a HAR file: ${message}`)
      }
      await withStore(
        g,
        async ({ cache, path }) => {
          // Parsed and checked once, above; imported as parsed.
          const result = await withProgress('importing', () => entries.length, (update) => importParsed(cache, entries, update))
          if (g.json) return printJson({ cache: path, ...result })
          const n = result.imported
          print(`imported ${n} ${n === 1 ? 'entry' : 'entries'} into ${path}${result.skipped.length ? `; skipped ${result.skipped.length}:` : ''}`)
          for (const s of result.skipped) print(`  ${s.url}: ${s.reason}`)
        },
        true,
      )
    })
}

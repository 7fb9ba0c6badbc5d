/**
 * The `fetchcache` command line: commander for parsing and help, one file per command in
 * commands/. Every failure is one line on stderr and an exit code from errors.ts.
 */
import { Command, CommanderError } from 'commander'
import { FetchCacheError } from '../util/errors.js'
import { VERSION } from '../util/version.js'
import * as exportCommand from './commands/export.js'
import * as get from './commands/get.js'
import * as importCommand from './commands/import.js'
import * as ls from './commands/ls.js'
import * as purge from './commands/purge.js'
import * as show from './commands/show.js'
import * as stats from './commands/stats.js'
import * as vacuum from './commands/vacuum.js'
import { CliError, EXIT, EXIT_CODES_HELP, type ExitCode } from './errors.js'
import { addStoreOptions } from './options.js'
import { err } from './style.js'

export function buildProgram(): Command {
  const program = new Command('fetchcache')
    .description('Inspect and maintain a fetchcache HTTP cache (SQLite file or filesystem folder), and fetch through it.')
    .version(VERSION, '-V, --version')
    // Errors come back to run() as exceptions, so that they map onto our exit codes.
    .exitOverride()
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showSuggestionAfterError(true)
    // One line per error, suggestion included ("error: unknown command 'lss' (Did you mean ls?)").
    .configureOutput({ outputError: (str, write) => write(`${str.trim().replace(/\s*\n\s*/g, ' ')}\n`) })
  addStoreOptions(program)
  program.addHelpText('after', `
Examples:
  fetchcache get https://api.example.com/users/1 --cache ./http_cache
  fetchcache ls 'api.example.com/users'
  fetchcache show https://api.example.com/users/1
  fetchcache purge --older-than 7d
  fetchcache export --har fixtures.har && fetchcache import fixtures.har --cache replay
${EXIT_CODES_HELP}`)
  for (const command of [get, ls, show, stats, purge, exportCommand, importCommand, vacuum]) command.register(program)
  for (const command of program.commands) command.addHelpText('after', EXIT_CODES_HELP)
  return program
}

function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!
}

/** Parse and run; resolves with the exit code. Nothing here calls process.exit. */
export async function run(argv: readonly string[]): Promise<ExitCode> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv as string[])
    return EXIT.OK
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version end with code 0; every parse error is a usage error (2), and
      // commander has already printed its one line.
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE
    }
    if (error instanceof CliError) {
      process.stderr.write(`${err.red('error:')} ${message(error)}\n`)
      return error.code
    }
    // Bad option values and unreadable HAR files are the caller's input; anything else is a failure.
    const input = error instanceof FetchCacheError && ['ERR_FETCHCACHE_CONFIG', 'ERR_FETCHCACHE_HAR', 'ERR_FETCHCACHE_UNSUPPORTED'].includes(error.code)
    process.stderr.write(`${err.red('error:')} ${message(error)}\n`)
    if (process.env.FETCHCACHE_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`)
    return input ? EXIT.USAGE : EXIT.FAILED
  }
}

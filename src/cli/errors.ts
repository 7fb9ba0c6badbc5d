/** Exit codes the command line promises to scripts, and the error that carries one. */

export const EXIT = {
  /** Done. */
  OK: 0,
  /** What was asked for is not in the cache (`show`, `get --offline`). */
  NOT_FOUND: 1,
  /** Bad usage or input: unknown command or flag, bad value, missing or unreadable cache, malformed HAR, a command the backend cannot do. */
  USAGE: 2,
  /** The work failed: the origin could not be reached, or the store failed mid-way. */
  FAILED: 3,
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

export const EXIT_CODES_HELP = `
Exit codes:
  0  done
  1  not found: nothing stored for that URL or key (show, get --offline)
  2  usage or input error: unknown command or flag, bad value, missing or
     unreadable cache, malformed HAR file, a command the backend cannot do
     (ls, stats, purge and export on memcached; the cache is left untouched)
  3  failure while working: origin unreachable, storage error`

/** An error the command line reports as one line on stderr, exiting with `code`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: ExitCode,
  ) {
    super(message)
  }
}

export function usage(message: string): CliError {
  return new CliError(message, EXIT.USAGE)
}

export function notFound(message: string): CliError {
  return new CliError(message, EXIT.NOT_FOUND)
}

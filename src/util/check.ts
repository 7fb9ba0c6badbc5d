/** Value checks shared by option parsing, the stored-entry codec and HAR parsing. */
import { ConfigError } from './errors.js'

/** A plain JSON-like object: not null, not an array. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Reject option objects with names we do not know: a typo must not be silently ignored. */
export function rejectUnknownOptions(options: object, known: Iterable<string>, where: string): void {
  const names = [...known]
  for (const name of Object.keys(options)) {
    if (!names.includes(name)) throw new ConfigError(`${where}: unknown option '${name}' (known: ${names.join(', ')})`)
  }
}

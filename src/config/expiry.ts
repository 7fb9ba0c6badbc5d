import { ConfigError, show } from '../util/errors.js'

/** Store and never expire (the entry is fresh until deleted). */
export const NEVER_EXPIRE = 'NEVER_EXPIRE'
/** Store, but revalidate on every use (an expiry of 0 seconds). */
export const EXPIRE_IMMEDIATELY = 'EXPIRE_IMMEDIATELY'
/** Neither read from nor write to the cache. */
export const DO_NOT_CACHE = 'DO_NOT_CACHE'

/** What users may pass wherever an expiry is expected. */
export type ExpireAfter =
  | number
  | string
  | Date
  | typeof NEVER_EXPIRE
  | typeof EXPIRE_IMMEDIATELY
  | typeof DO_NOT_CACHE

/**
 * The validated form: seconds (Infinity = never), an absolute Date, or DO_NOT_CACHE.
 * Validation happens once, when options are read, so the hot path never parses.
 */
export type Expiry = number | Date | typeof DO_NOT_CACHE

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/

/** '5m' → 300; undefined for anything that is not a number with a unit. */
export function durationSeconds(value: string): number | undefined {
  const m = DURATION.exec(value.trim())
  return m ? Number(m[1]) * UNITS[m[2]!]! : undefined
}

export function parseExpiry(value: unknown, option: string): Expiry {
  if (value === NEVER_EXPIRE) return Infinity
  if (value === EXPIRE_IMMEDIATELY) return 0
  if (value === DO_NOT_CACHE) return DO_NOT_CACHE
  if (typeof value === 'number' && (value >= 0 || value === -1) && !Number.isNaN(value)) {
    // -1 is requests-cache's NEVER_EXPIRE; accept it so ported settings keep working.
    return value === -1 ? Infinity : value
  }
  if (typeof value === 'string') {
    const seconds = durationSeconds(value)
    if (seconds !== undefined) return seconds
  }
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value
  throw new ConfigError(
    `${option}: expected seconds, a duration like '5m', a Date, NEVER_EXPIRE, EXPIRE_IMMEDIATELY or DO_NOT_CACHE; got ${show(value)}`,
  )
}

const SECONDS = /^\s*\d+(?:\.\d+)?\s*$/

/**
 * A length of time in seconds, for options that are durations and never expiries (`olderThan`,
 * `lockTimeout`, the CLI's `--older-than`): a number, a number as text (`'3600'`: a command line
 * hands everything over as text, and the library takes what the CLI takes), or a duration like
 * `'7d'`. A Date or `NEVER_EXPIRE` is no length of time. `expireAfter` keeps parseExpiry's
 * stricter strings (`'5'` is rejected there: an expiry's text form always names its unit).
 */
export function parseDuration(value: unknown, option: string, example: string): number {
  let e: Expiry | undefined
  try {
    if (typeof value === 'number') e = parseExpiry(value, option)
    else if (typeof value === 'string') e = parseExpiry(SECONDS.test(value) ? Number(value) : value, option)
  } catch {
    e = undefined
  }
  if (typeof e !== 'number' || !Number.isFinite(e)) {
    throw new ConfigError(`${option}: expected seconds or a duration like '${example}'; got ${show(value)}`)
  }
  return e
}

/** Absolute expiry time in ms (null = never) for an expiry applied to a response stored at `now`. */
export function expiresAtFor(expiry: Exclude<Expiry, typeof DO_NOT_CACHE>, now: number): number | null {
  if (expiry instanceof Date) return expiry.getTime()
  return expiry === Infinity ? null : now + expiry * 1000
}

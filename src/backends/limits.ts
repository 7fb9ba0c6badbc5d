/**
 * What every backend shares about limits and eviction: option checks, an entry's weight, when an
 * entry is of no use any more, and a recency clock. Eviction order everywhere: entries that are
 * of no use first (expired and past every stale window), then the least recently used.
 */
import { rejectUnknownOptions } from '../util/check.js'
import { ConfigError, show } from '../util/errors.js'
import { encodeMeta } from './entry.js'
import type { EntryMeta } from './contract.js'

/** Size limits every backend takes. */
export interface BackendLimits {
  /** Most entries kept; the least recently used go first. */
  maxEntries?: number
  /** Most bytes kept: bodies plus metadata (the entry's JSON). */
  maxSize?: number
  /** Largest entry (body plus metadata) stored; a larger one is silently not stored. */
  maxEntrySize?: number
}

export interface Limits {
  maxEntries: number
  maxSize: number
  maxEntrySize: number
}

/** Reject option objects with names we do not know: a typo must not be silently ignored. */
export function checkOptions(options: unknown, known: readonly string[], where: string): Record<string, unknown> {
  if (options === undefined) return {}
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError(`${where} options: expected an object; got ${show(options)}`)
  }
  rejectUnknownOptions(options, known, where)
  return options as Record<string, unknown>
}

/** A positive whole number or Infinity. */
export function positive(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(value > 0) || (!Number.isInteger(value) && value !== Infinity)) {
    throw new ConfigError(`${option}: expected a positive whole number; got ${show(value)}`)
  }
  return value
}

/**
 * The disk backends' default cap (SQLite and File): a cache must not grow without bound by
 * default, so 1 GiB of bodies and metadata, evicting entries of no use first, then the least
 * recently used. `maxSize: Infinity` lifts it.
 */
export const DEFAULT_MAX_SIZE = 1024 ** 3

export const LIMIT_OPTIONS = ['maxEntries', 'maxSize', 'maxEntrySize'] as const

export function resolveLimits(o: Record<string, unknown>, where: string, defaults: Partial<Limits> = {}): Limits {
  return {
    maxEntries: positive(o.maxEntries, `${where} maxEntries`, defaults.maxEntries ?? Infinity),
    maxSize: positive(o.maxSize, `${where} maxSize`, defaults.maxSize ?? Infinity),
    maxEntrySize: positive(o.maxEntrySize, `${where} maxEntrySize`, defaults.maxEntrySize ?? Infinity),
  }
}

/** Bytes an entry counts for against `maxSize`: body plus its metadata as stored (JSON). */
export function weigh(meta: EntryMeta, bodyBytes: number): number {
  return bodyBytes + Buffer.byteLength(encodeMeta(meta))
}

/** Whether an entry of this weight may be stored at all under these limits. */
export function fits(weight: number, limits: Limits): boolean {
  return weight <= limits.maxEntrySize && weight <= limits.maxSize
}

/** Evicted before any live entry: the engine wrote into the entry when it is of no use any more. */
export function isDead(meta: EntryMeta, now: number): boolean {
  const at = meta.deadAt ?? null
  return at !== null && at <= now
}

let lastTick = 0

/**
 * Recency stamps: microseconds since the epoch, strictly increasing within a process, so two
 * uses in the same millisecond still have an order.
 */
export function recencyTick(): number {
  const now = Date.now() * 1000
  lastTick = now > lastTick ? now : lastTick + 1
  return lastTick
}

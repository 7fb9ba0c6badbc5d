/**
 * The stored entry format, version 1. A record that does not decode is a miss (and is removed
 * by the engine): a format change or a damaged file must never crash the caller.
 */
import { isObject } from '../util/check.js'
import { CorruptEntryError } from '../util/errors.js'
import type { EntryMeta, MarkerVariant } from './contract.js'
import { Memo } from '../util/memo.js'

export const FORMAT_VERSION = 1

export function encodeMeta(meta: EntryMeta): string {
  return JSON.stringify(meta)
}

export function decodeMeta(text: string | Uint8Array): EntryMeta {
  let value: unknown
  try {
    value = JSON.parse(typeof text === 'string' ? text : Buffer.from(text).toString('utf8'))
  } catch {
    throw new CorruptEntryError('entry metadata is not JSON')
  }
  return checkMeta(value)
}

export function checkMeta(value: unknown): EntryMeta {
  if (!isObject(value)) throw new CorruptEntryError('entry metadata is not an object')
  if (value.v !== FORMAT_VERSION) throw new CorruptEntryError(`entry format ${String(value.v)} is not ${FORMAT_VERSION}`)
  const ok =
    (value.kind === 'response' || value.kind === 'vary' || value.kind === 'parts') &&
    typeof value.key === 'string' &&
    typeof value.method === 'string' &&
    typeof value.url === 'string' &&
    typeof value.status === 'number' &&
    typeof value.statusText === 'string' &&
    isObject(value.headers) &&
    isObject(value.requestHeaders) &&
    Array.isArray(value.vary) &&
    typeof value.createdAt === 'number' &&
    (value.expiresAt === null || typeof value.expiresAt === 'number') &&
    typeof value.initialAge === 'number' &&
    (value.staleIfErrorUntil === null || typeof value.staleIfErrorUntil === 'number') &&
    typeof value.staleWhileRevalidateUntil === 'number' &&
    typeof value.mustRevalidate === 'boolean' &&
    typeof value.size === 'number' &&
    (value.parts === undefined || isObject(value.parts))
  if (!ok) throw new CorruptEntryError('entry metadata is missing fields')
  return value as unknown as EntryMeta
}

/**
 * Decoded metadata by key, reused while the stored text is unchanged: a hit then costs a string
 * comparison instead of JSON.parse and checks. Entries are shared: callers never mutate meta.
 * A backend that checksums the text (sqlite.ts) keeps its CRC in the same slot: one lookup.
 */
export interface KnownMeta {
  raw: string
  meta: EntryMeta
  crc?: number
}
const decoded = new Memo<string, KnownMeta>(4096)

/** What is known of this key's stored text, when it is the same text as last read; else undefined. */
export function knownMeta(key: string, raw: string): KnownMeta | undefined {
  const hit = decoded.get(key)
  return hit !== undefined && hit.raw === raw ? hit : undefined
}

/** Decode this stored text and remember it (with its CRC, when the backend has one). */
export function rememberMeta(key: string, raw: string, crc?: number): EntryMeta {
  const meta = decodeMeta(raw)
  decoded.set(key, crc === undefined ? { raw, meta } : { raw, meta, crc })
  return meta
}

export function decodeMetaCached(key: string, raw: string): EntryMeta {
  return knownMeta(key, raw)?.meta ?? rememberMeta(key, raw)
}

/** How many variants a marker lists (EntryMeta.variants): the most recent ones. */
export const MARKER_VARIANTS = 16

/** A listed variant as stored; anything else (a damaged or foreign list member) is left out. */
export function isMarkerVariant(v: unknown): v is MarkerVariant {
  return (
    isObject(v) &&
    typeof v.key === 'string' &&
    typeof v.language === 'string' &&
    isObject(v.fields) &&
    Object.values(v.fields).every((f) => f === null || typeof f === 'string')
  )
}

/**
 * The marker stored at a primary key when responses vary: it names the Vary fields; variants
 * live at derived keys. It is useless once every variant it leads to is: its deadAt is the
 * later of this variant's and the marker's it replaces (`prior`), null (never) winning, so
 * native expiry (Redis, Memcached) and eviction drop markers with their variants.
 *
 * It also lists the most recent variants a request may be given by language (`listed`: this
 * variant's entry, undefined when it has none), newest first: the prior list without this
 * variant's key (a response replaced by one that cannot be listed leaves the list), bounded.
 * Two writers racing may each drop the other's member: that variant is then only found
 * exactly, never wrongly.
 */
export function varyMarker(variant: EntryMeta, primaryKey: string, prior?: EntryMeta, listed?: MarkerVariant): EntryMeta {
  const a = variant.deadAt ?? null
  const b = prior === undefined ? a : (prior.deadAt ?? null)
  const deadAt = a === null || b === null ? null : Math.max(a, b)
  const earlier = Array.isArray(prior?.variants) ? prior.variants.filter((v) => isMarkerVariant(v) && v.key !== variant.key) : []
  const variants = (listed === undefined ? earlier : [listed, ...earlier]).slice(0, MARKER_VARIANTS)
  const marker: EntryMeta = { ...variant, kind: 'vary', key: primaryKey, headers: {}, size: 0, expiresAt: null, deadAt }
  if (variants.length > 0) marker.variants = variants
  return marker
}

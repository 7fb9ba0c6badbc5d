/**
 * How one entry lies in Memcached: metadata and body in one item (the head) where they fit in
 * the server's item size limit, and the rest of a larger body in numbered part items.
 *
 *   head: "FCM" version | u32 meta length | meta JSON | u32 parts | u32 body size
 *         | u8 gen length | gen | u8 URL generation length | URL generation | first body bytes
 *   part i (1 ≤ i < parts): the next body bytes, at `<head key>:<gen>:<i>`
 *
 * `gen` is random per write: parts are written first and the head last, so a reader sees the
 * old head with the old parts or the new head with the new parts, never a mix; a part that
 * Memcached has evicted makes the whole entry a miss, never a shorter body.
 *
 * The URL generation is the value of the entry's URL item when it was written: invalidating a
 * URL gives that item a new value, and every entry stamped with an older one is then a miss
 * (Memcached cannot find the entries of a URL any other way).
 */
import { randomBytes } from 'node:crypto'
import { CorruptEntryError } from '../util/errors.js'
import type { CacheRecord, EntryMeta } from './contract.js'
import { decodeMeta, encodeMeta, FORMAT_VERSION } from './entry.js'

const MAGIC = Buffer.from(`FCM${FORMAT_VERSION}`)
const FIXED = MAGIC.length + 4 + 4 + 4 + 1 + 1

export interface EncodedEntry {
  head: Buffer
  /** Body bytes after the head's, one item each, numbered from 1. */
  parts: Buffer[]
  gen: string
}

export function partKey(headKey: string, gen: string, index: number): string {
  return `${headKey}:${gen}:${index}`
}

/**
 * Lay the record out in items of at most `capacity` value bytes; undefined when even its
 * metadata does not fit in one item.
 */
export function encodeEntry(record: CacheRecord, capacity: number, urlGen: string): EncodedEntry | undefined {
  const meta = Buffer.from(encodeMeta(record.meta))
  const gen = randomBytes(8).toString('hex')
  const room = capacity - FIXED - meta.length - gen.length - urlGen.length
  if (room < 0) return undefined
  const body = Buffer.from(record.body.buffer, record.body.byteOffset, record.body.byteLength)
  const first = body.subarray(0, room)
  const parts: Buffer[] = []
  for (let at = first.length; at < body.length; at += capacity) parts.push(body.subarray(at, at + capacity))
  const head = Buffer.concat([MAGIC, u32(meta.length), meta, u32(parts.length + 1), u32(body.length), Buffer.from([gen.length]), Buffer.from(gen), Buffer.from([urlGen.length]), Buffer.from(urlGen), first])
  return { head, parts, gen }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

export interface DecodedHead {
  meta: EntryMeta
  /** Items in all, the head included. */
  parts: number
  size: number
  gen: string
  /** The entry's URL generation when it was written. */
  urlGen: string
  first: Buffer
}

export function decodeHead(item: Buffer): DecodedHead {
  if (item.length < FIXED || !item.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new CorruptEntryError(`memcached item is not a fetchcache v${FORMAT_VERSION} entry`)
  }
  let at = MAGIC.length
  const metaLength = item.readUInt32BE(at)
  at += 4
  if (at + metaLength + 10 > item.length) throw new CorruptEntryError('memcached item is truncated')
  const meta = decodeMeta(item.subarray(at, at + metaLength))
  at += metaLength
  const parts = item.readUInt32BE(at)
  const size = item.readUInt32BE(at + 4)
  const genLength = item[at + 8]!
  at += 9
  const gen = item.subarray(at, at + genLength).toString('latin1')
  at += genLength
  const urlGenLength = item[at] ?? 0
  const urlGen = item.subarray(at + 1, at + 1 + urlGenLength).toString('latin1')
  const first = item.subarray(at + 1 + urlGenLength)
  if (parts < 1 || first.length > size || (parts === 1 && first.length !== size)) throw new CorruptEntryError('memcached item has a wrong body size')
  return { meta, parts, size, gen, urlGen, first }
}

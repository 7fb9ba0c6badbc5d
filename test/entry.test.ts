/**
 * The stored entry format (src/backends/entry.ts): metadata round-trips, and anything else is
 * a CorruptEntryError (which the engine turns into a miss).
 */
import { describe, expect, it } from 'vitest'
import { decodeMeta, encodeMeta, varyMarker } from '../src/backends/entry.js'
import { CorruptEntryError } from '../src/util/errors.js'
import { meta } from './helpers/meta.js'

const enc = (s: string) => new TextEncoder().encode(s)

describe('decodeMeta', () => {
  it('round-trips encodeMeta, from a string or bytes', () => {
    const m = meta({ headers: { etag: '"x"', 'set-cookie': ['a=1', 'b=2'] }, expiresAt: null, staleIfErrorUntil: null })
    expect(decodeMeta(encodeMeta(m))).toEqual(m)
    expect(decodeMeta(enc(encodeMeta(m)))).toEqual(m)
  })

  it.each<[string, string, RegExp]>([
    ['not JSON', 'garbage{', /not JSON/],
    ['an array', '[]', /not an object/],
    ['null', 'null', /not an object/],
    ['another version', JSON.stringify({ ...meta(), v: 2 }), /entry format 2 is not 1/],
    ['no version', JSON.stringify({ ...meta(), v: undefined }), /entry format undefined is not 1/],
    ['a missing field', JSON.stringify({ ...meta(), createdAt: undefined }), /missing fields/],
    ['a wrong kind', JSON.stringify({ ...meta(), kind: 'other' }), /missing fields/],
    ['a wrong type', JSON.stringify({ ...meta(), expiresAt: '2025' }), /missing fields/],
  ])('rejects %s with CorruptEntryError', (_name, text, message) => {
    expect(() => decodeMeta(text)).toThrow(CorruptEntryError)
    expect(() => decodeMeta(text)).toThrow(message)
  })
})

describe('varyMarker deadAt: the marker outlives every variant it leads to', () => {
  it.each<[string, number | null, number | null | undefined, number | null]>([
    ['first variant: its deadAt', 5_000, undefined, 5_000],
    ['a later variant extends it', 9_000, 5_000, 9_000],
    ['an earlier-dying variant never shortens it', 3_000, 5_000, 5_000],
    ['a variant that never dies makes it never die', null, 5_000, null],
    ['once never, always never', 3_000, null, null],
  ])('%s', (_name, variant, prior, expected) => {
    const v = meta({ key: 'v', vary: ['accept'], deadAt: variant })
    const before = prior === undefined ? undefined : meta({ key: 'p', kind: 'vary', deadAt: prior })
    expect(varyMarker(v, 'p', before).deadAt).toBe(expected)
  })
})

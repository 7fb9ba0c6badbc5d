/**
 * rules/partial.ts, one row per rule: which 206 is kept as a part, how parts meet, and the byte
 * arithmetic of the runs held (RFC 9111 §3.3–3.4, RFC 9110 §14.4, §8.8.3).
 */
import { describe, expect, it } from 'vitest'
import { bodyMatches, combine, completeBody, decidePart, layoutOf, mergeSegments, parseContentRange, type Segment, segmentsOf, sliceHeld, strongEtag } from '../src/rules/partial.js'
import { partsKeyFor } from '../src/pipeline/parts.js'

describe('parseContentRange (RFC 9110 §14.4)', () => {
  it.each<[string | undefined, ReturnType<typeof parseContentRange>]>([
    ['bytes 0-9/100', { first: 0, last: 9, total: 100 }],
    ['Bytes  5-5/6 ', { first: 5, last: 5, total: 6 }],
    ['bytes 0-9/*', undefined],
    ['bytes */100', undefined],
    ['bytes 9-0/100', undefined],
    ['bytes 0-100/100', undefined],
    ['items 0-9/100', undefined],
    ['bytes 0-9/100, bytes 20-29/100', undefined],
    ['bytes 0-1234567890123456/1234567890123457', undefined],
    [undefined, undefined],
  ])('%s → %j', (value, want) => {
    expect(parseContentRange(value)).toEqual(want)
  })
})

describe('strongEtag (RFC 9110 §8.8.3)', () => {
  it.each<[string | string[] | undefined, string | undefined]>([
    ['"abc"', '"abc"'],
    [' "abc" ', '"abc"'],
    ['""', '""'],
    ['W/"abc"', undefined],
    ['w/"abc"', undefined],
    ['abc', undefined],
    ['"a", "b"', undefined],
    [['"a"', '"b"'], undefined],
    [undefined, undefined],
  ])('%j → %j', (etag, want) => {
    expect(strongEtag(etag === undefined ? {} : { etag })).toBe(want)
  })
})

describe('decidePart', () => {
  const ok = { 'content-range': 'bytes 0-9/100', etag: '"e"' }
  it.each<[string, number, Record<string, string>, number, string]>([
    ['a 206 with a single range, known length and strong ETag is kept', 206, ok, 1000, 'keep'],
    ['a 200 is not a part', 200, ok, 1000, 'skip'],
    ['multipart/byteranges is not kept (RFC 9110 §14.6)', 206, { ...ok, 'content-type': 'multipart/byteranges; boundary=x' }, 1000, 'skip'],
    ['a content coding is not kept', 206, { ...ok, 'content-encoding': 'gzip' }, 1000, 'skip'],
    ['content-encoding identity is kept', 206, { ...ok, 'content-encoding': 'identity' }, 1000, 'keep'],
    ['an unknown complete length is not kept', 206, { ...ok, 'content-range': 'bytes 0-9/*' }, 1000, 'skip'],
    ['no Content-Range is not kept', 206, { etag: '"e"' }, 1000, 'skip'],
    ['a weak ETag is not kept (§3.4 needs strong validators)', 206, { ...ok, etag: 'W/"e"' }, 1000, 'skip'],
    ['no ETag is not kept', 206, { 'content-range': 'bytes 0-9/100' }, 1000, 'skip'],
    ['a complete length over maxEntrySize is not kept', 206, ok, 99, 'skip'],
    ['a complete length of exactly maxEntrySize is kept', 206, ok, 100, 'keep'],
  ])('%s', (_name, status, headers, max, want) => {
    expect(decidePart(status, headers, max).action).toBe(want)
  })

  it('bodyMatches: exactly the length the range names', () => {
    const r = { first: 10, last: 19, total: 100 }
    expect([9, 10, 11].map((n) => bodyMatches(r, n))).toEqual([false, true, false])
  })
})

describe('combine (RFC 9111 §3.4)', () => {
  it.each<[string, Parameters<typeof combine>[0], Parameters<typeof combine>[1], ReturnType<typeof combine>]>([
    ['nothing held: replace', undefined, { etag: '"a"', total: 10 }, 'replace'],
    ['held without a strong ETag: replace', { etag: undefined, total: 10 }, { etag: '"a"', total: 10 }, 'replace'],
    ['same ETag and length: merge', { etag: '"a"', total: 10 }, { etag: '"a"', total: 10 }, 'merge'],
    ['another ETag: replace, never mix', { etag: '"a"', total: 10 }, { etag: '"b"', total: 10 }, 'replace'],
    ['another ETag and length: replace', { etag: '"a"', total: 10 }, { etag: '"b"', total: 20 }, 'replace'],
    ['same ETag, another length: conflict', { etag: '"a"', total: 10 }, { etag: '"a"', total: 11 }, 'conflict'],
  ])('%s', (_name, held, part, want) => {
    expect(combine(held, part)).toBe(want)
  })
})

const seg = (start: number, text: string): Segment => ({ start, bytes: Buffer.from(text) })
const show = (segments: Segment[]) => segments.map((s) => [s.start, Buffer.from(s.bytes).toString()])

describe('mergeSegments', () => {
  it.each<[string, Segment[], Segment, Array<[number, string]>]>([
    ['into nothing', [], seg(3, 'def'), [[3, 'def']]],
    ['disjoint, kept in order', [seg(6, 'gh')], seg(0, 'ab'), [[0, 'ab'], [6, 'gh']]],
    ['adjacent runs join', [seg(0, 'abc')], seg(3, 'def'), [[0, 'abcdef']]],
    ['overlapping runs join', [seg(0, 'abcd')], seg(2, 'cdef'), [[0, 'abcdef']]],
    ['a run inside another adds nothing', [seg(0, 'abcdef')], seg(2, 'cd'), [[0, 'abcdef']]],
    ['a run bridging two joins all three', [seg(0, 'ab'), seg(5, 'fg')], seg(1, 'bcdef'), [[0, 'abcdefg']]],
    ['a run covering several', [seg(1, 'b'), seg(3, 'd')], seg(0, 'abcde'), [[0, 'abcde']]],
    ['an empty run is ignored', [seg(0, 'ab')], seg(5, ''), [[0, 'ab']]],
  ])('%s', (_name, held, added, want) => {
    expect(show(mergeSegments(held, added))).toEqual(want)
  })
})

describe('sliceHeld and completeBody', () => {
  const held = [seg(0, 'abc'), seg(5, 'fgh')]
  it.each<[number, number, string | undefined]>([
    [0, 2, 'abc'],
    [1, 1, 'b'],
    [5, 7, 'fgh'],
    [2, 5, undefined],
    [3, 3, undefined],
    [7, 8, undefined],
  ])('[%i, %i] → %s', (first, last, want) => {
    const got = sliceHeld(held, first, last)
    expect(got === undefined ? undefined : Buffer.from(got).toString()).toBe(want)
  })

  it.each<[string, Segment[], number, boolean]>([
    ['one run from 0 of the whole length', [seg(0, 'abcd')], 4, true],
    ['one run short of the length', [seg(0, 'abc')], 4, false],
    ['one run not from 0', [seg(1, 'bcd')], 4, false],
    ['two runs', [seg(0, 'ab'), seg(3, 'd')], 4, false],
    ['nothing', [], 4, false],
  ])('complete: %s', (_name, segments, total, want) => {
    expect(completeBody(segments, total) !== undefined).toBe(want)
  })
})

describe('segmentsOf: a stored layout is used only when it describes its body exactly', () => {
  const body = Buffer.from('abcfgh')
  it.each<[string, unknown, Array<[number, string]> | undefined]>([
    ['a layout written by layoutOf', layoutOf([seg(0, 'abc'), seg(5, 'fgh')], 10), [[0, 'abc'], [5, 'fgh']]],
    ['lengths short of the body', { total: 10, ranges: [[0, 2]] }, undefined],
    ['lengths past the body', { total: 10, ranges: [[0, 2], [5, 8]] }, undefined],
    ['unsorted', { total: 10, ranges: [[5, 7], [0, 2]] }, undefined],
    ['overlapping', { total: 10, ranges: [[0, 2], [2, 4]] }, undefined],
    ['past the complete length', { total: 7, ranges: [[0, 2], [5, 7]] }, undefined],
    ['not numbers', { total: 10, ranges: [['0', 2], [5, 7]] }, undefined],
    ['no ranges', { total: 10, ranges: [] }, undefined],
    ['no total', { ranges: [[0, 2], [5, 7]] }, undefined],
    ['absent', undefined, undefined],
  ])('%s', (_name, layout, want) => {
    const got = segmentsOf(layout, body)
    expect(got === undefined ? undefined : show(got)).toEqual(want)
  })
})

describe('partsKeyFor: parts are kept only when the key does not depend on Range', () => {
  it.each<[string, { keyFn?: () => string; matchHeaders: boolean | string[] }, boolean, string?]>([
    ['default', { matchHeaders: false }, true],
    ['a HEAD (Range is defined for GET, RFC 9110 §14.2)', { matchHeaders: false }, false, 'HEAD'],
    ['matchHeaders listing other fields', { matchHeaders: ['accept'] }, true],
    ['matchHeaders listing range', { matchHeaders: ['range'] }, false],
    ['matchHeaders listing if-range', { matchHeaders: ['if-range'] }, false],
    ['matchHeaders: true', { matchHeaders: true }, false],
    ['a keyFn', { keyFn: () => 'x', matchHeaders: false }, false],
  ])('%s', (_name, settings, want, method = 'GET') => {
    const key = partsKeyFor({ keyFn: undefined, ...settings } as Parameters<typeof partsKeyFor>[0], { method, key: 'k' })
    expect(key !== undefined).toBe(want)
    if (key !== undefined) expect(key).not.toBe('k')
  })
})

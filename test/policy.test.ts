/**
 * What a 304 does (src/rules/policy.ts): which stored response it selects (RFC 9111 §4.3.4) and
 * how its header fields update the stored ones (RFC 9111 §3.2).
 */
import { describe, expect, it } from 'vitest'
import { notModifiedMatches } from '../src/rules/policy.js'
import { mergeHeaders } from '../src/rules/headers.js'

describe('mergeHeaders (RFC 9111 §3.2)', () => {
  it('replaces fields the 304 carries, keeps the rest and the framing fields', () => {
    const stored = { etag: '"a"', 'content-length': '10', 'content-encoding': 'gzip', 'cache-control': 'max-age=60', 'x-old': '1' }
    const fresh = { etag: '"a"', 'content-length': '0', 'cache-control': 'max-age=120', date: 'Wed, 01 Jan 2025 00:00:00 GMT', 'set-cookie': ['a=1'] }
    expect(mergeHeaders(stored, fresh)).toEqual({
      etag: '"a"',
      'content-length': '10',
      'content-encoding': 'gzip',
      'cache-control': 'max-age=120',
      'x-old': '1',
      date: 'Wed, 01 Jan 2025 00:00:00 GMT',
      'set-cookie': ['a=1'],
    })
    expect(stored['cache-control']).toBe('max-age=60')
  })
})

describe('notModifiedMatches (RFC 9111 §4.3.4)', () => {
  const LM1 = 'Wed, 01 Jan 2020 00:00:00 GMT'
  const LM2 = 'Thu, 02 Jan 2020 00:00:00 GMT'
  it.each<[string, Record<string, string>, Record<string, string>, boolean]>([
    ['same strong ETag', { etag: '"a"' }, { etag: '"a"' }, true],
    ['different strong ETag', { etag: '"a"' }, { etag: '"b"' }, false],
    ['weak 304 ETag matches the stored strong one (weak comparison)', { etag: '"a"' }, { etag: 'W/"a"' }, true],
    ['same weak ETag', { etag: 'W/"a"' }, { etag: 'W/"a"' }, true],
    ['different weak ETag', { etag: 'W/"a"' }, { etag: 'W/"b"' }, false],
    ['304 ETag but none stored', { 'last-modified': LM1 }, { etag: '"a"', 'last-modified': LM1 }, false],
    ['same Last-Modified', { 'last-modified': LM1 }, { 'last-modified': LM1 }, true],
    ['different Last-Modified', { 'last-modified': LM1 }, { 'last-modified': LM2 }, false],
    ['no validator on either side', {}, {}, true],
  ])('%s', (_name, stored, fresh, want) => {
    expect(notModifiedMatches(stored, fresh)).toBe(want)
  })
})

describe('regressions', () => {
  it.each([
    ['strong 304 ETag vs stored weak ETag', { etag: 'W/"a"' }, { etag: '"a"' }, false],
    ['weak 304 ETag vs stored strong ETag', { etag: '"a"' }, { etag: 'W/"a"' }, true],
    // Our own conditional request came from this entry: a validator-less 304 is about it (issue 10).
    ['304 without validator vs stored ETag', { etag: '"a"' }, {}, true],
    ['304 without validator vs stored without validator', {}, {}, true],
    ['304 Last-Modified only vs stored ETag and same Last-Modified', { etag: '"a"', 'last-modified': 'x' }, { 'last-modified': 'x' }, true],
  ] as const)('RFC 9111 §4.3.4: %s', (_name, stored, fresh, expected) => {
    expect(notModifiedMatches(stored, fresh)).toBe(expected)
  })

  it('a 304 resets the stored Age (RFC 9111 §5.1) unless it carries its own', () => {
    expect(mergeHeaders({ age: '50', etag: '"a"' }, { etag: '"a"' })).toEqual({ etag: '"a"' })
    expect(mergeHeaders({ age: '50' }, { age: '3' })).toEqual({ age: '3' })
  })

  it('§3.1: a field the 304\'s Connection lists is not stored (the stored Connection was stripped already)', () => {
    expect(mergeHeaders({ etag: '"a"' }, { etag: '"a"', connection: 'x-secret, close', 'x-secret': '1', 'x-kept': '2' })).toEqual({ etag: '"a"', 'x-kept': '2' })
  })
})

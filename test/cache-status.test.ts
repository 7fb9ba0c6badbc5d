/**
 * Cache-Status (RFC 9211): the field every response from the cache carries, formatted and
 * parsed by src/rules/cache-status.ts.
 */
import { describe, expect, it } from 'vitest'
import { formatCacheStatus, parseCacheStatus, type StatusParts } from '../src/rules/cache-status.js'

describe('Cache-Status (RFC 9211)', () => {
  it.each<[StatusParts, string]>([
    [{ hit: true, ttl: 120, key: 'abc' }, 'fetchcache; hit; ttl=120; key="abc"'],
    [{ fwd: 'uri-miss', stored: true }, 'fetchcache; fwd=uri-miss; stored'],
    [{ fwd: 'stale', fwdStatus: 304, ttl: 60 }, 'fetchcache; fwd=stale; fwd-status=304; ttl=60'],
    [{ hit: true, ttl: -5 }, 'fetchcache; hit; ttl=-5'],
    [{ fwd: 'request', detail: 'forceRefresh' }, 'fetchcache; fwd=request; detail="forceRefresh"'],
    [{}, 'fetchcache'],
  ])('%j ⇄ %s', (parts, text) => {
    expect(formatCacheStatus(parts)).toBe(text)
    expect(parseCacheStatus(text)).toEqual(parts)
  })

  it.each<[StatusParts, string]>([
    [{ hit: true, ttl: Infinity }, 'fetchcache; hit'],
    [{ hit: true, ttl: 1.6 }, 'fetchcache; hit; ttl=2'],
    [{ hit: false, stored: false }, 'fetchcache'],
    [{ detail: 'say "hi"\\' }, 'fetchcache; detail="say hi"'],
  ])('formats %j as %s', (parts, text) => {
    expect(formatCacheStatus(parts)).toBe(text)
  })

  it.each<[string | null | undefined, StatusParts | undefined]>([
    [null, undefined],
    ['', undefined],
    ['othercache; hit', undefined],
    ['othercache; hit, fetchcache; fwd=uri-miss; stored', { fwd: 'uri-miss', stored: true }],
    ['fetchcache; fwd=uri-miss, fetchcache; hit; ttl=3', { hit: true, ttl: 3 }],
  ])('parses %j', (value, want) => {
    expect(parseCacheStatus(value)).toEqual(want)
  })
})

describe('regressions', () => {
  it.each(['expired; force-cache', 'stale-if-error: connect ECONNREFUSED, retry', 'quote " and back\\slash'])(
    'Cache-Status detail %j survives a round trip',
    (detail) => {
      const parsed = parseCacheStatus(`upstream; hit, ${formatCacheStatus({ hit: true, ttl: 5, detail })}`)
      expect(parsed).toMatchObject({ hit: true, ttl: 5 })
      expect(parsed?.detail).toBe(detail.replace(/["\\]/g, ''))
    },
  )
})

/**
 * resolveSettings / resolveRequestOptions (every invalid value is a ConfigError naming the
 * option and showing the value), parseExpiry, and URL patterns with requests-cache semantics.
 */
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../src/util/errors.js'
import { InvalidArgumentError } from 'commander'
import { DO_NOT_CACHE, EXPIRE_IMMEDIATELY, expiresAtFor, NEVER_EXPIRE, parseDuration, parseExpiry } from '../src/config/expiry.js'
import { parseDuration as parseCliDuration } from '../src/cli/options.js'
import { compilePattern, matchesPattern } from '../src/util/glob.js'
import { DEFAULT_MAX_ENTRY_SIZE, resolveRequestOptions, resolveSettings } from '../src/config/options.js'
import type { Backend, CacheOptions, PerRequestOptions } from '../src/config/types.js'
import { MemoryBackend } from '../src/backends/memory.js'

const settingsOf = (o: unknown) => () => resolveSettings(o as CacheOptions)
const requestOf = (o: unknown) => () => resolveRequestOptions(o as PerRequestOptions, 'fetch options')

describe('resolveSettings: invalid values', () => {
  it.each<[string, unknown, RegExp]>([
    ['options not an object', null, /^options: expected an object; got null$/],
    ['options a string', 'memory', /options: expected an object; got 'memory'/],
    ['unknown option', { expire_after: 60 }, /^options: unknown option 'expire_after'/],
    ['unknown option lists the known ones', { ttl: 60 }, /unknown option 'ttl' \(known: name, backend, expireAfter/],
    ['name empty', { name: '' }, /^name: .*got ''$/],
    ['name not a string', { name: 5 }, /^name: .*got 5$/],
    ['backend unknown', { backend: 'mongodb' }, /^backend: expected 'sqlite', 'filesystem', 'memory', 'memcached', 'redis' or a Backend instance; got 'mongodb'$/],
    ['backend object without methods', { backend: {} }, /^backend: not a Backend: missing methods get, set, delete, deleteMatching, entries, stats, clear, close$/],
    ['backend without stats', { backend: { get() {}, set() {}, delete() {}, deleteMatching() {}, entries() {}, clear() {}, close() {} } }, /^backend: not a Backend: missing method stats$/],
    ['backend with half a lease pair', { backend: { get() {}, set() {}, delete() {}, deleteMatching() {}, entries() {}, stats() {}, clear() {}, close() {}, leases: { acquire() {} } } }, /^backend\.leases: expected \{ acquire/],
    ['expireAfter prose', { expireAfter: '5 minutes' }, /^expireAfter: .*got '5 minutes'$/],
    ['expireAfter without unit', { expireAfter: '5' }, /^expireAfter: .*got '5'$/],
    ['expireAfter negative', { expireAfter: -5 }, /^expireAfter: .*got -5$/],
    ['expireAfter invalid Date', { expireAfter: new Date('nope') }, /^expireAfter: .*got Invalid Date$/],
    ['expireAfter object', { expireAfter: { minutes: 5 } }, /^expireAfter: .*got \{"minutes":5\}$/],
    ['expireAfter unknown constant', { expireAfter: 'NEVER' }, /^expireAfter: .*got 'NEVER'$/],
    ['urlsExpireAfter not an object', { urlsExpireAfter: 'example.com' }, /^urlsExpireAfter: .*got 'example.com'$/],
    ['urlsExpireAfter bad expiry', { urlsExpireAfter: { 'example.com': 'soon' } }, /^urlsExpireAfter\['example.com'\]: .*got 'soon'$/],
    ['urlsExpireAfter bad pattern', { urlsExpireAfter: [[42, 10]] }, /^urlsExpireAfter\[0\]: expected a glob string or RegExp; got 42$/],
    ['urlsExpireAfter entry not a pair', { urlsExpireAfter: ['example.com'] }, /^urlsExpireAfter\[0\]: expected a \[pattern, expiry\] pair; got 'example.com'$/],
    ['cacheControl not boolean', { cacheControl: 'yes' }, /^cacheControl: expected true or false; got 'yes'$/],
    ['allowableMethods a string', { allowableMethods: 'GET' }, /^allowableMethods: .*got 'GET'$/],
    ['allowableMethods empty name', { allowableMethods: ['GET', ''] }, /^allowableMethods: .*got \["GET",""\]$/],
    ['allowableMethods not a method', { allowableMethods: ['GET', 'NOT A METHOD'] }, /^allowableMethods: not an HTTP method: 'NOT A METHOD'$/],
    ['allowableCodes a number', { allowableCodes: 200 }, /^allowableCodes: .*got 200$/],
    ['allowableCodes out of range', { allowableCodes: [200, 999] }, /^allowableCodes: .*got \[200,999\]$/],
    ['allowableCodes strings', { allowableCodes: ['200'] }, /^allowableCodes: .*got \["200"\]$/],
    ['allowableCodes fractional', { allowableCodes: [200.5] }, /^allowableCodes: .*got \[200.5\]$/],
    ['matchHeaders a string', { matchHeaders: 'accept' }, /^matchHeaders: .*got 'accept'$/],
    ['ignoredParameters a string', { ignoredParameters: 'token' }, /^ignoredParameters: .*got 'token'$/],
    ['keyFn not a function', { keyFn: 'url' }, /^keyFn: expected a function; got 'url'$/],
    ['filter not a function', { filter: true }, /^filter: expected a function; got true$/],
    ['onError not a function', { onError: 'log' }, /^onError: expected a function; got 'log'$/],
    ['staleIfError prose', { staleIfError: 'forever' }, /^staleIfError: .*got 'forever'$/],
    ['staleIfError DO_NOT_CACHE', { staleIfError: DO_NOT_CACHE }, /^staleIfError: expected true, false or a duration; got 'DO_NOT_CACHE'$/],
    ['staleIfError a Date', { staleIfError: new Date(0) }, /^staleIfError: expected true, false or a duration; got /],
    ['staleWhileRevalidate negative', { staleWhileRevalidate: -2 }, /^staleWhileRevalidate: .*got -2$/],
    ['onlyIfCached not boolean', { onlyIfCached: 1 }, /^onlyIfCached: expected true or false; got 1$/],
    ['readOnly not boolean', { readOnly: 'true' }, /^readOnly: expected true or false; got 'true'$/],
    ['maxEntrySize negative', { maxEntrySize: -1 }, /^maxEntrySize: .*got -1$/],
    ['maxEntrySize fractional', { maxEntrySize: 1.5 }, /^maxEntrySize: .*got 1.5$/],
    ['maxEntrySize string', { maxEntrySize: '10' }, /^maxEntrySize: .*got '10'$/],
    ['pruneInterval prose', { pruneInterval: 'hourly' }, /^pruneInterval: expected seconds or a duration like '1h'; got 'hourly'$/],
    ['pruneInterval negative', { pruneInterval: -60 }, /^pruneInterval: .*got -60$/],
    ['pruneInterval under a second', { pruneInterval: '500ms' }, /^pruneInterval: expected false or a duration of at least 1 s like '1h'; got '500ms'$/],
    ['pruneInterval true', { pruneInterval: true }, /^pruneInterval: expected false or a duration of at least 1 s like '1h'; got true$/],
    ['pruneInterval Infinity', { pruneInterval: Infinity }, /^pruneInterval: .*got Infinity$/],
    ['pruneInterval NEVER_EXPIRE', { pruneInterval: NEVER_EXPIRE }, /^pruneInterval: .*got 'NEVER_EXPIRE'$/],
    ['backend with a pruning capability lacking prune()', { backend: { get() {}, set() {}, delete() {}, deleteMatching() {}, entries() {}, stats() {}, clear() {}, close() {}, pruning: {} } }, /^backend\.pruning: expected \{ prune\(now, limit\) \}; got \{\}$/],
    ['backend with an immediate capability lacking get()', { backend: { get() {}, set() {}, delete() {}, deleteMatching() {}, entries() {}, stats() {}, clear() {}, close() {}, immediate: {} } }, /^backend\.immediate: expected \{ get\(key\) \}; got \{\}$/],
  ])('%s', (_name, options, message) => {
    expect(settingsOf(options)).toThrow(ConfigError)
    expect(settingsOf(options)).toThrow(message)
  })

  it('ConfigError carries its code', () => {
    const err = (() => {
      try {
        resolveSettings({ expireAfter: 'soon' })
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(ConfigError)
    expect(err).toMatchObject({ name: 'ConfigError', code: 'ERR_FETCHCACHE_CONFIG' })
  })
})

describe('resolveSettings: values', () => {
  it('defaults', () => {
    const s = resolveSettings()
    expect(s).toMatchObject({
      name: 'http_cache',
      backend: 'sqlite',
      expireAfter: undefined,
      urlsExpireAfter: [],
      cacheControl: true,
      matchHeaders: false,
      keyFn: undefined,
      filter: undefined,
      staleIfError: 0,
      staleWhileRevalidate: 0,
      onlyIfCached: false,
      readOnly: false,
      maxEntrySize: DEFAULT_MAX_ENTRY_SIZE,
      pruneInterval: 3600,
    })
    expect([...s.allowableMethods]).toEqual(['GET', 'HEAD'])
    expect(s.allowableCodes).toBe('rfc')
    expect(resolveSettings({ cacheControl: false }).allowableCodes).toEqual(new Set([200]))
    expect(s.ignoredParameters.size).toBe(0)
    expect(DEFAULT_MAX_ENTRY_SIZE).toBe(64 * 1024 * 1024)
    expect(Object.isFrozen(s)).toBe(true)
  })

  it('normalises methods, header names and ignored parameters', () => {
    const s = resolveSettings({ allowableMethods: ['get', 'Post'], matchHeaders: ['Accept', 'X-Api'], ignoredParameters: ['Token', 'Authorization'] })
    expect([...s.allowableMethods]).toEqual(['GET', 'POST'])
    expect(s.matchHeaders).toEqual(['accept', 'x-api'])
    expect([...s.ignoredParameters]).toEqual(['Token', 'Authorization'])
    expect([...s.ignoredHeaders]).toEqual(['token', 'authorization'])
  })

  it.each<[string, CacheOptions, Record<string, unknown>]>([
    ['memory backend', { backend: 'memory' }, { backend: 'memory' }],
    ['matchHeaders true', { matchHeaders: true }, { matchHeaders: true }],
    ['expireAfter duration', { expireAfter: '1h' }, { expireAfter: 3600 }],
    ['staleIfError true → Infinity', { staleIfError: true }, { staleIfError: Infinity }],
    ['staleIfError false → 0', { staleIfError: false }, { staleIfError: 0 }],
    ['staleIfError duration', { staleIfError: '5m' }, { staleIfError: 300 }],
    ['staleWhileRevalidate NEVER_EXPIRE → Infinity', { staleWhileRevalidate: NEVER_EXPIRE }, { staleWhileRevalidate: Infinity }],
    ['maxEntrySize 0', { maxEntrySize: 0 }, { maxEntrySize: 0 }],
    ['pruneInterval false → off', { pruneInterval: false }, { pruneInterval: 0 }],
    ['pruneInterval 0 → off', { pruneInterval: 0 }, { pruneInterval: 0 }],
    ['pruneInterval duration', { pruneInterval: '30m' }, { pruneInterval: 1800 }],
    ['pruneInterval seconds', { pruneInterval: 60 }, { pruneInterval: 60 }],
    ['pruneInterval seconds as text', { pruneInterval: '90' }, { pruneInterval: 90 }],
  ])('%s', (_name, options, want) => {
    expect(resolveSettings(options)).toMatchObject(want)
  })

  it('accepts a Backend instance', () => {
    const backend = new MemoryBackend() as Backend
    expect(resolveSettings({ backend }).backend).toBe(backend)
  })

  it('compiles urlsExpireAfter in order, from an object or pairs', () => {
    const s = resolveSettings({ urlsExpireAfter: { 'example.com/a': '1m', 'example.com': NEVER_EXPIRE } })
    expect(s.urlsExpireAfter.map(([, e]) => e)).toEqual([60, Infinity])
    expect(matchesPattern('https://example.com/a/1', s.urlsExpireAfter[0]![0])).toBe(true)
    const re = /\/v\d\//
    const p = resolveSettings({ urlsExpireAfter: [[re, DO_NOT_CACHE]] })
    expect(p.urlsExpireAfter).toEqual([[re, DO_NOT_CACHE]])
  })
})

describe('resolveRequestOptions', () => {
  it.each<[string, unknown, RegExp]>([
    ['not an object', 'x', /^fetch options: expected an object; got 'x'$/],
    ['null', null, /^fetch options: expected an object; got null$/],
    ['unknown option', { ttl: 5 }, /^fetch options: unknown option 'ttl'/],
    ['cache option that is not per-request', { readOnly: true }, /^fetch options: unknown option 'readOnly'/],
    ['expireAfter', { expireAfter: '5 minutes' }, /^fetch options\.expireAfter: .*got '5 minutes'$/],
    ['refresh', { refresh: 'yes' }, /^fetch options\.refresh: expected true or false; got 'yes'$/],
    ['forceRefresh', { forceRefresh: 1 }, /^fetch options\.forceRefresh: .*got 1$/],
    ['onlyIfCached', { onlyIfCached: null }, /^fetch options\.onlyIfCached: .*got null$/],
  ])('%s', (_name, options, message) => {
    expect(requestOf(options)).toThrow(ConfigError)
    expect(requestOf(options)).toThrow(message)
  })

  it.each<[string, PerRequestOptions | undefined, Record<string, unknown>]>([
    ['undefined', undefined, {}],
    ['empty', {}, {}],
    ['all', { expireAfter: '5m', refresh: true, forceRefresh: false, onlyIfCached: true }, { expireAfter: 300, refresh: true, forceRefresh: false, onlyIfCached: true }],
    ['DO_NOT_CACHE', { expireAfter: DO_NOT_CACHE }, { expireAfter: DO_NOT_CACHE }],
  ])('%s', (_name, options, want) => {
    expect(resolveRequestOptions(options, 'fetch options')).toEqual(want)
  })
})

describe('parseExpiry', () => {
  it.each<[unknown, unknown]>([
    [60, 60],
    [0, 0],
    [1.5, 1.5],
    ['90s', 90],
    ['5m', 300],
    ['1h', 3600],
    ['7d', 604_800],
    ['2w', 1_209_600],
    ['500ms', 0.5],
    ['1.5h', 5400],
    [' 5m ', 300],
    [NEVER_EXPIRE, Infinity],
    [Infinity, Infinity],
    [-1, Infinity],
    [EXPIRE_IMMEDIATELY, 0],
    [DO_NOT_CACHE, DO_NOT_CACHE],
  ])('%j → %j', (value, want) => {
    expect(parseExpiry(value, 'expireAfter')).toBe(want)
  })

  it('keeps a Date as the same instant', () => {
    const d = new Date('2030-01-01T00:00:00Z')
    expect(parseExpiry(d, 'expireAfter')).toBe(d)
  })

  it.each([[-2], [Number.NaN], ['5 m'], ['5M'], ['m'], [''], [null], [true]])('%j is rejected', (value) => {
    expect(() => parseExpiry(value, 'expireAfter')).toThrow(/^expireAfter: expected seconds/)
  })

  it.each<[number | Date, number | null]>([
    [60, 1_000_000 + 60_000],
    [0, 1_000_000],
    [Infinity, null],
    [new Date(5_000), 5_000],
  ])('expiresAtFor(%j) at t=1e6 → %j', (expiry, want) => {
    expect(expiresAtFor(expiry, 1_000_000)).toBe(want)
  })
})

describe('parseDuration: one rule for olderThan, lockTimeout and the CLI\'s --older-than', () => {
  // Each row runs through the library's parser and the CLI's: they must agree.
  it.each<[string | number, number]>([
    [3600, 3600],
    ['3600', 3600],
    [' 90 ', 90],
    ['1.5', 1.5],
    [0, 0],
    ['7d', 604_800],
    ['12h', 43_200],
    ['90s', 90],
  ])('%j → %j seconds', (value, want) => {
    expect(parseDuration(value, 'olderThan', '7d')).toBe(want)
    if (typeof value === 'string') expect(parseCliDuration(value)).toBe(want)
  })

  it.each<[unknown]>([['7 days'], ['soon'], [''], ['-1'], [-1], [-5], [NEVER_EXPIRE], [DO_NOT_CACHE], [new Date(0)], [null], [true]])('%j is rejected', (value) => {
    expect(() => parseDuration(value, 'olderThan', '7d')).toThrow(ConfigError)
    expect(() => parseDuration(value, 'olderThan', '7d')).toThrow(/^olderThan: expected seconds or a duration like '7d'; got /)
    if (typeof value === 'string') expect(() => parseCliDuration(value)).toThrow(InvalidArgumentError)
  })

  it('lockTimeout takes the same durations', () => {
    expect(resolveSettings({ lockTimeout: '30' }).lockTimeout).toBe(30)
    expect(settingsOf({ lockTimeout: 'soon' })).toThrow(/^lockTimeout: expected seconds or a duration like '5s'; got 'soon'$/)
  })
})

describe('compilePattern / matchesPattern (requests-cache semantics)', () => {
  it.each<[string | RegExp, string, boolean]>([
    ['example.com', 'https://example.com/a', true],
    ['example.com', 'http://example.com', true],
    ['https://example.com/api', 'http://example.com/api/v1', true],
    ['example.com/api', 'https://example.com/api/users?id=1', true],
    ['example.com/api', 'https://example.com/other', false],
    ['example.com', 'https://www.example.com/', false],
    ['example.com/api', 'https://evil.org/example.com/api', false],
    ['*.example.com', 'https://api.example.com/x', true],
    ['*.example.com', 'https://example.com/x', false],
    ['example.com/*/users', 'https://example.com/v2/users/1', true],
    ['example.com/*', 'https://example.com/', true],
    ['example.com/v?/', 'https://example.com/v2/x', true],
    ['example.com/v?/', 'https://example.com/v10/x', false],
    ['example.com/a.b', 'https://example.com/aXb', false],
    ['example.com/a+b', 'https://example.com/a+b', true],
    ['example.com/(x)', 'https://example.com/(x)', true],
    ['EXAMPLE.com', 'https://example.com/', true],
    [/\/users\/\d+$/, 'https://example.com/users/42', true],
    [/\/users\/\d+$/, 'https://example.com/users/abc', false],
    [/^https:/, 'http://example.com/', false],
    [/^https:/, 'https://example.com/', true],
    [/com\/a/, 'https://example.com/a', true],
  ])('%s ~ %s → %s', (pattern, url, want) => {
    expect(matchesPattern(url, compilePattern(pattern))).toBe(want)
  })

  it('returns a RegExp pattern unchanged', () => {
    const re = /x/
    expect(compilePattern(re)).toBe(re)
  })

  it('a global RegExp matches on every call (lastIndex reset)', () => {
    const re = compilePattern(/example/g)
    expect([1, 2, 3].map(() => matchesPattern('https://example.com/', re))).toEqual([true, true, true])
  })
})

describe('error messages show numbers as written', () => {
  it.each([
    [{ expireAfter: Number.NaN }, /expireAfter: .*got NaN$/],
    [{ maxEntrySize: Number.POSITIVE_INFINITY }, /maxEntrySize: .*got Infinity$/],
  ] as const)('%o', (options, message) => {
    expect(() => resolveSettings(options as CacheOptions)).toThrow(message)
  })
})

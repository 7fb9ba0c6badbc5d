/**
 * No silent options: every option that could not do what it says is a ConfigError naming it,
 * one row per mistake; and the globs requests-cache users write (fnmatch classes) work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CacheOptions, ConfigError, createCachedFetch, NEVER_EXPIRE } from '../src/index.js'
import { compilePattern, matchesPattern } from '../src/util/glob.js'
import { type Origin, reply, startOrigin } from './helpers/origin.js'

describe('options that could not work are ConfigErrors naming them', () => {
  it.each<{ name: string; options: CacheOptions; error: RegExp }>([
    { name: "a glob with an unclosed '[' (would match nothing)", options: { urlsExpireAfter: { 'example.com/[': 60 } }, error: /^urlsExpireAfter\['example\.com\/\['\]: the glob .* has a '\[' without its '\]'/ },
    { name: 'a [pattern, expiry] pair with a third item', options: { urlsExpireAfter: [['example.com', 60, 'x']] as never }, error: /^urlsExpireAfter\[0\]: expected a \[pattern, expiry\] pair; got/ },
    { name: 'a pair with one item', options: { urlsExpireAfter: [['example.com']] as never }, error: /^urlsExpireAfter\[0\]: expected a \[pattern, expiry\] pair/ },
    { name: 'a pattern of the wrong type', options: { urlsExpireAfter: [[42, 60]] as never }, error: /^urlsExpireAfter\[0\]: expected a glob string or RegExp; got 42/ },
    { name: 'lockTimeout that is not a duration: the message speaks of durations', options: { lockTimeout: 'soon' }, error: /^lockTimeout: expected seconds or a duration like '5s'; got 'soon'$/ },
    { name: 'lockTimeout given an expiry constant', options: { lockTimeout: NEVER_EXPIRE }, error: /^lockTimeout: expected seconds .*; got 'NEVER_EXPIRE'$/ },
    { name: 'lockTimeout negative', options: { lockTimeout: -1 }, error: /^lockTimeout: expected seconds .*; got -1$/ },
    { name: "a negative expireAfter other than -1 (requests-cache's NEVER_EXPIRE)", options: { expireAfter: -2 }, error: /^expireAfter: expected seconds.*; got -2$/ },
    { name: 'expireAfter of the wrong type', options: { expireAfter: true as never }, error: /^expireAfter: expected seconds/ },
    { name: 'an unknown option', options: { expireAftr: 60 } as never, error: /unknown option 'expireAftr'/ },
  ])('$name', ({ options, error }) => {
    let thrown: unknown
    try {
      createCachedFetch({ backend: 'memory', ...options })
    } catch (e) {
      thrown = e
    }
    expect(thrown).toBeInstanceOf(ConfigError)
    expect((thrown as Error).message).toMatch(error)
  })

  it('lockTimeout takes seconds and durations', () => {
    for (const lockTimeout of [0, 2.5, '500ms', '5s', '1m']) expect(() => createCachedFetch({ backend: 'memory', lockTimeout })).not.toThrow()
  })
})

describe('per-request options on a cached fetch', () => {
  let origin: Origin
  const f = createCachedFetch({ backend: 'memory' })
  beforeAll(async () => {
    origin = await startOrigin({ '/a': reply(200, { 'cache-control': 'max-age=60' }, 'A') })
  })
  afterAll(async () => {
    await f.cache.close()
    await origin.close()
  })

  it.each([
    { init: { refreshh: true }, error: /^fetch options: unknown option 'refreshh' \(did you mean 'refresh'\?\)$/ },
    { init: { expiresAfter: 60 }, error: /unknown option 'expiresAfter' \(did you mean 'expireAfter'\?\)/ },
    { init: { onlyifcached: true }, error: /unknown option 'onlyifcached' \(did you mean 'onlyIfCached'\?\)/ },
    { init: { forcerefresh: true }, error: /unknown option 'forcerefresh' \(did you mean 'forceRefresh'\?\)/ },
    { init: { refresh: 'yes' }, error: /^fetch options\.refresh: expected true or false; got 'yes'$/ },
    { init: { expireAfter: 'soon' }, error: /^fetch options\.expireAfter: expected seconds/ },
  ])('$init is a ConfigError, before any request', async ({ init, error }) => {
    await expect(f(`${origin.url}/a`, init as never)).rejects.toThrow(error)
    expect(origin.count('/a')).toBe(0)
  })

  it('fetch members of the standard, of undici and of other libraries pass through', async () => {
    const res = await f(`${origin.url}/a`, { redirect: 'follow', keepalive: false, priority: 'auto', timeout: 5 } as never)
    expect(await res.text()).toBe('A')
  })
})

describe('fnmatch globs, as requests-cache reads urls_expire_after', () => {
  it.each([
    ['example.com/v[12]/', 'https://example.com/v2/users', true],
    ['example.com/v[12]/', 'https://example.com/v3/users', false],
    ['example.com/v[!12]/', 'https://example.com/v3/users', true],
    ['example.com/[a-c]*', 'https://example.com/beta', true],
    ['example.com/[[]x]', 'https://example.com/[x]', true],
    ['example.com/v?/', 'https://example.com/v9/', true],
    ['*.example.com', 'https://api.example.com/x', true],
  ])('%s on %s → %s', (glob, url, matches) => {
    expect(matchesPattern(url, compilePattern(glob))).toBe(matches)
  })
})

/**
 * fast-check arbitraries for hostile caching headers, and an independent oracle of what RFC 9111
 * allows for them (test/hostile-headers*.test.ts). Every generated value is made only of
 * characters undici and Node's http server accept in a field value (visible ASCII, space, tab),
 * so the same cases run through a real origin.
 *
 * The oracle does not call src/rules: dates carry the instant they were built from (or
 * `undefined` when the form is invalid), and Cache-Control is read with a separate parser.
 */
import fc from 'fast-check'

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const pad = (n: number, w = 2, c = '0') => String(n).padStart(w, c)

/** A header value and, when it is a valid HTTP-date (RFC 9110 §5.6.7), the instant it names. */
export interface DateValue {
  text: string
  ms: number | undefined
}

export function forms(ms: number): { imf: string; rfc850: string; asctime: string } {
  const d = new Date(ms)
  const [day, mon, y] = [d.getUTCDate(), MONTHS[d.getUTCMonth()]!, d.getUTCFullYear()]
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
  return {
    imf: `${DAYS[d.getUTCDay()]}, ${pad(day)} ${mon} ${pad(y, 4)} ${time} GMT`,
    rfc850: `${LONG_DAYS[d.getUTCDay()]}, ${pad(day)}-${mon}-${pad(y % 100)} ${time} GMT`,
    asctime: `${DAYS[d.getUTCDay()]} ${mon} ${pad(day, 2, ' ')} ${time} ${pad(y, 4)}`,
  }
}

/**
 * RFC 9110 §5.6.7: a two-digit year "that appears to be more than 50 years in the future" is the
 * most recent past year with the same last two digits; so an RFC 850 date names that instant.
 */
function twoDigitYear(ms: number, now: number): number {
  const d = new Date(ms)
  const nowYear = new Date(now).getUTCFullYear()
  let year = nowYear - (nowYear % 100) + (d.getUTCFullYear() % 100)
  if (year > nowYear + 50) year -= 100
  d.setUTCFullYear(year)
  return d.getTime()
}

/**
 * Dates within `spanDays` of `base` (whole seconds), in the three valid forms and in invalid
 * ones that Date.parse would accept or that look nearly right.
 */
export function dateValue(base: number, spanDays = 30): fc.Arbitrary<DateValue> {
  const instant = fc.integer({ min: -spanDays * 86400, max: spanDays * 86400 }).map((s) => Math.floor(base / 1000) * 1000 + s * 1000)
  const valid = fc.tuple(instant, fc.constantFrom('imf', 'rfc850', 'asctime') as fc.Arbitrary<'imf' | 'rfc850' | 'asctime'>, fc.constantFrom('', ' ', '  ')).map(([ms, form, ws]): DateValue => ({ text: ws + forms(ms)[form] + ws, ms: form === 'rfc850' ? twoDigitYear(ms, base) : ms }))
  const broken = fc.tuple(instant, fc.integer({ min: 0, max: 9 })).map(([ms, how]): DateValue => {
    const { imf, rfc850 } = forms(ms)
    const text = [
      imf.replace('GMT', 'UTC'),
      imf.replace(',', ''),
      imf.toLowerCase(),
      imf.replace(/ (\d\d):(\d\d:\d\d) GMT$/, (_m, h: string, rest: string) => ` ${Number(h) % 10}:${rest} GMT`),
      new Date(ms).toISOString(),
      String(Math.floor(ms / 1000)),
      imf.replace(/\d{4}/, (y) => y.slice(2)),
      rfc850.replace(/-(\d\d) /, (_m, y: string) => `-19${y} `),
      imf.replace(/ \d\d:/, ' 24:'),
      imf.replace(/^\w+, \d\d \w+/, 'Fri, 31 Apr'),
    ][how]!
    return { text, ms: undefined }
  })
  const junk = fc.constantFrom('0', '-1', '', 'now', 'never', 'Thu, 01 Jan 1970 00:00:00', '  ', 'Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT').map((text): DateValue => ({ text, ms: undefined }))
  return fc.oneof({ weight: 5, arbitrary: valid }, { weight: 3, arbitrary: broken }, { weight: 1, arbitrary: junk }, { weight: 1, arbitrary: headerJunk.map((text): DateValue => ({ text, ms: undefined })) })
}

/** Visible ASCII and spaces only (RFC 9110 §5.5 field-vchar): what undici and Node will send. */
export const headerJunk: fc.Arbitrary<string> = fc
  .array(fc.integer({ min: 0x20, max: 0x7e }), { maxLength: 24 })
  .map((cs) => String.fromCharCode(...cs).trim())
  // A made-up value that happens to be a valid date would confuse the oracle; 24 random bytes never are.
  .filter((s) => !/\d\d:\d\d:\d\d/.test(s))

/** Bad and good delta-seconds (RFC 9111 §1.2.2). */
export const deltaValue: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 0, max: 100_000 }).map(String),
  fc.constantFrom('bad', '-1', '1e3', '7200.0', '60s', '', '99999999999999999999', '2147483648', '0x10', '+5', ' 60', '"60"', '"bad"', '1,5', '00060'),
)

const NAMES = [
  'max-age', 'no-store', 'no-cache', 'must-revalidate', 'public', 'private', 'immutable', 's-maxage',
  'stale-while-revalidate', 'stale-if-error', 'must-understand', 'proxy-revalidate', 'no-transform', 'x-junk',
]

/** A name in random case: directive names are case-insensitive (RFC 9111 §5.2). */
const randomCase = (name: string): fc.Arbitrary<string> =>
  fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((up) => [...name].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''))

const directive: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.constantFrom(...NAMES).chain(randomCase), fc.option(deltaValue, { nil: undefined }), fc.constantFrom('', ' ')).map(([n, v, ws]) => (v === undefined ? n : `${n}${ws}=${ws}${v}`)) },
  { weight: 1, arbitrary: fc.constantFrom('no-cache="set-cookie"', 'private="x, y"', '=', ';', 'max-age==60', 'no-store;') },
  { weight: 1, arbitrary: headerJunk.map((s) => s.replace(/"/g, '')) },
)

/** A Cache-Control value: directives with repeats, odd separators and whitespace. */
export const cacheControl: fc.Arbitrary<string> = fc
  .tuple(fc.array(directive, { maxLength: 5 }), fc.array(fc.constantFrom(',', ', ', ' ,', ',,', ' , '), { minLength: 5, maxLength: 5 }))
  .map(([ds, seps]) => ds.map((d, i) => (i === 0 ? d : seps[i - 1] + d)).join(''))

/** Vary values: valid lists, `*`, and malformed ones (`a b`, `a;b`). */
export const vary: fc.Arbitrary<string> = fc.oneof(
  fc.array(fc.constantFrom('accept', 'Accept-Language', 'x-v', 'X-V', 'X-Other', 'user-agent'), { minLength: 1, maxLength: 3 }).map((a) => a.join(', ')),
  fc.constantFrom('*', 'x-v, *', 'accept language', 'x-v;q=1', 'x-v x-other', ', ,', '"x-v"', 'x-v,', 'x-v/1'),
)

export const etag: fc.Arbitrary<string> = fc.oneof(
  fc.stringMatching(/^[a-z0-9]{1,8}$/).map((s) => `"${s}"`),
  fc.stringMatching(/^[a-z0-9]{1,8}$/).map((s) => `W/"${s}"`),
  fc.constantFrom('""', 'W/', 'w/"x"', 'unquoted', '"a", "b"', '*', '"unterminated'),
)

/** The Age header: delta-seconds, or not. */
export const age: fc.Arbitrary<string> = fc.oneof(fc.integer({ min: 0, max: 200_000 }).map(String), fc.constantFrom('-60', '7200.0', '1e3', 'abc', '', '99999999999999999999'))

export interface Hostile {
  status: number
  cacheControl: string | undefined
  pragma: string | undefined
  expires: DateValue | undefined
  date: DateValue | undefined
  lastModified: DateValue | undefined
  age: string | undefined
  vary: string | undefined
  etag: string | undefined
}

/** A whole hostile response, dates around `base`. */
export function hostile(base: number, statuses: readonly number[] = [200, 203, 204, 301, 404, 410, 500]): fc.Arbitrary<Hostile> {
  /** Present in `present` cases out of 4 (fc.option's freq is the other way round: 1/freq absent). */
  const opt = <T>(a: fc.Arbitrary<T>, present: number) => fc.oneof({ weight: present, arbitrary: a }, { weight: 4 - present, arbitrary: fc.constant(undefined) })
  return fc.record({
    status: fc.constantFrom(...statuses),
    cacheControl: opt(cacheControl, 3),
    pragma: opt(fc.constantFrom('no-cache', 'NO-CACHE', 'x'), 1),
    expires: opt(dateValue(base), 2),
    date: opt(dateValue(base, 1), 2),
    lastModified: opt(dateValue(base - 100 * 86400_000, 90), 2),
    age: opt(age, 2),
    vary: opt(vary, 2),
    etag: opt(etag, 2),
  })
}

/** The response headers of a case (lower-case names, as stored). */
export function headersOf(h: Hostile): Record<string, string> {
  const out: Record<string, string> = {}
  if (h.cacheControl !== undefined) out['cache-control'] = h.cacheControl
  if (h.pragma !== undefined) out.pragma = h.pragma
  if (h.expires !== undefined) out.expires = h.expires.text
  if (h.date !== undefined) out.date = h.date.text
  if (h.lastModified !== undefined) out['last-modified'] = h.lastModified.text
  if (h.age !== undefined) out.age = h.age
  if (h.vary !== undefined) out.vary = h.vary
  if (h.etag !== undefined) out.etag = h.etag
  return out
}

/** Directive names present (lower-case) and the first value of each, read on its own (oracle). */
export function directivesOf(cc: string | undefined): Map<string, string | true> {
  const out = new Map<string, string | true>()
  for (const part of (cc ?? '').split(',')) {
    const m = /^\s*([^=\s]*)\s*(?:=(.*))?$/.exec(part)
    const name = (m?.[1] ?? part.split('=')[0]!.trim()).toLowerCase()
    if (name === '' || out.has(name)) continue
    out.set(name, m?.[2] === undefined ? true : m[2].trim())
  }
  return out
}

/** RFC 9111 §1.2.2 delta-seconds, the quoted form accepted (§5.2); undefined when invalid. */
function delta(v: string | true | undefined): number | undefined {
  if (typeof v !== 'string') return undefined
  const m = /^"?(\d+)"?$/.exec(v)
  if (!m || (v.startsWith('"') !== v.endsWith('"'))) return undefined
  return Math.min(Number(m[1]), 2 ** 31)
}

/** The most freshness (seconds, Age already taken off) this response may have; 0: stale on arrival. */
export function allowedFreshness(h: Hostile, receivedAt: number): number {
  // §5.2.2.4 no-cache and §5.4 Pragma: never fresh without revalidation.
  return saysNoCache(h) ? 0 : ownFreshness(h, receivedAt)
}

/** §5.2.2.4 no-cache (any form), or §5.4 Pragma: no-cache without Cache-Control. */
export function saysNoCache(h: Hostile): boolean {
  return directivesOf(h.cacheControl).has('no-cache') || (h.cacheControl === undefined && /no-cache/i.test(h.pragma ?? ''))
}

/** RFC 9110 §15.1: the status codes heuristically cacheable by default. */
const HEURISTIC = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501])

/** The freshness the response's own max-age / Expires / Age / Last-Modified give it (§4.2), no-cache aside. */
export function ownFreshness(h: Hostile, receivedAt: number): number {
  const cc = directivesOf(h.cacheControl)
  const ageValue = h.age !== undefined && /^\d+$/.test(h.age.trim()) ? Math.min(Number(h.age.trim()), 2 ** 31) : 0
  let lifetime: number
  if (cc.has('max-age')) lifetime = delta(cc.get('max-age')) ?? 0 // §4.2.1: an invalid max-age is stale
  else if (h.expires !== undefined) {
    // §5.3: an invalid Expires is already expired; Expires − Date, Date replaced by the time of receipt.
    if (h.expires.ms === undefined) lifetime = 0
    else lifetime = Math.max(0, (h.expires.ms - (h.date?.ms ?? receivedAt)) / 1000)
  } else {
    // §4.2.2: a heuristic only for a heuristically cacheable status (RFC 9110 §15.1) or `public`,
    // only from a valid Last-Modified, and at most the "typical" 10% of the time since it, the
    // fraction the README promises.
    if (h.lastModified?.ms === undefined || (!HEURISTIC.has(h.status) && !cc.has('public'))) return 0
    lifetime = Math.max(0, ((h.date?.ms ?? receivedAt) - h.lastModified.ms) / 1000) * 0.1
  }
  return Math.max(0, lifetime - ageValue)
}

/** Does the response forbid storing (RFC 9111 §5.2.2.5), as the oracle reads it? */
export function forbidsStore(h: Hostile): boolean {
  const cc = directivesOf(h.cacheControl)
  return cc.has('no-store') && !cc.has('must-understand')
}

/**
 * HTTP-date (RFC 9110 §5.6.7), strictly. A date that is not one of the three grammars is
 * invalid, and each caller says what invalid means: an invalid Expires is already expired
 * (RFC 9111 §5.3), an invalid Date is ignored (§4.2.2 uses the time of receipt), an invalid
 * Last-Modified gives no heuristic freshness. `Date.parse` is not used: it accepts `0`,
 * ISO 8601, `UTC`, dashes and one-digit hours, each of which once made a response fresh.
 */
const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']
const LONG_DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

const TIME = '(\\d{2}):(\\d{2}):(\\d{2})'
const MONTH = `(${MONTHS.join('|')})`
/** IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT` (the one format senders must use). */
const IMF = new RegExp(`^(?:${DAYS.join('|')}), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`)
/** Obsolete RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC850 = new RegExp(`^(?:${LONG_DAYS.join('|')}), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`)
/** Obsolete asctime: `Sun Nov  6 08:49:37 1994`. */
const ASCTIME = new RegExp(`^(?:${DAYS.join('|')}) ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`)

function build(year: number, month: string, day: number, h: string, m: string, s: string): number | undefined {
  const mon = MONTHS.indexOf(month)
  const [hh, mm, ss] = [Number(h), Number(m), Number(s)]
  // RFC 9110 §5.6.7: hour 00-23, minute 00-59, second 00-60 (leap second).
  if (hh > 23 || mm > 59 || ss > 60 || day < 1) return undefined
  // year = 4DIGIT, so 0000-0099 are those years: Date.UTC reads 0-99 as 1900-1999, which once
  // made `Expires: Thu, 31 Dec 0099 …` after `Date: … 1970` 29 years fresh. setUTCFullYear does not.
  const d = new Date(0)
  d.setUTCFullYear(year, mon, day)
  const ms = d.setUTCHours(hh, mm, Math.min(ss, 59), 0)
  // Day 31 of a 30-day month would roll into the next month: not a date.
  if (new Date(ms).getUTCDate() !== day) return undefined
  return ms
}

/** Milliseconds since the epoch, or undefined when the value is not a valid HTTP-date. */
export function parseHttpDate(value: string | readonly string[] | undefined, now: number = Date.now()): number | undefined {
  // Several field lines: no single date (RFC 9111 §4.2.1 lets a cache treat that as invalid).
  if (value === undefined || typeof value !== 'string') return undefined
  const text = value.trim()
  let m = IMF.exec(text)
  if (m) return build(Number(m[3]), m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!)
  m = RFC850.exec(text)
  if (m) {
    // §5.6.7: a two-digit year more than 50 years in the future is the most recent past year
    // with those digits.
    const thisYear = new Date(now).getUTCFullYear()
    let year = Math.floor(thisYear / 100) * 100 + Number(m[3])
    if (year > thisYear + 50) year -= 100
    return build(year, m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!)
  }
  m = ASCTIME.exec(text)
  if (m) return build(Number(m[6]), m[1]!, Number(m[2]!.trim()), m[3]!, m[4]!, m[5]!)
  return undefined
}

/** Output helpers: plain borderless tables (cli-table3), sizes, times, and --json. */
import Table from 'cli-table3'

/** A table without borders or colours, columns two spaces apart: readable and diff-friendly. */
export function table(head: string[], rows: Array<Array<string | number>>, align?: Array<'left' | 'right'>): string {
  const t = new Table({
    head,
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
    ...(align ? { colAligns: align } : {}),
  })
  t.push(...rows.map((r) => r.map(String)))
  return t.toString().split('\n').map((line) => line.trimEnd()).join('\n')
}

/** Aligned `name  value` lines. */
export function fields(pairs: Array<[string, string]>): string {
  const width = Math.max(...pairs.map(([k]) => k.length))
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`
}

/** 45s, 9m 59s, 2h 5m, 3d 4h. */
export function duration(seconds: number): string {
  let s = Math.floor(Math.abs(seconds))
  if (s < 60) return `${s}s`
  const parts: Array<[number, string]> = [[86400, 'd'], [3600, 'h'], [60, 'm'], [1, 's']]
  const out: string[] = []
  for (const [size, unit] of parts) {
    if (s >= size) {
      out.push(`${Math.floor(s / size)}${unit}`)
      s %= size
    }
    if (out.length === 2) break
  }
  return out.join(' ')
}

/** "in 9m 55s" / "2h 5m ago" / "never" for a time in ms relative to now. */
export function relative(at: number | null, now: number): string {
  if (at === null) return 'never'
  const s = (at - now) / 1000
  if (Math.abs(s) < 1) return 'just now'
  return s > 0 ? `in ${duration(s)}` : `${duration(s)} ago`
}

export function iso(at: number | null): string | null {
  return at === null ? null : new Date(at).toISOString()
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
}

/**
 * Terminal styling: colour (picocolors) and fitting tables to the terminal's width. Only a
 * terminal gets colour or truncation; a pipe or a file gets plain, full text, so scripts and
 * diffs see the same output on every machine.
 */
import pc from 'picocolors'

type Colors = ReturnType<typeof pc.createColors>

/**
 * Colour for a stream: on a terminal unless NO_COLOR is set (no-color.org) or TERM is dumb;
 * FORCE_COLOR (not 0) turns it on anywhere. picocolors' own guess also colours any output
 * when CI is set, which would put escapes into logs and pipes, so we decide here.
 */
export function colorsFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Colors {
  const force = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false'
  const off = (env.NO_COLOR !== undefined && env.NO_COLOR !== '') || env.TERM === 'dumb'
  return pc.createColors(!off && (force || stream.isTTY === true))
}

export const out = colorsFor(process.stdout)
export const err = colorsFor(process.stderr)

/** A Cache-Status value coloured as people read it: hit green, forwarded (a miss) yellow. */
export function cacheStatusColor(value: string, c: Colors = out): string {
  if (/;\s*hit\b/.test(value)) return c.green(value)
  if (/;\s*fwd=/.test(value)) return c.yellow(value)
  return value
}

/** The width to fit tables to: the terminal's, or none (full text) for a pipe or file. */
export function terminalWidth(stream: { isTTY?: boolean; columns?: number } = process.stdout): number | undefined {
  return stream.isTTY && stream.columns ? stream.columns : undefined
}

/** "https://api.example.com/…/users/1?page=2": the start and the end, which tell URLs apart. */
export function truncateMiddle(text: string, max: number): string {
  if (text.length <= max) return text
  if (max <= 1) return '…'.slice(0, max)
  const tail = Math.floor((max - 1) / 2)
  return `${text.slice(0, max - 1 - tail)}…${text.slice(text.length - tail)}`
}

/**
 * Shrink one column (the URL) so that a table of `rows` fits `width`, columns `gap` apart;
 * the other columns keep their size. The column never goes below `min` characters.
 */
export function fitColumn(head: readonly string[], rows: Array<Array<string | number>>, column: number, width: number | undefined, gap = 2, min = 24): Array<Array<string | number>> {
  if (width === undefined) return rows
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const others = widths.reduce((sum, w, i) => (i === column ? sum : sum + w), 0) + gap * (head.length - 1)
  const room = Math.max(min, width - others)
  if (widths[column]! <= room) return rows
  return rows.map((r) => r.map((cell, i) => (i === column ? truncateMiddle(String(cell), room) : cell)))
}

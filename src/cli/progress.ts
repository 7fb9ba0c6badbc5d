/**
 * A progress bar (cli-progress) on stderr for long work, shown only to a person watching: when
 * stderr is a terminal and there are more than PROGRESS_THRESHOLD items. Scripts, pipes and CI
 * get clean output.
 */
import { createRequire } from 'node:module'
import type cliProgressTypes from 'cli-progress'

export const PROGRESS_THRESHOLD = 200

export interface Progress {
  update(done: number): void
  stop(): void
}

const SILENT: Progress = { update() {}, stop() {} }

export function progress(label: string, total: number): Progress {
  if (!process.stderr.isTTY || total <= PROGRESS_THRESHOLD) return SILENT
  // Loaded only when a bar is shown.
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof cliProgressTypes
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} [{bar}] {value}/{total} {percentage}% | {eta_formatted} left`, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  )
  bar.start(total, 0)
  return { update: (done) => bar.update(done), stop: () => bar.stop() }
}

/**
 * Run `work` with a bar for `total` items (shown only as progress() allows), stopped however
 * the work ends. `total` is a function so that counting is skipped when no bar can show.
 */
export async function withProgress<T>(label: string, total: () => number | Promise<number>, work: (update: (done: number) => void) => Promise<T>): Promise<T> {
  const bar = process.stderr.isTTY ? progress(label, await total()) : SILENT
  try {
    return await work((done) => bar.update(done))
  } finally {
    bar.stop()
  }
}

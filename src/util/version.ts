/**
 * This package's version, read once from the nearest package.json named fetchcache above this
 * file (src/util in development, dist/util once built): the CLI's `--version` and the HAR
 * `creator.version` both come from here.
 */
import { readFileSync } from 'node:fs'

export const VERSION: string = (() => {
  for (let dir = new URL('.', import.meta.url); dir.pathname !== '/'; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'fetchcache' && typeof pkg.version === 'string') return pkg.version
    } catch {
      // No package.json here: look one folder up.
    }
  }
  return '0.0.0'
})()

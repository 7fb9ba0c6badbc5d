// Helpers of bench/run.mjs: child processes, statistics, formatting, the git and package facts.
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BASE_SUFFIX, labelOf, plain } from './contenders.mjs'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const KiB = 1024
const MiB = 1024 * KiB

/** Run one contender process; resolves with its RESULT json (or { error }). */
export function runNode(args, timeoutMs = 120_000) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      const line = out.split('\n').find((l) => l.startsWith('RESULT '))
      if (!line) return resolve({ error: `exit ${code}: ${err.trim().split('\n').slice(-3).join(' | ') || 'no output'}` })
      const r = JSON.parse(line.slice(7))
      if (r.error) r.error += ` | ${err.trim().split('\n').slice(-2).join(' | ')}`
      resolve(r)
    })
  })
}

/** Spawn to first stdout line, in µs (the child exits right after). */
export function coldOnce(args) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint()
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let t1
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => {
      if (t1 === undefined && String(d).includes('\n')) t1 = process.hrtime.bigint()
      out += d
    })
    child.stderr.on('data', (d) => (err += d))
    child.on('close', (code) => {
      if (t1 === undefined || code !== 0) resolve({ error: `exit ${code}: ${err.trim().split('\n').slice(-2).join(' | ')}` })
      else resolve({ us: Number(t1 - t0) / 1e3, line: out.trim() })
    })
  })
}


export const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
export const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]
}
export const fmtUs = (v) => (!Number.isFinite(v) ? '—' : v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(1))
export const fmtOps = (v) => (!Number.isFinite(v) ? '—' : Math.round(v).toLocaleString('en'))
export const fmtX = (v) => (!Number.isFinite(v) ? '—' : `${v.toFixed(2)}x`)
export const fmtBytes = (b) => (b >= MiB ? `${(b / MiB).toFixed(2)} MiB` : `${(b / KiB).toFixed(1)} KiB`)

export function shuffle(list, seed) {
  const a = [...list]
  let s = seed >>> 0 || 1
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32)
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1))
    ;[a[i], a[j]] = [a[j], a[i]]
  }
  return a
}

export function git(...args) {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return ''
  }
}
export function version(pkg) {
  try {
    return JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version
  } catch {
    return '?'
  }
}

/** Labels of the contenders that are not contender.mjs processes (cold start, processes run). */
const COLD_LABELS = {
  'undici-request-cold': 'node: import undici, one request() to the origin',
  'fc-cold': 'node: import fetchcache, open store, one hit',
  'procs-1': 'createCachedFetch, 1 process, misses only (aggregate ops/s)',
  'procs-4': 'createCachedFetch, 4 processes, misses only (aggregate ops/s)',
}
export const label = (c) => COLD_LABELS[plain(c)] ? `${COLD_LABELS[plain(c)]}${c.endsWith(BASE_SUFFIX) ? ' [baseline build]' : ''}` : labelOf(c)

/**
 * The times of the responses this process decided to store lately, by entry key: what
 * cacheInfo() gives for a response that was just stored (createdAt, expiresAt), whichever front
 * end it came through (a fetch Response or an undici `request()` result, which carry only their
 * headers and Cache-Status's `key`). Bounded: only the latest are kept.
 */
import { Memo } from '../util/memo.js'

export interface StoredTimes {
  createdAt: number
  expiresAt: number | null
}

const latest = new Memo<string, StoredTimes>(1024)

export function noteStored(key: string, times: StoredTimes): void {
  latest.set(key, times)
}

export function storedTimes(key: string): StoredTimes | undefined {
  return latest.get(key)
}

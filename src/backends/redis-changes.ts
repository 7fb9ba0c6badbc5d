/**
 * Cross-process change notices over Redis pub/sub: every RedisBackend publishes the keys it
 * set or deleted (or "all" for a clear) on `<namespace>changes`; a backend being watched (by a
 * TieredBackend in front of it) subscribes on a second connection and passes on what other
 * instances changed.
 *
 * The bound: a notice reaches the other processes as soon as Redis delivers the message (under
 * a few milliseconds on one network; the multi-process test asserts < 250 ms). Pub/sub is
 * at-most-once: a subscriber that lost its connection may have missed notices, so when it is
 * subscribed again it reports "all" and the memory tier starts empty.
 */
import { randomUUID } from 'node:crypto'
import type { ChangeListener, StoreChange } from './changes.js'
import { quiet, type RedisClient } from './redis-client.js'

/** Past this many keys a notice says "all": one small message instead of a huge one. */
const MAX_KEYS_PER_NOTICE = 1000

interface Notice {
  /** The publishing instance: it skips its own notices. */
  from: string
  keys?: string[]
  all?: true
}

export class RedisChanges {
  private readonly id = randomUUID()
  private readonly listeners = new Set<ChangeListener>()
  private subscriber: RedisClient | undefined
  /** Resolves once subscribed (tests and callers that need the bound from the start). */
  subscribed: Promise<void> | undefined

  constructor(readonly channel: string) {}

  /** The message to PUBLISH for a change, or undefined when there is nothing to say. */
  notice(change: StoreChange): string | undefined {
    if ('all' in change) return JSON.stringify({ from: this.id, all: true } satisfies Notice)
    if (change.keys.length === 0) return undefined
    if (change.keys.length > MAX_KEYS_PER_NOTICE) return JSON.stringify({ from: this.id, all: true } satisfies Notice)
    return JSON.stringify({ from: this.id, keys: [...change.keys] } satisfies Notice)
  }

  watch(client: Promise<RedisClient>, listener: ChangeListener): () => void {
    this.listeners.add(listener)
    this.subscribed ??= client.then((c) => this.subscribe(c))
    this.subscribed.catch(() => {})
    return () => void this.listeners.delete(listener)
  }

  private async subscribe(client: RedisClient): Promise<void> {
    const sub = (client as { duplicate(): RedisClient }).duplicate()
    this.subscriber = sub
    quiet(sub, 'subscriber')
    let lost = false
    sub.on('close', () => (lost = true))
    // ioredis subscribes again by itself after a reconnection; what was said meanwhile is lost.
    sub.on('ready', () => {
      if (lost) this.emit({ all: true })
      lost = false
    })
    sub.on('message', (_channel: string, text: string) => this.receive(text))
    await sub.subscribe(this.channel)
  }

  private receive(text: string): void {
    let notice: Notice
    try {
      notice = JSON.parse(text) as Notice
    } catch {
      return
    }
    if (notice.from === this.id) return
    if (notice.all) this.emit({ all: true })
    else if (Array.isArray(notice.keys)) this.emit({ keys: notice.keys.filter((k) => typeof k === 'string') })
  }

  private emit(change: StoreChange): void {
    for (const listener of this.listeners) listener(change)
  }

  close(): void {
    this.listeners.clear()
    this.subscriber?.disconnect()
    this.subscriber = undefined
  }
}

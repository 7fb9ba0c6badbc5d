/**
 * In-process request coalescing: identical concurrent misses (same key) send one origin
 * request. The first caller leads a Flight; the others wait for its outcome and then serve
 * themselves from what it left: the stored entry, a copy of an unstorable response, the error,
 * or — when nothing can be shared — a request of their own.
 */
import type { Servable } from '../respond/serve.js'

export type FlightResult =
  /** The response is in the store: look it up again. */
  | { kind: 'stored' }
  /** Not storable, but complete: each waiter that may share it (rules/vary.ts) gets its own copy. */
  | { kind: 'response'; response: Servable; requestHeaders: Record<string, string> }
  /** The origin request failed. */
  | { kind: 'error'; error: Error }
  /** Nothing to share (body too large, leader's caller aborted): fetch on your own. */
  | { kind: 'pass' }

export class Flight {
  readonly done: Promise<FlightResult>
  waiters = 0
  /**
   * The origin's response has arrived whole and only the store's write is pending. A request
   * that joins now did not wait on the origin: once the write lands it is served a hit.
   */
  answered = false
  private settle!: (result: FlightResult) => void
  private settled = false

  constructor(private readonly onSettle: (flight: Flight) => void = () => {}) {
    this.done = new Promise((resolve) => {
      this.settle = resolve
    })
  }

  /** Idempotent: the first outcome wins, later ones are ignored. */
  resolve(result: FlightResult): void {
    if (this.settled) return
    this.settled = true
    this.onSettle(this)
    this.settle(result)
  }
}

export class Flights {
  private readonly inflight = new Map<string, Flight>()

  /** The flight under way for `key`, joined as a waiter, or undefined. */
  join(key: string): Flight | undefined {
    const flight = this.inflight.get(key)
    if (flight) flight.waiters++
    return flight
  }

  /** Start leading a flight for `key`. */
  lead(key: string, onSettle: (flight: Flight) => void = () => {}): Flight {
    const flight = new Flight((f) => {
      if (this.inflight.get(key) === f) this.inflight.delete(key)
      onSettle(f)
    })
    this.inflight.set(key, flight)
    return flight
  }
}

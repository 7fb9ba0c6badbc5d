/**
 * One request's bound on waiting inside the cache (issue 11): its lookup, its wait for another
 * request's flight or another process's lease, and the backend calls made meanwhile all end by
 * `lockTimeout` after it began, so a request takes at most its own origin time plus that.
 */

/** What `within` gives instead of the work's value once the deadline has passed. */
export const LATE: unique symbol = Symbol('late')

export class Deadline {
  private readonly at: number

  constructor(ms: number) {
    this.at = performance.now() + ms
  }

  /** Milliseconds left, never negative. */
  get left(): number {
    return Math.max(0, this.at - performance.now())
  }

  get passed(): boolean {
    return this.left === 0
  }

  /**
   * The work's outcome, or LATE once the deadline passes. The work is not cancelled (a backend
   * call cannot be): `onLate` is told its value should it settle after all, and a late
   * rejection is swallowed (the caller has already moved on and reported the delay).
   */
  async within<T>(work: Promise<T>, onLate?: (value: T) => void): Promise<T | typeof LATE> {
    // Most calls (a SQLite or memory read) have settled within a microtask: they need no timer,
    // which would cost a hit about 2 µs.
    // Settled then: its value (or error) is given as is, without adopting the promise, which
    // would cost two more turns of the microtask queue on every read.
    const seen: { state: 'pending' | 'value' | 'error'; outcome?: unknown } = { state: 'pending' }
    work.then(
      (value) => {
        seen.state = 'value'
        seen.outcome = value
      },
      (error: unknown) => {
        seen.state = 'error'
        seen.outcome = error
      },
    )
    await undefined
    if (seen.state === 'value') return seen.outcome as T
    if (seen.state === 'error') throw seen.outcome
    return this.race(work, onLate)
  }

  private race<T>(work: Promise<T>, onLate?: (value: T) => void): Promise<T | typeof LATE> {
    let timer: NodeJS.Timeout | undefined
    let late = false
    const timeout = new Promise<typeof LATE>((resolve) => {
      timer = setTimeout(() => {
        late = true
        resolve(LATE)
      }, this.left)
      timer.unref()
    })
    void work.then(
      (value) => {
        if (late) onLate?.(value)
      },
      () => {},
    )
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
  }
}

/** `work`, or the error `timeout()` makes once `ms` have passed: the bound on one backend command (Redis, Memcached). */
export async function orTimeout<T>(work: Promise<T>, ms: number, timeout: () => Error): Promise<T> {
  const got = await new Deadline(ms).within(work)
  if (got === LATE) throw timeout()
  return got
}

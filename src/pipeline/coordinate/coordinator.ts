/**
 * Who fetches a miss. In this process, identical concurrent misses share one flight; across
 * processes, the backend's leases (when it has them) let one process fetch while the others
 * wait for the entry. The engine sees only `turn()` and `refresh()`.
 */
import type { Backend } from '../../backends/contract.js'
import { Deadline, LATE } from '../../util/deadline.js'
import { debug } from '../../util/debug.js'
import type { Port } from '../port.js'
import { Flight, type FlightResult, Flights } from './flights.js'
import { Leases, type Want } from './leases.js'

export type Turn =
  /** Fetch it: this request leads the flight (and holds the lease, if any, until it settles). */
  | { role: 'lead'; flight: Flight }
  /**
   * Another request in this process fetched it: here is what it left. `late`: it joined once
   * the response had arrived whole and only its write was pending, so it waited on no origin.
   */
  | { role: 'follow'; result: FlightResult; late: boolean }
  /** Another process stored it while we waited: look it up again. */
  | { role: 'stored' }

export class Coordinator {
  private readonly flights = new Flights()
  private readonly leases: Leases | undefined
  /** Entries being refreshed in the background by this process (stale-while-revalidate). */
  private readonly refreshing = new Set<string>()

  constructor(
    backend: Backend,
    private readonly lockTimeoutMs: number,
    private readonly port: Port,
  ) {
    this.leases = backend.leases ? new Leases(backend, backend.leases, lockTimeoutMs, port) : undefined
  }

  /**
   * Join the flight under way for this key, or lead a new one; with leases, take the lease
   * first (or wait for the process holding it). `seenCreatedAt` is the entry the lookup saw,
   * so that one stored since is noticed. Every wait here ends by the request's `deadline`.
   */
  async turn(w: Want, seenCreatedAt: number | undefined, deadline: Deadline): Promise<Turn> {
    const waiting = this.flights.join(w.key)
    if (waiting) {
      const late = waiting.answered
      return { role: 'follow', result: await boundedWait(waiting.done, deadline), late }
    }
    let held = false
    const flight = this.flights.lead(w.key, () => {
      if (held) this.leases!.release(w.key)
    })
    if (!this.leases) return { role: 'lead', flight }
    try {
      const first = await this.leases.acquireFor(w, seenCreatedAt, deadline)
      const outcome = first === 'busy' ? await this.leases.waitForOther(w, seenCreatedAt, deadline) : first
      if (outcome === 'stored') {
        flight.resolve({ kind: 'stored' })
        return { role: 'stored' }
      }
      held = outcome === 'acquired'
      return { role: 'lead', flight }
    } catch (error) {
      flight.resolve({ kind: 'pass' })
      throw error
    }
  }

  /** Give back every lease still held (the engine is closing). */
  releaseAll(): void {
    this.leases?.releaseAll()
  }

  /**
   * RFC 5861 §3: refresh a stale entry after serving it; one refresh per entry at a time in this
   * process, and across processes when the backend has leases (the holder refreshes, others
   * skip). `work` sends the request and settles the private flight it is given once written.
   */
  refresh(entryKey: string, w: Want, work: (flight: Flight) => void): void {
    if (this.refreshing.has(entryKey)) return
    this.refreshing.add(entryKey)
    const run = async () => {
      // Its own deadline: the stale response is already served, no request waits on this one.
      const held = this.leases ? await this.leases.acquire(w.key, new Deadline(this.lockTimeoutMs)) : false
      if (this.leases && !held) return
      try {
        // A private flight: no one joins it; it settles once the refreshed entry is written.
        const flight = new Flight()
        work(flight)
        await flight.done
      } finally {
        if (held) this.leases!.release(w.key)
      }
    }
    const done = new Promise<void>((resolve) => {
      queueMicrotask(() => {
        run()
          .catch((error: unknown) => this.port.report(error))
          .finally(() => {
            this.refreshing.delete(entryKey)
            resolve()
          })
      })
    })
    this.port.track(done)
  }
}

/**
 * A waiter waits for the leader's outcome until its deadline (lockTimeout from its start): the
 * leader's origin may stall mid-body for ever, its caller may never read the body, its write
 * may never settle, and this request must still finish in its own origin time plus that.
 * Then it fetches on its own ('pass').
 */
async function boundedWait(done: Promise<FlightResult>, deadline: Deadline): Promise<FlightResult> {
  const result = await deadline.within(done)
  if (result !== LATE) return result
  debug('flight wait over lockTimeout; fetching on its own')
  return { kind: 'pass' }
}

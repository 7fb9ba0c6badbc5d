/**
 * Step 5: send a request on to the origin through the step chain (step.ts). When
 * revalidating, the request carries our validators (RFC 9111 §4.3.1) and is sent again
 * plainly if the 304 turns out not to be for our entry.
 */
import type { Dispatcher } from 'undici'
import type { Forward } from '../../rules/cache-status.js'
import { validatorHeaders } from '../../rules/policy.js'
import type { CacheRecord } from '../../backends/contract.js'
import type { Flight } from '../coordinate/flights.js'
import type { Engine } from '../engine.js'
import type { Prepared } from '../prepare/prepare.js'
import { CaptureStep } from './capture.js'
import { RevalidationStep } from './revalidate.js'
import { StaleIfErrorStep } from './stale-if-error.js'
import { CallerSide, type Step } from './step.js'
import { extended } from '../../util/objects.js'

/** Where a request goes next: undici's next dispatch, with the options it will be sent with. */
export interface Route {
  engine: Engine
  next: Dispatcher.Dispatch
  opts: Dispatcher.DispatchOptions
  p: Prepared
  handler: Dispatcher.DispatchHandler
}

export interface ForwardOptions {
  /** The stored entry: revalidated by a 304, or the stale-if-error fallback. */
  record: CacheRecord | undefined
  /** Add our validators to the request, so that a 304 is ours to answer. */
  revalidating: boolean
  fwd: Forward
  /** The coalescing flight this request leads, settled when its outcome is known. */
  flight: Flight | undefined
}

export function forward(route: Route, o: ForwardOptions): void {
  const { engine, next, opts, p, handler } = route
  const chain = (revalidating: boolean, flight: Flight | undefined): Step => {
    const capture = new CaptureStep(engine, p, handler, { fwd: o.fwd, revalidating, flight })
    return o.record ? new StaleIfErrorStep({ engine, p, record: o.record, downstream: handler, flight }, capture) : capture
  }
  const plain = (flight: Flight | undefined) => next(opts, new CallerSide(chain(false, flight), handler))
  if (!o.revalidating || !o.record) return void plain(o.flight)
  const conditional = extended(p.headers, validatorHeaders(o.record.meta, p.headers, engine.now()))
  const first = new RevalidationStep({ engine, p, record: o.record, downstream: handler, flight: o.flight }, chain(true, o.flight), plain, o.fwd)
  next(extended(opts, { headers: conditional }), new CallerSide(first, handler))
}

/**
 * send(): one request through the cache, top to bottom. This is the order of operations; each
 * step lives in its own module and every decision in src/rules.
 *
 *   1. prepare   read the body, key the request, or let it bypass the cache   prepare/
 *   2. lookup    the stored response it may be given, and decideRead's action   lookup.ts
 *                (a fetch fast-path miss hands its lookup on instead)            handoff.ts
 *   3. respond   a hit, a stale hit refreshed behind it, or 504 only-if-cached   respond/
 *   4. decide    who fetches a miss: lead, follow a flight, wait for a lease     coordinate/
 *   5. forward   to the origin: revalidate, stale-if-error, capture and store   forward/, store.ts
 */
import type { Dispatcher } from 'undici'
import { formatCacheStatus, appendCacheStatus, type Forward } from '../rules/cache-status.js'
import { asksForOrigin, type ReadAction, remainingTtl, requestDirectives, staleIfErrorAllows } from '../rules/decide-read.js'
import { mayShareUnstored } from '../rules/vary.js'
import { assertNever } from '../util/assert.js'
import { Deadline } from '../util/deadline.js'
import { debug } from '../util/debug.js'
import { redactUrl } from '../util/redact.js'
import type { CacheRecord } from '../backends/contract.js'
import type { FlightResult } from './coordinate/flights.js'
import type { Engine } from './engine.js'
import { forward, type Route } from './forward/forward.js'
import { forwardRange } from './forward/partial.js'
import { lookup } from './lookup.js'
import { prepare, type Scope } from './prepare/prepare.js'
import { dispatchUrl, headerRecord, readBody } from './prepare/request.js'
import { partialRecord } from './respond/range.js'
import { fail, gatewayTimeout, serve, serveStored } from './respond/serve.js'
import { extended } from '../util/objects.js'

const SILENT: Dispatcher.DispatchHandler = {
  onRequestStart() {},
  onResponseStart() {},
  onResponseData() {},
  onResponseEnd() {},
  onResponseError() {},
}

/** A request as dispatched: its first look, which may reuse the fast path's lookup (handoff.ts). */
export function send(engine: Engine, next: Dispatcher.Dispatch, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, method: string, scope: Scope | undefined): Promise<void> {
  return look(engine, next, opts, handler, method, scope, undefined, true, new Deadline(engine.settings.lockTimeout * 1000))
}

/**
 * `collapsed` is set when this request waited for another one (a flight or a lease) and now
 * looks again: it is then answered from what that one stored, or fetched alone. Only the
 * first look (`first`) may take a handed-on lookup: a look again must read what was stored.
 * `deadline` bounds every wait of this request inside the cache (lookups, flights, leases) to
 * lockTimeout in all, however often it looks again (util/deadline.ts).
 */
async function look(engine: Engine, next: Dispatcher.Dispatch, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, method: string, scope: Scope | undefined, collapsed: Forward | undefined, first: boolean, deadline: Deadline): Promise<void> {
  // 1. prepare
  // A hit with nothing to wait for (no streamed body, a backend that answers on the spot)
  // takes no turn of the microtask queue between dispatch and serve: each is a promise and a
  // queue hop on every hit.
  const body = readBody(opts.body)
  const read = body instanceof Promise ? await body : body
  if (!read.ok) return void next(opts, handler)
  const out = read.body === undefined ? opts : extended(opts, { body: read.body })
  const url = dispatchUrl(opts)
  const p = prepare(engine, { method, url, headers: headerRecord(opts.headers), body: read.body }, scope)
  if ('bypass' in p) {
    // Never a value of an ignored parameter in a log line (util/redact.ts).
    if (debug.enabled) debug('%s %s: bypass (%s)', method, redactUrl(url, engine.settings.ignoredParameters), p.reason)
    return void next(out, handler)
  }
  // 2. lookup
  const handed = first ? engine.handoffs.take(p, scope) : undefined
  // A handed-on lookup comes with the deadline the fast path started: one lockTimeout in all.
  if (handed) deadline = handed.deadline
  const found = handed?.lookup ?? lookup(engine, p, deadline)
  const { action, record } = found instanceof Promise ? await found : found
  const route: Route = { engine, next, opts: out, p, handler }
  // A range request (RFC 9111 §3.4): a 206 cut from a fresh stored response, else from the
  // parts kept, else the origin answers it as asked and its 206 is kept as a part (§3.3,
  // forward/partial.ts). only-if-cached with nothing usable stays a 504 below (§5.2.1.7).
  if (p.headers.range !== undefined && action.action !== 'gateway-timeout') {
    const partial = action.action === 'serve' && record ? partialRecord(p.method, p.headers, record) : undefined
    if (partial && action.action === 'serve') {
      return serveRecord(engine, handler, partial, { hit: true, ttl: action.ttl, key: partial.meta.key, detail: action.stale ? action.reason : undefined }, p.method, p.host, action.stale)
    }
    return forwardRange(route, 'fwd' in action ? action.fwd : action.action === 'serve' ? 'miss' : 'stale', deadline)
  }
  // 3. respond from storage
  switch (action.action) {
    case 'serve': {
      // A hit, or (having waited for another request) the response it stored: RFC 9211 §2.6 collapsed.
      const status = { hit: collapsed === undefined, fwd: collapsed, collapsed: collapsed !== undefined, ttl: action.ttl, key: record!.meta.key, detail: action.stale ? action.reason : undefined }
      return serveRecord(engine, handler, record!, status, p.method, p.host, action.stale)
    }
    case 'serve-and-refresh':
      serveRecord(engine, handler, record!, { hit: true, ttl: action.ttl, key: record!.meta.key, detail: 'stale-while-revalidate' }, p.method, p.host, true)
      // RFC 5861 §3: refresh behind the stale response, once per entry.
      engine.coordinator.refresh(record!.meta.key, p, (flight) => forward({ ...route, handler: SILENT }, { record, revalidating: true, fwd: 'stale', flight }))
      return
    case 'gateway-timeout':
      // RFC 9111 §5.2.1.7: only-if-cached with nothing usable stored.
      return gatewayTimeout(handler, method, action.reason)
    case 'revalidate':
    case 'fetch':
      return miss(route, action, record, scope, collapsed, deadline)
    default:
      assertNever(action)
  }
}

/** 4 and 5: decide who fetches, then forward. */
async function miss(route: Route, action: Extract<ReadAction, { action: 'revalidate' | 'fetch' }>, record: CacheRecord | undefined, scope: Scope | undefined, collapsed: Forward | undefined, deadline: Deadline): Promise<void> {
  const { engine, p } = route
  // RFC 9211 §2.2: `request` when the request would not take a fresh stored response, else why it was not one.
  const fwd: Forward = action.fwd
  const revalidating = action.action === 'revalidate'
  // A request that insists on the origin is not folded into another one's response, and one
  // that already waited once goes alone.
  const { cc, pragmaNoCache } = requestDirectives(p.headers)
  if (collapsed !== undefined || asksForOrigin(cc, pragmaNoCache, p.modes)) return forward(route, { record, revalidating, fwd, flight: undefined })
  // 4. decide
  const turn = await engine.coordinator.turn(p, record?.meta.createdAt, deadline)
  if (turn.role === 'stored') return look(engine, route.next, route.opts, route.handler, p.method, scope, fwd, false, deadline)
  // Joined while the entry was only being written: a stored response, so a hit.
  if (turn.role === 'follow' && turn.late && turn.result.kind === 'stored') return look(engine, route.next, route.opts, route.handler, p.method, scope, undefined, false, deadline)
  if (turn.role === 'follow') return follow(route, record, scope, fwd, turn.result, deadline)
  // 5. forward
  try {
    forward(route, { record, revalidating, fwd, flight: turn.flight })
  } catch (error) {
    turn.flight.resolve({ kind: 'pass' })
    throw error
  }
}

/** A waiter's turn, once the flight it joined has an outcome. */
function follow(route: Route, record: CacheRecord | undefined, scope: Scope | undefined, fwd: Forward, result: FlightResult, deadline: Deadline): Promise<void> | void {
  const { engine, p, handler } = route
  const alone = () => forward(route, { record, revalidating: false, fwd, flight: undefined })
  switch (result.kind) {
    case 'stored':
      // Look again: the entry (or this request's Vary variant, or nothing) is now in the store.
      return look(engine, route.next, route.opts, handler, p.method, scope, fwd, false, deadline)
    case 'response': {
      // RFC 9111 §4.1: an unstorable response is shared only where its Vary fields match.
      if (!mayShareUnstored(result.response.headers, result.requestHeaders, p.headers)) return alone()
      engine.stats.hit(p.host, false)
      const status = formatCacheStatus({ fwd, collapsed: true, key: p.key })
      return serve(handler, extended(result.response, { headers: extended(result.response.headers, { 'cache-status': appendCacheStatus(result.response.headers['cache-status'], status) }) }), p.method)
    }
    case 'error': {
      // RFC 5861 §4: the leader's error may be answered with our stale copy.
      const now = engine.now()
      if (!record || !staleIfErrorAllows(record.meta, now)) return fail(handler, result.error)
      const status = { fwd: 'stale' as const, collapsed: true, ttl: remainingTtl(record.meta, now), key: record.meta.key, detail: `stale-if-error: ${result.error.message}` }
      return serveRecord(engine, handler, record, status, p.method, p.host, true)
    }
    case 'pass':
      return alone()
    default:
      assertNever(result)
  }
}

function serveRecord(engine: Engine, handler: Dispatcher.DispatchHandler, record: CacheRecord, status: Parameters<typeof serveStored>[2], method: string, host: string, stale: boolean): void {
  engine.stats.hit(host, stale)
  serveStored(handler, record, status, method, engine.now())
}

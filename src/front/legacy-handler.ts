/**
 * Node's own fetch (its bundled undici 6) hands a dispatcher old-style handlers (onConnect,
 * onHeaders with raw headers, onData, onComplete, onError). undici 7 adapts them to the new
 * interface, but turns a repeated header (`['s-maxage=3600', 'max-age=60']`) into one raw value
 * that is an array, which undici 6's fetch stringifies with a bare comma:
 * `s-maxage=3600,max-age=60`. Field values must reach the caller byte for byte, with repeated
 * lines joined by ", " as fetch joins them (RFC 9110 §5.3). This adapter gives undici 6 what a
 * socket would: one raw name/value pair per field line.
 */
import type { Dispatcher } from 'undici'

type Raw = Buffer[]
type Fields = Record<string, string | string[] | undefined>

interface LegacyHandler {
  onConnect?(abort: (reason?: Error) => void, context?: unknown): void
  onUpgrade?(statusCode: number, rawHeaders: Raw, socket: unknown): void
  onHeaders?(statusCode: number, rawHeaders: Raw, resume: () => void, statusText?: string): boolean | void
  onData?(chunk: Buffer): boolean | void
  onComplete?(rawTrailers: Raw): void
  onError?(error: Error): void
}

function raw(fields: Fields | null | undefined): Raw {
  const out: Raw = []
  for (const [name, value] of Object.entries(fields ?? {})) {
    if (value === undefined) continue
    const key = Buffer.from(name, 'latin1')
    if (Array.isArray(value)) for (const v of value) out.push(key, Buffer.from(v, 'latin1'))
    else out.push(key, Buffer.from(value, 'latin1'))
  }
  return out
}

class LegacyAdapter implements Dispatcher.DispatchHandler {
  constructor(private readonly legacy: LegacyHandler) {}

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.legacy.onConnect?.((reason) => controller.abort(reason ?? new Error('aborted')), context)
  }

  onRequestUpgrade(_controller: Dispatcher.DispatchController, statusCode: number, headers: Fields, socket: unknown): void {
    this.legacy.onUpgrade?.(statusCode, raw(headers), socket)
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Fields, statusMessage?: string): void {
    if (this.legacy.onHeaders?.(statusCode, raw(headers), () => controller.resume(), statusMessage) === false) controller.pause()
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.legacy.onData?.(chunk) === false) controller.pause()
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: Fields): void {
    this.legacy.onComplete?.(raw(trailers))
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.legacy.onError?.(error)
  }
}

/** `dispatcher` with old-style handlers adapted as above; new-style ones pass as they are. */
export function withLegacyHandlers(dispatcher: Dispatcher): Dispatcher {
  const dispatch = (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean => {
    const legacy = typeof (handler as { onRequestStart?: unknown }).onRequestStart !== 'function'
    return dispatcher.dispatch(opts, legacy ? (new LegacyAdapter(handler as unknown as LegacyHandler) as Dispatcher.DispatchHandler) : handler)
  }
  return new Proxy(dispatcher, { get: (target, key) => (key === 'dispatch' ? dispatch : Reflect.get(target, key)) })
}

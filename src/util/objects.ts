/**
 * `{ ...base, ...extra }` without the literal: V8 (Node 20) runs an object literal that adds
 * fields after a spread in its runtime, 1–2.5 µs each time, where a fresh object filled field
 * by field costs about 0.15 µs (a 7-field header map plus two fields, /tmp probe). A hit and a
 * miss each built several, so every hot path copies this way.
 */
export function extended<T extends object, U extends object>(base: T, extra: U): Omit<T, keyof U> & U {
  const out: Record<string, unknown> = {}
  copyInto(out, base)
  copyInto(out, extra)
  return out as Omit<T, keyof U> & U
}

function copyInto(out: Record<string, unknown>, from: object): void {
  const source = from as Record<string, unknown>
  for (const key of Object.keys(source)) {
    // A field named __proto__ (a hostile origin's header) is a field, as a spread makes it, not the prototype.
    if (key === '__proto__') Object.defineProperty(out, key, { value: source[key], enumerable: true, writable: true, configurable: true })
    else out[key] = source[key]
  }
  // A spread copies enumerable symbol-keyed fields too (an init object may carry some).
  for (const symbol of Object.getOwnPropertySymbols(source)) {
    if (Object.prototype.propertyIsEnumerable.call(source, symbol)) (out as Record<symbol, unknown>)[symbol] = (source as Record<symbol, unknown>)[symbol]
  }
}

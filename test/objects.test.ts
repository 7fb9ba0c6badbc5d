/**
 * util/objects.ts extended(): the hot paths' copy in place of `{ ...base, ...extra }`, which
 * must give exactly what that literal gives (header fields reach the caller through it).
 */
import { describe, expect, it } from 'vitest'
import { extended } from '../src/util/objects.js'

describe('extended(base, extra) is { ...base, ...extra }', () => {
  const symbol = Symbol('s')
  const hidden = Object.defineProperty({ a: 1 }, 'hidden', { value: 2, enumerable: false })
  const hostile = JSON.parse('{"__proto__": "x", "etag": "\\"1\\""}') as Record<string, string>
  it.each<[string, object, object]>([
    ['fields in order, extra last', { b: 1, a: 2 }, { c: 3 }],
    ['an extra field replaces a base one, keeping its place', { a: 1, b: 2 }, { a: 9 }],
    ['enumerable symbols copied', { a: 1, [symbol]: 2 }, {}],
    ['non-enumerable fields left out', hidden, { b: 3 }],
    ['a field named __proto__ stays a field, not the prototype', hostile, { age: '0' }],
    ['an empty base', {}, { a: 1 }],
  ])('%s', (_name, base, extra) => {
    const got = extended(base, extra)
    const spread = { ...base, ...extra }
    expect(Reflect.ownKeys(got)).toEqual(Reflect.ownKeys(spread))
    for (const key of Reflect.ownKeys(spread)) expect((got as Record<PropertyKey, unknown>)[key]).toBe((spread as Record<PropertyKey, unknown>)[key])
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype)
    expect(got).not.toBe(base)
  })
})

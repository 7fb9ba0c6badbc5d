/**
 * Per-call scopes that reach every cached request made inside a function, async calls
 * included: withCacheDisabled(fn) and withCacheOptions(options, fn).
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { resolveRequestOptions } from '../config/options.js'
import type { PerRequestOptions } from '../config/types.js'
import type { Scope } from '../pipeline/prepare/prepare.js'

export type { Scope }

const storage = new AsyncLocalStorage<Scope>()

export function currentScope(): Scope | undefined {
  return storage.getStore()
}

export function runInScope<T>(scope: Scope, fn: () => T): T {
  return storage.run(scope, fn)
}

/** Inner scopes override outer ones field by field. */
export function mergeScopes(outer: Scope | undefined, inner: Scope): Scope {
  if (outer === undefined) return inner
  return {
    ...outer,
    ...inner,
    options: { ...outer.options, ...inner.options },
    modes: { ...outer.modes, ...inner.modes },
  }
}

/** Run `fn` with the cache turned off for every request it makes. */
export function withCacheDisabled<T>(fn: () => T): T {
  return runInScope(mergeScopes(currentScope(), { disabled: true }), fn)
}

/** Run `fn` with per-request options applied to every cached request it makes. */
export function withCacheOptions<T>(options: PerRequestOptions, fn: () => T): T {
  const resolved = resolveRequestOptions(options, 'withCacheOptions')
  return runInScope(mergeScopes(currentScope(), { options: resolved }), fn)
}

/** Node's own fetch, captured before installCache() can replace the global. */
export const nativeFetch: typeof fetch = globalThis.fetch

import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Real servers and SQLite files: run files in forks so a native handle never leaks across.
    pool: 'forks',
  },
})

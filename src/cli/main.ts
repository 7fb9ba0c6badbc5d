#!/usr/bin/env node
/** The `fetchcache` binary (package.json "bin"). */
import { run } from './program.js'

// `fetchcache ls | head`: the reader went away; that is not an error of ours.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0)
  throw error
})

process.exitCode = await run(process.argv)

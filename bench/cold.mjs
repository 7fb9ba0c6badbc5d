// Cold start, timed by the parent from spawn to the first line on stdout.
//
//   node bench/cold.mjs undici                      import undici, print "ready"
//   node bench/cold.mjs fetchcache <name> <url>     import fetchcache, open the SQLite store
//                                                  <name>.sqlite, one hit (body read), print it
const [mode, name, url] = process.argv.slice(2)

if (mode === 'undici') {
  await import('undici')
  process.stdout.write('ready\n')
} else {
  const { createCachedFetch } = await import('fetchcache')
  const f = createCachedFetch({ name })
  const r = await f(url)
  await r.arrayBuffer()
  process.stdout.write(`${r.headers.get('cache-status')}\n`)
}
process.exit(0)

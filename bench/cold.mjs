// Cold start, timed by the parent from spawn to the first line on stdout.
//
//   node bench/cold.mjs undici                         import undici, print "ready"
//   node bench/cold.mjs undici-request <url>           import undici, one request() to the origin
//                                                     (body read): the no-cache cold path
//   node bench/cold.mjs fetchcache <name> <url> [mod]  import fetchcache (or the build at the
//                                                     module URL `mod`), open the SQLite store
//                                                     <name>.sqlite, one hit (body read), print it
const [mode, name, url, mod] = process.argv.slice(2)

if (mode === 'undici') {
  await import('undici')
  process.stdout.write('ready\n')
} else if (mode === 'undici-request') {
  const { request } = await import('undici')
  const r = await request(name)
  await r.body.arrayBuffer()
  process.stdout.write(`${r.statusCode}\n`)
} else {
  const { createCachedFetch } = await import(mod ?? 'fetchcache')
  const f = createCachedFetch({ name })
  const r = await f(url)
  await r.arrayBuffer()
  process.stdout.write(`${r.headers.get('cache-status')}\n`)
}
process.exit(0)

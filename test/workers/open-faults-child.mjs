// A process that makes a SQLite cache, takes write permission away, and opens it again as a
// cache: run as an unprivileged user (the test starts it with setpriv when it runs as root,
// since root writes through any permission bits). Prints what the requests got, as JSON.
// node open-faults-child.mjs <build dir> <readonly-folder|readonly-file> <folder> <origin URL> [readOnly]
import { chmodSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const [build, scenario, dir, origin, readOnly] = process.argv.slice(2)
const { createCachedFetch } = await import(pathToFileURL(join(build, 'index.js')).href)
const name = join(dir, 'c')

const setup = createCachedFetch({ name })
await (await setup(`${origin}/a`)).arrayBuffer()
await setup.cache.close()

if (scenario === 'readonly-folder') chmodSync(dir, 0o500)
else chmodSync(`${name}.sqlite`, 0o400)
const errors = []
const out = { uid: process.getuid(), responses: [], errors }
try {
  const f = createCachedFetch({ name, readOnly: readOnly === 'readOnly', onError: (e) => errors.push(`${e.code}: ${e.message}`) })
  for (const path of ['/a', '/b', '/b']) {
    const res = await f(`${origin}${path}`)
    out.responses.push({ path, status: res.status, body: await res.text(), cacheStatus: res.headers.get('cache-status') })
    await f.cache.flush()
  }
  await f.cache.close()
} catch (error) {
  out.thrown = String(error)
} finally {
  chmodSync(dir, 0o700)
  chmodSync(`${name}.sqlite`, 0o600)
}
process.stdout.write(JSON.stringify(out))

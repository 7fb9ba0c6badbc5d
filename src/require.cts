/**
 * The `require('fetchcache')` entry. fetchcache is ESM; Node loads ESM from require() itself
 * ("require(esm)", unflagged since Node 20.19 and 22.12), so this file hands back the very same
 * module instance `import` gets: one installCache() state, no second copy of the code. On an
 * older Node, where require() cannot load ESM, it says which versions can instead of failing
 * with ERR_REQUIRE_ESM.
 */
function loadFetchcacheEsm(): unknown {
  try {
    return require('./index.js') as unknown
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_REQUIRE_ESM') throw error
    throw new Error(`require('fetchcache') needs Node 20.19+ or 22.12+ (require of ES modules); this is Node ${process.versions.node}. Use import('fetchcache') or a newer Node.`, { cause: error })
  }
}
module.exports = loadFetchcacheEsm()

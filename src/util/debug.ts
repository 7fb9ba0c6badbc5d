import { debuglog } from 'node:util'

/** `NODE_DEBUG=fetchcache` prints each decision with its reason. */
export const debug = debuglog('fetchcache')

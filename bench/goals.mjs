// The goals of issue 14 (and the earlier ones of issue 5 still worth watching), each a ratio of
// medians from one `npm run bench` run, so that the machine's load is the same on both sides.
// evaluate() returns one row per goal; with `suffix` '@base' the fetchcache contenders are
// those of the baseline build (BENCH_BASELINE), the references stay the same: before/after.

const fmtX = (v) => (!Number.isFinite(v) ? '—' : `${v.toFixed(2)}x`)
const fmtUs = (v) => (!Number.isFinite(v) ? '—' : v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(1))
const fmtOps = (v) => (!Number.isFinite(v) ? '—' : Math.round(v).toLocaleString('en'))
const ms = (us) => (us / 1000).toFixed(1)

/**
 * ctx: { get(scenario, contender) -> { p50, p90, ops, … } | undefined, disk: { [contender]: r },
 * coalescing: [{ originRequests, urls, processes, errors }], big: entries in the big store }
 */
export function evaluate(ctx, suffix = '') {
  const { get } = ctx
  const fc = (c) => `${c}${suffix}`
  const rows = []
  const goal = (id, text, value, shown, pass) => rows.push({ id, text, value, shown: Number.isFinite(value) ? shown : 'not measured', pass: Number.isFinite(value) ? pass : undefined })

  // Miss-and-store: throughput against the same client without a cache, and against undici's cache.
  for (const size of ['1k', '32k']) {
    const sid = `miss-${size}`
    for (const [api, plainRef, cacheRef] of [['fetch', 'node-fetch', 'undici-cache-fetch'], ['request', 'undici-request', 'undici-cache-request']]) {
      for (const backend of ['sqlite', 'memory']) {
        const c = fc(api === 'fetch' ? `fc-fetch-${backend}` : `fc-interceptor-${backend}-request`)
        const a = get(sid, c)
        const none = get(sid, plainRef)
        const cached = get(sid, cacheRef)
        const r = a && none ? a.ops / none.ops : NaN
        const u = a && cached ? a.ops / cached.ops : NaN
        const agent7 = api === 'fetch' && a && get(sid, 'node-fetch-agent7') ? ` (${fmtX(a.ops / get(sid, 'node-fetch-agent7').ops)} of its own transport, fetch over an undici 7 Agent)` : ''
        goal(
          `${sid}-${api}-${backend}`,
          `Miss-and-store ${size.replace('k', ' KiB')}, ${api === 'fetch' ? '`createCachedFetch`' : '`cacheInterceptor` + `request()`'} (${backend}): ≥ 0.85x ${api === 'fetch' ? 'Node `fetch`' : 'undici `request()`'} without a cache, and ≥ 1.00x undici's cache (MemoryCacheStore) through the same API`,
          Math.min(r / 0.85, u),
          `${fmtX(r)} of no cache${agent7}, ${fmtX(u)} of undici's cache (${fmtOps(a?.ops)}/s vs ${fmtOps(none?.ops)}/s and ${fmtOps(cached?.ops)}/s); CPU ${fmtUs(a?.cpu)} µs per miss vs ${fmtUs(none?.cpu)} without a cache and ${fmtUs(cached?.cpu)} with undici's`,
          r >= 0.85 && u >= 1,
        )
      }
    }
  }
  {
    const one = get('procs', fc('procs-1'))
    const four = get('procs', fc('procs-4'))
    const r = one && four ? four.ops / one.ops : NaN
    goal('procs', '4 processes on one SQLite file, misses only: aggregate ≥ 2.5x one process', r, `${fmtX(r)} (${fmtOps(four?.ops)}/s vs ${fmtOps(one?.ops)}/s)`, r >= 2.5)
  }
  {
    const a = get('seq-1k', fc('fc-fetch-sqlite'))
    const f = get('seq-1k', 'floor-sqlite')
    const r = a && f ? a.p50 / f.p50 : NaN
    goal('hit-1k-fetch', '`createCachedFetch` SQLite hit, 1 KiB, median over 20,000 hits ≤ 1.2x the SQLite floor', r, `${fmtX(r)} (p50 ${fmtUs(a?.p50)} µs vs ${fmtUs(f?.p50)} µs; CPU ${fmtUs(a?.cpu)} vs ${fmtUs(f?.cpu)} µs per hit)`, r <= 1.2)
    const w = a ? a.p90 / a.p50 : NaN
    goal('hit-1k-p90', '`createCachedFetch` SQLite hit, 1 KiB: p90 ≤ 2x the median', w, `${fmtX(w)} (p90 ${fmtUs(a?.p90)} µs)`, w <= 2)
  }
  {
    const a = get('seq-1k', fc('fc-interceptor-sqlite-request'))
    const u = get('seq-1k', 'undici-cache-request')
    const r = a && u ? a.p50 / u.p50 : NaN
    goal('hit-1k-request', "`cacheInterceptor` + `request()` SQLite hit, 1 KiB: p50 ≤ undici's MemoryCacheStore through `request()`", r, `${fmtX(r)} (p50 ${fmtUs(a?.p50)} µs vs ${fmtUs(u?.p50)} µs)`, r <= 1)
  }
  {
    const a = get('seq-1m', fc('fc-fetch-sqlite'))
    const f = get('seq-1m', 'floor-sqlite')
    const r = a && f ? a.p50 / f.p50 : NaN
    goal('hit-1m', '`createCachedFetch` SQLite hit, 1 MiB: ≤ 1.3x the SQLite floor', r, `${fmtX(r)} (p50 ${fmtUs(a?.p50)} µs vs ${fmtUs(f?.p50)} µs)`, r <= 1.3)
  }
  {
    const a = get('cold', fc('fc-cold'))
    const u = get('cold', 'undici-request-cold')
    const d = a && u ? (a.p50 - u.p50) / 1000 : NaN
    goal('cold', "Cold start to the first hit (10,000-entry SQLite store) ≤ undici's plain `request()` cold path + 15 ms", d, `${d >= 0 ? '+' : ''}${d.toFixed(1)} ms (${ms(a?.p50)} ms vs ${ms(u?.p50)} ms)`, d <= 15)
  }
  if (suffix === '') {
    // Safety is measured on the current build only (the stress worker imports dist/).
    const worst = ctx.coalescing.reduce((w, r) => (w === undefined || r.originRequests - r.urls - r.processes > w.originRequests - w.urls - w.processes ? r : w), undefined)
    const over = worst ? worst.originRequests - (worst.urls + worst.processes) : NaN
    const errors = ctx.coalescing.reduce((s, r) => s + r.errors, 0)
    goal('coalescing', 'Cross-process coalescing (stress mixed run, 4 processes): origin requests ≤ URLs + processes in every round, no wrong body', over, `worst round ${worst?.originRequests} origin requests for ${worst?.urls} URLs + ${worst?.processes} processes over ${ctx.coalescing.length} rounds; ${errors} errors or mismatches`, over <= 0 && errors === 0)
    const cc = get('conc64', 'fc-fetch-sqlite') && get('conc64', 'undici-cache-fetch') ? get('conc64', 'fc-fetch-sqlite').ops / get('conc64', 'undici-cache-fetch').ops : NaN
    goal('conc64', "(issue 5) 64 in flight: `createCachedFetch` SQLite hits/s ≥ 1.5x undici's cache through `fetch`", cc, `${fmtX(cc)} (${fmtOps(get('conc64', 'fc-fetch-sqlite')?.ops)}/s vs ${fmtOps(get('conc64', 'undici-cache-fetch')?.ops)}/s)`, cc >= 1.5)
    const big = get('store-big', 'fc-fetch-sqlite') && get('store-1k', 'fc-fetch-sqlite') ? get('store-big', 'fc-fetch-sqlite').p50 / get('store-1k', 'fc-fetch-sqlite').p50 : NaN
    goal('big', `(issue 5) ${ctx.big.toLocaleString('en')} entries: \`createCachedFetch\` hit p50 ≤ 1.3x the 1,000-entry figure`, big, `${fmtX(big)} (${fmtUs(get('store-big', 'fc-fetch-sqlite')?.p50)} µs vs ${fmtUs(get('store-1k', 'fc-fetch-sqlite')?.p50)} µs)`, big <= 1.3)
    const d = ctx.disk['fc-fetch-sqlite']
    const dr = d ? d.bytes / d.bodyBytes : NaN
    goal('disk', '(issue 5) Disk: ≤ 1.05x the body bytes at 32 KiB per entry (SQLite file)', dr, `${fmtX(dr)} (${d?.bytes?.toLocaleString('en')} bytes for ${d?.bodyBytes?.toLocaleString('en')} body bytes)`, dr <= 1.05)
  }
  return rows
}

const verdict = (row) => (row.pass === undefined ? 'N/A' : row.pass ? 'PASS' : 'MISS')

/** The goals as a markdown table. */
export function goalsTable(rows) {
  return ['| goal | result | measured |', '| --- | --- | --- |', ...rows.map((r) => `| ${r.text} | **${verdict(r)}** | ${r.shown} |`)]
}

/** Baseline build and this one, goal by goal (only goals measured on both). */
export function beforeAfter(before, after) {
  const byId = new Map(before.map((r) => [r.id, r]))
  const out = ['| goal | baseline build | this build |', '| --- | --- | --- |']
  for (const a of after) {
    const b = byId.get(a.id)
    if (!b || b.pass === undefined) continue
    out.push(`| ${a.text} | ${verdict(b)}: ${b.shown} | ${verdict(a)}: ${a.shown} |`)
  }
  return out
}

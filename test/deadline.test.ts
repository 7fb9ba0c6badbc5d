/** util/deadline.ts: the race every bounded wait inside the cache is built on (issue 11). */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Deadline, LATE } from '../src/util/deadline.js'

beforeEach(() => void vi.useFakeTimers())
afterEach(() => void vi.useRealTimers())

const after = <T>(ms: number, outcome: { value?: T; error?: Error }): Promise<T> =>
  new Promise((resolve, reject) => setTimeout(() => (outcome.error ? reject(outcome.error) : resolve(outcome.value as T)), ms))

describe('Deadline.within', () => {
  const cases = [
    { name: 'work settled already, no time left: its value', budget: 0, work: () => Promise.resolve('v'), want: 'v' },
    { name: 'work done before the deadline: its value', budget: 100, work: () => after(50, { value: 'v' }), want: 'v' },
    { name: 'work done after the deadline: LATE', budget: 100, work: () => after(150, { value: 'v' }), want: LATE },
    { name: 'work that never settles: LATE', budget: 100, work: () => new Promise<string>(() => {}), want: LATE },
  ]
  it.each(cases)('$name', async ({ budget, work, want }) => {
    const got = new Deadline(budget).within(work())
    await vi.advanceTimersByTimeAsync(200)
    expect(await got).toBe(want)
  })

  it('work settled already takes no timer, and gives its value or its error as is', async () => {
    const timers = vi.spyOn(globalThis, 'setTimeout')
    const deadline = new Deadline(100)
    const value = deadline.within(Promise.resolve('v'))
    const error = deadline.within(Promise.reject(new Error('boom'))).catch((e: Error) => e.message)
    expect(await value).toBe('v')
    expect(await error).toBe('boom')
    // No timer was set: the settled path, not the race.
    expect(timers).not.toHaveBeenCalled()
    timers.mockRestore()
  })

  it('a rejection before the deadline is passed on', async () => {
    const got = new Deadline(100).within(after(50, { error: new Error('boom') }))
    const seen = got.catch((e: Error) => e.message)
    await vi.advanceTimersByTimeAsync(60)
    expect(await seen).toBe('boom')
  })

  it('a late value goes to onLate (a lease granted too late is given back); a late rejection is swallowed', async () => {
    const late: string[] = []
    const granted = new Deadline(100).within(after(150, { value: 'lease' }), (v) => late.push(v))
    const failed = new Deadline(100).within(after(150, { error: new Error('too late') }), () => late.push('never'))
    await vi.advanceTimersByTimeAsync(200)
    expect([await granted, await failed]).toEqual([LATE, LATE])
    expect(late).toEqual(['lease'])
  })

  it('left counts down and never goes below zero', () => {
    const d = new Deadline(100)
    vi.advanceTimersByTime(40)
    expect(d.left).toBeCloseTo(60, -1)
    expect(d.passed).toBe(false)
    vi.advanceTimersByTime(100)
    expect([d.left, d.passed]).toEqual([0, true])
  })
})

/**
 * What the pipeline's helpers (writer, coordinator) ask of the engine, and no more: they hold
 * this narrow port instead of the engine, so none of them imports it.
 */
export interface Port {
  /** A cache fault: counted and told to onError, never thrown at a caller. */
  report(error: unknown): void
  /** Work under way that close() and flush() wait for. */
  track<T>(promise: Promise<T>): Promise<T>
}

/**
 * The session's store writes of edits, selections and run records, serialised so they
 * land in the order they were made.
 */
export class Writes {
  private tail: Promise<unknown> = Promise.resolve();

  /** @param report Told of every failed write, so a write nobody awaits is never silently lost. */
  constructor(private readonly report: (e: unknown) => void) {}

  /** Queues a write after the others; returns its own outcome (for an acknowledgement). */
  persist<T>(write: () => Promise<T>): Promise<T> {
    const done = this.tail.then(write);
    this.tail = done.catch(this.report);
    return done;
  }

  /** Settles once every write queued so far has (failures included). */
  get idle(): Promise<unknown> {
    return this.tail;
  }
}

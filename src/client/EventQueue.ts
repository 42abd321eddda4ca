/**
 * A single-consumer async queue: the producer pushes, one `for await` takes.
 * Past `high` queued items `onPressure(true)` is called (the session pauses
 * its stream, so the server's bounded outbox applies backpressure instead of
 * this process's memory), and `onPressure(false)` once the queue is empty.
 */
export class EventQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter?: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void };
  private done = false;
  private error?: unknown;
  private paused = false;

  constructor(
    private readonly high: number,
    private readonly onPressure: (paused: boolean) => void,
    private readonly onReturn: () => void,
  ) {}

  push(item: T) {
    if (this.done) return;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      return w.resolve({ value: item, done: false });
    }
    this.items.push(item);
    if (this.items.length >= this.high && !this.paused) this.pressure(true);
  }

  /** Ends the iteration after the queued items; with an error, the consumer's loop throws it. */
  end(error?: unknown) {
    if (this.done) return;
    this.done = true;
    this.error = error;
    const w = this.waiter;
    this.waiter = undefined;
    if (w) error === undefined ? w.resolve({ value: undefined, done: true }) : w.reject(error);
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (this.paused && this.items.length === 0) this.pressure(false);
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.done) return this.error === undefined ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(this.error);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.next(),
      return: async () => {
        this.onReturn();
        return { value: undefined, done: true };
      },
    };
  }

  private pressure(on: boolean) {
    this.paused = on;
    this.onPressure(on);
  }
}

import type { BatchItem, CqlSession } from './CqlSession.js';

/**
 * Write-behind for max-registers (read pointers, delivery cursors): writes
 * are coalesced per cell (the highest value wins, as the store would decide
 * anyway) and flushed after at most `delayMs` in unlogged batches of at most
 * `maxBatch` rows, whatever their partitions. One request carries the cells
 * of many devices: on a busy node most cells change once per flush, so
 * grouping per partition would still cost a request per cell, and the
 * request, not the row, is what costs the database most CPU for writes this
 * small (the benchmark counts both). A failed
 * flush puts its values back (max-merged with newer ones) for the next round:
 * the writes are idempotent and commutative, so a retry can never lower a
 * cell. `drain()` flushes everything (shutdown).
 *
 * Readers merge `pending` into what they read, so on this node a value is
 * visible as soon as it is queued; other nodes see it at most `delayMs` (plus
 * one request) later.
 */

/** One cell: the parameters that raise it to `value`. */
type Cell = { value: number; params: (v: number) => unknown[] };

export class CursorWriteBehind {
  /** Per partition, per cell (e.g. channel id): the highest value not yet written. */
  private pending = new Map<string, Map<string, Cell>>();
  /** Batches taken by a flush whose writes have not completed yet (still to be merged by readers). */
  private readonly inflight = new Set<Map<string, Map<string, Cell>>>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly session: CqlSession,
    private readonly query: string,
    private readonly delayMs: number,
    private readonly onError: (e: unknown) => void,
    private readonly maxBatch = 50,
  ) {}

  /** Queues a raise of cell `cell` of `partition` to `value`. */
  raise(partition: string, cell: string, value: number, params: (v: number) => unknown[]): void {
    let cells = this.pending.get(partition);
    if (!cells) this.pending.set(partition, (cells = new Map()));
    const cur = cells.get(cell);
    if (cur) {
      if (value > cur.value) cur.value = value;
    } else cells.set(cell, { value, params });
    this.timer ??= setTimeout(() => void this.flush(), this.delayMs);
  }

  /**
   * The values queued in `partition` and not yet written, by cell: those waiting
   * for the next flush and those whose write is in flight (not yet readable
   * from the store), the higher of the two per cell.
   */
  queued(partition: string): ReadonlyMap<string, { value: number }> | undefined {
    const waiting = this.pending.get(partition);
    if (this.inflight.size === 0) return waiting;
    let out: Map<string, { value: number }> | undefined;
    for (const parts of [...this.inflight, this.pending]) {
      const cells = parts.get(partition);
      if (!cells) continue;
      out ??= new Map();
      for (const [cell, c] of cells) if ((out.get(cell)?.value ?? -1) < c.value) out.set(cell, { value: c.value });
    }
    return out;
  }

  /** Writes what is queued now; resolves when those writes are done (failures are re-queued). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return this.flushing;
    const parts = this.pending;
    this.pending = new Map();
    this.inflight.add(parts);
    const all: Array<[string, string, Cell]> = [];
    for (const [partition, cells] of parts) for (const [cell, c] of cells) all.push([partition, cell, c]);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < all.length; i += this.maxBatch) writes.push(this.write(all.slice(i, i + this.maxBatch)));
    const done = Promise.all(writes).then(() => {
      this.inflight.delete(parts);
    });
    this.flushing = Promise.all([this.flushing, done]).then(() => {});
    return done;
  }

  /** Flushes until nothing is queued (a bounded number of rounds: failures are retried, not forever). */
  async drain(rounds = 3): Promise<void> {
    for (let i = 0; i < rounds && this.pending.size > 0; i++) await this.flush();
    await this.flushing;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async write(list: Array<[string, string, Cell]>): Promise<void> {
    const items: BatchItem[] = list.map(([, , c]) => ({ query: this.query, params: c.params(c.value) }));
    try {
      if (items.length === 1) await this.session.execute(items[0]!.query, items[0]!.params, { idempotent: true });
      else await this.session.batch(items, { idempotent: true, logged: false });
    } catch (e) {
      this.onError(e);
      for (const [partition, cell, c] of list) this.raise(partition, cell, c.value, c.params);
    }
  }
}

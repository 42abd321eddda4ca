/** Ids `fromId + 1 .. toId` of one channel that the sequencer passed over (never issued). */
export interface IdRange {
  fromId: number;
  toId: number;
}

/** How many ids in `afterId + 1 .. upTo` the ranges cover. */
export function skippedCount(ranges: IdRange[], afterId: number, upTo: number): number {
  let n = 0;
  let covered = afterId;
  for (const r of [...ranges].sort((a, b) => a.fromId - b.fromId)) {
    const lo = Math.max(r.fromId, covered);
    const hi = Math.min(r.toId, upTo);
    if (hi > lo) n += hi - lo;
    covered = Math.max(covered, hi);
  }
  return n;
}

/** The id a reader at `lastId` may treat as delivered, passing every range that starts at or below it (never `beforeId` or past it). */
export function passSkipped(ranges: IdRange[], lastId: number, beforeId: number): number {
  let last = lastId;
  for (let moved = true; moved; ) {
    moved = false;
    for (const r of ranges) {
      const to = Math.min(r.toId, beforeId - 1);
      if (r.fromId <= last && to > last) {
        last = to;
        moved = true;
      }
    }
  }
  return last;
}

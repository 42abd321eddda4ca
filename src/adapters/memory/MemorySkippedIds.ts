import type { IdRange, SkippedIds } from '../../ports/SkippedIds.js';

/** Skipped id ranges in process memory (the memory sequencer never skips; this keeps the port complete). */
export class MemorySkippedIds implements SkippedIds {
  private readonly ranges = new Map<string, IdRange[]>();

  async record(channelId: string, range: IdRange) {
    const list = this.ranges.get(channelId) ?? [];
    if (!list.some((r) => r.toId === range.toId)) list.push({ fromId: range.fromId, toId: range.toId });
    list.sort((a, b) => a.toId - b.toId);
    this.ranges.set(channelId, list);
  }

  async between(channelId: string, afterId: number, beforeId: number) {
    return (this.ranges.get(channelId) ?? []).filter((r) => r.toId > afterId && r.fromId + 1 < beforeId);
  }
}

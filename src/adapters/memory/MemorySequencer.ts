import type { Sequencer } from '../../ports/Sequencer.js';

/** Per-channel counters in process memory; nothing to re-seed since history dies with them. */
export class MemorySequencer implements Sequencer {
  private readonly counters = new Map<string, number>();

  async open() {}

  async next(channelId: string) {
    return this.nextNow(channelId);
  }

  /** `next`, answered at once (the send gate's last step). */
  nextNow(channelId: string) {
    const n = (this.counters.get(channelId) ?? 0) + 1;
    this.counters.set(channelId, n);
    return n;
  }

  async current(channelId: string) {
    return this.counters.get(channelId) ?? 0;
  }
}

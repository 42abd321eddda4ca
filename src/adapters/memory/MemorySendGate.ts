import type { SendGate, SendGateRequest, SendGateResult } from '../../ports/SendGate.js';
import type { MemoryIdempotencyStore } from './MemoryIdempotencyStore.js';
import type { MemoryRateLimiter } from './MemoryRateLimiter.js';
import type { MemorySequencer } from './MemorySequencer.js';

/**
 * The send gate over the in-memory rate limiter, idempotency store and
 * sequencer: the same three steps in one synchronous turn, so a send costs
 * one settled promise here instead of three (and no Promise.allSettled).
 * Records in memory are never lost, so a claim is never unvouched or
 * recovered: a clean claim always takes the id.
 */
export class MemorySendGate implements SendGate {
  constructor(
    private readonly rate: MemoryRateLimiter,
    private readonly idempotency: MemoryIdempotencyStore,
    private readonly sequencer: MemorySequencer,
  ) {}

  async admit(r: SendGateRequest): Promise<SendGateResult> {
    const wait = this.rate.takeNow(r.rateKey, r.perSecond, r.burst);
    if (wait > 0) return { wait };
    const claim = this.idempotency.tryClaim(r.claimKey);
    if (!claim) return { pending: true };
    return claim.status === 'claimed' ? { claim, id: this.sequencer.nextNow(r.channelId) } : { claim };
  }
}

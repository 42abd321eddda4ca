import { lifecycleSuites } from './lifecycleSuites.js';
import type { Factories } from './suites/support.js';
import { messageStoreSuite } from './suites/messageStore.js';
import { sequencerSuite } from './suites/sequencer.js';
import { sequencerFaultsSuite } from './suites/sequencerFaults.js';
import { idempotencyStoreSuite } from './suites/idempotencyStore.js';
import { cursorStoreSuite } from './suites/cursorStore.js';
import { channelStoreSuite } from './suites/channelStore.js';
import { accountStoreSuite } from './suites/accountStore.js';
import { presenceStoreSuite } from './suites/presenceStore.js';
import { fanoutSuite } from './suites/fanout.js';
import { registrySuite } from './suites/registry.js';
import { rateLimiterSuite } from './suites/rateLimiter.js';

export { answeredAtOnce, eventually, type Factories, type SequencerUnderFaults } from './suites/support.js';

/** Runs the contract suite of every port the factories provide (one file per port under suites/). */
export function contractSuites(f: Factories) {
  lifecycleSuites(f);
  if (f.messages) messageStoreSuite(f.name, f.messages);
  if (f.sequencer) sequencerSuite(f.name, f.sequencer);
  if (f.sequencerFaults) sequencerFaultsSuite(f.name, f.sequencerFaults);
  if (f.idempotency) idempotencyStoreSuite(f.name, f.idempotency);
  if (f.cursors) cursorStoreSuite(f.name, f.cursors);
  if (f.channels) channelStoreSuite(f.name, f.channels);
  if (f.accounts) accountStoreSuite(f.name, f.accounts);
  if (f.presence) presenceStoreSuite(f.name, f.presence);
  if (f.fanout) fanoutSuite(f.name, f.fanout);
  if (f.registry) registrySuite(f.name, f.registry);
  if (f.rateLimiter) rateLimiterSuite(f.name, f.rateLimiter);
}

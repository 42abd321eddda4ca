import type { AccountStore } from '../../ports/AccountStore.js';
import type { ChannelStore } from '../../ports/ChannelStore.js';
import type { CursorStore } from '../../ports/CursorStore.js';
import type { MessageStore } from '../../ports/MessageStore.js';
import { CqlSession, type CqlOptions } from './CqlSession.js';
import { migrate } from './migrate.js';
import { ScyllaAccountStore } from './ScyllaAccountStore.js';
import { ScyllaChannelStore } from './ScyllaChannelStore.js';
import { ScyllaCursorStore } from './ScyllaCursorStore.js';
import { ScyllaMessageStore } from './ScyllaMessageStore.js';
import { ScyllaSkippedIds } from './ScyllaSkippedIds.js';
import type { SkippedIds } from '../../ports/SkippedIds.js';
import type { SafetyStore } from '../../ports/SafetyStore.js';
import { ScyllaSafetyStore } from './ScyllaSafetyStore.js';

export { CqlSession, toDomainError, type CqlConsistency, type CqlOptions } from './CqlSession.js';
export { ScyllaAccountStore } from './ScyllaAccountStore.js';
export { ScyllaChannelStore } from './ScyllaChannelStore.js';
export { ScyllaCursorStore } from './ScyllaCursorStore.js';
export { ScyllaMessageStore } from './ScyllaMessageStore.js';
export { ScyllaSkippedIds } from './ScyllaSkippedIds.js';
export { ScyllaSafetyStore } from './ScyllaSafetyStore.js';

/** Connection options plus the message layout (see ScyllaMessageStore). */
export interface ScyllaStoreOptions extends CqlOptions {
  /** Message ids per history partition; default 1000; fixed per keyspace. */
  messageBucketSize?: number;
  /** Read pointers and delivery cursors: write-behind delay (ms), 0 = write through (see ScyllaCursorStore). */
  cursorWriteBehindMs?: number;
  /** Failed write-behind flushes (retried). */
  onCursorWriteError?: (e: unknown) => void;
}

/** The CQL-backed ports of one node, sharing one driver client. */
export interface ScyllaStores {
  messages: MessageStore;
  channels: ChannelStore;
  accounts: AccountStore;
  cursors: CursorStore;
  skipped: SkippedIds;
  safety: SafetyStore;
  /** Closes the shared client (call once, at shutdown). */
  close(): Promise<void>;
}

/**
 * Connects to ScyllaDB/Cassandra, runs the idempotent schema migration
 * (keyspace with the configured replication, tables, layout check) and
 * returns the CQL adapters over one shared client. Statements are
 * prepared by the driver on first use and cached for the life of the client.
 * Rejects with DomainError('unavailable') when no contact point answers,
 * and with a plain Error on a configuration mistake (bad keyspace name or
 * replication, a bucket size that differs from the keyspace's).
 */
export async function createScyllaStores(opts: ScyllaStoreOptions): Promise<ScyllaStores> {
  const session = await CqlSession.connect(opts);
  try {
    const bucketSize = opts.messageBucketSize ?? 1000;
    await migrate(session, { messageBucketSize: bucketSize });
    const cursors = new ScyllaCursorStore(session, { writeBehindMs: opts.cursorWriteBehindMs, onError: opts.onCursorWriteError });
    return {
      messages: new ScyllaMessageStore(session, { bucketSize }),
      channels: new ScyllaChannelStore(session),
      accounts: new ScyllaAccountStore(session),
      cursors,
      skipped: new ScyllaSkippedIds(session),
      safety: new ScyllaSafetyStore(session),
      async close() {
        // Queued pointer raises are written before the client goes (bounded: failures are retried a few rounds).
        await cursors.flush().catch(() => {});
        await session.close();
      },
    };
  } catch (e) {
    await session.close().catch(() => {});
    throw e;
  }
}

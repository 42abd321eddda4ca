import type { Message } from '../domain/model.js';

/**
 * Durable message history, one ordered log per channel.
 * Guarantees: when `append` resolves the message is durable at the configured
 * consistency and visible to `after`/`before`/`get` and `findByClientMsgId`
 * on every node.
 * `append` is an idempotent write of an id the Sequencer issued, which is
 * unique: appending the same message again stores one copy. Stores are not
 * required to detect a taken id: a different message appended under an id
 * that is already stored replaces it (last write wins; one whole message per
 * id, never a mix), which is why ids must only ever come from the Sequencer.
 * Failures: rejects with DomainError('unavailable'); the message is then not
 * acknowledged to anyone (it may or may not have been stored).
 */
export interface MessageStore {
  append(message: Message): Promise<void>;
  get(channelId: string, id: number): Promise<Message | undefined>;
  /** Messages with id > afterId, oldest first, at most `limit`. */
  after(channelId: string, afterId: number, limit: number): Promise<Message[]>;
  /** Messages with id < beforeId (0 = from the newest), newest first, at most `limit`. */
  before(channelId: string, beforeId: number, limit: number): Promise<Message[]>;
  /**
   * The stored message a sender's client_msg_id produced, if any. Lets a send
   * that recovers an abandoned claim find what the dead attempt stored.
   */
  findByClientMsgId(senderUserId: string, clientMsgId: string): Promise<Message | undefined>;
  /** The highest stored id of a channel, 0 if none: the sequencer re-seeds from it. */
  maxId(channelId: string): Promise<number>;
  /**
   * Applies a lifecycle entry (kind edit, delete or reaction; appended first)
   * to the current state of its target, which `get`/`after`/`before` return
   * from then on: an edit replaces the body (editCount, editedAtMs), a delete
   * marks the target deleted and erases its body and the bodies of its edit
   * entries from storage, a reaction adds or removes the entry sender's emoji.
   * `lastChangeId` becomes the entry's id. Applying the same entry again
   * changes nothing more (an edit is counted once). Changes to different
   * messages are independent; two changes to one message applied at the same
   * moment are a read-modify-write on the adapters that say so.
   * Failures: rejects with DomainError('unavailable'); the entry stays in the
   * log and a retry applies it.
   */
  applyChange(entry: Message): Promise<void>;
  /** How many lifecycle entries a channel holds with `afterId < id <= upTo` (unread counts leave them out). */
  countChanges(channelId: string, afterId: number, upTo: number): Promise<number>;
}

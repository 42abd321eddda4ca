import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from './metrics.js';

test('per-frame counters and the delivery-latency histogram show up, cumulative, when scraped', async () => {
  const m = new Metrics();
  m.accepted.inc();
  m.accepted.inc();
  m.sentCounter('/chat.v1.ChatService/Connect', 'bidi_stream').inc();
  for (const v of [0.0005, 0.003, 10]) m.latency.observe(v);
  const text = await m.metrics();
  const value = (re: RegExp, t = text) => Number(re.exec(t)?.[1]);
  assert.equal(value(/^chat_messages_accepted_total (\S+)$/m), 2);
  assert.equal(value(/^grpc_server_msg_sent_total\{grpc_type="bidi_stream",grpc_service="chat.v1.ChatService",grpc_method="Connect"\} (\S+)$/m), 1);
  assert.equal(value(/^chat_delivery_latency_seconds_bucket\{le="0.001"\} (\S+)$/m), 1);
  assert.equal(value(/^chat_delivery_latency_seconds_bucket\{le="0.0025"\} (\S+)$/m), 1);
  assert.equal(value(/^chat_delivery_latency_seconds_bucket\{le="0.005"\} (\S+)$/m), 2);
  assert.equal(value(/^chat_delivery_latency_seconds_bucket\{le="5"\} (\S+)$/m), 2);
  assert.equal(value(/^chat_delivery_latency_seconds_bucket\{le="\+Inf"\} (\S+)$/m), 3);
  assert.equal(value(/^chat_delivery_latency_seconds_count (\S+)$/m), 3);
  assert.ok(Math.abs(value(/^chat_delivery_latency_seconds_sum (\S+)$/m) - 10.0035) < 1e-9);
  // A second scrape counts nothing twice: what was flushed into the counter is not flushed again.
  assert.equal(value(/^chat_messages_accepted_total (\S+)$/m, await m.metrics()), 2);
});

test('the running totals of the use cases and the server streams (metrics.counts) are exported when scraped', async () => {
  const m = new Metrics();
  const c = m.counts;
  c.framesEncoded += 5;
  c.slowConsumerCutoffs += 1;
  c.outboxHighWater = 17;
  c.ephemeralLimited += 3;
  c.ephemeralCoalesced += 2;
  c.ephemeralDropped += 4;
  const value = (re: RegExp, t: string) => Number(re.exec(t)?.[1]);
  let text = await m.metrics();
  assert.equal(value(/^chat_frames_encoded_total (\S+)$/m, text), 5);
  assert.equal(value(/^chat_queue_drops_total (\S+)$/m, text), 1);
  assert.equal(value(/^chat_outbox_high_water (\S+)$/m, text), 17);
  assert.equal(value(/^chat_ephemeral_dropped_total\{reason="limited"\} (\S+)$/m, text), 3);
  assert.equal(value(/^chat_ephemeral_dropped_total\{reason="coalesced"\} (\S+)$/m, text), 2);
  assert.equal(value(/^chat_ephemeral_dropped_total\{reason="dropped"\} (\S+)$/m, text), 4);
  c.framesEncoded += 1;
  text = await m.metrics();
  assert.equal(value(/^chat_frames_encoded_total (\S+)$/m, text), 6, 'a later scrape adds only what is new');
});

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

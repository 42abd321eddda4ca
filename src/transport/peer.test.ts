import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata } from '@grpc/grpc-js';
import { PeerResolver, peerAddress, setBridgePeer } from './peer.js';

test('the client address: the direct peer unless it is a trusted proxy; then the right-most untrusted x-forwarded-for hop', () => {
  const none = new PeerResolver('');
  assert.equal(none.resolve('203.0.113.5', ['1.2.3.4']), '203.0.113.5', 'x-forwarded-for from an untrusted peer is ignored');
  assert.equal(none.resolve('::ffff:127.0.0.1', []), '127.0.0.1');
  const p = new PeerResolver('127.0.0.1, 10.0.0.0/8, fd00::/8');
  assert.equal(p.resolve('127.0.0.1', ['198.51.100.7']), '198.51.100.7');
  assert.equal(p.resolve('10.1.2.3', ['6.6.6.6, 198.51.100.7, 10.9.9.9']), '198.51.100.7', 'a spoofed left-most hop is not taken');
  assert.equal(p.resolve('10.1.2.3', ['6.6.6.6', '198.51.100.7']), '198.51.100.7', 'several headers are one list');
  assert.equal(p.resolve('10.1.2.3', ['10.2.2.2']), '10.2.2.2', 'every hop trusted: the left-most');
  assert.equal(p.resolve('10.1.2.3', ['not-an-ip']), '10.1.2.3', 'a garbage hop: the last address we can vouch for');
  assert.equal(p.resolve('fd00::1', ['2001:db8::1']), '2001:db8::1');
  assert.equal(p.resolve(undefined, []), 'unknown');
  assert.throws(() => new PeerResolver('10.0.0.0/33'), /not an IP address or CIDR/);
  assert.throws(() => new PeerResolver('proxy.local'), /not an IP address or CIDR/);
});

test('grpc-js peers and the grpc-web bridge', () => {
  assert.equal(peerAddress('127.0.0.1:5000'), '127.0.0.1');
  assert.equal(peerAddress('::1:5000'), '::1');
  assert.equal(peerAddress('unknown'), undefined);
  const p = new PeerResolver('');
  const forged = new Metadata();
  forged.set('x-chat-bridge-peer', '9.9.9.9');
  forged.set('x-chat-bridge-key', 'guess');
  assert.equal(p.ofCall({ getPeer: () => '203.0.113.5:4000', metadata: forged }), '203.0.113.5', 'a client cannot pose as the bridge');
  const bridged = new Metadata();
  setBridgePeer(bridged, '198.51.100.7');
  assert.equal(p.ofCall({ getPeer: () => '127.0.0.1:4000', metadata: bridged }), '198.51.100.7');
});

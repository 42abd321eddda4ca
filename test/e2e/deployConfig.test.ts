import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { headerContentType, headerGrpcMessage, headerGrpcStatus, headerTimeout, headerXGrpcWeb, headerXUserAgent } from '@connectrpc/connect/protocol-grpc-web';
import { ConfigSchema } from '../../src/app/config.js';

/** Deploy files cannot run here (no Docker, no cluster); at least their settings must exist. */
test('every CHAT_* variable set by the deploy files exists in the config schema', () => {
  const files = ['deploy/compose.yaml', 'deploy/k8s/chat.yaml'];
  const known = new Set(Object.keys(ConfigSchema.shape));
  for (const f of files) {
    const names = new Set(readFileSync(f, 'utf8').match(/CHAT_[A-Z0-9_]+/g) ?? []);
    assert.ok(names.size > 5, `${f} sets chat variables`);
    const unknown = [...names].filter((n) => !known.has(n));
    assert.deepEqual(unknown, [], `${f} uses variables the node does not know`);
  }
});

test('no secret is fixed in deploy/: compose reads it from an env file, Kubernetes from a Secret', () => {
  const compose = readFileSync('deploy/compose.yaml', 'utf8');
  assert.doesNotMatch(compose, /^\s*CHAT_(JWT_SECRET|SERVICE_KEYS)\s*:/m, 'compose sets no secret value');
  assert.match(compose, /env_file:\s*\n\s*- path: \.\/chat\.env\s*\n\s*required: true/, 'compose requires deploy/chat.env');
  const k8s = readFileSync('deploy/k8s/chat.yaml', 'utf8');
  assert.doesNotMatch(k8s, /^kind:\s*Secret/m, 'no Secret object with a value in the repository');
  assert.match(k8s, /name: CHAT_JWT_SECRET\s*\n\s*valueFrom: \{ secretKeyRef:/, 'the key comes from a Secret');
  assert.doesNotMatch(k8s, /^\s*CHAT_JWT_SECRET:/m, 'not from the ConfigMap');
});

test('Envoy: the grpc_web filter runs before the router, and CORS admits the headers the generated web client sends', () => {
  const envoy = readFileSync('deploy/envoy/envoy.yaml', 'utf8');
  const filters = [...envoy.matchAll(/- name: (envoy\.filters\.http\.\w+)/g)].map((m) => m[1]);
  assert.ok(filters.includes('envoy.filters.http.grpc_web'), 'the grpc_web filter is configured');
  assert.ok(filters.indexOf('envoy.filters.http.grpc_web') < filters.indexOf('envoy.filters.http.router'), 'before the router');
  const list = (key: string) => (new RegExp(`${key}: "([^"]+)"`).exec(envoy)?.[1] ?? '').toLowerCase().split(/,\s*/);
  // What connect-web's gRPC-web transport sets on a request, plus our bearer token (web/src/api.ts).
  for (const h of [headerContentType, headerXGrpcWeb, headerXUserAgent, headerTimeout, 'authorization'])
    assert.ok(list('allow_headers').includes(h.toLowerCase()), `allow_headers lists ${h}`);
  // Statuses of unary errors come as headers (trailers-only): the browser must be allowed to read them.
  for (const h of [headerGrpcStatus, headerGrpcMessage]) assert.ok(list('expose_headers').includes(h.toLowerCase()), `expose_headers lists ${h}`);
  assert.match(list('allow_methods').join(','), /post/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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

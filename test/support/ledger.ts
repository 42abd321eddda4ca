import { appendFileSync } from 'node:fs';

/**
 * Notes a keyspace and a Redis key prefix this test process creates, so that
 * scripts/run-tests.js drops them when the run is over (the shared Cassandra
 * otherwise fills its heap with the schemas of old runs). Without
 * CHAT_TEST_LEDGER (a test file run by hand) nothing is noted.
 */
export function noteTestData(data: { keyspace?: string; prefix?: string; cluster?: boolean }) {
  const file = process.env.CHAT_TEST_LEDGER;
  if (file) appendFileSync(file, `${JSON.stringify(data)}\n`);
}

import type { Recorder } from './recorder.js';

/**
 * A set of connected simulated devices against one server. Devices form
 * channels of `blockSize` consecutive devices (2: a 1:1 pair, 100: a group);
 * a send from a device goes to its channel (the peer, or every other member).
 * Every delivery to a device other than the sender is reported to the
 * recorder; the project's echo of a device's own message is not a delivery.
 */
export interface Fleet {
  readonly name: string;
  readonly devices: number;
  readonly blockSize: number;
  /** Sends one message now (open loop: never waits). False if the device's stream is down. */
  send(from: number, tag: number, seq: number, micros: number): boolean;
  /** Reopens streams that the server closed (e.g. slow-consumer cut-off); returns how many. */
  repair(): Promise<number>;
  /** Counters worth reporting (errors, cut-offs, reconnects). */
  counters(): Record<string, number>;
  close(): Promise<void>;
}

export interface FleetOptions {
  address: string;
  devices: number;
  blockSize: number;
  connections: number;
  /** Body bytes of a project message; the baselines pad their payload to the project's delivered frame size. */
  bodyBytes: number;
  /** Bytes of one delivered frame (the project's ServerFrame{message} with this body), for the baselines. */
  frameBytes: number;
  recorder: Recorder;
  runId: string;
  log: (line: string) => void;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` over 0..n-1 with at most `limit` in flight. */
export async function pool(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

/** Resolves when `pred` holds (polling), rejects after `ms`. */
export async function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * Preloaded (--import) into every server the harness starts, the project's
 * node included, without touching its code. Over the IPC channel it answers
 * the harness's probes:
 *   mem:   RSS and heap after two full GCs (with --expose-gc);
 *   count: with BENCH_COUNT_CQL=1, how many requests
 *          the process sent through the CQL driver (Client#execute and
 *          #batch, wrapped here: every statement and batch the server
 *          issues, whatever its code; the driver's own metadata queries
 *          do not go through them).
 *          Always: the event loop's delay since the previous count probe
 *          (p99 and max, ms; perf_hooks at 1 ms resolution, the same in every
 *          server), so a step's long turns show next to its latency.
 * It also exits when the harness goes away, so no server outlives a crashed run.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();
const cql = { requests: 0 };
if (process.env.BENCH_COUNT_CQL === '1') {
  const driver = (await import('cassandra-driver')).default;
  const proto = driver.Client.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of ['execute', 'batch']) {
    const orig = proto[name]!;
    proto[name] = function (this: unknown, ...args: unknown[]) {
      cql.requests++;
      return orig.apply(this, args);
    };
  }
}

if (process.send) {
  process.on('message', (m: { probe?: string; id?: number }) => {
    if (m?.probe === 'count') {
      const loopP99Ms = Math.round(loop.percentile(99) / 1e4) / 100;
      const loopMaxMs = Math.round(loop.max / 1e4) / 100;
      loop.reset();
      process.send!({ probeReply: m.id, cql: cql.requests, loopP99Ms, loopMaxMs });
      return;
    }
    if (m?.probe !== 'mem') return;
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    gc?.();
    const u = process.memoryUsage();
    process.send!({ probeReply: m.id, rss: u.rss, heapUsed: u.heapUsed, external: u.external, arrayBuffers: u.arrayBuffers });
  });
  process.on('disconnect', () => process.exit(0));
  // The IPC channel must not keep a server alive that wants to exit.
  (process.channel as { unref?: () => void } | undefined)?.unref?.();
}
export {};

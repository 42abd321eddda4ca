/**
 * Preloaded (--import) into every server the harness starts, the project's
 * node included, without touching its code. Over the IPC channel it answers
 * the harness's probes:
 *   mem:   RSS and heap after two full GCs (with --expose-gc);
 *   count: how many ServerFrames the project serialized, when
 *          BENCH_COUNT_ENCODES names its transport/mapping module (every
 *          outbound frame is encoded there, by the hand-written or the
 *          generated codec; this is how the harness checks that fan-out
 *          encodes once).
 * It also exits when the harness goes away, so no server outlives a crashed run.
 */
const mappingUrl = process.env.BENCH_COUNT_ENCODES;
const stats = mappingUrl ? ((await import(mappingUrl)) as { encodeStats: { frames: number } }).encodeStats : undefined;

if (process.send) {
  process.on('message', (m: { probe?: string; id?: number }) => {
    if (m?.probe === 'count') {
      process.send!({ probeReply: m.id, encodes: stats?.frames ?? 0 });
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

/** A small seeded PRNG (mulberry32): a failing fuzz run can be replayed from its seed. */
export function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Wraps a callback so that only its first call goes through; `done` tells whether it was called. */
export function once<T>(f: (v: T) => void): ((v: T) => void) & { done: boolean } {
  const g = Object.assign(
    (v: T) => {
      if (g.done) return;
      g.done = true;
      f(v);
    },
    { done: false },
  );
  return g;
}

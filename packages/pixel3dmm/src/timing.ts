// The one timer behind every `pixel3dmm bench ...` figure: warm-up calls, then at least `minRuns` timed calls
// and at least `minMs` of timing, reported as the median (robust to the other jobs of a shared machine).

export function median(samples: readonly number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median milliseconds of `fn(i)` (i counts every call, warm-up included, so callers can vary inputs). */
export function medianMs(fn: (i: number) => void, options: { warmup?: number; minRuns?: number; minMs?: number } = {}): number {
  const { warmup = 3, minRuns = 30, minMs = 400 } = options;
  let i = 0;
  for (; i < warmup; i++) fn(i);
  const t: number[] = [];
  const start = performance.now();
  for (; t.length < minRuns || performance.now() - start < minMs; i++) {
    const s = performance.now();
    fn(i);
    t.push(performance.now() - s);
  }
  return median(t);
}

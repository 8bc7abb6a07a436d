// Stage 2's choice of frames per iteration (spec 7.2), seeded so that runs are deterministic.
//
// Iteration p draws either a uniform random subset of B distinct frames, sorted, or a contiguous window:
// - random when (p < floor(0.15 iters) and p is even), or smoothness is off, or the input is discontinuous;
// - otherwise a window, and smoothness (spec 6.7) is added when p >= floor(0.15 iters) and p is odd.
//
// The window: a centre r ~ U{0, N-1}, and the window [r - floor(B/2), ...) of B frames clamped into [0, N).
// Deliberate fix (README, deviations): the original draws r ~ U{0, N-2}, asserts an even B (an odd frame
// count below batch_size crashes) and its clamp never starts a window at N-B-1. Here any B <= N works and
// every start in [0, N-B] is reachable; as in the original, the clamp piles windows up at the sequence ends.
//
// Random numbers: our own small generator (mulberry32 seeded through a SplitMix32 hash), not numpy's MT19937,
// so batches are deterministic for a seed but not the original's batches.

/** Deterministic uniform random numbers (32-bit integer arithmetic only). */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    let x = (Math.floor(seed) >>> 0) ^ 0x9e3779b9;
    x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
    this.state = (x ^ (x >>> 16)) >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  integer(lo: number, hi: number): number {
    return lo + Math.floor(this.uniform() * (hi - lo + 1));
  }
}

export interface Stage2Batch {
  /** Frame positions, ascending. */
  frames: number[];
  /** A contiguous window (in time order). */
  window: boolean;
  /** Temporal smoothness is added to this iteration's loss. */
  smoothness: boolean;
}

export interface BatchPlan {
  numFrames: number;
  batchSize: number;
  iterations: number;
  /** config.smooth */
  smooth: boolean;
  /** config.is_discontinuous (multi-image mode): random batches only, no smoothness. */
  discontinuous: boolean;
}

export class Stage2Sampler {
  private readonly rng: SeededRandom;
  readonly batchSize: number;
  readonly warmupIterations: number;

  constructor(readonly plan: BatchPlan, seed: number) {
    if (!Number.isInteger(plan.numFrames) || plan.numFrames < 2) throw new RangeError(`stage 2 needs at least 2 frames, got ${plan.numFrames}`);
    if (!Number.isInteger(plan.batchSize) || plan.batchSize < 1) throw new RangeError(`batch_size must be an integer >= 1, got ${plan.batchSize}`);
    this.rng = new SeededRandom(seed);
    this.batchSize = Math.min(plan.batchSize, plan.numFrames);
    this.warmupIterations = Math.floor(0.15 * plan.iterations);
  }

  next(p: number): Stage2Batch {
    const { numFrames: N, smooth, discontinuous } = this.plan;
    const B = this.batchSize;
    const random = (p < this.warmupIterations && p % 2 === 0) || !smooth || discontinuous;
    if (random) return { frames: this.randomSubset(N, B), window: false, smoothness: false };
    const r = this.rng.integer(0, N - 1);
    const start = Math.min(Math.max(r - Math.floor(B / 2), 0), N - B);
    const frames = Array.from({ length: B }, (_, i) => start + i);
    return { frames, window: true, smoothness: p >= this.warmupIterations && p % 2 === 1 };
  }

  /** B distinct positions of [0, N), uniformly (a partial Fisher-Yates shuffle), sorted. */
  private randomSubset(N: number, B: number): number[] {
    const pool = Array.from({ length: N }, (_, i) => i);
    for (let i = 0; i < B; i++) {
      const j = this.rng.integer(i, N - 1);
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    return pool.slice(0, B).sort((a, b) => a - b);
  }
}

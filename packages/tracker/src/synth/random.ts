// Seeded random numbers for the synthetic subjects. Every stream is addressed by (seed, purpose, frame), so a
// frame's noise does not depend on which frames were generated before it, and the same seed gives the same
// bits on every platform (32-bit integer arithmetic, Math.random never used).
//
// Core: a SplitMix32-style hash for seeding, then the "mulberry32" step. Gaussians by Box-Muller (two
// uniforms per pair, so the number of draws per value is fixed).

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** Purposes of the random streams; fixed numbers so adding one never shifts the others. */
export const STREAM = {
  identity: 1,
  motion: 2,
  landmarkNoise: 3,
  uvNoise: 4,
  normalNoise: 5,
  segNoise: 6,
  micaNoise: 7,
} as const;

export class Rng {
  private state: number;
  private spare: number | null = null;

  /** A stream for (seed, stream, frame); all integers (seed in [0, 2^32), frame >= 0). */
  constructor(seed: number, stream: number, frame = 0) {
    let h = mix32((seed >>> 0) ^ 0x9e3779b9);
    h = mix32((h + Math.imul(stream + 1, 0x632be5ab)) >>> 0);
    h = mix32((h + Math.imul(frame + 1, 0x85157af5)) >>> 0);
    this.state = h;
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  range(a: number, b: number): number {
    return a + (b - a) * this.uniform();
  }

  /** Standard normal. */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }
}

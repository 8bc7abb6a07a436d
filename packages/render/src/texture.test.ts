import { KernelArgumentError, setThreads } from '@pixel3dmm/kernels';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRng } from '@pixel3dmm/kernels/testing/random-flame';
import { texture, textureBackward, type TextureShape } from './texture.js';
import { referenceTexture, type WrapMode } from './testing/reference-raster.js';

/** The project's deterministic PRNG (mulberry32), uniform in [0, 1). */
const rng = (seed: number): (() => number) => makeRng(seed).uniform;

function randomArray(seed: number, n: number, lo: number, hi: number): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

const shape: TextureShape = { height: 37, width: 53, channels: 3 };
const tex = randomArray(1, 37 * 53 * 3, -1, 1);
const N = 3000;
const uv = randomArray(2, 2 * N, -0.7, 1.7);

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

afterAll(() => setThreads(0));

describe('texture', () => {
  for (const mode of ['wrap', 'clamp'] as WrapMode[]) {
    it(`forward matches the float64 reference (${mode})`, () => {
      const out = texture(tex, shape, uv, mode);
      const ref = referenceTexture(tex, shape.height, shape.width, shape.channels, uv, mode);
      let err = 0;
      for (let i = 0; i < out.length; i++) err = Math.max(err, Math.abs(out[i] - ref[i]));
      expect(err).toBeLessThanOrEqual(1e-6);
    });

    it(`uv gradient matches central differences of the reference (${mode})`, () => {
      const R = randomArray(3, N * shape.channels, -1, 1);
      const { gradUv, gradTex } = textureBackward(tex, shape, uv, R, mode);
      expect(gradTex).toBeNull();
      const h = 1e-7;
      let checked = 0;
      for (let p = 0; p < N; p++) {
        for (let a = 0; a < 2; a++) {
          const size = a === 0 ? shape.width : shape.height;
          const x = uv[2 * p + a];
          const s = x * size - 0.5;
          if (Math.abs(s - Math.round(s)) < 1e-3) continue; // texel-centre kink
          const one = (val: number): number => {
            const q = new Float64Array([uv[2 * p], uv[2 * p + 1]]);
            q[a] = val;
            return dot(referenceTexture(tex, shape.height, shape.width, shape.channels, q, mode), R.subarray(p * 3, p * 3 + 3));
          };
          const fd = (one(x + h) - one(x - h)) / (2 * h);
          expect(Math.abs(gradUv![2 * p + a] - fd)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(fd)));
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(1.9 * N);
    });

    it(`texture gradient is the exact adjoint of the (linear) lookup (${mode})`, () => {
      const R = randomArray(4, N * shape.channels, -1, 1);
      const { gradUv, gradTex } = textureBackward(tex, shape, uv, R, mode, { uv: false, tex: true });
      expect(gradUv).toBeNull();
      for (let trial = 0; trial < 3; trial++) {
        const d = randomArray(10 + trial, tex.length, -1, 1);
        const lhs = dot(gradTex!, d);
        const rhs = dot(referenceTexture(d, shape.height, shape.width, shape.channels, uv, mode), R);
        expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(rhs)));
      }
    });
  }

  it('non-finite uv samples 0 with zero gradients; 1x1 and 1-row textures work', () => {
    const u = new Float32Array([NaN, 0.5, 0.5, Infinity, 0.25, 0.75]);
    const t1 = new Float32Array([2, 3, 5]);
    const out = texture(t1, { height: 1, width: 3, channels: 1 }, u, 'wrap');
    const ref = referenceTexture(t1, 1, 3, 1, u, 'wrap');
    expect(Array.from(out.subarray(0, 2))).toEqual([0, 0]);
    expect(Math.abs(out[2] - ref[2])).toBeLessThan(1e-6);
    const g = textureBackward(t1, { height: 1, width: 3, channels: 1 }, u, new Float32Array([1, 1, 1]), 'wrap', { tex: true });
    expect(Array.from(g.gradUv!.subarray(0, 4))).toEqual([0, 0, 0, 0]);
    const one = texture(new Float32Array([7]), { height: 1, width: 1, channels: 1 }, new Float32Array([0.3, 0.9]), 'clamp');
    expect(one[0]).toBe(7);
  });

  it('is bitwise identical for 1, 2 and 7 threads', () => {
    const R = randomArray(5, N * shape.channels, -1, 1);
    const runs = [1, 2, 7].map((n) => {
      setThreads(n);
      const out = texture(tex, shape, uv, 'wrap');
      const g = textureBackward(tex, shape, uv, R, 'wrap', { tex: true });
      return [out, g.gradUv!, g.gradTex!];
    });
    for (const r of runs.slice(1)) for (let k = 0; k < 3; k++) expect(r[k]).toEqual(runs[0][k]);
  });

  it('a frame in a batch equals the frame alone (uv gradients)', () => {
    const R = randomArray(6, N * shape.channels, -1, 1);
    const all = textureBackward(tex, shape, uv, R, 'clamp');
    const half = textureBackward(tex, shape, uv.subarray(N), R.subarray((N / 2) * 3), 'clamp');
    expect(all.gradUv!.subarray(N)).toEqual(half.gradUv!);
    expect(texture(tex, shape, uv, 'clamp').subarray((N / 2) * 3)).toEqual(texture(tex, shape, uv.slice(N), 'clamp'));
  });

  it('rejects bad arguments with clear messages', () => {
    expect(() => texture(tex, { height: 0, width: 53, channels: 3 }, uv)).toThrow(KernelArgumentError);
    expect(() => texture(tex, { height: 37, width: 53, channels: 2 }, uv)).toThrow(/texture: expected a Float32Array of length 3922 for tex/);
    expect(() => texture(tex, shape, new Float32Array(3))).toThrow(/length 2\*N for uv/);
    expect(() => texture(tex, shape, uv, 'mirror' as WrapMode)).toThrow(/'wrap' or 'clamp' for mode/);
    expect(() => texture(tex, shape, uv, 'wrap', new Float32Array(5))).toThrow(/for out/);
    expect(() => textureBackward(tex, shape, uv, new Float32Array(7))).toThrow(/textureBackward: expected a Float32Array of length 9000 for gradOut/);
    expect(() => texture(new Float64Array(tex) as unknown as Float32Array, shape, uv)).toThrow(KernelArgumentError);
  });
});

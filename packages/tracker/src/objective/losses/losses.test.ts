// Every loss against an independent statement of its spec formula (closed forms, brute force) and its gradient
// against central differences.
import { makeRng } from '@pixel3dmm/kernels/testing/random-flame';
import { describe, expect, it } from 'vitest';
import { WFLW_TO_IBUG68 } from '@pixel3dmm/formats';
import { builtInFlameModel, syntheticMirrorIndex } from '@pixel3dmm/flame';
import type { Correspondences, FrameData } from '../../types.js';
import { eyeExclusion, normalLoss, silhouetteLoss, uvPixelLoss } from './dense.js';
import { normalLossReference, silhouetteLossReference, uvPixelLossReference } from './dense-reference.js';
import { KernelArgumentError, setThreads } from '@pixel3dmm/kernels';
import { closureLoss, EYELID_LOWER, EYELID_UPPER, EYES_68, landmarkLoss, landmarkTargets, vertexLandmarkLoss } from './landmarks.js';
import { eyeSymmetry, MirrorQuadratic, mirrorLossDirect, smoothness, squaredNormPerFrame } from './regularizers.js';
import { mirrorGramReference } from './mirror-gram-reference.js';
import { pixelTerms } from '../pixel-terms-native.js';
import { bruteForceCorrespondences, findCorrespondences, uvCorrespondenceLoss, UvGrid, VISIBILITY_MARGIN } from './uv-correspondence.js';
import { uvCorrespondenceLossReference } from './uv-correspondence-reference.js';

/** The project's seeded PRNG (mulberry32). */
const rng = (seed: number): (() => number) => makeRng(seed).uniform;

/** Central-difference check of d f / d x[i] for the listed indices of a float array. */
function checkGradient(
  x: Float32Array | Float64Array,
  f: () => number,
  grad: ArrayLike<number>,
  indices: number[],
  h: number,
  rel = 1e-3,
  abs = 1e-9,
): void {
  for (const i of indices) {
    const x0 = x[i];
    x[i] = x0 + h;
    const fp = f();
    x[i] = x0 - h;
    const fm = f();
    x[i] = x0;
    const fd = (fp - fm) / ((x0 + h - (x0 - h)) as number);
    expect(Math.abs(fd - grad[i]), `index ${i}: fd ${fd} vs analytic ${grad[i]}`).toBeLessThanOrEqual(abs + rel * Math.max(Math.abs(fd), Math.abs(grad[i])));
  }
}

describe('UV correspondences: nearest neighbours', () => {
  it('the grid search is exactly the brute-force 1-NN (index and squared distance), masked zeros and ties included', () => {
    const S = 48, r = rng(1);
    const uv = new Float32Array(2 * S * S);
    for (let i = 0; i < S * S; i++) {
      const masked = r() < 0.4; // the masked pixels of the network map are (0,0)
      if (!masked) {
        // A smooth map plus noise and a few exact duplicates (ties resolve to the lower index).
        uv[2 * i] = Math.min(1, Math.max(0, 0.3 + 0.4 * ((i % S) / S) + 0.02 * (r() - 0.5)));
        uv[2 * i + 1] = Math.min(1, Math.max(0, 0.2 + 0.5 * (Math.floor(i / S) / S) + 0.02 * (r() - 0.5)));
        if (i > 10 && r() < 0.05) {
          uv[2 * i] = uv[2 * i - 20];
          uv[2 * i + 1] = uv[2 * i - 19];
        }
      }
    }
    const J = 500;
    const q = new Float64Array(2 * J);
    for (let j = 0; j < J; j++) {
      // Mostly inside the map's range, some far outside [0,1] and some exactly on points.
      q[2 * j] = j % 50 === 0 ? 1.7 : j % 37 === 0 ? uv[2 * j] : r() * 1.2 - 0.1;
      q[2 * j + 1] = j % 50 === 0 ? -0.4 : j % 37 === 0 ? uv[2 * j + 1] : r() * 1.2 - 0.1;
    }
    const grid = new UvGrid(S);
    const a = findCorrespondences(grid, uv, q);
    const b = bruteForceCorrespondences(uv, S, q);
    expect(Array.from(a.pixels)).toEqual(Array.from(b.pixels));
    expect(Array.from(a.dist2)).toEqual(Array.from(b.dist2));
  });
});

describe('UV correspondence loss (6.1)', () => {
  const S = 32, V = 6, valid = Int32Array.of(1, 2, 4, 5);
  const setup = () => {
    const corr: Correspondences = {
      pixels: Int32Array.of(10, 12, 20, 5, 3, 3, 25, 30),
      dist2: Float32Array.of(1e-5, 1e-5, 1e-4 /* above delta_uv */, 0),
    };
    const projected = new Float32Array(3 * V);
    const pts = [
      [0, 0, -1],
      [11.3, 10.6, -1.0], // valid
      [19.2, 6.1, -1.0], // valid
      [0, 0, -1],
      [3.5, 3.5, -1.0], // masked by dist2
      [5.0, 31.9, -1.0], // |g - p|_1 = 20 + 1.9 >= 20: rejected
    ];
    pts.forEach((p, v) => projected.set(p, 3 * v));
    return { corr, projected };
  };
  const reference = (projected: Float32Array, corr: Correspondences, l2: boolean) => {
    // Spec: mean over (b, j, c) of (w (g - p)/S)² ·100, or of |w (g - p)/S|.
    let s = 0;
    for (let j = 0; j < valid.length; j++) {
      const v = valid[j];
      const dx = corr.pixels[2 * j] - projected[3 * v], dy = corr.pixels[2 * j + 1] - projected[3 * v + 1];
      const w = corr.dist2[j] < 5e-5 && Math.abs(dx) + Math.abs(dy) < 20 ? 1 : 0;
      s += l2 ? (w * dx / S) ** 2 + (w * dy / S) ** 2 : Math.abs((w * dx) / S) + Math.abs((w * dy) / S);
    }
    return ((l2 ? 100 : 1) * s) / (valid.length * 2);
  };
  for (const l2 of [true, false]) {
    it(`matches the spec's mean and its gradient (${l2 ? 'L2 ×100' : 'L1'})`, () => {
      const { corr, projected } = setup();
      const grad = new Float64Array(3 * V);
      const run = (g: Float64Array) =>
        uvCorrespondenceLoss({
          size: S, batch: 1, numVertices: V, valid, correspondences: [corr], projected, depth: null,
          deltaUv: 5e-5, distUv: 20, l2, weight: 7, gradProjected: g,
        });
      const value = run(grad);
      expect(value).toBeCloseTo(7 * reference(projected, corr, l2), 12);
      checkGradient(projected, () => run(new Float64Array(3 * V)), grad, [3, 4, 6, 7, 12, 13, 15, 16], 1e-2, 1e-3);
      expect(grad[12]).toBe(0); // masked by dist2
      expect(grad[15]).toBe(0); // beyond dist_uv
    });
  }
  it('visibility: truncated depth lookup at each frame\'s own pixels, rendered z < z_s + 0.01', () => {
    const { corr, projected } = setup();
    const B = 2;
    const proj2 = new Float32Array(2 * 3 * V);
    proj2.set(projected, 0);
    proj2.set(projected, 3 * V);
    // Frame 1: vertex 2 projects elsewhere (same correspondence) so that it reads a different depth pixel.
    proj2[3 * V + 3 * 2] = 18.7;
    proj2[3 * V + 3 * 2 + 1] = 4.2;
    const depth = new Float32Array(B * S * S);
    depth.fill(-1.0);
    depth[0 * S * S + 10 * S + 11] = -0.5; // frame 0, vertex 1 at (row 10, col 11): occluded by a nearer surface
    depth[1 * S * S + 4 * S + 18] = 0; // frame 1, vertex 2 at (row 4, col 18): background -> occluded
    const grad = new Float64Array(2 * 3 * V);
    const value = uvCorrespondenceLoss({
      size: S, batch: B, numVertices: V, valid, correspondences: [corr, corr], projected: proj2,
      depth: { data: depth, stride: 1, offset: 0 }, deltaUv: 5e-5, distUv: 20, l2: true, weight: 1, gradProjected: grad,
    });
    // Survivors: frame 0 vertex 2 (depth -1 < -1 + 0.01) and frame 1 vertex 1.
    const e = (dx: number, dy: number) => (dx * dx + dy * dy) / (S * S);
    const expected = (100 * (e(20 - 19.2, 5 - 6.1) + e(10 - 11.3, 12 - 10.6))) / (B * valid.length * 2);
    expect(value).toBeCloseTo(expected, 6);
    expect(grad[3 * 1]).toBe(0);
    expect(grad[3 * V + 3 * 2]).toBe(0);
    expect(grad[3 * 2]).not.toBe(0);
    expect(grad[3 * V + 3 * 1]).not.toBe(0);
  });

  it('the native pass gives the reference loop\'s bits: value and accumulated gradient, any frames, threads and options', () => {
    // Enough pairs that one frame is split into several blocks over the threads (the value is one chain of additions
    // over the frames and pairs in order; each pair's gradient goes onto its own vertex).
    const S = 64, V = 3000, r = rng(11);
    const increasing = Int32Array.from({ length: 2500 }, (_, j) => j + (j > 1200 ? 300 : 0));
    const shuffled = Int32Array.from(increasing).reverse();
    const bits = (a: Float64Array) => Array.from(new BigUint64Array(a.buffer, a.byteOffset, a.length));
    for (const B of [1, 3]) {
      const projected = Float32Array.from({ length: B * V * 3 }, (_, i) => (i % 3 === 2 ? -1 - r() * 0.2 : r() * S));
      projected[3 * 5] = NaN; // frame 0, vertex 5: a non-finite projection is never counted
      projected[3 * 7 + 1] = Infinity;
      projected[3 * 9] = -3.5; // left of the image: its depth read clamps to column 0
      const depth = Float32Array.from({ length: 2 * B * S * S }, () => -1 - r() * 0.2);
      // Rendered depths at the edge of the visibility test (z < z_s + margin, in float64) at a few hundred
      // vertices' pixels: a test made in float32, or with another margin, decides some of them otherwise.
      for (let v = 0; v < 600; v++) {
        const o = 3 * v, x = projected[o], y = projected[o + 1];
        if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
        const col = Math.min(S - 1, Math.max(0, Math.trunc(x))), row = Math.min(S - 1, Math.max(0, Math.trunc(y)));
        depth[2 * (row * S + col) + 1] = Math.fround(projected[o + 2] + VISIBILITY_MARGIN);
      }
      for (const valid of [increasing, shuffled]) {
        const J = valid.length;
        const correspondences = Array.from({ length: B }, (_, b) => ({
          pixels: Int32Array.from({ length: 2 * J }, (_, k) => Math.round(projected[3 * (b * V + valid[k >> 1]) + (k & 1)] + (r() - 0.5) * 30)),
          dist2: Float32Array.from({ length: J }, () => (r() < 0.8 ? r() * 4e-5 : 1e-3)),
        }));
        for (const l2 of [true, false]) {
          for (const withDepth of [false, true]) {
            const args = (gradProjected: Float64Array) => ({
              size: S, batch: B, numVertices: V, valid, correspondences, projected,
              depth: withDepth ? { data: depth, stride: 2, offset: 1 } : null,
              deltaUv: 5e-5, distUv: 20, targetOffset: [-0.5, 0.5] as [number, number], l2, weight: 0.7, gradProjected,
            });
            const start = () => Float64Array.from({ length: B * V * 3 }, (_, i) => (i % 4 === 0 ? 0.25 : 0));
            const gRef = start();
            const ref = uvCorrespondenceLossReference(args(gRef));
            expect(gRef.some((x, i) => x !== (i % 4 === 0 ? 0.25 : 0))).toBe(true);
            for (const threads of [1, 2, 3]) {
              setThreads(threads);
              const g = start();
              expect(uvCorrespondenceLoss(args(g))).toBe(ref);
              expect(bits(g)).toEqual(bits(gRef));
            }
            setThreads(0);
          }
        }
      }
    }
  });
  it('refuses a valid vertex outside the mesh and a depth image too small for the frames, naming them', () => {
    const corr = { pixels: new Int32Array(4), dist2: new Float32Array(2) };
    const base = { size: 8, batch: 1, numVertices: 2, correspondences: [corr], projected: new Float32Array(6), deltaUv: 1, distUv: 1, l2: true, weight: 1, gradProjected: new Float64Array(6) };
    expect(() => uvCorrespondenceLoss({ ...base, valid: Int32Array.of(0, 2), depth: null })).toThrow(/valid\[1\] = 2 is not a vertex index in \[0, 2\)/);
    expect(() => uvCorrespondenceLoss({ ...base, valid: Int32Array.of(0, 1), depth: { data: new Float32Array(63), stride: 1, offset: 0 } })).toThrow(/depth: stride 1 \/ offset 0 do not fit 64 pixels/);
  });
  it('uv_target_half_pixel: targetOffset moves every target (a vertex at g + (-1/2, +1/2) costs nothing)', () => {
    const S = 32, V = 2, valid = Int32Array.of(0, 1);
    const corr = { pixels: Int32Array.of(10, 12, 20, 5), dist2: Float32Array.of(0, 0) };
    const projected = Float32Array.of(9.5, 12.5, -1, 20, 5, -1);
    const run = (targetOffset?: [number, number]) => {
      const grad = new Float64Array(3 * V);
      const value = uvCorrespondenceLoss({
        size: S, batch: 1, numVertices: V, valid, correspondences: [corr], projected, depth: null,
        deltaUv: 5e-5, distUv: 20, l2: true, weight: 1, gradProjected: grad, ...(targetOffset ? { targetOffset } : {}),
      });
      return { value, grad };
    };
    const shifted = run([-0.5, 0.5]);
    // vertex 0 sits on its shifted target; vertex 1 (at g) is half a pixel off in x and y.
    expect(shifted.value).toBeCloseTo((100 * (0.25 + 0.25)) / (S * S) / (V * 2), 12);
    expect(shifted.grad[0]).toBe(0);
    expect(shifted.grad[1]).toBe(0);
    const plain = run();
    expect(plain.value).toBeCloseTo((100 * (0.25 + 0.25)) / (S * S) / (V * 2), 12);
    expect(plain.grad[3]).toBe(0);
  });
});

describe('dense terms (6.2-6.4)', () => {
  const S = 8, B = 2, P = S * S;
  const r = rng(5);
  const mask = () => Uint8Array.from({ length: P }, () => (r() < 0.7 ? 1 : 0));
  /** A dense gradient written instead into channels [offset, offset+C) of a stale 5-channel buffer: same bits, every pixel written, the other channels untouched. */
  const expectStridedSame = (dense: Float32Array, C: number, offset: number, write: (g: { data: Float32Array; stride: number; offset: number }) => void) => {
    const data = Float32Array.from({ length: 5 * B * P }, (_, i) => 1000 + i);
    write({ data, stride: 5, offset });
    for (let i = 0; i < B * P; i++) {
      for (let c = 0; c < 5; c++) {
        const inside = c >= offset && c < offset + C;
        expect(data[5 * i + c]).toBe(inside ? dense[C * i + c - offset] : 1000 + 5 * i + c);
      }
    }
  };
  it('uv_pixel: mean over B·S²·2 with the mask, ×100 (L2) or L1, and its gradient', () => {
    const targets = [0, 1].map(() => Float32Array.from({ length: 2 * P }, () => r()));
    const masks = [mask(), mask()];
    const rendered = Float32Array.from({ length: B * 2 * P }, () => r());
    for (const l2 of [true, false]) {
      const grad = new Float32Array(B * 2 * P);
      const v = uvPixelLoss({ size: S, batch: B }, targets, masks, rendered, l2, 3, grad);
      let s = 0;
      for (let b = 0; b < B; b++) for (let i = 0; i < P; i++) for (let c = 0; c < 2; c++) {
        const e = (targets[b][2 * i + c] - rendered[2 * (b * P + i) + c]) * masks[b][i];
        s += l2 ? e * e : Math.abs(e);
      }
      expect(v).toBeCloseTo(((l2 ? 300 : 3) * s) / (B * P * 2), 10);
      checkGradient(rendered, () => uvPixelLoss({ size: S, batch: B }, targets, masks, rendered, l2, 3, new Float32Array(B * 2 * P)), grad, [0, 5, 77, 130, 255], 1e-3, 2e-3, 1e-7);
      expectStridedSame(grad, 2, 0, (g) => expect(uvPixelLoss({ size: S, batch: B }, targets, masks, rendered, l2, 3, g)).toBe(v));
    }
  });
  it('eye exclusion equals a literal 13×13 Gaussian blur with reflect padding, thresholded at > 0', () => {
    const S2 = 40, k = 13;
    for (const pixels of [[[2, 3], [20, 20], [21, 20], [39, 39], [10, 37]], [[15, 12], [30, 14], [22, 25]], []]) {
    const eyes = new Float32Array(S2 * S2);
    for (const [x, y] of pixels) eyes[y * S2 + x] = 0.3;
    const out = new Uint8Array(S2 * S2);
    eyeExclusion(S2, k, eyes, 1, 0, 0, new Int32Array(S2 * S2), out);
    const refl = (i: number) => (i < 0 ? -i : i >= S2 ? 2 * (S2 - 1) - i : i);
    const sigma = 13, half = 6;
    for (let y = 0; y < S2; y++) for (let x = 0; x < S2; x++) {
      let blur = 0;
      for (let dy = -half; dy <= half; dy++) for (let dx = -half; dx <= half; dx++) {
        const wgt = Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
        blur += wgt * (eyes[refl(y + dy) * S2 + refl(x + dx)] > 0 ? 1 : 0);
      }
      expect(out[y * S2 + x], `pixel ${x},${y}`).toBe(blur > 0 ? 0 : 1);
    }
    // A search box that holds every eye pixel (tight, or wider) gives the same exclusion.
    const xs = pixels.map((p) => p[0]), ys = pixels.map((p) => p[1]);
    const tight = pixels.length ? { x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys), y1: Math.max(...ys) } : { x0: S2, x1: -1, y0: S2, y1: -1 };
    for (const box of [tight, { x0: tight.x0 - 3, x1: tight.x1 + 5, y0: tight.y0 - 1, y1: tight.y1 + 2 }]) {
      const boxed = new Uint8Array(S2 * S2).fill(7);
      eyeExclusion(S2, k, eyes, 1, 0, 0, new Int32Array(S2 * S2), boxed, box);
      expect(Array.from(boxed)).toEqual(Array.from(out));
    }
    // A box that misses an eye pixel misses its exclusion (the box is a promise the caller must keep).
    if (pixels.length > 1) {
      const missing = new Uint8Array(S2 * S2);
      eyeExclusion(S2, k, eyes, 1, 0, 0, new Int32Array(S2 * S2), missing, { x0: xs[0], x1: xs[0], y0: ys[0], y1: ys[0] });
      expect(Array.from(missing)).not.toEqual(Array.from(out));
    }
    }
  });
  it('normals: outlier threshold on mean|Δ|, masks, E; mean over B·3·S² and its gradient', () => {
    const targets = [0, 1].map(() => Float32Array.from({ length: 3 * P }, () => r() * 2 - 1));
    const rendered = new Float32Array(B * 3 * P);
    for (let b = 0; b < B; b++) for (let i = 0; i < 3 * P; i++) rendered[b * 3 * P + i] = targets[b][i] + (r() < 0.2 ? 0.9 : 0.3) * (r() - 0.5);
    const masks = [mask(), mask()];
    const excl = Uint8Array.from({ length: B * P }, () => (r() < 0.8 ? 1 : 0));
    for (const l2 of [false, true]) {
      const grad = new Float32Array(B * 3 * P);
      const v = normalLoss({ size: S, batch: B }, targets, masks, excl, rendered, 3, 0, 0.33, l2, 11, grad);
      let s = 0, kept = 0;
      for (let b = 0; b < B; b++) for (let i = 0; i < P; i++) {
        const d = [0, 1, 2].map((c) => targets[b][3 * i + c] - rendered[3 * (b * P + i) + c]);
        const valid = (Math.abs(d[0]) + Math.abs(d[1]) + Math.abs(d[2])) / 3 < 0.33 ? 1 : 0;
        kept += valid * masks[b][i] * excl[b * P + i];
        for (const e of d) s += l2 ? (e * valid * masks[b][i] * excl[b * P + i]) ** 2 : Math.abs(e * valid * masks[b][i] * excl[b * P + i]);
      }
      expect(kept).toBeGreaterThan(10);
      expect(v).toBeCloseTo((11 * s) / (B * 3 * P), 10);
      checkGradient(rendered, () => normalLoss({ size: S, batch: B }, targets, masks, excl, rendered, 3, 0, 0.33, l2, 11, new Float32Array(B * 3 * P)), grad, [0, 4, 50, 200, 300], 1e-4, 5e-3, 1e-6);
      expectStridedSame(grad, 3, 2, (g) => expect(normalLoss({ size: S, batch: B }, targets, masks, excl, rendered, 3, 0, 0.33, l2, 11, g)).toBe(v));
    }
  });
  it('silhouette: one-sided |valid_bg (fg_mask - fg)|, mean over B·S², and its gradient', () => {
    const fgm = [mask(), mask()], vbg = [mask(), mask()];
    const rendered = Float32Array.from({ length: B * P }, () => r());
    const grad = new Float32Array(B * P);
    const v = silhouetteLoss({ size: S, batch: B }, fgm, vbg, rendered, 50, grad);
    let s = 0;
    for (let b = 0; b < B; b++) for (let i = 0; i < P; i++) s += Math.abs(vbg[b][i] * (fgm[b][i] - rendered[b * P + i]));
    expect(v).toBeCloseTo((50 * s) / (B * P), 10);
    checkGradient(rendered, () => silhouetteLoss({ size: S, batch: B }, fgm, vbg, rendered, 50, new Float32Array(B * P)), grad, [1, 9, 70, 100], 1e-3, 2e-3, 1e-7);
  });
});

describe('dense terms: the native passes against the reference loops', () => {
  // 70² = 4900 pixels: two blocks of the native pass (4096 and a partial one) when frames are split.
  const S = 70, B = 3, P = S * S;
  const r = rng(17);
  const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
  /** Values with the edge cases of each loop: exact zeros (sign 0, -0 gradients), NaN, a few large errors. */
  const value = () => {
    const u = r();
    return u < 0.05 ? 0 : u < 0.07 ? Number.NaN : u < 0.1 ? 5 * (r() - 0.5) : r() * 2 - 1;
  };
  const mask = (p = 0.7) => Uint8Array.from({ length: P }, () => (r() < p ? 1 : 0));
  /** A stale 5-channel buffer for a strided gradient (the render's backward layout). */
  const stale = () => Float32Array.from({ length: 5 * B * P }, (_, i) => 1000 + i);
  it('uv_pixel, normals and silhouette: the same loss value and gradient bits, dense and strided, L2 and L1, over several frames, any thread count', () => {
    const uvTargets = [0, 1, 2].map(() => Float32Array.from({ length: 2 * P }, value));
    const uvRendered = Float32Array.from({ length: B * 2 * P }, value);
    // Some rendered values equal to their targets (error exactly 0).
    for (let i = 0; i < B * 2 * P; i += 7) uvRendered[i] = uvTargets[Math.floor(i / (2 * P))][i % (2 * P)];
    const nTargets = [0, 1, 2].map(() => Float32Array.from({ length: 3 * P }, value));
    const aux = Float32Array.from({ length: 9 * B * P }, value);
    // Errors right at the outlier threshold: mean |e| = deltaN exactly (excluded: the test is <).
    const deltaN = 0.375;
    for (let i = 0; i < B * P; i += 11) {
      const t = nTargets[Math.floor(i / P)], q = i % P;
      for (let c = 0; c < 3; c++) aux[9 * i + 2 + c] = t[3 * q + c] + (c === 0 ? 0.375 * 3 : 0);
    }
    const masks = [mask(), mask(), mask()], excl = Uint8Array.from({ length: B * P }, () => (r() < 0.9 ? 1 : 0));
    const fg = [mask(0.5), mask(0.5), mask(0.5)], vbg = [mask(), mask(), mask()];
    const fgRendered = Float32Array.from({ length: B * P }, () => (r() < 0.3 ? 1 : r() < 0.1 ? 0 : r()));
    const d = { size: S, batch: B };
    // The frames of a batch run in parallel (with more threads than frames, blocks of 4096 pixels of each frame, the
    // last one partial here, their terms added in pixel order afterwards): any thread count gives the reference's bits.
    for (const [l2, threads] of [[true, 1], [false, 3], [true, 0], [false, 0], [true, 7], [false, 7]] as const) {
      setThreads(threads);
      for (const layout of ['dense', 'strided'] as const) {
        const gA = layout === 'dense' ? new Float32Array(B * 2 * P) : stale(), gB = gA.slice();
        const at = (g: Float32Array) => (layout === 'dense' ? g : { data: g, stride: 5, offset: 0 });
        expect(Object.is(uvPixelLoss(d, uvTargets, masks, uvRendered, l2, 3, at(gA)), uvPixelLossReference(d, uvTargets, masks, uvRendered, l2, 3, at(gB)))).toBe(true);
        expect(bits(gA)).toEqual(bits(gB));
        const hA = layout === 'dense' ? new Float32Array(B * 3 * P) : stale(), hB = hA.slice();
        const atN = (g: Float32Array) => (layout === 'dense' ? g : { data: g, stride: 5, offset: 2 });
        const vN = normalLoss(d, nTargets, masks, excl, aux, 9, 2, deltaN, l2, 11, atN(hA));
        expect(Object.is(vN, normalLossReference(d, nTargets, masks, excl, aux, 9, 2, deltaN, l2, 11, atN(hB)))).toBe(true);
        expect(bits(hA)).toEqual(bits(hB));
      }
    }
    const sA = Float32Array.from({ length: B * P }, () => 9), sB = sA.slice();
    expect(Object.is(silhouetteLoss(d, fg, vbg, fgRendered, 50, sA), silhouetteLossReference(d, fg, vbg, fgRendered, 50, sB))).toBe(true);
    expect(bits(sA)).toEqual(bits(sB));
    // Without the NaN inputs the losses are finite and not zero (the comparisons above are not of NaNs alone).
    const clean = uvRendered.map((x) => (Number.isNaN(x) ? 0 : x));
    const cleanTargets = uvTargets.map((t) => t.map((x) => (Number.isNaN(x) ? 0 : x)));
    const v = uvPixelLoss(d, cleanTargets, masks, clean, true, 3, new Float32Array(B * 2 * P));
    expect(Number.isFinite(v) && v > 0).toBe(true);
    expect(Object.is(v, uvPixelLossReference(d, cleanTargets, masks, clean, true, 3, new Float32Array(B * 2 * P)))).toBe(true);
  });
  it('adds the frames\' sums in frame order (1 + 2^-53 + 2^-53 is 1 that way, 1 + 2^-52 the other)', () => {
    const d = { size: S, batch: B };
    const masks = [0, 1, 2].map(() => Uint8Array.from({ length: P }, (_, i) => (i === 7 ? 1 : 0)));
    const targets = [1, 2 ** -53, 2 ** -53].map((e) => Float32Array.from({ length: 2 * P }, (_, i) => (i === 14 ? e : 0)));
    const rendered = new Float32Array(B * 2 * P);
    const v = uvPixelLoss(d, targets, masks, rendered, false, B * P * 2, new Float32Array(B * 2 * P));
    expect(v).toBe(1);
    expect(uvPixelLossReference(d, targets, masks, rendered, false, B * P * 2, new Float32Array(B * 2 * P))).toBe(1);
  });
  it('refuses frames, masks and gradient layouts that do not match the size, naming them', () => {
    const d = { size: S, batch: B };
    const targets = [0, 1, 2].map(() => new Float32Array(2 * P)), masks = [mask(), mask(), mask()];
    const rendered = new Float32Array(B * 2 * P);
    expect(() => uvPixelLoss(d, targets.slice(0, 2), masks, rendered, true, 1, new Float32Array(B * 2 * P))).toThrow(KernelArgumentError);
    expect(() => uvPixelLoss(d, targets, [masks[0], masks[1], new Uint8Array(P - 1)], rendered, true, 1, new Float32Array(B * 2 * P))).toThrow(new RegExp(`uvPixelLoss: expected a Uint8Array of length ${P} for masks\\[2\\]`));
    expect(() => uvPixelLoss(d, targets, masks, rendered, true, 1, new Float32Array(B * 2 * P - 1))).toThrow(/uvPixelLoss: .* for grad/);
    expect(() => uvPixelLoss(d, targets, masks, rendered, true, 1, { data: new Float32Array(5 * B * P), stride: 5, offset: 4 })).toThrow(/for grad/);
    const nt = [0, 1, 2].map(() => new Float32Array(3 * P));
    expect(() => normalLoss(d, nt, masks, new Uint8Array(B * P), new Float32Array(9 * B * P), 9, 7, 0.3, false, 1, new Float32Array(3 * B * P))).toThrow(/normalLoss: .* for rendered/);
    expect(() => silhouetteLoss(d, masks, masks, new Float32Array(B * P), 1, new Float32Array(B * P - 1))).toThrow(/silhouetteLoss: .* for grad/);
  });
});

describe('landmark terms (6.5)', () => {
  const S = 64, B = 2;
  const r = rng(9);
  const frames: FrameData[] = [0, 1].map((b) => {
    const landmarks98 = Float32Array.from({ length: 196 }, () => r() * S);
    const landmarkValid = Uint8Array.from({ length: 98 }, (_, k) => (k === WFLW_TO_IBUG68[37] && b === 1 ? 0 : 1));
    return { landmarks98, landmarkValid } as unknown as FrameData;
  });
  const t = landmarkTargets(frames);
  const projLmk = Float32Array.from({ length: B * 68 * 3 }, () => r() * S);
  it('lmk: mean((a/S - b/S)²·m) over B·n·2, and its gradient', () => {
    const grad = new Float64Array(B * 68 * 3);
    const v = landmarkLoss(S, t, projLmk, EYES_68, 5000, grad);
    let s = 0;
    for (let b = 0; b < B; b++) for (const k of EYES_68) {
      const w = WFLW_TO_IBUG68[k];
      const m = frames[b].landmarkValid[w];
      for (let c = 0; c < 2; c++) s += ((projLmk[3 * (b * 68 + k) + c] - frames[b].landmarks98[2 * w + c]) / S) ** 2 * m;
    }
    expect(v).toBeCloseTo((5000 * s) / (B * 12 * 2), 8);
    checkGradient(projLmk, () => landmarkLoss(S, t, projLmk, EYES_68, 5000, new Float64Array(B * 68 * 3)), grad, [3 * 36, 3 * 40 + 1, 3 * (68 + 37), 3 * (68 + 47) + 1], 1e-2);
    expect(grad[3 * (68 + 37)]).toBe(0); // invalid in frame 1
  });
  it('eyelid closure: diffs upper - lower, masked by the upper landmark, and its gradient', () => {
    const grad = new Float64Array(B * 68 * 3);
    const v = closureLoss(S, t, projLmk, EYELID_UPPER, EYELID_LOWER, 5e5, grad);
    let s = 0;
    for (let b = 0; b < B; b++) for (let k = 0; k < 4; k++) {
      const u = EYELID_UPPER[k], l = EYELID_LOWER[k];
      const m = frames[b].landmarkValid[WFLW_TO_IBUG68[u]];
      for (let c = 0; c < 2; c++) {
        const dp = projLmk[3 * (b * 68 + u) + c] - projLmk[3 * (b * 68 + l) + c];
        const di = frames[b].landmarks98[2 * WFLW_TO_IBUG68[u] + c] - frames[b].landmarks98[2 * WFLW_TO_IBUG68[l] + c];
        s += ((dp - di) ** 2 / (S * S)) * m;
      }
    }
    expect(v).toBeCloseTo((5e5 * s) / (B * 4 * 2), 6);
    checkGradient(projLmk, () => closureLoss(S, t, projLmk, EYELID_UPPER, EYELID_LOWER, 5e5, new Float64Array(B * 68 * 3)), grad, [3 * 37, 3 * 41 + 1, 3 * 44, 3 * (68 + 46)], 1e-2);
  });
  it('iris: one vertex against one WFLW landmark', () => {
    const V = 10;
    const proj = Float32Array.from({ length: B * V * 3 }, () => r() * S);
    const grad = new Float64Array(B * V * 3);
    const v = vertexLandmarkLoss(S, t, proj, V, 7, 96, 5e4, grad);
    let s = 0;
    for (let b = 0; b < B; b++) for (let c = 0; c < 2; c++) s += ((proj[3 * (b * V + 7) + c] - frames[b].landmarks98[2 * 96 + c]) / S) ** 2;
    expect(v).toBeCloseTo((5e4 * s) / (B * 2), 8);
    checkGradient(proj, () => vertexLandmarkLoss(S, t, proj, V, 7, 96, 5e4, new Float64Array(B * V * 3)), grad, [21, 22, 3 * (V + 7)], 1e-2);
  });
});

describe('regularisers (6.6) and smoothness (6.7)', () => {
  const r = rng(3);
  it('squared norms around a centre, eye symmetry and smoothness: values and gradients', () => {
    const B = 3;
    const xs = [0, 1, 2].map(() => Float64Array.from({ length: 12 }, () => r() - 0.5));
    const gs = xs.map(() => new Float64Array(12));
    const I = [1, 0, 0, 0, 1, 0];
    const f1 = () => squaredNormPerFrame(xs, I, 0.01, xs.map(() => new Float64Array(12)), 6, 12);
    const v1 = squaredNormPerFrame(xs, I, 0.01, gs, 6, 12);
    let s = 0;
    for (const x of xs) for (let k = 0; k < 6; k++) s += (x[6 + k] - I[k]) ** 2;
    expect(v1).toBeCloseTo((0.01 * s) / B, 14);
    checkGradient(xs[1], f1, gs[1], [5, 6, 9, 11], 1e-5, 1e-6);
    const gs2 = xs.map(() => new Float64Array(12));
    eyeSymmetry(xs, 0.1, gs2);
    checkGradient(xs[2], () => eyeSymmetry(xs, 0.1, xs.map(() => new Float64Array(12))), gs2[2], [0, 3, 6, 11], 1e-5, 1e-6);
    const gs3 = xs.map(() => new Float64Array(12));
    const v3 = smoothness(xs, 50, gs3);
    let s3 = 0;
    for (let b = 0; b + 1 < B; b++) for (let k = 0; k < 12; k++) s3 += (xs[b + 1][k] - xs[b][k]) ** 2;
    expect(v3).toBeCloseTo((50 * s3) / ((B - 1) * 12), 12);
    for (let b = 0; b < B; b++) checkGradient(xs[b], () => smoothness(xs, 50, xs.map(() => new Float64Array(12))), gs3[b], [0, 7], 1e-5, 1e-6);
  });
  it('mirror: the native Gram matrix has the reference loop\'s bits (chunk and vector tails, the pair split anywhere)', () => {
    for (const [K, n, n2] of [[37, 600, 300], [21, 700, 0], [5, 513, 513], [40, 257, 256]]) {
      const A = Float32Array.from({ length: K * n }, () => (r() - 0.5) * (r() < 0.1 ? 1e3 : 1));
      const ref = mirrorGramReference(A, K, n, n2);
      // Any thread count gives the reference's bits (each entry is one task's chain of adds).
      for (const threads of [1, 3, 0]) {
        setThreads(threads);
        const Q = new Float64Array(K * K).fill(Number.NaN);
        pixelTerms().mirrorGram({ A, K, n, n2, Q });
        expect(Array.from(new BigUint64Array(Q.buffer)), `K ${K}, n ${n}, n2 ${n2}, ${threads} threads`).toEqual(Array.from(new BigUint64Array(ref.buffer)));
      }
    }
  });
  it('mirror: the native row products have the plain loop\'s bits (row tails, partial columns), sizes checked', () => {
    const K = 23;
    const Q = Float64Array.from({ length: K * K }, () => (r() - 0.5) * (r() < 0.1 ? 1e6 : 1));
    const x = Float64Array.from({ length: K + 3 }, () => (r() - 0.5) * 3);
    for (const [row0, rows, col0, length] of [[0, K, 0, K], [0, 7, 5, 18], [9, 14, 9, 14], [3, 1, 0, 0], [22, 1, 22, 1], [0, 0, 0, 5]]) {
      const out = new Float64Array(rows + 2).fill(Number.NaN);
      pixelTerms().mirrorRowDots({ Q, K, row0, rows, col0, length, x, out });
      const ref = new Float64Array(rows + 2).fill(Number.NaN);
      for (let i = 0; i < rows; i++) {
        let s = 0;
        for (let l = 0; l < length; l++) s += Q[(row0 + i) * K + col0 + l] * x[l];
        ref[i] = s;
      }
      // Bitwise, and nothing written past rows.
      expect(Array.from(new BigUint64Array(out.buffer)), `rows ${row0}+${rows}, columns ${col0}+${length}`).toEqual(Array.from(new BigUint64Array(ref.buffer)));
    }
    const args = { Q, K, row0: 0, rows: 4, col0: 0, length: 4, x, out: new Float64Array(4) };
    expect(() => pixelTerms().mirrorRowDots({ ...args, row0: 20 })).toThrow(/rows must be in \[0, 3\]/);
    expect(() => pixelTerms().mirrorRowDots({ ...args, col0: 21 })).toThrow(/length must be in \[0, 2\]/);
    expect(() => pixelTerms().mirrorRowDots({ ...args, out: new Float64Array(3) })).toThrow(/out must be a Float64Array of at least rows \(4\)/);
    expect(() => pixelTerms().mirrorRowDots({ ...args, x: new Float64Array(3) })).toThrow(/x must be a Float64Array of at least length \(4\)/);
    expect(() => pixelTerms().mirrorRowDots({ ...args, Q: new Float64Array(K) })).toThrow(/Q must have 529 elements/);
  });
  it('mirror: the precomputed quadratic equals the direct evaluation, with its gradient', () => {
    // The built-in head with its first 24 shape and 12 expression components (the same math at a fraction of
    // the Gram matrix's cost).
    const full = builtInFlameModel(0);
    const n3 = 3 * full.numVertices;
    const model = { ...full, numShape: 24, numExpression: 12, shapeBasis: full.shapeBasis.subarray(0, 24 * n3), exprBasis: full.exprBasis.subarray(0, 12 * n3) };
    // An imperfect mirror index (as FLAME's): swap a few partners so the template's residual is non-zero.
    const mirror = syntheticMirrorIndex();
    for (const v of [10, 200, 3000, 4000]) mirror[v] = mirror[v + 1];
    const mq = new MirrorQuadratic(model, mirror);
    const shape = Float64Array.from({ length: model.numShape }, () => (r() - 0.5) * 2);
    const exprs = [0, 1].map(() => Float64Array.from({ length: model.numExpression }, () => (r() - 0.5) * 2));
    const gShape = new Float64Array(model.numShape), gExpr = exprs.map(() => new Float64Array(model.numExpression));
    const value = mq.evaluate(shape, exprs, 5000, gShape, gExpr);
    const direct = (mirrorLossDirect(model, mirror, shape, exprs[0], 5000) + mirrorLossDirect(model, mirror, shape, exprs[1], 5000)) / 2;
    expect(Math.abs(value - direct)).toBeLessThan(1e-9 * Math.max(1, direct));
    const f = () => mq.evaluate(shape, exprs, 5000, new Float64Array(model.numShape), exprs.map(() => new Float64Array(model.numExpression)));
    checkGradient(shape, f, gShape, [0, 7, 15, 23], 1e-4, 1e-5, 1e-8);
    checkGradient(exprs[1], f, gExpr[1], [0, 3, 11], 1e-4, 1e-5, 1e-8);
    // Unchanged β reuses the shape products; a changed β must not.
    const again = mq.evaluate(shape, exprs, 5000, new Float64Array(model.numShape), exprs.map(() => new Float64Array(model.numExpression)));
    expect(again).toBe(value);
    // Without a shape gradient (shape frozen): the same value and expression gradients.
    const gExprFrozen = exprs.map(() => new Float64Array(model.numExpression));
    expect(mq.evaluate(shape, exprs, 5000, null, gExprFrozen)).toBe(value);
    expect(gExprFrozen.map((g) => Array.from(g))).toEqual(gExpr.map((g) => Array.from(g)));
    shape[3] += 0.5;
    const moved = mq.evaluate(shape, exprs, 5000, new Float64Array(model.numShape), exprs.map(() => new Float64Array(model.numExpression)));
    const movedDirect = (mirrorLossDirect(model, mirror, shape, exprs[0], 5000) + mirrorLossDirect(model, mirror, shape, exprs[1], 5000)) / 2;
    expect(Math.abs(moved - movedDirect)).toBeLessThan(1e-9 * Math.max(1, movedDirect));
    expect(Math.abs(gShape[0])).toBeGreaterThan(0);
  }, 20000);
});

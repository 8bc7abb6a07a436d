import { KernelArgumentError, setThreads } from '@pixel3dmm/kernels';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRng } from '@pixel3dmm/kernels/testing/random-flame';
import { antialias, antialiasBackward, antialiasTopology, antialiasWorkBuffer } from './antialias.js';
import { rasterize, type RastShape } from './raster.js';
import {
  referenceAntialias,
  referenceAntialiasPairs,
  referenceAntialiasTopology,
  type AntialiasPairs,
} from './testing/reference-raster.js';

/** The project's deterministic PRNG (mulberry32), uniform in [0, 1). */
const rng = (seed: number): (() => number) => makeRng(seed).uniform;

function randomArray(seed: number, n: number, lo: number, hi: number): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

interface Scene {
  pos: Float32Array;
  V: number;
  tri: Int32Array;
  shape: RastShape;
  rast: Float32Array;
  opp: Int32Array;
}

function makeScene(pos: Float32Array, V: number, tri: Int32Array, batch: number, height: number, width: number): Scene {
  const shape = { batch, height, width };
  const rast = rasterize(pos, V, tri, batch, height, width);
  return { pos, V, tri, shape, rast, opp: antialiasTopology(tri, V) };
}

/** Separate random triangles at random depths (silhouettes against background and against each other). */
function randomTriangles(seed: number, T: number, B: number, H: number, W: number): Scene {
  const r = rng(seed);
  const V = 3 * T;
  const pos = new Float32Array(B * V * 4);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const cx = r() * 2 - 1;
      const cy = r() * 2 - 1;
      for (let k = 0; k < 3; k++) {
        const w = 0.5 + 2 * r();
        const o = (b * V + 3 * t + k) * 4;
        pos[o] = (cx + (r() - 0.5) * 1.2) * w;
        pos[o + 1] = (cy + (r() - 0.5) * 1.2) * w;
        pos[o + 2] = (r() * 1.8 - 0.9) * w;
        pos[o + 3] = w;
      }
    }
  }
  const tri = new Int32Array(3 * T).map((_, i) => i);
  return makeScene(pos, V, tri, B, H, W);
}

/** A bumpy height field seen obliquely in perspective: folds give silhouettes against the surface itself. */
function foldedSurface(seed: number, n: number, B: number, H: number, W: number): Scene {
  const r = rng(seed);
  const V = n * n;
  const pos = new Float32Array(B * V * 4);
  for (let b = 0; b < B; b++) {
    const phase = r() * 6;
    const tilt = 1.0 + 0.2 * r();
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        const x = (i / (n - 1) - 0.5) * 1.6 + (r() - 0.5) * 0.02;
        const y0 = (j / (n - 1) - 0.5) * 1.6 + (r() - 0.5) * 0.02;
        const h = 0.25 * Math.sin(5 * x + phase) * Math.cos(4 * y0);
        // rotate (y0, h) about the x axis, then push away from the camera
        const y = y0 * Math.cos(tilt) - h * Math.sin(tilt);
        const z = -3 + y0 * Math.sin(tilt) + h * Math.cos(tilt);
        const f = 2.2;
        const near = 0.1;
        const far = 50;
        const o = (b * V + j * n + i) * 4;
        pos[o] = f * x;
        pos[o + 1] = f * y;
        pos[o + 2] = (-(far + near) / (far - near)) * z + (-2 * far * near) / (far - near);
        pos[o + 3] = -z;
      }
    }
  }
  const t: number[] = [];
  for (let j = 0; j + 1 < n; j++) {
    for (let i = 0; i + 1 < n; i++) {
      const a = j * n + i;
      if ((i + j) % 2 === 0) t.push(a, a + 1, a + n + 1, a, a + n + 1, a + n);
      else t.push(a, a + 1, a + n, a + 1, a + n + 1, a + n);
    }
  }
  return makeScene(pos, V, new Int32Array(t), B, H, W);
}

function samePairs(a: AntialiasPairs, b: AntialiasPairs): boolean {
  for (let i = 0; i < a.target.length; i++) {
    if (a.target[i] !== b.target[i] || a.tri[i] !== b.tri[i] || a.edge[i] !== b.edge[i]) return false;
    // a crossing at the clamp limit (dF = 0 or 1) is a kink: the difference quotient straddles it
    const ca = a.dF[i] === 0 || a.dF[i] === 1;
    const cb = b.dF[i] === 0 || b.dF[i] === 1;
    if (ca !== cb || (ca && a.dF[i] !== b.dF[i])) return false;
  }
  return true;
}

/** Rows per band of the CPU antialias kernel (kBand in native/src/raster/antialias_cpu.cc; its work-buffer layout). */
const ROWS_PER_BAND = 8;

const scenes: [string, () => Scene][] = [
  ['random triangles', () => randomTriangles(11, 30, 2, 48, 56)],
  ['folded surface', () => foldedSurface(12, 14, 2, 64, 60)],
  // Many small triangles (most neighbouring pixels differ in triangle id), rows wider than one 64-bit mask word
  // and a height that ends in a partial band (ROWS_PER_BAND): the sparse band path of the kernel.
  ['fine folded surface, 150x196', () => foldedSurface(13, 50, 2, 150, 196)],
];

afterAll(() => setThreads(0));

describe('antialiasTopology', () => {
  it('equals the reference topology (including degenerate and non-manifold triangles)', () => {
    const s = foldedSurface(3, 8, 1, 8, 8);
    expect(antialiasTopology(s.tri, s.V)).toEqual(referenceAntialiasTopology(s.tri));
    const tri = new Int32Array([0, 1, 2, 1, 0, 3, 0, 1, 4, 2, 2, 3, 3, 2, 5, 5, 2, 6]);
    expect(antialiasTopology(tri, 7)).toEqual(referenceAntialiasTopology(tri));
  });
});

describe('antialias', () => {
  for (const [name, make] of scenes) {
    describe(name, () => {
      const s = make();
      const C = 3;
      const pixels = s.shape.batch * s.shape.height * s.shape.width;
      const color = randomArray(21, pixels * C, 0, 1);

      it('forward matches the float64 reference (same pixels touched, values <= 1e-5)', () => {
        const out = antialias(color, C, s.rast, s.shape, s.pos, s.V, s.tri, s.opp);
        const ref = referenceAntialias(color, C, s.rast, s.shape.batch, s.shape.height, s.shape.width, s.pos, s.V, s.tri, s.opp);
        let err = 0;
        let touchedK = 0;
        let touchedR = 0;
        for (let p = 0; p < pixels; p++) {
          let tk = false;
          let tr = false;
          for (let c = 0; c < C; c++) {
            const i = p * C + c;
            err = Math.max(err, Math.abs(out[i] - ref[i]));
            if (Math.abs(out[i] - color[i]) > 1e-4) tk = true;
            if (Math.abs(ref[i] - color[i]) > 1e-4) tr = true;
          }
          if (tk) touchedK++;
          if (tr) touchedR++;
          expect(tk).toBe(tr);
        }
        expect(err).toBeLessThanOrEqual(1e-5);
        expect(touchedK).toBe(touchedR);
        expect(touchedK).toBeGreaterThan(20);
        // the opp argument is optional
        expect(antialias(color, C, s.rast, s.shape, s.pos, s.V, s.tri)).toEqual(out);
      });

      it('colour gradient is the exact adjoint of the (linear in colour) forward', () => {
        const R = randomArray(22, pixels * C, -1, 1);
        const { gradColor } = antialiasBackward(color, C, s.rast, s.shape, s.pos, s.V, s.tri, R, s.opp, { pos: false });
        for (let trial = 0; trial < 3; trial++) {
          const d = randomArray(30 + trial, pixels * C, -1, 1);
          const lhs = dot(gradColor!, d);
          const rhs = dot(referenceAntialias(d, C, s.rast, s.shape.batch, s.shape.height, s.shape.width, s.pos, s.V, s.tri, s.opp), R);
          expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(rhs)));
        }
      });

      it('position gradient matches central differences of the reference where the pair set is fixed', () => {
        const R = randomArray(23, pixels * C, -1, 1);
        const { gradPos } = antialiasBackward(color, C, s.rast, s.shape, s.pos, s.V, s.tri, R, s.opp, { color: false });
        const { batch: B, height: H, width: W } = s.shape;
        const base = referenceAntialiasPairs(s.rast, B, H, W, s.pos, s.V, s.tri, s.opp);
        const r = rng(24);
        let checked = 0;
        for (let trial = 0; trial < 12; trial++) {
          const delta = new Float64Array(s.pos.length);
          for (let i = 0; i < delta.length; i++) delta[i] = i % 4 === 2 ? 0 : (r() - 0.5) * (i % 4 === 3 ? 0.1 : 1);
          const h = 1e-6;
          const plus = Float64Array.from(s.pos, (v, i) => v + h * delta[i]);
          const minus = Float64Array.from(s.pos, (v, i) => v - h * delta[i]);
          if (!samePairs(base, referenceAntialiasPairs(s.rast, B, H, W, plus, s.V, s.tri, s.opp))) continue;
          if (!samePairs(base, referenceAntialiasPairs(s.rast, B, H, W, minus, s.V, s.tri, s.opp))) continue;
          const Lp = dot(referenceAntialias(color, C, s.rast, B, H, W, plus, s.V, s.tri, s.opp), R);
          const Lm = dot(referenceAntialias(color, C, s.rast, B, H, W, minus, s.V, s.tri, s.opp), R);
          const fd = (Lp - Lm) / (2 * h);
          const an = dot(gradPos!, delta);
          expect(Math.abs(an - fd)).toBeLessThanOrEqual(2e-3 * (1 + Math.abs(fd)));
          checked++;
        }
        expect(checked).toBeGreaterThanOrEqual(6);
        for (let i = 2; i < gradPos!.length; i += 4) expect(gradPos![i]).toBe(0);
      });

      it('is bitwise identical for 1, 2 and 7 threads', () => {
        const R = randomArray(25, pixels * C, -1, 1);
        const runs = [1, 2, 7].map((n) => {
          setThreads(n);
          const out = antialias(color, C, s.rast, s.shape, s.pos, s.V, s.tri, s.opp);
          const g = antialiasBackward(color, C, s.rast, s.shape, s.pos, s.V, s.tri, R, s.opp);
          return [out, g.gradColor!, g.gradPos!];
        });
        setThreads(0);
        for (const run of runs.slice(1)) for (let k = 0; k < 3; k++) expect(run[k]).toEqual(runs[0][k]);
      });

      it('with a work buffer: the forward is unchanged and the backward identical bit for bit (1, 2, 7 threads)', () => {
        const R = randomArray(27, pixels * C, -1, 1);
        // The records depend on the geometry only: a backward for another colour (and channel count) uses them too.
        const C2 = 2;
        const color2 = randomArray(28, pixels * C2, -2, 2);
        const R2 = randomArray(29, pixels * C2, -1, 1);
        const plain = antialias(color, C, s.rast, s.shape, s.pos, s.V, s.tri, s.opp);
        const g = antialiasBackward(color, C, s.rast, s.shape, s.pos, s.V, s.tri, R, s.opp);
        const g2 = antialiasBackward(color2, C2, s.rast, s.shape, s.pos, s.V, s.tri, R2, s.opp);
        expect(g.gradPos!.some((v) => v !== 0)).toBe(true);
        for (const n of [1, 2, 7]) {
          setThreads(n);
          const work = antialiasWorkBuffer(s.shape);
          expect(antialias(color, C, s.rast, s.shape, s.pos, s.V, s.tri, s.opp, undefined, { work })).toEqual(plain);
          const w = antialiasBackward(color, C, s.rast, s.shape, s.pos, s.V, s.tri, R, s.opp, {}, {}, { work });
          expect(w.gradColor).toEqual(g.gradColor);
          expect(w.gradPos).toEqual(g.gradPos);
          const w2 = antialiasBackward(color2, C2, s.rast, s.shape, s.pos, s.V, s.tri, R2, s.opp, {}, {}, { work });
          expect(w2.gradColor).toEqual(g2.gradColor);
          expect(w2.gradPos).toEqual(g2.gradPos);
          // one output only
          expect(antialiasBackward(color, C, s.rast, s.shape, s.pos, s.V, s.tri, R, s.opp, { color: false }, {}, { work }).gradPos).toEqual(g.gradPos);
        }
        setThreads(0);
      });

      it('a frame in a batch equals the frame alone', () => {
        const R = randomArray(26, pixels * C, -1, 1);
        const { batch: B, height: H, width: W } = s.shape;
        const out = antialias(color, C, s.rast, s.shape, s.pos, s.V, s.tri, s.opp);
        const g = antialiasBackward(color, C, s.rast, s.shape, s.pos, s.V, s.tri, R, s.opp);
        const n = H * W;
        const b = B - 1;
        const one = { batch: 1, height: H, width: W };
        const col = color.slice(b * n * C, (b + 1) * n * C);
        const rst = s.rast.slice(b * n * 4, (b + 1) * n * 4);
        const ps = s.pos.slice(b * s.V * 4, (b + 1) * s.V * 4);
        const out1 = antialias(col, C, rst, one, ps, s.V, s.tri, s.opp);
        const g1 = antialiasBackward(col, C, rst, one, ps, s.V, s.tri, R.slice(b * n * C, (b + 1) * n * C), s.opp);
        expect(out.subarray(b * n * C)).toEqual(out1);
        expect(g.gradColor!.subarray(b * n * C)).toEqual(g1.gradColor);
        expect(g.gradPos!.subarray(b * s.V * 4)).toEqual(g1.gradPos);
      });
    });
  }

  it('a single triangle: coverage sums to its area (~1%) and its position gradient matches the area gradient', () => {
    const H = 160;
    const W = 180;
    // screen-space vertices (pixel units, centres at integers), converted to clip space with varying w
    const scr = [
      [30.3, 20.7],
      [150.2, 55.1],
      [70.6, 140.4],
    ];
    const ws = [1, 1.7, 0.6];
    const pos = new Float32Array(12);
    for (let k = 0; k < 3; k++) {
      const ndcX = ((scr[k][0] + 0.5) * 2) / W - 1;
      const ndcY = ((scr[k][1] + 0.5) * 2) / H - 1;
      pos.set([ndcX * ws[k], ndcY * ws[k], 0, ws[k]], 4 * k);
    }
    const tri = new Int32Array([0, 1, 2]);
    const rast = rasterize(pos, 3, tri, 1, H, W);
    const shape = { batch: 1, height: H, width: W };
    const cov = new Float32Array(H * W).map((_, p) => (rast[4 * p + 3] > 0 ? 1 : 0));
    const out = antialias(cov, 1, rast, shape, pos, 3, tri);
    // exact screen positions of the float32 vertices
    const sx = (k: number) => ((pos[4 * k] / pos[4 * k + 3] + 1) * W) / 2 - 0.5;
    const sy = (k: number) => ((pos[4 * k + 1] / pos[4 * k + 3] + 1) * H) / 2 - 0.5;
    const A2 = (sx(1) - sx(0)) * (sy(2) - sy(0)) - (sx(2) - sx(0)) * (sy(1) - sy(0));
    const area = Math.abs(A2) / 2;
    const sum = out.reduce((a, v) => a + v, 0);
    expect(Math.abs(sum - area) / area).toBeLessThan(0.01);
    const { gradPos } = antialiasBackward(cov, 1, rast, shape, pos, 3, tri, new Float32Array(H * W).fill(1));
    const sg = Math.sign(A2);
    let worst = 0;
    for (let k = 0; k < 3; k++) {
      const b = (k + 1) % 3;
      const c = (k + 2) % 3;
      // d area / d screen position of vertex k, then through sx = (x/w + 1) W/2 - 0.5
      const gsx = 0.5 * sg * (sy(b) - sy(c));
      const gsy = 0.5 * sg * (sx(c) - sx(b));
      const w = pos[4 * k + 3];
      const ex = (gsx * W) / (2 * w);
      const ey = (gsy * H) / (2 * w);
      const ew = -(ex * pos[4 * k] + ey * pos[4 * k + 1]) / w;
      const got = [gradPos![4 * k], gradPos![4 * k + 1], gradPos![4 * k + 3]];
      const exp = [ex, ey, ew];
      const norm = Math.hypot(...exp);
      const diff = Math.hypot(got[0] - exp[0], got[1] - exp[1], got[2] - exp[2]);
      worst = Math.max(worst, diff / norm);
    }
    expect(worst).toBeLessThan(0.05);
  });

  it('counts an exact 45-degree edge once (horizontal pairs only), as the reference does', () => {
    const H = 32;
    const W = 32;
    // screen vertices on a 45-degree diagonal, offset so that crossings are not at pixel centres
    const scr = [
      [4.3, 4.3],
      [26.3, 26.3],
      [4.3, 26.3],
    ];
    const pos = new Float32Array(12);
    for (let k = 0; k < 3; k++) pos.set([((scr[k][0] + 0.5) * 2) / W - 1, ((scr[k][1] + 0.5) * 2) / H - 1, 0, 1], 4 * k);
    const tri = new Int32Array([0, 1, 2]);
    const rast = rasterize(pos, 3, tri, 1, H, W);
    const shape = { batch: 1, height: H, width: W };
    const cov = new Float32Array(H * W).map((_, p) => (rast[4 * p + 3] > 0 ? 1 : 0));
    const out = antialias(cov, 1, rast, shape, pos, 3, tri);
    const ref = referenceAntialias(cov, 1, rast, 1, H, W, pos, 3, tri);
    for (let i = 0; i < out.length; i++) expect(Math.abs(out[i] - ref[i])).toBeLessThanOrEqual(1e-6);
    const pairs = referenceAntialiasPairs(rast, 1, H, W, pos, 3, tri);
    let diagH = 0;
    let diagV = 0;
    for (let r = 0; r < pairs.tri.length; r++) {
      if (pairs.tri[r] < 0 || pairs.edge[r] !== 0) continue;
      if (r % 2 === 0) diagH++;
      else diagV++;
    }
    expect(diagH).toBeGreaterThan(10);
    expect(diagV).toBe(0);
  });

  it('never reuses a silhouette test from an earlier call (4096 calls apart: the memo\'s stamp repeats)', () => {
    // Each thread memoises the silhouette test of every triangle it meets, stamped with the call's number mod 4096,
    // and clears its memo when the number moves to the next block of 4096. X and X2 have the same rast (the same
    // triangles are met) but different topologies (in X2 every edge is a boundary, so every edge is a silhouette
    // candidate): X2 run exactly 4096 calls after X, with calls on another scene between them that meet none of
    // X's triangles but its first, must not see X's tests.
    setThreads(1);
    const s = foldedSurface(12, 14, 1, 64, 60);
    const C = 1;
    const pixels = s.shape.height * s.shape.width;
    const color = randomArray(41, pixels * C, 0, 1);
    const allBoundary = new Int32Array(s.opp.length).fill(-1);
    const run = (opp: Int32Array) => antialias(color, C, s.rast, s.shape, s.pos, s.V, s.tri, opp);
    const expectedX = run(s.opp);
    const expectedX2 = run(allBoundary);
    expect(expectedX2).not.toEqual(expectedX);
    // A tiny scene of one triangle (id 0) for the calls in between.
    const tiny = makeScene(new Float32Array([-1, -1, 0, 1, 1, -1, 0, 1, 0, 1, 0, 1]), 3, new Int32Array([0, 1, 2]), 1, 4, 4);
    const tinyColor = randomArray(42, 16, 0, 1);
    for (const gap of [4095, 4094, 4096]) {
      expect(run(s.opp)).toEqual(expectedX);
      for (let i = 0; i < gap; i++) antialias(tinyColor, 1, tiny.rast, tiny.shape, tiny.pos, tiny.V, tiny.tri, tiny.opp);
      expect(run(allBoundary), `X2 ${gap + 1} calls after X`).toEqual(expectedX2);
    }
    setThreads(0);
  });

  it('rejects bad arguments with clear messages', () => {
    const s = randomTriangles(5, 4, 1, 8, 8);
    const color = new Float32Array(64);
    const args = [color, 1, s.rast, s.shape, s.pos, s.V, s.tri, s.opp] as const;
    expect(() => antialias(...args)).not.toThrow();
    expect(() => antialias(new Float32Array(63), 1, s.rast, s.shape, s.pos, s.V, s.tri)).toThrow(
      /antialias: expected a Float32Array of length 64 for color/,
    );
    expect(() => antialias(color, 0, s.rast, s.shape, s.pos, s.V, s.tri)).toThrow(KernelArgumentError);
    expect(() => antialias(color, 1, s.rast, { batch: 1, height: 8, width: 0 }, s.pos, s.V, s.tri)).toThrow(/for width/);
    expect(() => antialias(color, 1, s.rast, s.shape, s.pos.subarray(1), s.V, s.tri)).toThrow(/for pos/);
    const badTri = s.tri.slice();
    badTri[4] = 99;
    expect(() => antialias(color, 1, s.rast, s.shape, s.pos, s.V, badTri)).toThrow(/tri\[4\]/);
    // With opp given, the kernel rejects the index and the JS recheck reports it precisely.
    expect(() => antialias(color, 1, s.rast, s.shape, s.pos, s.V, badTri, s.opp)).toThrow(KernelArgumentError);
    expect(() => antialias(color, 1, s.rast, s.shape, s.pos, s.V, badTri, s.opp)).toThrow(/antialias: .*tri\[4\]/);
    expect(() => antialiasBackward(color, 1, s.rast, s.shape, s.pos, s.V, badTri, color, s.opp)).toThrow(/antialiasBackward: .*tri\[4\]/);
    const badOpp = s.opp.slice();
    badOpp[2] = -5;
    expect(() => antialias(color, 1, s.rast, s.shape, s.pos, s.V, s.tri, badOpp)).toThrow(/opp\[2\]/);
    expect(() => antialias(color, 1, s.rast, s.shape, s.pos, s.V, s.tri, new Int32Array(5))).toThrow(/for opp/);
    const badRast = s.rast.slice();
    badRast[4 * 7 + 3] = 2.5;
    expect(() => antialias(color, 1, badRast, s.shape, s.pos, s.V, s.tri)).toThrow(/triangle id of rast pixel 7/);
    expect(() => antialiasBackward(color, 1, s.rast, s.shape, s.pos, s.V, s.tri, new Float32Array(3))).toThrow(
      /antialiasBackward: expected a Float32Array of length 64 for gradOut/,
    );
    expect(() => antialiasTopology(new Int32Array(4), 3)).toThrow(/antialiasTopology/);
  });

  it('checks a work buffer before using it and leaves the outputs untouched when it rejects one', () => {
    const s = foldedSurface(12, 14, 1, 64, 60);
    const pixels = 64 * 60;
    const color = randomArray(40, pixels, 0, 1);
    const R = randomArray(41, pixels, -1, 1);
    const back = (work: Int32Array, gradColor = new Float32Array(pixels), gradPos = new Float32Array(s.V * 4)) =>
      antialiasBackward(color, 1, s.rast, s.shape, s.pos, s.V, s.tri, R, s.opp, {}, { gradColor, gradPos }, { work });
    const work = antialiasWorkBuffer(s.shape);
    expect(() => antialiasWorkBuffer({ batch: 1, height: 0, width: 4 })).toThrow(/antialiasWorkBuffer: .*height/);
    expect(() => back(work.subarray(1))).toThrow(/antialiasBackward: expected a Int32Array of length \d+ for options.work/);
    expect(() => antialias(color, 1, s.rast, s.shape, s.pos, s.V, s.tri, s.opp, undefined, { work: new Float32Array(work.length) as never })).toThrow(
      /options.work/,
    );
    // never filled
    expect(() => back(work)).toThrow(/work buffer was not filled by an antialias forward of these sizes/);
    antialias(color, 1, s.rast, s.shape, s.pos, s.V, s.tri, s.opp, undefined, { work });
    const good = back(work);
    expect(good.gradPos!.some((v) => v !== 0)).toBe(true);
    // filled for another triangle count (same image size)
    const other = antialiasWorkBuffer(s.shape);
    const fewer = s.tri.slice(0, s.tri.length - 3);
    antialias(color, 1, rasterize(s.pos, s.V, fewer, 1, 64, 60), s.shape, s.pos, s.V, fewer, undefined, undefined, { work: other });
    expect(() => back(other)).toThrow(/not filled by an antialias forward of these sizes/);
    // Corrupt records: the first band with records (header 8 int32, then one count per band of ROWS_PER_BAND rows).
    const bands = Math.ceil(64 / ROWS_PER_BAND);
    const band = [...Array(bands).keys()].find((k) => work[8 + k] > 0)!;
    const rec = 8 + bands + band * 2 * ROWS_PER_BAND * 60 * 4;
    const corrupt: [string, (w: Int32Array) => void][] = [
      ['triangle out of range', (w) => (w[rec + 1] = s.tri.length / 3)],
      ['negative triangle', (w) => (w[rec + 1] = -1)],
      ['pair outside the band', (w) => (w[rec] = (w[rec] & ~0xffffff) | (2 * ROWS_PER_BAND * 60))],
      ['unknown flag', (w) => (w[rec] |= 1 << 28)],
      ['edge 3', (w) => (w[rec] |= 3 << 24)],
      ['dF out of [0, 1]', (w) => new Float64Array(w.buffer, (rec + 2) * 4, 1).fill(1.5)],
      ['record count too large', (w) => (w[8 + band] = 2 * ROWS_PER_BAND * 60 + 1)],
      ['negative record count', (w) => (w[8 + band] = -1)],
    ];
    for (const [what, change] of corrupt) {
      const w = work.slice();
      change(w);
      const gradColor = new Float32Array(pixels).fill(7);
      const gradPos = new Float32Array(s.V * 4).fill(7);
      expect(() => back(w, gradColor, gradPos), what).toThrow(/^antialias: .*work buffer/);
      expect(gradColor.every((v) => v === 7) && gradPos.every((v) => v === 7), what).toBe(true);
    }
    // the intact buffer still gives the same results
    expect(back(work)).toEqual(good);
  });
});

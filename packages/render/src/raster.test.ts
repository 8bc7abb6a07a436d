import { KernelArgumentError, nativeAddon, setThreads } from '@pixel3dmm/kernels';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRng } from '@pixel3dmm/kernels/testing/random-flame';
import { antialias, antialiasBackward, antialiasTopology, antialiasWorkBuffer } from './antialias.js';
import { interpolate, interpolateBackward, interpolateRasterizeBackward, rasterize, rasterizeBackward } from './raster.js';
import { referenceInterpolate, referenceRasterize } from './testing/reference-raster.js';
import { clipOf, gridTris, project, uvSphere } from './testing/meshes.js';

// ---------------------------------------------------------------------------------------------------------
// helpers

/** The project's deterministic PRNG (mulberry32), uniform in [0, 1). */
const rng = (seed: number): (() => number) => makeRng(seed).uniform;

interface Mesh {
  pos: Float32Array; // [B,V,4]
  V: number;
  tri: Int32Array;
  B: number;
}

/** Random triangles (overlapping, any orientation, some vertices behind the near plane). */
function randomMesh(seed: number, T: number, B: number, size: number, behindFraction = 0): Mesh {
  const r = rng(seed);
  const V = 3 * T;
  const pos: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const cx = r() * 2.6 - 1.3;
      const cy = r() * 2.6 - 1.3;
      for (let k = 0; k < 3; k++) {
        const w = 0.3 + 2.7 * r();
        const z = r() < behindFraction ? -1.2 - r() : r() * 2.2 - 1.1;
        pos.push(...clipOf(cx + (r() - 0.5) * size, cy + (r() - 0.5) * size, z, w));
      }
    }
  }
  const tri = new Int32Array(3 * T);
  // shuffled vertex order so that canonical (lower index first) clipping is exercised both ways
  for (let t = 0; t < T; t++) {
    const perm = r() < 0.5 ? [0, 1, 2] : [2, 0, 1];
    for (let k = 0; k < 3; k++) tri[3 * t + k] = 3 * t + perm[k];
  }
  return { pos: new Float32Array(pos), V, tri, B };
}

function jitteredPlane(seed: number, n: number, B: number): Mesh {
  const r = rng(seed);
  const pos: number[] = [];
  const cell = 2.3 / (n - 1);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        let x = -1.15 + i * cell;
        let y = -1.15 + j * cell;
        if (i > 0 && i < n - 1) x += (r() - 0.5) * 0.6 * cell;
        if (j > 0 && j < n - 1) y += (r() - 0.5) * 0.6 * cell;
        pos.push(...clipOf(x, y, r() * 0.8 - 0.4, 0.5 + 2.5 * r()));
      }
    }
  }
  return { pos: new Float32Array(pos), V: n * n, tri: gridTris(n, n, () => r() < 0.5), B };
}

function sphere(nu: number, nv: number, centres: number[][], f: number): Mesh {
  const { points: cam, tri } = uvSphere(nu, nv);
  const V = cam.length;
  const pos = centres.flatMap((c) => cam.flatMap((p) => project([p[0] + c[0], p[1] + c[1], p[2] + c[2]], f)));
  return { pos: new Float32Array(pos), V, tri: new Int32Array(tri), B: centres.length };
}

/** A floor reaching behind the camera (1, 2, 3 vertices behind the near plane, a w == 0 vertex). */
function clippedFloor(): Mesh {
  const xs = [-6, -2.6, 0.4, 3.3, 6];
  const zs = [2, 1, 0.5, 0, -0.05, -0.5, -1, -2, -4, -8, -15];
  const cam: number[][] = [];
  zs.forEach((z, j) => xs.forEach((x, i) => cam.push([i === 0 || i === xs.length - 1 ? x : x + 0.3 * Math.sin(j), -1, z])));
  return { pos: new Float32Array(cam.flatMap((p) => project(p, 1))), V: cam.length, tri: gridTris(xs.length, zs.length, (i, j) => (i + j) % 2 === 0), B: 1 };
}

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}

/**
 * interpolateBackward's gradients against central differences of the float64 reference, along one random
 * direction each: of L = sum(gOut * interpolate(attr, rast)) in the attributes (L is linear there, so differences
 * are exact up to rounding) and in the covered pixels' (u, v).
 */
function expectInterpolateGradientsMatchFd(
  g: { gradAttr: Float32Array | null; gradRast: Float32Array | null },
  attr: Float32Array, Ba: number, C: number, rast: Float32Array, B: number, H: number, W: number, tri: Int32Array,
  gOut: Float32Array, r: () => number, label: string,
): void {
  const N = B * H * W, h = 1e-3;
  const loss = (a: Float64Array, rr: Float64Array | Float32Array): number => {
    const o = referenceInterpolate(a, Ba, C, rr, B, H, W, tri);
    let L = 0;
    for (let i = 0; i < o.length; i++) L += gOut[i] * o[i];
    return L;
  };
  const dA = Float64Array.from(attr, () => r() * 2 - 1);
  const fdA = (loss(Float64Array.from(attr, (x, i) => x + h * dA[i]), rast) - loss(Float64Array.from(attr, (x, i) => x - h * dA[i]), rast)) / (2 * h);
  let anA = 0;
  for (let i = 0; i < dA.length; i++) anA += g.gradAttr![i] * dA[i];
  expect(Math.abs(anA - fdA), `${label}: gradAttr`).toBeLessThan(1e-4 * Math.max(1, Math.abs(fdA)));
  const dR = new Float64Array(4 * N);
  for (let p = 0; p < N; p++) if (rast[4 * p + 3] > 0) { dR[4 * p] = r() * 2 - 1; dR[4 * p + 1] = r() * 2 - 1; }
  const a64 = Float64Array.from(attr);
  const fdR = (loss(a64, Float64Array.from(rast, (x, i) => x + h * dR[i])) - loss(a64, Float64Array.from(rast, (x, i) => x - h * dR[i]))) / (2 * h);
  let anR = 0;
  for (let p = 0; p < N; p++) anR += g.gradRast![2 * p] * dR[4 * p] + g.gradRast![2 * p + 1] * dR[4 * p + 1];
  expect(Math.abs(anR - fdR), `${label}: gradRast`).toBeLessThan(1e-4 * Math.max(1, Math.abs(fdR)));
}

/** Kernel vs float64 reference: identical ids everywhere, max |diff| of (u, v, zw). */
function compareWithReference(
  m: Mesh,
  H: number,
  W: number,
): { mismatches: number; maxDiff: number; maxDiffZ: number; covered: number; rast: Float32Array } {
  const rast = rasterize(m.pos, m.V, m.tri, m.B, H, W);
  const ref = referenceRasterize(m.pos, m.V, m.tri, H, W);
  let mismatches = 0;
  let maxDiff = 0;
  let maxDiffZ = 0;
  let covered = 0;
  for (let p = 0; p < m.B * H * W; p++) {
    if (rast[4 * p + 3] !== ref[4 * p + 3]) {
      mismatches++;
      continue;
    }
    if (ref[4 * p + 3] > 0) covered++;
    for (let c = 0; c < 2; c++) maxDiff = Math.max(maxDiff, Math.abs(rast[4 * p + c] - ref[4 * p + c]));
    maxDiffZ = Math.max(maxDiffZ, Math.abs(rast[4 * p + 2] - ref[4 * p + 2]));
  }
  if (process.env.P3D_VERBOSE) console.log(`covered ${covered} max|du,dv| ${maxDiff.toExponential(2)} max|dzw| ${maxDiffZ.toExponential(2)}`);
  return { mismatches, maxDiff: Math.max(maxDiff, maxDiffZ), maxDiffZ, covered, rast };
}

// float32 vs float64 with the 2.1 formula: q_i = x_i - fx*w_i cancels for small triangles, so the error grows as
// the triangle shrinks (measured: ~1e-6 for triangles of tens of pixels, up to ~1e-5 for 2-3 px triangles).
const BARY_TOL = 2e-5;

afterAll(() => {
  setThreads(0);
});

// ---------------------------------------------------------------------------------------------------------

describe('rasterize forward vs the float64 reference', () => {
  it('random overlapping triangles (both orientations), several sizes and frames', () => {
    for (const [seed, T, B, size, H, W] of [
      [1, 40, 2, 1.2, 37, 53],
      [2, 200, 1, 0.15, 64, 48],
      [3, 25, 3, 3.0, 33, 70],
    ] as const) {
      const r = compareWithReference(randomMesh(seed, T, B, size), H, W);
      expect(r.mismatches).toBe(0);
      expect(r.covered).toBeGreaterThan(100);
      expect(r.maxDiff).toBeLessThan(BARY_TOL);
    }
  });

  it('tall narrow triangles (under 8 px wide, up to 30 px tall: more covered pixels than a vector of lanes), overlapping at random depths', () => {
    // Such a triangle takes the tile stage's packed path with its pixels spilling over several 8-lane groups.
    const r = rng(21);
    const H = 64, W = 64, T = 60;
    const pos: number[] = [];
    const tri = new Int32Array(3 * T);
    for (let t = 0; t < T; t++) {
      const cx = r() * 2 - 1, cy = r() * 2 - 1;
      const dx = ((1.5 + 5.5 * r()) * 2) / W, dy = ((10 + 20 * r()) * 2) / H; // NDC extents of 1.5-7 x 10-30 px
      const corners = [[cx - dx / 2, cy - dy / 2], [cx + dx / 2, cy - dy / 2 + r() * dy * 0.3], [cx + (r() - 0.5) * dx, cy + dy / 2]];
      if (r() < 0.5) corners.reverse(); // both orientations
      for (const [x, y] of corners) pos.push(...clipOf(x, y, r() * 1.6 - 0.8, 0.6 + 1.4 * r()));
      tri.set([3 * t, 3 * t + 1, 3 * t + 2], 3 * t);
    }
    const m: Mesh = { pos: new Float32Array(pos), V: 3 * T, tri, B: 1 };
    const res = compareWithReference(m, H, W);
    expect(res.mismatches).toBe(0);
    expect(res.maxDiff).toBeLessThan(BARY_TOL);
    // Visible pixels per triangle: several triangles show more than two groups of 8 lanes.
    const perTriangle = new Map<number, number>();
    for (let p = 0; p < H * W; p++) if (res.rast[4 * p + 3] > 0) perTriangle.set(res.rast[4 * p + 3], (perTriangle.get(res.rast[4 * p + 3]) ?? 0) + 1);
    expect([...perTriangle.values()].filter((n) => n > 16).length).toBeGreaterThan(5);
  });

  it('jittered subdivided plane covers every pixel, same ids as the reference', () => {
    for (const [seed, n, H, W] of [
      [1, 9, 37, 53],
      [2, 13, 40, 40],
      [3, 7, 17, 64],
    ] as const) {
      const m = jitteredPlane(seed, n, 2);
      const r = compareWithReference(m, H, W);
      expect(r.mismatches).toBe(0);
      expect(r.covered).toBe(2 * H * W);
      expect(r.maxDiff).toBeLessThan(BARY_TOL);
    }
  });

  it('closed sphere (2 frames), same ids and barycentrics as the reference', () => {
    const m = sphere(24, 14, [[0.13, -0.07, -3.5], [-0.3, 0.2, -2.5]], 2.2);
    const r = compareWithReference(m, 48, 56);
    expect(r.mismatches).toBe(0);
    expect(r.covered).toBeGreaterThan(500);
    expect(r.maxDiff).toBeLessThan(BARY_TOL);
  });

  it('near-plane clipping: clipped floor with a w == 0 vertex, random triangles partly behind', () => {
    const floor = clippedFloor();
    const r = compareWithReference(floor, 40, 48);
    expect(r.mismatches).toBe(0);
    expect(r.covered).toBeGreaterThan(500);
    expect(r.maxDiff).toBeLessThan(BARY_TOL);
    expect(r.rast.some((v) => Number.isNaN(v))).toBe(false);
    for (const seed of [11, 12, 13]) {
      const m = randomMesh(seed, 60, 1, 1.5, 0.4);
      const q = compareWithReference(m, 41, 39);
      expect(q.mismatches).toBe(0);
      expect(q.maxDiff).toBeLessThan(BARY_TOL);
    }
  });

  it('all behind the camera -> empty; NaN/Inf triangles dropped; degenerate triangles cover nothing', () => {
    const behind = new Float32Array([...clipOf(0, 0, -2, 1), ...clipOf(1, 0, -3, 1), ...clipOf(0, 1, -2, 1)]);
    expect(rasterize(behind, 3, new Int32Array([0, 1, 2]), 1, 8, 8).every((v) => v === 0)).toBe(true);
    const big = [...clipOf(-3, -3, 0, 1), ...clipOf(3, -3, 0, 1), ...clipOf(0, 3, 0, 1)];
    for (const bad of [NaN, Infinity]) {
      const pos = new Float32Array([...big, ...big]);
      pos[4] = bad; // vertex 1 of the first copy
      const rast = rasterize(pos, 6, new Int32Array([0, 1, 2, 3, 4, 5]), 1, 8, 8);
      for (let p = 0; p < 64; p++) expect(rast[4 * p + 3]).toBe(2);
    }
    const degenerate = new Int32Array([0, 0, 1, 0, 1, 1]);
    expect(rasterize(new Float32Array(big), 3, degenerate, 1, 8, 8).every((v) => v === 0)).toBe(true);
    const collinear = new Float32Array([...clipOf(-1, -1, 0, 1), ...clipOf(0, 0, 0, 2), ...clipOf(1, 1, 0, 1)]);
    expect(rasterize(collinear, 3, new Int32Array([0, 1, 2]), 1, 8, 8).every((v) => v === 0)).toBe(true);
  });

  it('far plane: z/w > 1 rejected; coplanar overlap -> smaller id wins', () => {
    const tri = new Int32Array([0, 1, 2, 3, 4, 5]);
    const a = [...clipOf(-3, -3, 0.2, 1), ...clipOf(3, -3, 0.2, 1), ...clipOf(0, 3, 0.2, 1)];
    const far = [...clipOf(-3, -3, 1.5, 1), ...clipOf(3, -3, 1.5, 1), ...clipOf(0, 3, 1.5, 1)];
    const r1 = rasterize(new Float32Array([...far, ...a]), 6, tri, 1, 4, 4);
    for (let p = 0; p < 16; p++) expect(r1[4 * p + 3]).toBe(2);
    const r2 = rasterize(new Float32Array([...a, ...a]), 6, new Int32Array([3, 4, 5, 0, 1, 2]), 1, 4, 4);
    for (let p = 0; p < 16; p++) expect(r2[4 * p + 3]).toBe(1);
  });
});

describe('determinism', () => {
  function runAll(m: Mesh, H: number, W: number): Float32Array[] {
    const rast = rasterize(m.pos, m.V, m.tri, m.B, H, W);
    const r = rng(5);
    const C = 3;
    const attr = new Float32Array(m.B * m.V * C).map(() => r() * 2 - 1);
    const gOut = new Float32Array(m.B * H * W * C).map(() => r() * 2 - 1);
    const interp = interpolate(attr, { batch: m.B, vertices: m.V, channels: C }, rast, { batch: m.B, height: H, width: W }, m.tri);
    const ib = interpolateBackward(attr, { batch: m.B, vertices: m.V, channels: C }, rast, { batch: m.B, height: H, width: W }, m.tri, gOut);
    const attr1 = attr.subarray(0, m.V * C);
    const ib1 = interpolateBackward(attr1, { batch: 1, vertices: m.V, channels: C }, rast, { batch: m.B, height: H, width: W }, m.tri, gOut);
    const gPos = rasterizeBackward(m.pos, m.V, m.tri, m.B, H, W, rast, ib.gradRast!);
    return [rast, interp, ib.gradAttr!, ib.gradRast!, ib1.gradAttr!, gPos];
  }

  it('identical bits for 1, 2 and 7 threads (forward and every gradient)', () => {
    const meshes: [Mesh, number, number][] = [
      [sphere(40, 24, [[0.1, 0, -3], [0, 0.1, -2.8], [-0.2, 0, -3.2]], 2.2), 96, 80],
      [randomMesh(7, 3000, 2, 0.08), 70, 130],
    ];
    for (const [m, H, W] of meshes) {
      setThreads(1);
      const ref = runAll(m, H, W);
      for (const n of [2, 7]) {
        setThreads(n);
        const out = runAll(m, H, W);
        out.forEach((o, i) => expect(bitsEqual(o, ref[i])).toBe(true));
      }
    }
    setThreads(0);
  });

  it('a frame of a batch equals the frame rendered alone (bitwise)', () => {
    const m = sphere(32, 18, [[0.1, 0, -3], [0.3, -0.2, -2.6], [-0.2, 0.1, -3.4]], 2.2);
    const H = 50;
    const W = 45;
    const C = 2;
    const [rast, interp, gAttr, gRast, , gPos] = runAllC(m, H, W, C);
    for (let b = 0; b < m.B; b++) {
      const single: Mesh = { pos: m.pos.slice(b * m.V * 4, (b + 1) * m.V * 4), V: m.V, tri: m.tri, B: 1 };
      const s = runAllC(single, H, W, C, b);
      const px = H * W;
      expect(bitsEqual(s[0], rast.subarray(b * px * 4, (b + 1) * px * 4))).toBe(true);
      expect(bitsEqual(s[1], interp.subarray(b * px * C, (b + 1) * px * C))).toBe(true);
      expect(bitsEqual(s[2], gAttr.subarray(b * m.V * C, (b + 1) * m.V * C))).toBe(true);
      expect(bitsEqual(s[3], gRast.subarray(b * px * 2, (b + 1) * px * 2))).toBe(true);
      expect(bitsEqual(s[5], gPos.subarray(b * m.V * 4, (b + 1) * m.V * 4))).toBe(true);
    }
  });

  /** Like runAll with per-frame random data generated per frame index (so frame b alone sees the same data). */
  function runAllC(m: Mesh, H: number, W: number, C: number, frame0 = 0): Float32Array[] {
    const rast = rasterize(m.pos, m.V, m.tri, m.B, H, W);
    const attr = new Float32Array(m.B * m.V * C);
    const gOut = new Float32Array(m.B * H * W * C);
    for (let b = 0; b < m.B; b++) {
      const r = rng(100 + frame0 + b);
      for (let i = 0; i < m.V * C; i++) attr[b * m.V * C + i] = r() * 2 - 1;
      for (let i = 0; i < H * W * C; i++) gOut[b * H * W * C + i] = r() * 2 - 1;
    }
    const as = { batch: m.B, vertices: m.V, channels: C };
    const rs = { batch: m.B, height: H, width: W };
    const interp = interpolate(attr, as, rast, rs, m.tri);
    const ib = interpolateBackward(attr, as, rast, rs, m.tri, gOut);
    const gPos = rasterizeBackward(m.pos, m.V, m.tri, m.B, H, W, rast, ib.gradRast!);
    return [rast, interp, ib.gradAttr!, ib.gradRast!, new Float32Array(0), gPos];
  }
});

// ---------------------------------------------------------------------------------------------------------
// gradients vs central differences of the float64 reference

/** Pixels whose reference barycentrics are all > margin (clamps inactive, ownership stable for small h). */
function interiorMask(ref: Float64Array, N: number, margin: number): Uint8Array {
  const mask = new Uint8Array(N);
  for (let p = 0; p < N; p++) {
    const u = ref[4 * p];
    const v = ref[4 * p + 1];
    if (ref[4 * p + 3] > 0 && u > margin && v > margin && 1 - u - v > margin) mask[p] = 1;
  }
  return mask;
}

function idsOf(rast: ArrayLike<number>, N: number): Float64Array {
  const ids = new Float64Array(N);
  for (let p = 0; p < N; p++) ids[p] = rast[4 * p + 3];
  return ids;
}

function sameIds(a: Float64Array, b: Float64Array): boolean {
  return a.every((v, i) => v === b[i]);
}

/** A few medium-size, perspective triangles (very different w per vertex), one clipped by the near plane. */
function gradientMesh(): Mesh {
  const pos = new Float32Array([
    ...clipOf(-0.9, -0.8, 0.1, 0.7), ...clipOf(0.6, -0.9, 0.3, 2.6), ...clipOf(-0.2, 0.7, -0.2, 1.3),
    ...clipOf(0.95, 0.9, 0.5, 1.1), ...clipOf(-0.7, 0.95, 0.2, 0.5),
    // a vertex behind the near plane (z < -w): triangle (3, 5, 1) is clipped
    -0.2 * 0.4, 0.1 * 0.4, -0.9, 0.4,
    ...clipOf(0.1, -0.2, -0.5, 1.9), ...clipOf(0.9, -0.1, -0.4, 0.8),
  ]);
  const tri = new Int32Array([0, 1, 2, 2, 3, 4, 3, 5, 1, 6, 7, 3]);
  return { pos, V: 8, tri, B: 1 };
}

describe('gradients', () => {
  const H = 40;
  const W = 36;

  it('rasterize backward: <gradPos, delta> matches central differences of the reference (x, y, w)', () => {
    const m = gradientMesh();
    expect(m.pos[4 * 5 + 2] < -m.pos[4 * 5 + 3]).toBe(true);
    const N = H * W;
    const ref0 = referenceRasterize(m.pos, m.V, m.tri, H, W);
    const mask = interiorMask(ref0, N, 0.02);
    // every triangle (the clipped one included) owns interior pixels
    for (let t = 1; t <= m.tri.length / 3; t++) expect(ref0.filter((id, i) => i % 4 === 3 && id === t && mask[(i - 3) / 4]).length).toBeGreaterThan(20);
    const r = rng(21);
    const gradRast = new Float32Array(2 * N);
    for (let p = 0; p < N; p++) if (mask[p]) { gradRast[2 * p] = r() * 2 - 1; gradRast[2 * p + 1] = r() * 2 - 1; }
    const rast = rasterize(m.pos, m.V, m.tri, 1, H, W);
    const gPos = rasterizeBackward(m.pos, m.V, m.tri, 1, H, W, rast, gradRast);
    for (let v = 0; v < m.V; v++) expect(gPos[4 * v + 2]).toBe(0);
    const loss = (pos: Float64Array): { L: number; ids: Float64Array } => {
      const o = referenceRasterize(pos, m.V, m.tri, H, W);
      let L = 0;
      for (let p = 0; p < N; p++) L += gradRast[2 * p] * o[4 * p] + gradRast[2 * p + 1] * o[4 * p + 1];
      return { L, ids: idsOf(o, N) };
    };
    const ids0 = idsOf(ref0, N);
    let checked = 0;
    for (let trial = 0; trial < 6; trial++) {
      const delta = new Float64Array(4 * m.V);
      for (let v = 0; v < m.V; v++) for (const c of [0, 1, 3]) delta[4 * v + c] = r() * 2 - 1;
      const h = 1e-6;
      const plus = Float64Array.from(m.pos, (x, i) => x + h * delta[i]);
      const minus = Float64Array.from(m.pos, (x, i) => x - h * delta[i]);
      const lp = loss(plus);
      const lm = loss(minus);
      if (!sameIds(lp.ids, ids0) || !sameIds(lm.ids, ids0)) continue;
      const fd = (lp.L - lm.L) / (2 * h);
      let an = 0;
      for (let i = 0; i < delta.length; i++) an += gPos[i] * delta[i];
      if (process.env.P3D_VERBOSE) console.log(`directional derivative: analytic ${an}, central difference ${fd}`);
      expect(Math.abs(an - fd)).toBeLessThan(1e-4 * Math.max(1, Math.abs(fd)));
      checked++;
    }
    expect(checked).toBeGreaterThan(3);
  });

  it('interpolate forward matches the reference on the kernel rast; broadcast == per-frame copies', () => {
    const m = sphere(24, 14, [[0.13, -0.07, -3.5], [-0.3, 0.2, -2.5]], 2.2);
    const rast = rasterize(m.pos, m.V, m.tri, m.B, H, W);
    const r = rng(3);
    const C = 5;
    const attr = new Float32Array(m.V * C).map(() => r() * 4 - 2);
    const rs = { batch: m.B, height: H, width: W };
    const out = interpolate(attr, { batch: 1, vertices: m.V, channels: C }, rast, rs, m.tri);
    const ref = referenceInterpolate(attr, 1, C, rast, m.B, H, W, m.tri);
    let maxErr = 0;
    for (let i = 0; i < out.length; i++) maxErr = Math.max(maxErr, Math.abs(out[i] - ref[i]));
    expect(maxErr).toBeLessThan(2e-6);
    const attrB = new Float32Array(m.B * m.V * C);
    for (let b = 0; b < m.B; b++) attrB.set(attr, b * m.V * C);
    expect(bitsEqual(interpolate(attrB, { batch: m.B, vertices: m.V, channels: C }, rast, rs, m.tri), out)).toBe(true);
  });

  it('interpolate backward: gradAttr (broadcast and per frame) and gradRast match central differences', () => {
    const m = sphere(24, 14, [[0.13, -0.07, -3.5], [-0.3, 0.2, -2.5]], 2.2);
    const B = m.B;
    const N = B * H * W;
    const rast = rasterize(m.pos, m.V, m.tri, B, H, W);
    const r = rng(4);
    const C = 3;
    const rs = { batch: B, height: H, width: W };
    const gOut = new Float32Array(N * C).map(() => r() * 2 - 1);
    const attrB = new Float32Array(B * m.V * C).map(() => r() * 2 - 1);
    for (const Ba of [1, B]) {
      const attr = attrB.subarray(0, Ba * m.V * C);
      const as = { batch: Ba, vertices: m.V, channels: C };
      const g = interpolateBackward(attr, as, rast, rs, m.tri, gOut);
      expectInterpolateGradientsMatchFd(g, attr, Ba, C, rast, B, H, W, m.tri, gOut, r, `attribute batch ${Ba}`);
      // outputs can be skipped
      const onlyAttr = interpolateBackward(attr, as, rast, rs, m.tri, gOut, { rast: false });
      expect(onlyAttr.gradRast).toBeNull();
      expect(bitsEqual(onlyAttr.gradAttr!, g.gradAttr!)).toBe(true);
    }
  });

  it('interpolateBackward, every channel-count path (1-33 channels, broadcast or per-frame attributes, sparse and signed-zero gradients): central differences of the reference, and the same bits for 1, 2 and 3 threads', () => {
    // A fine sphere (triangles a few pixels wide, so consecutive pixels share a triangle as on a real mesh; the
    // CPU kernel sums such runs in registers) and channel counts on both sides of each of its code paths.
    const m = sphere(40, 24, [[0.1, 0, -3], [-0.15, 0.1, -2.7]], 2.2);
    const H = 56, W = 72, B = m.B, N = B * H * W;
    const rast = rasterize(m.pos, m.V, m.tri, B, H, W);
    const rs = { batch: B, height: H, width: W };
    const r = rng(11);
    for (const C of [1, 2, 3, 4, 5, 8, 9, 15, 16, 17, 33]) {
      // Sparse gradients: a third of the pixels exactly zero (half of them -0), as the tracker's losses give.
      const gOut = new Float32Array(N * C);
      for (let p = 0; p < N; p++) {
        const zero = r() < 1 / 3, neg = r() < 0.5;
        for (let c = 0; c < C; c++) gOut[p * C + c] = zero ? (neg ? -0 : 0) : r() * 2 - 1;
      }
      for (const Ba of [1, B]) {
        const attr = new Float32Array(Ba * m.V * C).map(() => r() * 2 - 1);
        const as = { batch: Ba, vertices: m.V, channels: C };
        setThreads(1);
        const g = interpolateBackward(attr, as, rast, rs, m.tri, gOut);
        for (const n of [2, 3]) {
          setThreads(n);
          const gn = interpolateBackward(attr, as, rast, rs, m.tri, gOut);
          expect(bitsEqual(gn.gradAttr!, g.gradAttr!), `${C} channels, ${n} threads: gradAttr`).toBe(true);
          expect(bitsEqual(gn.gradRast!, g.gradRast!), `${C} channels, ${n} threads: gradRast`).toBe(true);
        }
        setThreads(0);
        expectInterpolateGradientsMatchFd(g, attr, Ba, C, rast, B, H, W, m.tri, gOut, r, `${C} channels, attribute batch ${Ba}`);
        // A vertex none of whose triangles gets a non-zero gradient has exactly +0 (never -0): zero rows are skipped.
        for (let i = 0; i < g.gradAttr!.length; i++) if (g.gradAttr![i] === 0) expect(Object.is(g.gradAttr![i], -0)).toBe(false);
      }
    }
  });

  it('the id ranges that split a frame over threads follow the previous call\'s pixels, and no result depends on them', () => {
    // Two frames of the same size with very different pixel distributions over the ids (a sphere seen from two
    // sides), alternated: each call splits by the other image's (or its own earlier) counts, and one thread does
    // not split at all. Every result must be bitwise that of one thread.
    const a = sphere(40, 24, [[0.6, 0.1, -3]], 2.2), b = sphere(40, 24, [[-0.7, -0.2, -2.6]], 2.2);
    const H = 48, W = 64, N = H * W, C = 5;
    const r = rng(31);
    const attr = Float32Array.from({ length: a.V * C }, () => r() - 0.5);
    const gOut = Float32Array.from({ length: N * C }, () => (r() < 0.2 ? 0 : r() - 0.5));
    const gRast = Float32Array.from({ length: N * 2 }, () => r() - 0.5);
    const rs = { batch: 1, height: H, width: W };
    const as = { batch: 1, vertices: a.V, channels: C };
    const bits = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));
    const run = (m: Mesh) => {
      const rast = rasterize(m.pos, m.V, m.tri, 1, H, W);
      const chained = interpolateRasterizeBackward(attr, as, rast, rs, m.tri, gOut, m.pos, m.V, m.tri);
      const plain = rasterizeBackward(m.pos, m.V, m.tri, 1, H, W, rast, gRast);
      return [bits(chained.gradAttr!), bits(chained.gradPos!), bits(plain)];
    };
    setThreads(1);
    const oneA = run(a), oneB = run(b);
    for (const threads of [2, 3]) {
      setThreads(threads);
      for (const [m, one] of [[a, oneA], [b, oneB], [a, oneA], [a, oneA], [b, oneB], [b, oneB]] as const) expect(run(m)).toEqual(one);
    }
    setThreads(0);
  });

  it('a bad triangle id anywhere in rast is refused by interpolate, interpolateBackward, interpolateRasterizeBackward and antialias at any thread count (checked in their own passes); the chained backward and an accumulating interpolateBackward write no output, antialias no valid work buffer', () => {
    // One frame of 37 x 23 pixels (not a multiple of 8: the last pixels are a scalar tail); ids that are out of range,
    // fractional, negative, NaN or beyond the int range, at the first pixel, a covered pixel in each half and the
    // last pixel.
    const m = sphere(24, 16, [[0.05, 0, -3]], 1.6);
    const H = 23, W = 37, N = H * W, T = m.tri.length / 3, C = 5;
    const rast = rasterize(m.pos, m.V, m.tri, 1, H, W);
    const rs = { batch: 1, height: H, width: W };
    const as = { batch: 1, vertices: m.V, channels: C };
    const r = rng(21);
    const attr = Float32Array.from({ length: m.V * C }, () => r() - 0.5);
    const gOut = Float32Array.from({ length: N * C }, () => r() - 0.5);
    const color = Float32Array.from({ length: N }, () => r());
    const opp = antialiasTopology(m.tri, m.V);
    const firstCovered = rast.findIndex((x, i) => i % 4 === 3 && x !== 0) >> 2;
    let lastCovered = N - 1;
    while (rast[4 * lastCovered + 3] === 0) lastCovered--;
    for (const threads of [1, 2, 3]) {
      setThreads(threads);
      for (const pixel of [0, firstCovered, lastCovered, N - 1]) {
        for (const bad of [T + 1, 2.5, -1, Number.NaN, 1e10]) {
          const broken = rast.slice();
          broken[4 * pixel + 3] = bad;
          const what = `${threads} threads, pixel ${pixel}, id ${bad}`;
          expect(() => interpolate(attr, as, broken, rs, m.tri), what).toThrow(new RegExp(`interpolate: expected 0 or an integer in \\[1, ${T}\\] for the triangle id of rast pixel ${pixel}`));
          const gradAttr = Float32Array.from({ length: m.V * C }, () => 7);
          const gradPos = Float32Array.from({ length: m.V * 4 }, () => r());
          const before = gradPos.slice();
          expect(() => interpolateRasterizeBackward(attr, as, broken, rs, m.tri, gOut, m.pos, m.V, m.tri, {}, { gradAttr, gradPos, accumulatePos: true }), what)
            .toThrow(new RegExp(`triangle id of rast pixel ${pixel}`));
          expect(gradPos, what).toEqual(before);
          expect(gradAttr.every((x) => x === 7), what).toBe(true);
          // The rast gradient alone (checked in its own pass), and accumulated (checked before: nothing is added).
          expect(() => interpolateBackward(attr, as, broken, rs, m.tri, gOut, { attr: false }), what).toThrow(new RegExp(`triangle id of rast pixel ${pixel}`));
          const gradRast = Float32Array.from({ length: 2 * N }, () => r());
          const rastBefore = gradRast.slice();
          expect(() => interpolateBackward(attr, as, broken, rs, m.tri, gOut, { attr: false }, { gradRast, accumulateRast: true }), what)
            .toThrow(new RegExp(`triangle id of rast pixel ${pixel}`));
          expect(gradRast, what).toEqual(rastBefore);
          // antialias checks the ids band by band (rows of 16, each with the rows above and below it).
          const work = antialiasWorkBuffer(rs);
          antialias(color, 1, rast, rs, m.pos, m.V, m.tri, opp, undefined, { work });
          expect(() => antialias(color, 1, broken, rs, m.pos, m.V, m.tri, opp, undefined, { work }), what).toThrow(new RegExp(`triangle id of rast pixel ${pixel}`));
          expect(() => antialiasBackward(color, 1, rast, rs, m.pos, m.V, m.tri, gOut.subarray(0, N), opp, {}, {}, { work }), what).toThrow(/work/);
        }
      }
    }
    setThreads(0);
  });

  it('interpolateRasterizeBackward gives the bits of interpolateBackward followed by rasterizeBackward (every channel-count path, seam attributes, broadcast or per frame, accumulate, 1-3 threads)', () => {
    // The fine sphere of the test above, its attributes indexed per corner (attrTri != tri, as FLAME's UV seams
    // make them), and gradients that are a third exactly zero (half -0) so that skipped pixels are exercised.
    const m = sphere(40, 24, [[0.1, 0, -3], [-0.15, 0.1, -2.7]], 2.2);
    const H = 56, W = 72, B = m.B, N = B * H * W, T = m.tri.length / 3;
    const rast = rasterize(m.pos, m.V, m.tri, B, H, W);
    const rs = { batch: B, height: H, width: W };
    const cornerTri = Int32Array.from({ length: 3 * T }, (_, i) => i);
    const r = rng(12);
    const base = new Float32Array(B * m.V * 4).map(() => r() * 2 - 1);
    let covered = 0;
    for (let p = 0; p < N; p++) if (rast[4 * p + 3] !== 0) covered++;
    expect(covered).toBeGreaterThan(N / 4);
    for (const C of [1, 3, 4, 5, 9, 16, 17, 33]) {
      const gOut = new Float32Array(N * C);
      for (let p = 0; p < N; p++) {
        const zero = r() < 1 / 3, neg = r() < 0.5;
        for (let c = 0; c < C; c++) gOut[p * C + c] = zero ? (neg ? -0 : 0) : r() * 2 - 1;
      }
      for (const Ba of [1, B]) {
        for (const attrTri of [m.tri, cornerTri]) {
          const Va = attrTri === m.tri ? m.V : 3 * T;
          const attr = new Float32Array(Ba * Va * C).map(() => r() * 2 - 1);
          const as = { batch: Ba, vertices: Va, channels: C };
          const label = `${C} channels, attribute batch ${Ba}, ${attrTri === m.tri ? 'shared' : 'per-corner'} attributes`;
          setThreads(1);
          const two = interpolateBackward(attr, as, rast, rs, attrTri, gOut);
          const twoPos = rasterizeBackward(m.pos, m.V, m.tri, B, H, W, rast, two.gradRast!);
          const twoAcc = rasterizeBackward(m.pos, m.V, m.tri, B, H, W, rast, two.gradRast!, base.slice(), { accumulate: true });
          // An incoming rast gradient (another interpolation's, ±0 at some covered pixels where gOut is not, and
          // the reverse) added as accumulateRast adds it.
          const inRast = new Float32Array(N * 2).map(() => (r() < 0.3 ? (r() < 0.5 ? -0 : 0) : r() * 2 - 1));
          const sumRast = inRast.slice();
          interpolateBackward(attr, as, rast, rs, attrTri, gOut, { attr: false }, { gradRast: sumRast, accumulateRast: true });
          const twoIn = rasterizeBackward(m.pos, m.V, m.tri, B, H, W, rast, sumRast);
          expect(twoPos.some((x) => x !== 0), label).toBe(true);
          for (const n of [1, 2, 3]) {
            setThreads(n);
            const one = interpolateRasterizeBackward(attr, as, rast, rs, attrTri, gOut, m.pos, m.V, m.tri);
            expect(bitsEqual(one.gradAttr!, two.gradAttr!), `${label}, ${n} threads: gradAttr`).toBe(true);
            expect(bitsEqual(one.gradPos, twoPos), `${label}, ${n} threads: gradPos`).toBe(true);
            const acc = interpolateRasterizeBackward(attr, as, rast, rs, attrTri, gOut, m.pos, m.V, m.tri, { attr: false }, { gradPos: base.slice(), accumulatePos: true });
            expect(acc.gradAttr).toBeNull();
            expect(bitsEqual(acc.gradPos, twoAcc), `${label}, ${n} threads: accumulated gradPos`).toBe(true);
            const chained = interpolateRasterizeBackward(attr, as, rast, rs, attrTri, gOut, m.pos, m.V, m.tri, { gradRast: inRast });
            expect(bitsEqual(chained.gradAttr!, two.gradAttr!), `${label}, ${n} threads: gradAttr with an incoming rast gradient`).toBe(true);
            expect(bitsEqual(chained.gradPos, twoIn), `${label}, ${n} threads: gradPos with an incoming rast gradient`).toBe(true);
          }
          setThreads(0);
        }
      }
    }
  });

  it('rasterize + interpolate chain: gradPos matches central differences of the reference', () => {
    const m = gradientMesh();
    const N = H * W;
    const C = 2;
    const r = rng(8);
    const attr = new Float32Array(m.V * C).map(() => r() * 2 - 1);
    const ref0 = referenceRasterize(m.pos, m.V, m.tri, H, W);
    const mask = interiorMask(ref0, N, 0.02);
    const gOut = new Float32Array(N * C);
    for (let p = 0; p < N; p++) if (mask[p]) for (let c = 0; c < C; c++) gOut[p * C + c] = r() * 2 - 1;
    const rast = rasterize(m.pos, m.V, m.tri, 1, H, W);
    const as = { batch: 1, vertices: m.V, channels: C };
    const rs = { batch: 1, height: H, width: W };
    const gRast = interpolateBackward(attr, as, rast, rs, m.tri, gOut, { attr: false }).gradRast!;
    const gPos = rasterizeBackward(m.pos, m.V, m.tri, 1, H, W, rast, gRast);
    const ids0 = idsOf(ref0, N);
    let checked = 0;
    for (let trial = 0; trial < 6; trial++) {
      const delta = new Float64Array(4 * m.V);
      for (let v = 0; v < m.V; v++) for (const c of [0, 1, 3]) delta[4 * v + c] = r() * 2 - 1;
      const h = 1e-6;
      const L = (s: number): { L: number; ids: Float64Array } => {
        const pos = Float64Array.from(m.pos, (x, i) => x + s * h * delta[i]);
        const o = referenceRasterize(pos, m.V, m.tri, H, W);
        const it = referenceInterpolate(attr, 1, C, o, 1, H, W, m.tri);
        let sum = 0;
        for (let i = 0; i < it.length; i++) sum += gOut[i] * it[i];
        return { L: sum, ids: idsOf(o, N) };
      };
      const lp = L(1);
      const lm = L(-1);
      if (!sameIds(lp.ids, ids0) || !sameIds(lm.ids, ids0)) continue;
      const fd = (lp.L - lm.L) / (2 * h);
      let an = 0;
      for (let i = 0; i < delta.length; i++) an += gPos[i] * delta[i];
      if (process.env.P3D_VERBOSE) console.log(`directional derivative: analytic ${an}, central difference ${fd}`);
      expect(Math.abs(an - fd)).toBeLessThan(1e-4 * Math.max(1, Math.abs(fd)));
      checked++;
    }
    expect(checked).toBeGreaterThan(3);
  });

  it('zero incoming gradients give exactly zero outputs', () => {
    const m = gradientMesh();
    const rast = rasterize(m.pos, m.V, m.tri, 1, H, W);
    const gPos = rasterizeBackward(m.pos, m.V, m.tri, 1, H, W, rast, new Float32Array(2 * H * W));
    expect(gPos.every((v) => Object.is(v, 0))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('argument validation (before native code)', () => {
  const m = gradientMesh();
  const H = 8;
  const W = 8;
  const rast = rasterize(m.pos, m.V, m.tri, 1, H, W);
  const rs = { batch: 1, height: H, width: W };
  const as = { batch: 1, vertices: m.V, channels: 2 };
  const attr = new Float32Array(m.V * 2);

  it('rasterize', () => {
    expect(() => rasterize(m.pos.subarray(1), m.V, m.tri, 1, H, W)).toThrow(/rasterize: expected a Float32Array of length 32 for pos, got Float32Array\(31\)/);
    expect(() => rasterize(m.pos, m.V, new Int32Array([0, 1, 8]), 1, H, W)).toThrow(/rasterize: expected an index in \[0, 8\) for tri\[2\], got 8/);
    expect(() => rasterize(m.pos, m.V, new Int32Array([0, -1, 2]), 1, H, W)).toThrow(KernelArgumentError);
    expect(() => rasterize(m.pos, m.V, new Int32Array([0, 1]), 1, H, W)).toThrow(/Int32Array of length 3\*T for tri/);
    expect(() => rasterize(m.pos, m.V, m.tri, 1, 0, W)).toThrow(/for height, got 0/);
    expect(() => rasterize(m.pos, m.V, m.tri, 1.5, H, W)).toThrow(/for batch, got 1.5/);
    expect(() => rasterize(new Float64Array(m.pos) as unknown as Float32Array, m.V, m.tri, 1, H, W)).toThrow(KernelArgumentError);
    expect(() => rasterize(m.pos, m.V, m.tri, 1, H, W, new Float32Array(3))).toThrow(/for out/);
  });

  it('rasterizeBackward', () => {
    const g = new Float32Array(2 * H * W);
    expect(() => rasterizeBackward(m.pos, m.V, m.tri, 1, H, W, rast, g.subarray(1))).toThrow(/for gradRast/);
    const badRast = rast.slice();
    badRast[3] = 2.5;
    expect(() => rasterizeBackward(m.pos, m.V, m.tri, 1, H, W, badRast, g)).toThrow(/triangle id of rast pixel 0, got 2.5/);
    badRast[3] = m.tri.length / 3 + 1;
    expect(() => rasterizeBackward(m.pos, m.V, m.tri, 1, H, W, badRast, g)).toThrow(KernelArgumentError);
  });

  it('interpolate / interpolateBackward', () => {
    expect(() => interpolate(attr, { ...as, batch: 2 }, rast, rs, m.tri)).toThrow(/1 or the rast batch 1 for attr batch, got 2/);
    expect(() => interpolate(attr, as, rast, rs, new Int32Array([0, 1, 9]))).toThrow(/attrTri\[2\]/);
    expect(() => interpolate(attr.subarray(1), as, rast, rs, m.tri)).toThrow(/for attr/);
    expect(() => interpolate(attr, as, rast, rs, m.tri.subarray(0, 3))).toThrow(/triangle id of rast pixel/);
    expect(() => interpolate(attr, as, rast, { ...rs, width: 7 }, m.tri)).toThrow(/for rast/);
    expect(() => interpolateBackward(attr, as, rast, rs, m.tri, new Float32Array(5))).toThrow(/for gradOut/);
  });

  it('interpolateRasterizeBackward', () => {
    const g = new Float32Array(2 * H * W);
    expect(() => interpolateRasterizeBackward(attr, as, rast, rs, m.tri, g, m.pos, m.V, m.tri.subarray(3))).toThrow(/interpolateRasterizeBackward: expected \d+ triangles, as attrTri for tri/);
    expect(() => interpolateRasterizeBackward(attr, as, rast, rs, m.tri, g, m.pos.subarray(4), m.V, m.tri)).toThrow(/for pos/);
    expect(() => interpolateRasterizeBackward(attr, as, rast, rs, m.tri, g, m.pos, m.V, new Int32Array(m.tri).fill(m.V, 0, 1))).toThrow(/for tri\[0\]/);
    expect(() => interpolateRasterizeBackward(attr, as, rast, rs, m.tri, g, m.pos, m.V, m.tri, {}, { accumulatePos: true })).toThrow(/out.gradPos/);
    expect(() => interpolateRasterizeBackward(attr, as, rast, rs, m.tri, g.subarray(1), m.pos, m.V, m.tri)).toThrow(/for gradOut/);
    expect(() => interpolateRasterizeBackward(attr, as, rast, rs, m.tri, g, m.pos, m.V, m.tri, { gradRast: g.subarray(2) })).toThrow(/for inputs.gradRast/);
    const addon = nativeAddon() as unknown as { interpolateRasterizeBackward(a: Record<string, unknown>): void };
    const args = { attr, attrBatch: 1, attrVertices: m.V, channels: 2, rast, batch: 1, height: H, width: W, attrTri: m.tri, gradOut: g, pos: m.pos, numVertices: m.V, tri: m.tri, gradPos: new Float32Array(4 * m.V) };
    expect(() => addon.interpolateRasterizeBackward({ ...args, tri: m.tri.subarray(3) })).toThrow(/as many triangles as attrTri/);
    expect(() => addon.interpolateRasterizeBackward({ ...args, tri: new Int32Array(m.tri).fill(99, 0, 1) })).toThrow(/outside \[0, 8\)/);
    expect(() => addon.interpolateRasterizeBackward({ ...args, gradPos: new Float32Array(3) })).toThrow(/gradPos must have/);
    expect(() => addon.interpolateRasterizeBackward({ ...args, gradRastIn: new Float32Array(3) })).toThrow(/gradRastIn must have/);
  });

  it('the native binding re-checks indices and lengths itself', () => {
    const addon = nativeAddon() as unknown as { rasterize(a: Record<string, unknown>): void };
    const args = { pos: m.pos, numVertices: m.V, tri: new Int32Array([0, 1, 99]), batch: 1, height: H, width: W, rast: new Float32Array(4 * H * W) };
    expect(() => addon.rasterize(args)).toThrow(/outside \[0, 8\)/);
    expect(() => addon.rasterize({ ...args, tri: m.tri, rast: new Float32Array(3) })).toThrow(/rast must have/);
  });
});

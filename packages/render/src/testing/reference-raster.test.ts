import { describe, expect, it } from 'vitest';
import { makeRng } from '@pixel3dmm/kernels/testing/random-flame';
import {
  baryAt,
  nearClipPoint,
  orderedBits64,
  referenceAntialias,
  referenceAntialiasPairs,
  referenceAntialiasTopology,
  referenceCoverageCount,
  referenceInterpolate,
  referenceRasterize,
  referenceTexture,
  roundHalfEven,
  toFixed,
} from './reference-raster.js';
import { clipOf, gridTris, project, uvSphere } from './meshes.js';

// ---------------------------------------------------------------------------------------------------------
// helpers

/** The project's deterministic PRNG (mulberry32), uniform in [0, 1). */
const rng = (seed: number): (() => number) => makeRng(seed).uniform;

/** NDC coordinate of fixed-point position X (1/16 px) for an image dimension of `size` px. */
function ndcOfFixed(X: number, size: number): number {
  return (X - 8 * size) / (8 * size);
}

function countIf(a: ArrayLike<number>, pred: (v: number) => boolean): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (pred(a[i])) n++;
  return n;
}

function hasNaN(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (Number.isNaN(a[i])) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------------------

describe('fixed point helpers', () => {
  it('rounds half to even and saturates', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, 2.5001].map(roundHalfEven)).toEqual([0, 2, 2, 0, -2, 2, 3]);
    expect(toFixed(1e30, 100)).toBe(2 ** 28);
    expect(toFixed(-Infinity, 100)).toBe(-(2 ** 28));
    // centre of pixel 3 of a 10-px row is NDC (2*3+1)/10 - 1 -> X = 16*3 + 8
    expect(toFixed(7 / 10 - 1, 10)).toBe(56);
  });
  it('orderedBits64 orders like floats, -0 before +0', () => {
    const xs = [-Infinity, -2, -1e-300, -0, 0, 1e-300, 0.5, 1, Infinity];
    for (let i = 0; i + 1 < xs.length; i++) expect(orderedBits64(xs[i]) < orderedBits64(xs[i + 1])).toBe(true);
  });
});

describe('watertight coverage (coverage-count mode)', () => {
  it('jittered subdivided plane with random perspective w covers every pixel exactly once', () => {
    for (const [seed, H, W, n] of [
      [1, 37, 53, 9],
      [2, 40, 40, 13],
      [3, 17, 64, 7],
    ] as const) {
      const r = rng(seed);
      const pos: number[] = [];
      const cell = 2.3 / (n - 1);
      for (let j = 0; j < n; j++) {
        for (let i = 0; i < n; i++) {
          let x = -1.15 + i * cell;
          let y = -1.15 + j * cell;
          if (i > 0 && i < n - 1) x += (r() - 0.5) * 0.6 * cell;
          if (j > 0 && j < n - 1) y += (r() - 0.5) * 0.6 * cell;
          pos.push(...clipOf(x, y, r() * 0.8 - 0.4, 0.5 + 2.5 * r()));
        }
      }
      const V = n * n;
      for (const flip of [false, true]) {
        let tri = gridTris(n, n, () => r() < 0.5);
        if (flip) tri = tri.map((_, k) => tri[k - (k % 3) + [0, 2, 1][k % 3]]);
        const cnt = referenceCoverageCount(new Float64Array(pos), V, tri, H, W);
        expect(countIf(cnt, (c) => c !== 1)).toBe(0);
        const rast = referenceRasterize(new Float64Array(pos), V, tri, H, W);
        expect(countIf(rast.filter((_, k) => k % 4 === 3), (id) => id <= 0)).toBe(0);
      }
    }
  });

  it('plane with vertices snapped exactly onto sample positions and pixel edges', () => {
    const H = 33;
    const W = 41;
    const r = rng(7);
    const n = 8;
    const fixedAt = (k: number, size: number): number => {
      if (k === 0) return -40;
      if (k === n - 1) return 16 * size + 40;
      const basePx = Math.round((k * size) / (n - 1)) + Math.floor(r() * 3) - 1;
      return 16 * basePx + (r() < 0.5 ? 8 : 0); // sample row/column or pixel edge
    };
    const pos: number[] = [];
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        const w = [1, 2, 0.5][Math.floor(r() * 3)];
        pos.push(...clipOf(ndcOfFixed(fixedAt(i, W), W), ndcOfFixed(fixedAt(j, H), H), 0, w));
      }
    }
    // check the snapping really lands on the intended lattice
    for (let v = 0; v < n * n; v++) {
      const X = toFixed(pos[4 * v] / pos[4 * v + 3], W);
      expect(Math.abs(X % 8)).toBe(0);
    }
    for (let rep = 0; rep < 3; rep++) {
      const tri = gridTris(n, n, () => r() < 0.5);
      const cnt = referenceCoverageCount(new Float64Array(pos), n * n, tri, H, W);
      expect(countIf(cnt, (c) => c !== 1)).toBe(0);
    }
  });

  it('fan of 12 triangles around a vertex exactly on a sample: one owner per pixel', () => {
    const H = 40;
    const W = 44;
    const offs = [
      [10, 0],
      [8, 5],
      [7, 7],
      [3, 9],
      [0, 10],
      [-7, 7],
      [-10, 0],
      [-8, -5],
      [-7, -7],
      [0, -10],
      [5, -8],
      [7, -7],
    ];
    for (const [cx, cy, w] of [
      [20, 15, 1],
      [21, 22, 3],
    ]) {
      const sample = (px: number, py: number): number[] =>
        clipOf(ndcOfFixed(16 * px + 8, W), ndcOfFixed(16 * py + 8, H), 0.1, w);
      const pos = [...sample(cx, cy)];
      for (const [dx, dy] of offs) pos.push(...sample(cx + dx, cy + dy));
      const tri: number[] = [];
      for (let k = 0; k < 12; k++) tri.push(0, 1 + k, 1 + ((k + 1) % 12));
      const cnt = referenceCoverageCount(new Float64Array(pos), 13, new Int32Array(tri), H, W);
      expect(countIf(cnt, (c) => c > 1)).toBe(0);
      expect(cnt[cy * W + cx]).toBe(1);
      // samples on the axis/diagonal spokes (exactly on shared edges) have exactly one owner
      for (const [dx, dy] of [
        [1, 0],
        [1, 1],
        [0, 1],
        [-1, 1],
        [-1, 0],
        [-1, -1],
        [0, -1],
        [1, -1],
      ]) {
        for (let k = 1; k < 7; k++) expect(cnt[(cy + k * dy) * W + cx + k * dx]).toBe(1);
      }
      const rast = referenceRasterize(new Float64Array(pos), 13, new Int32Array(tri), H, W);
      expect(rast[4 * (cy * W + cx) + 3]).toBeGreaterThan(0);
    }
  });

  it('closed sphere: every pixel has 0 or 2 layers, 2 inside the silhouette', () => {
    const H = 48;
    const W = 48;
    const nu = 24;
    const nv = 14;
    const { points: cam, tri } = uvSphere(nu, nv);
    const V = cam.length;
    const centre: [number, number, number] = [0.13, -0.07, -3.5];
    const f = 2.2;
    const pos = new Float64Array(cam.flatMap((p) => project([p[0] + centre[0], p[1] + centre[1], p[2] + centre[2]], f)));
    const cnt = referenceCoverageCount(pos, V, new Int32Array(tri), H, W);
    let inside = 0;
    for (let py = 0; py < H; py++) {
      for (let px = 0; px < W; px++) {
        const c = cnt[py * W + px];
        expect(c === 0 || c === 2).toBe(true);
        // distance of the pixel ray from the sphere centre
        const d = [((2 * px + 1) / W - 1) / f, ((2 * py + 1) / H - 1) / f, -1];
        const dn = Math.hypot(d[0], d[1], d[2]);
        const tc = (d[0] * centre[0] + d[1] * centre[1] + d[2] * centre[2]) / dn;
        const dist = Math.sqrt(Math.max(0, centre[0] ** 2 + centre[1] ** 2 + centre[2] ** 2 - tc * tc));
        if (dist < 0.95) {
          expect(c).toBe(2);
          inside++;
        }
        if (dist > 1.0) expect(c).toBe(0);
      }
    }
    expect(inside).toBeGreaterThan(200);
  });

  it('huge triangles beyond the guard band (saturated, BigInt path) stay watertight', () => {
    const H = 24;
    const W = 24;
    const pos = new Float64Array([
      ...clipOf(-1e9, -1e9, 0, 1),
      ...clipOf(1e9, -1e9, 0, 1),
      ...clipOf(1e9, 1e9, 0, 1),
      ...clipOf(-1e9, 1e9, 0, 1),
    ]);
    for (const tri of [
      [0, 1, 2, 0, 2, 3],
      [0, 1, 3, 1, 2, 3],
    ]) {
      const cnt = referenceCoverageCount(pos, 4, new Int32Array(tri), H, W);
      expect(countIf(cnt, (c) => c !== 1)).toBe(0);
    }
  });
});

describe('top-left rule', () => {
  const H = 16;
  const W = 20;
  // pixel-index bounds: edges exactly through sample columns a, m, b and sample rows c, d
  const a = 3;
  const m = 8;
  const b = 12;
  const c = 2;
  const d = 10;
  const v = (px: number, py: number): number[] => clipOf(ndcOfFixed(16 * px + 8, W), ndcOfFixed(16 * py + 8, H), 0, 1);
  const expectRect = (cnt: Int32Array): void => {
    for (let py = 0; py < H; py++) {
      for (let px = 0; px < W; px++) {
        // left edge and top edge inclusive; right and bottom exclusive (y up)
        const want = px >= a && px < b && py > c && py <= d ? 1 : 0;
        expect(cnt[py * W + px]).toBe(want);
      }
    }
  };
  it('axis-aligned rectangle: exact pixel set for both diagonals and both windings', () => {
    const pos = new Float64Array([...v(a, c), ...v(b, c), ...v(b, d), ...v(a, d)]);
    for (const tri of [
      [0, 1, 2, 0, 2, 3],
      [0, 1, 3, 1, 2, 3],
      [0, 2, 1, 0, 3, 2],
      [0, 3, 1, 1, 3, 2],
    ]) {
      const cnt = referenceCoverageCount(pos, 4, new Int32Array(tri), H, W);
      expectRect(cnt);
      expect(countIf(cnt, (x) => x === 1)).toBe((b - a) * (d - c));
    }
  });
  it('shared vertical and horizontal edges on samples', () => {
    // vertical split at column m
    const pos = new Float64Array([...v(a, c), ...v(m, c), ...v(b, c), ...v(a, d), ...v(m, d), ...v(b, d)]);
    const tri = new Int32Array([0, 1, 4, 0, 4, 3, 1, 2, 5, 1, 5, 4]);
    expectRect(referenceCoverageCount(pos, 6, tri, H, W));
    // horizontal split at row 6
    const pos2 = new Float64Array([...v(a, c), ...v(b, c), ...v(a, 6), ...v(b, 6), ...v(a, d), ...v(b, d)]);
    const tri2 = new Int32Array([0, 1, 3, 0, 3, 2, 2, 3, 5, 2, 5, 4]);
    expectRect(referenceCoverageCount(pos2, 6, tri2, H, W));
  });
});

describe('near-plane clipping', () => {
  const H = 40;
  const W = 48;
  const f = 1.0;
  // floor y = -1 in camera space, extending behind the camera (z_c > 0), through z_c = 0 (w == 0 exactly)
  const xs = [-6, -2.6, 0.4, 3.3, 6];
  const zs = [2, 1, 0.5, 0, -0.05, -0.5, -1, -2, -4, -8, -15];
  const cam: [number, number, number][] = [];
  zs.forEach((z, j) => xs.forEach((x, i) => cam.push([i === 0 || i === xs.length - 1 ? x : x + 0.3 * Math.sin(j), -1, z])));
  const pos = new Float64Array(cam.flatMap((p) => project(p, f)));
  const V = cam.length;
  const tri = gridTris(xs.length, zs.length, (i, j) => (i + j) % 2 === 0);

  it('test mesh has triangles with 1, 2 and 3 vertices behind and a w == 0 vertex', () => {
    const behind = (k: number): boolean => pos[4 * k + 2] < -pos[4 * k + 3];
    const counts = new Set<number>();
    for (let t = 0; t < tri.length / 3; t++) counts.add([0, 1, 2].filter((c) => behind(tri[3 * t + c])).length);
    expect([...counts].sort()).toEqual([0, 1, 2, 3]);
    expect(countIf(pos.filter((_, k) => k % 4 === 3), (w) => w === 0)).toBeGreaterThan(0);
  });

  it('clipped floor: crack-free, no NaN, barycentrics/depth match the analytic ray-plane hit', () => {
    const cnt = referenceCoverageCount(pos, V, tri, H, W);
    const rast = referenceRasterize(pos, V, tri, H, W);
    expect(hasNaN(rast)).toBe(false);
    const interp = referenceInterpolate(new Float64Array(cam.flat()), 1, 3, rast, 1, H, W, tri);
    const hit = (fx: number, fy: number): [number, number, number] | null => {
      const d = [fx / f, fy / f, -1];
      if (d[1] >= 0) return null;
      const t = -1 / d[1];
      return [t * d[0], -1, -t];
    };
    const inGrid = (p: [number, number, number] | null): boolean => p !== null && Math.abs(p[0]) < 6 && p[2] > -15;
    let full = 0;
    for (let py = 0; py < H; py++) {
      for (let px = 0; px < W; px++) {
        const k = py * W + px;
        expect(cnt[k]).toBeLessThanOrEqual(1);
        const fx = (2 * px + 1) / W - 1;
        const fy = (2 * py + 1) / H - 1;
        const corners = [-1, 1].flatMap((sx) => [-1, 1].map((sy) => inGrid(hit(fx + sx / W, fy + sy / H))));
        if (corners.every((x) => x)) {
          expect(cnt[k]).toBe(1);
          full++;
          const p = hit(fx, fy)!;
          for (let c = 0; c < 3; c++) expect(interp[3 * k + c]).toBeCloseTo(p[c], 9);
          const zw = project(p, f)[2] / project(p, f)[3];
          expect(rast[4 * k + 2]).toBeCloseTo(zw, 9);
        } else if (corners.every((x) => !x)) {
          expect(cnt[k]).toBe(0);
        }
      }
    }
    expect(full).toBeGreaterThan(400);
  });

  it('barycentrics are continuous across the clip line (within a clipped triangle)', () => {
    // one big triangle with one vertex behind: u, v of horizontally adjacent covered pixels change smoothly
    const p = new Float64Array([...project([0, -1, 1], f), ...project([4, -1, -10], f), ...project([-4, -1, -10], f)]);
    const rast = referenceRasterize(p, 3, new Int32Array([0, 1, 2]), H, W);
    expect(hasNaN(rast)).toBe(false);
    let pairs = 0;
    for (let py = 0; py < H; py++) {
      for (let px = 0; px + 1 < W; px++) {
        const k = py * W + px;
        if (rast[4 * k + 3] === 1 && rast[4 * k + 7] === 1) {
          pairs++;
          expect(Math.abs(rast[4 * k] - rast[4 * k + 4])).toBeLessThan(0.05);
          expect(Math.abs(rast[4 * k + 1] - rast[4 * k + 5])).toBeLessThan(0.05);
        }
      }
    }
    expect(pairs).toBeGreaterThan(100);
    // same triangle with two vertices behind
    const p2 = new Float64Array([...project([0, -1, -10], f), ...project([4, -1, 1], f), ...project([-4, -1, 2], f)]);
    const r2 = referenceRasterize(p2, 3, new Int32Array([0, 1, 2]), H, W);
    expect(hasNaN(r2)).toBe(false);
    expect(countIf(r2.filter((_, k) => k % 4 === 3), (id) => id === 1)).toBeGreaterThan(50);
  });

  it('near-plane intersection points are bitwise independent of the edge direction', () => {
    const r = rng(9);
    for (let k = 0; k < 2000; k++) {
      const a = { x: r() * 4 - 2, y: r() * 4 - 2, z: -(1 + r()), w: 0.3 * r() }; // behind: z < -w
      const b = { x: r() * 4 - 2, y: r() * 4 - 2, z: r(), w: 0.5 + r() }; // in front
      const ia = Math.floor(r() * 100);
      const ib = ia + 1 + Math.floor(r() * 100);
      const p = nearClipPoint(a, ia, b, ib);
      expect(nearClipPoint(b, ib, a, ia)).toEqual(p);
      expect(Math.abs(p[2] + p[3])).toBeLessThan(1e-12);
    }
  });

  it('all vertices behind (including all w < 0) -> nothing', () => {
    const p = new Float64Array([...project([0, -1, 1], f), ...project([4, -1, 0.5], f), ...project([-4, 1, 2], f)]);
    expect(countIf(referenceCoverageCount(p, 3, new Int32Array([0, 1, 2]), H, W), (c) => c !== 0)).toBe(0);
    const q = new Float64Array([...clipOf(0, 0, -1.5, 1), ...clipOf(1, 0, -2, 1), ...clipOf(0, 1, -3, 1)]);
    expect(countIf(referenceCoverageCount(q, 3, new Int32Array([0, 1, 2]), H, W), (c) => c !== 0)).toBe(0);
  });
});

describe('dropped and degenerate triangles, depth', () => {
  const H = 20;
  const W = 24;
  const base = [...clipOf(-0.9, -0.9, 0, 1), ...clipOf(-0.1, -0.9, 0, 1), ...clipOf(-0.5, -0.1, 0, 1)];
  const other = [...clipOf(0.1, 0.1, 0, 2), ...clipOf(0.9, 0.1, 0, 2), ...clipOf(0.5, 0.9, 0, 2)];

  it('a NaN or Inf vertex drops its triangle only', () => {
    const alone = referenceRasterize(new Float64Array(base), 3, new Int32Array([0, 1, 2]), H, W);
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (let comp = 0; comp < 4; comp++) {
        const o = [...other];
        o[4 + comp] = bad;
        const pos = new Float64Array([...base, ...o]);
        const rast = referenceRasterize(pos, 6, new Int32Array([0, 1, 2, 3, 4, 5]), H, W);
        expect(rast).toEqual(alone);
      }
    }
  });

  it('degenerate triangles cover nothing (repeated index, collinear, zero area after snapping)', () => {
    const pos = new Float64Array([
      ...base,
      ...clipOf(-0.5, -0.5, 0, 1),
      ...clipOf(0.5, 0.5, 0, 1),
      ...clipOf(0, 0, 0, 1), // collinear with the previous two
      ...clipOf(0.2, 0.2, 0, 1),
      ...clipOf(0.2 + 1e-4, 0.2, 0, 1),
      ...clipOf(0.2, 0.2 + 1e-4, 0, 1), // < 1/32 px: snaps to one point
    ]);
    for (const tri of [
      [0, 0, 1],
      [1, 2, 2],
      [3, 4, 5],
      [6, 7, 8],
    ]) {
      expect(countIf(referenceCoverageCount(pos, 9, new Int32Array(tri), H, W), (c) => c !== 0)).toBe(0);
    }
  });

  it('coplanar overlapping triangles: the smaller id wins', () => {
    const pos = new Float64Array([...base, ...base]);
    for (const tri of [
      [0, 1, 2, 3, 4, 5],
      [3, 4, 5, 0, 1, 2],
    ]) {
      const rast = referenceRasterize(pos, 6, new Int32Array(tri), H, W);
      const ids = rast.filter((_, k) => k % 4 === 3);
      expect(countIf(ids, (id) => id === 1)).toBeGreaterThan(20);
      expect(countIf(ids, (id) => id === 2)).toBe(0);
    }
  });

  it('nearer triangle wins regardless of id; z/w > 1 is rejected, z/w == 1 kept', () => {
    const front = [...clipOf(-0.9, -0.9, -0.5, 1), ...clipOf(-0.1, -0.9, -0.5, 1), ...clipOf(-0.5, -0.1, -0.5, 1)];
    const rast = referenceRasterize(new Float64Array([...base, ...front]), 6, new Int32Array([0, 1, 2, 3, 4, 5]), H, W);
    const ids = rast.filter((_, k) => k % 4 === 3);
    expect(countIf(ids, (id) => id === 2)).toBeGreaterThan(20);
    expect(countIf(ids, (id) => id === 1)).toBe(0);
    const far = [...clipOf(-0.9, -0.9, 1.5, 1), ...clipOf(-0.1, -0.9, 1.5, 1), ...clipOf(-0.5, -0.1, 1.5, 1)];
    expect(countIf(referenceRasterize(new Float64Array(far), 3, new Int32Array([0, 1, 2]), H, W), (x) => x !== 0)).toBe(0);
    const atFar = [...clipOf(-0.9, -0.9, 1, 1), ...clipOf(-0.1, -0.9, 1, 1), ...clipOf(-0.5, -0.1, 1, 1)];
    const r1 = referenceRasterize(new Float64Array(atFar), 3, new Int32Array([0, 1, 2]), H, W);
    expect(countIf(r1.filter((_, k) => k % 4 === 3), (id) => id === 1)).toBeGreaterThan(20);
  });
});

describe('interpolate', () => {
  it('linear attribute on a tilted quad is perspective-correct (analytic ray-plane hit)', () => {
    const H = 30;
    const W = 36;
    const f = 1.4;
    // tilted plane through these camera-space corners (coplanar)
    const P0: [number, number, number] = [-1.5, -1.2, -3];
    const ex: [number, number, number] = [3, 0, -1.5];
    const ey: [number, number, number] = [0, 2.4, -2.5];
    const corner = (s: number, t: number): [number, number, number] => [
      P0[0] + s * ex[0] + t * ey[0],
      P0[1] + s * ex[1] + t * ey[1],
      P0[2] + s * ex[2] + t * ey[2],
    ];
    const cam = [corner(0, 0), corner(1, 0), corner(1, 1), corner(0, 1)];
    const pos = new Float64Array(cam.flatMap((p) => project(p, f)));
    const tri = new Int32Array([0, 1, 2, 0, 2, 3]);
    const rast = referenceRasterize(pos, 4, tri, H, W);
    // attribute = (s, t, 2s - 3t + 1): linear on the plane
    const attr = new Float64Array([0, 0, 1, 1, 0, 3, 1, 1, 0, 0, 1, -2]);
    const out = referenceInterpolate(attr, 1, 3, rast, 1, H, W, tri);
    const n = [ex[1] * ey[2] - ex[2] * ey[1], ex[2] * ey[0] - ex[0] * ey[2], ex[0] * ey[1] - ex[1] * ey[0]];
    let checked = 0;
    for (let py = 0; py < H; py++) {
      for (let px = 0; px < W; px++) {
        const k = py * W + px;
        if (rast[4 * k + 3] === 0) {
          for (let c = 0; c < 3; c++) expect(out[3 * k + c]).toBe(0);
          continue;
        }
        const d = [((2 * px + 1) / W - 1) / f, ((2 * py + 1) / H - 1) / f, -1];
        const tt = (n[0] * P0[0] + n[1] * P0[1] + n[2] * P0[2]) / (n[0] * d[0] + n[1] * d[1] + n[2] * d[2]);
        const X = [tt * d[0] - P0[0], tt * d[1] - P0[1], tt * d[2] - P0[2]];
        // solve X = s ex + t ey (least squares via normal equations)
        const a11 = ex[0] * ex[0] + ex[1] * ex[1] + ex[2] * ex[2];
        const a12 = ex[0] * ey[0] + ex[1] * ey[1] + ex[2] * ey[2];
        const a22 = ey[0] * ey[0] + ey[1] * ey[1] + ey[2] * ey[2];
        const b1 = X[0] * ex[0] + X[1] * ex[1] + X[2] * ex[2];
        const b2 = X[0] * ey[0] + X[1] * ey[1] + X[2] * ey[2];
        const det = a11 * a22 - a12 * a12;
        const s = (a22 * b1 - a12 * b2) / det;
        const t = (a11 * b2 - a12 * b1) / det;
        if (s < 1e-9 || s > 1 - 1e-9 || t < 1e-9 || t > 1 - 1e-9) continue; // clamping only matters on the rim
        expect(out[3 * k]).toBeCloseTo(s, 10);
        expect(out[3 * k + 1]).toBeCloseTo(t, 10);
        expect(out[3 * k + 2]).toBeCloseTo(2 * s - 3 * t + 1, 10);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(150);
  });
});

describe('texture', () => {
  const Ht = 4;
  const Wt = 5;
  const C = 2;
  const tex = new Float64Array(Ht * Wt * C);
  for (let j = 0; j < Ht; j++) {
    for (let i = 0; i < Wt; i++) {
      tex[(j * Wt + i) * C] = 2 * i + 3 * j + 1;
      tex[(j * Wt + i) * C + 1] = -i + 0.5 * j;
    }
  }
  const T = (i: number, j: number, c: number): number => tex[(j * Wt + i) * C + c];
  it('bilinear ramp is exact between texel centres (both modes)', () => {
    const r = rng(11);
    const uv: number[] = [];
    for (let k = 0; k < 200; k++) uv.push((0.5 + r() * (Wt - 1)) / Wt, (0.5 + r() * (Ht - 1)) / Ht);
    for (const mode of ['wrap', 'clamp'] as const) {
      const out = referenceTexture(tex, Ht, Wt, C, new Float64Array(uv), mode);
      for (let k = 0; k < 200; k++) {
        const s = uv[2 * k] * Wt - 0.5;
        const t = uv[2 * k + 1] * Ht - 0.5;
        expect(out[2 * k]).toBeCloseTo(2 * s + 3 * t + 1, 12);
        expect(out[2 * k + 1]).toBeCloseTo(-s + 0.5 * t, 12);
      }
    }
    // texel centre returns the texel exactly
    const o = referenceTexture(tex, Ht, Wt, C, new Float64Array([2.5 / Wt, 1.5 / Ht]), 'wrap');
    expect([o[0], o[1]]).toEqual([T(2, 1, 0), T(2, 1, 1)]);
  });
  it('wrap vs clamp at the borders', () => {
    const jc = 1.5 / Ht; // exactly on texel row 1
    // u = 0: halfway between texel -1 (wrap -> Wt-1) and texel 0
    const uv = new Float64Array([0, jc, 1, jc, 0.05 / Wt, jc, (Wt - 0.2) / Wt, jc, 1.5 / Wt, 0]);
    const w = referenceTexture(tex, Ht, Wt, C, uv, 'wrap');
    const c = referenceTexture(tex, Ht, Wt, C, uv, 'clamp');
    expect(w[0]).toBeCloseTo(0.5 * T(Wt - 1, 1, 0) + 0.5 * T(0, 1, 0), 12);
    expect(c[0]).toBe(T(0, 1, 0));
    expect(w[2]).toBeCloseTo(w[0], 12); // u = 1 is the same point as u = 0 when wrapping
    expect(c[2]).toBe(T(Wt - 1, 1, 0));
    // s = 0.05 - 0.5 = -0.45: fs = 0.55 towards texel 0
    expect(w[4]).toBeCloseTo(0.45 * T(Wt - 1, 1, 0) + 0.55 * T(0, 1, 0), 12);
    expect(c[4]).toBe(T(0, 1, 0));
    // s = Wt - 0.7: between texel Wt-1 (0.3) and texel Wt (wrap -> 0)
    expect(w[6]).toBeCloseTo(0.7 * T(Wt - 1, 1, 0) + 0.3 * T(0, 1, 0), 12);
    expect(c[6]).toBe(T(Wt - 1, 1, 0));
    // v = 0 on column 1: halfway between row Ht-1 (wrap) and row 0
    expect(w[8]).toBeCloseTo(0.5 * T(1, Ht - 1, 0) + 0.5 * T(1, 0, 0), 12);
    expect(c[8]).toBe(T(1, 0, 0));
  });
});

describe('batch and gradients', () => {
  it('a frame in a batch equals the frame rendered alone (bitwise); broadcast attr == per-frame attr', () => {
    const H = 21;
    const W = 27;
    const r = rng(5);
    const n = 5;
    const V = n * n;
    const tri = gridTris(n, n, () => r() < 0.5);
    const frames: number[][] = [];
    for (let b = 0; b < 3; b++) {
      const p: number[] = [];
      for (let j = 0; j < n; j++) {
        for (let i = 0; i < n; i++) {
          p.push(...project([-1 + 0.5 * i + 0.2 * r(), -1 + 0.5 * j + 0.2 * r(), -2 - r() * (b + 1) + (b === 2 ? 2.3 : 0)], 1.3));
        }
      }
      frames.push(p);
    }
    const batch = referenceRasterize(new Float64Array(frames.flat()), V, tri, H, W);
    const attr1 = new Float64Array(V * 2).map(() => r());
    const attrB = new Float64Array([...attr1, ...attr1, ...attr1]);
    const i1 = referenceInterpolate(attr1, 1, 2, batch, 3, H, W, tri);
    const iB = referenceInterpolate(attrB, 3, 2, batch, 3, H, W, tri);
    expect(i1).toEqual(iB);
    for (let b = 0; b < 3; b++) {
      const alone = referenceRasterize(new Float64Array(frames[b]), V, tri, H, W);
      expect(batch.subarray(b * H * W * 4, (b + 1) * H * W * 4)).toEqual(alone);
      const cntAlone = referenceCoverageCount(new Float64Array(frames[b]), V, tri, H, W);
      const cntBatch = referenceCoverageCount(new Float64Array(frames.flat()), V, tri, H, W);
      expect(cntBatch.subarray(b * H * W, (b + 1) * H * W)).toEqual(cntAlone);
    }
    expect(hasNaN(batch)).toBe(false);
  });

  it('barycentric derivatives: spec 2.1 backward formula matches central differences', () => {
    const H = 24;
    const W = 24;
    const f = 1.2;
    const pos = new Float64Array([
      ...project([-1, -0.8, -2], f),
      ...project([1.2, -0.5, -5], f),
      ...project([-0.2, 1.1, -3], f),
    ]);
    const tri = new Int32Array([0, 1, 2]);
    const rast = referenceRasterize(pos, 3, tri, H, W);
    const r = rng(3);
    const h = 1e-6;
    let checked = 0;
    for (let py = 0; py < H; py++) {
      for (let px = 0; px < W; px++) {
        const k = py * W + px;
        if (rast[4 * k + 3] !== 1) continue;
        const u = rast[4 * k];
        const v = rast[4 * k + 1];
        if (u < 0.05 || v < 0.05 || u + v > 0.95) continue;
        const fx = (2 * px + 1) / W - 1;
        const fy = (2 * py + 1) / H - 1;
        const du = r() - 0.5;
        const dv = r() - 0.5;
        // analytic: L = du*u + dv*v
        const p = [0, 1, 2].map((i) => pos.subarray(4 * i, 4 * i + 4));
        const { s } = baryAt(p[0], p[1], p[2], fx, fy);
        const q = p.map((pi) => [pi[0] - fx * pi[3], pi[1] - fy * pi[3]]);
        const gb0 = du / s;
        const gb1 = dv / s;
        const gbb = gb0 * u + gb1 * v;
        const ga = [gb0 - gbb, gb1 - gbb, -gbb];
        // a0 = q1 x q2, a1 = q2 x q0, a2 = q0 x q1; d(a x b)/da = (b.y, -b.x), d(a x b)/db = (-a.y, a.x)
        const gq = [
          [0, 0],
          [0, 0],
          [0, 0],
        ];
        const cross = (ia: number, ib: number, g: number): void => {
          gq[ia][0] += g * q[ib][1];
          gq[ia][1] += -g * q[ib][0];
          gq[ib][0] += -g * q[ia][1];
          gq[ib][1] += g * q[ia][0];
        };
        cross(1, 2, ga[0]);
        cross(2, 0, ga[1]);
        cross(0, 1, ga[2]);
        for (let i = 0; i < 3; i++) {
          const analytic = [gq[i][0], gq[i][1], 0, -fx * gq[i][0] - fy * gq[i][1]];
          for (let c = 0; c < 4; c++) {
            const pp = Float64Array.from(pos);
            const pm = Float64Array.from(pos);
            pp[4 * i + c] += h;
            pm[4 * i + c] -= h;
            const bp = baryAt(pp.subarray(0, 4), pp.subarray(4, 8), pp.subarray(8, 12), fx, fy);
            const bm = baryAt(pm.subarray(0, 4), pm.subarray(4, 8), pm.subarray(8, 12), fx, fy);
            const fd = (du * (bp.u - bm.u) + dv * (bp.v - bm.v)) / (2 * h);
            expect(Math.abs(fd - analytic[c])).toBeLessThan(1e-6 * Math.max(1, Math.abs(analytic[c])));
          }
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });
});

describe('antialias', () => {
  const coverageImage = (rast: Float64Array): Float64Array => rast.filter((_, k) => k % 4 === 3).map((id) => (id > 0 ? 1 : 0));
  const sum = (a: ArrayLike<number>): number => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i];
    return s;
  };
  /** clip-space vertex at pixel coordinates (centres at integers), w given */
  const atPx = (x: number, y: number, H: number, W: number, w = 1, z = 0): number[] =>
    clipOf((2 * (x + 0.5)) / W - 1, (2 * (y + 0.5)) / H - 1, z, w);
  const area = (p: number[][]): number =>
    0.5 * Math.abs((p[1][0] - p[0][0]) * (p[2][1] - p[0][1]) - (p[2][0] - p[0][0]) * (p[1][1] - p[0][1]));

  it('topology: opposite vertices, boundary, non-manifold and degenerate triangles', () => {
    const tri = new Int32Array([0, 1, 2, 2, 1, 3, 1, 2, 4, 5, 5, 6, 3, 1, 6]);
    const opp = referenceAntialiasTopology(tri);
    // edge (1,2) shared by 3 triangles -> boundary for all; edge (1,3) shared by tris 1 and 4
    expect(Array.from(opp)).toEqual([-1, -1, -1, -1, 6, -1, -1, -1, -1, -1, -1, -1, 2, -1, -1]);
  });

  it('single triangle on background: sum of AA coverage ~ area (also with perspective w)', () => {
    const H = 48;
    const W = 56;
    for (const [pts, ws] of [
      [
        [
          [5.3, 4.2],
          [47.7, 11.9],
          [19.1, 41.6],
        ],
        [1, 1, 1],
      ],
      [
        [
          [50.2, 3.1],
          [30.6, 44.4],
          [4.4, 20.3],
        ],
        [0.7, 2.5, 1.3],
      ],
      // exact 45-degree hypotenuse (must be counted exactly once)
      [
        [
          [6.2, 5.1],
          [40.2, 5.1],
          [6.2, 39.1],
        ],
        [1, 1, 1],
      ],
    ] as [number[][], number[]][]) {
      const pos = new Float64Array(pts.flatMap((p, i) => atPx(p[0], p[1], H, W, ws[i])));
      const tri = new Int32Array([0, 1, 2]);
      const rast = referenceRasterize(pos, 3, tri, H, W);
      const cov = coverageImage(rast);
      const aa = referenceAntialias(cov, 1, rast, 1, H, W, pos, 3, tri);
      const A = area(pts);
      expect(Math.abs(sum(aa) - A) / A).toBeLessThan(0.01);
      expect(Math.abs(sum(aa) - A)).toBeLessThan(Math.abs(sum(cov) - A) + 1);
      for (const x of aa) expect(x >= -1e-12 && x <= 1 + 1e-12).toBe(true);
    }
  });

  it('45-degree edges are used by horizontal pairs only (strict partition)', () => {
    const H = 48;
    const W = 48;
    for (const [y2, wantDir] of [
      [39.1, 0], // |dy| == |dx|: horizontal pairs
      [39.0, 1], // |dx| > |dy|: vertical pairs
      [39.2, 0],
    ]) {
      const pts = [
        [6.2, 5.1],
        [40.2, 5.1],
        [6.2, y2],
      ];
      const pos = new Float64Array(pts.flatMap((p) => atPx(p[0], p[1], H, W)));
      const tri = new Int32Array([0, 1, 2]);
      const rast = referenceRasterize(pos, 3, tri, H, W);
      const rec = referenceAntialiasPairs(rast, 1, H, W, pos, 3, tri);
      let n = 0;
      for (let r = 0; r < rec.tri.length; r++) {
        if (rec.tri[r] === 0 && rec.edge[r] === 1) {
          expect(r % 2).toBe(wantDir);
          n++;
        }
      }
      expect(n).toBeGreaterThan(25);
    }
  });

  it('rectangle with edges through pixel centres (dc = 0 / 1) gives half coverage on the edge pixels', () => {
    const H = 16;
    const W = 20;
    const pos = new Float64Array([...atPx(3, 2, H, W), ...atPx(12, 2, H, W), ...atPx(12, 10, H, W), ...atPx(3, 10, H, W)]);
    const tri = new Int32Array([0, 1, 2, 0, 2, 3]);
    const rast = referenceRasterize(pos, 4, tri, H, W);
    const aa = referenceAntialias(coverageImage(rast), 1, rast, 1, H, W, pos, 4, tri);
    // rows strictly between: columns 3 and 12 half covered, 4..11 full
    for (let py = 3; py < 10; py++) {
      expect(aa[py * W + 3]).toBeCloseTo(0.5, 12);
      expect(aa[py * W + 12]).toBeCloseTo(0.5, 12);
      for (let px = 4; px < 12; px++) expect(aa[py * W + px]).toBe(1);
      expect(aa[py * W + 2]).toBe(0);
      expect(aa[py * W + 13]).toBe(0);
    }
    // near the corners only the edges of the triangle visible in a pixel are considered (spec 2.1), so the
    // total is exact only up to corner effects
    expect(Math.abs(sum(aa) - 9 * 8)).toBeLessThan(2);
  });

  it('interior (non-silhouette) edges change nothing; image borders are safe', () => {
    const H = 20;
    const W = 20;
    // quad larger than the image, two triangles with different colours
    const pos = new Float64Array([...atPx(-3, -3, H, W), ...atPx(23, -2, H, W), ...atPx(22, 24, H, W), ...atPx(-2, 23, H, W)]);
    const tri = new Int32Array([0, 1, 2, 0, 2, 3]);
    const rast = referenceRasterize(pos, 4, tri, H, W);
    const col = rast.filter((_, k) => k % 4 === 3).map((id) => (id === 1 ? 0.25 : 0.75));
    const aa = referenceAntialias(col, 1, rast, 1, H, W, pos, 4, tri);
    expect(aa).toEqual(col);
    expect(hasNaN(aa)).toBe(false);
  });

  it('silhouette against another surface and a fold: area of the front part is preserved', () => {
    const H = 40;
    const W = 40;
    const back = [...atPx(-5, -5, H, W, 1, 0.5), ...atPx(45, -5, H, W, 1, 0.5), ...atPx(45, 45, H, W, 1, 0.5), ...atPx(-5, 45, H, W, 1, 0.5)];
    const pts = [
      [8.3, 7.7],
      [31.2, 12.4],
      [14.6, 33.3],
    ];
    const front = pts.flatMap((p) => atPx(p[0], p[1], H, W, 1, -0.5));
    const pos = new Float64Array([...back, ...front]);
    const tri = new Int32Array([0, 1, 2, 0, 2, 3, 4, 5, 6]);
    const rast = referenceRasterize(pos, 7, tri, H, W);
    const col = rast.filter((_, k) => k % 4 === 3).map((id) => (id === 3 ? 1 : 0.2));
    const aa = referenceAntialias(col, 1, rast, 1, H, W, pos, 7, tri);
    const A = area(pts);
    const est = sum(aa.map((x) => (x - 0.2) / 0.8));
    expect(Math.abs(est - A) / A).toBeLessThan(0.02);
    // fold: two triangles sharing edge (4,5) with the second folded back under the first (same side)
    const fold = new Float64Array([...back, ...front, ...atPx(20, 20, H, W, 1, 0.2)]);
    const triF = new Int32Array([0, 1, 2, 0, 2, 3, 4, 5, 6, 5, 4, 7]);
    const opp = referenceAntialiasTopology(triF);
    expect(opp[3 * 2]).toBe(7); // edge (4,5) of the front triangle has neighbour vertex 7
    const rastF = referenceRasterize(fold, 8, triF, H, W);
    const colF = rastF.filter((_, k) => k % 4 === 3).map((id) => (id === 3 ? 1 : id === 4 ? 0.6 : 0.2));
    const aaF = referenceAntialias(colF, 1, rastF, 1, H, W, fold, 8, triF, opp);
    // vertex 7 lies on the same side of edge (4,5) as vertex 6, so edge (4,5) is a silhouette: the AA result
    // differs from the input along it, and no NaN appears
    expect(hasNaN(aaF)).toBe(false);
    expect(aaF).not.toEqual(colF);
  });
});

// The rasterizer's guarantees of issue #3 section 3 (kernels-design.md 5.4) checked on the NATIVE kernels, with
// expectations computed here from the spec (2.2 coverage rule, 2.1/2.6 antialias), not read from the kernel.
// The float64 reference proves the same properties of itself in testing/reference-raster.test.ts; the existing
// kernel tests mostly compare the kernel with that reference. These check the properties on the kernel directly.
//
// Coverage counting: the kernel has no coverage-count mode and its id buffer shows only the winner of the depth
// test, which would hide a double coverage. kernelCoverageCount renders every triangle alone, one triangle per
// frame of a batch, and counts the frames covering each pixel. Each copy keeps its vertices in the same relative
// index order (so near-plane intersections, computed with the lower index first, are bitwise the same as in the
// whole mesh) and bitwise the same positions (so the same fixed-point snapping).
import { afterAll, describe, expect, it } from 'vitest';
import { makeRng } from '@pixel3dmm/kernels/testing/random-flame';
import { setThreads } from '@pixel3dmm/kernels';
import { antialias, antialiasBackward } from './antialias.js';
import { rasterize } from './raster.js';
import { referenceRasterize } from './testing/reference-raster.js';
import { clipOf, gridTris, project, uvSphere } from './testing/meshes.js';

/** The project's deterministic PRNG (mulberry32), uniform in [0, 1). */
const rng = (seed: number): (() => number) => makeRng(seed).uniform;

afterAll(() => setThreads(0));

// ---------------------------------------------------------------------------------------------------------
// helpers

/** NDC coordinate of fixed-point position X (units of 1/16 px, origin at the viewport corner) along `size` px. */
function ndcOfFixed(X: number, size: number): number {
  return (X - 8 * size) / (8 * size);
}

/** Clip-space vertex at pixel coordinates (x, y) of an H x W image (centres at integers, row 0 = bottom). */
function atPx(x: number, y: number, H: number, W: number, z = 0, w = 1): number[] {
  return clipOf((2 * (x + 0.5)) / W - 1, (2 * (y + 0.5)) / H - 1, z, w);
}

/** Reverse the winding of every triangle. */
function flipped(tri: Int32Array): Int32Array {
  return tri.map((_, k) => tri[k - (k % 3) + [0, 2, 1][k % 3]]);
}

/** Per pixel, how many triangles of the (single-frame) mesh the kernel covers it with (see the file comment). */
function kernelCoverageCount(pos: ArrayLike<number>, V: number, tri: Int32Array, H: number, W: number): Int32Array {
  const T = tri.length / 3;
  const V3 = 3 * T;
  // every vertex of every frame starts behind the near plane (z < -w): triangles of other frames are dropped
  const posB = new Float32Array(T * V3 * 4);
  for (let i = 0; i < T * V3; i++) posB.set([0, 0, -2, 1], 4 * i);
  const triB = new Int32Array(3 * T);
  for (let t = 0; t < T; t++) {
    const idx = [tri[3 * t], tri[3 * t + 1], tri[3 * t + 2]];
    for (let k = 0; k < 3; k++) {
      if (idx[k] < 0 || idx[k] >= V) throw new Error('bad index');
      const rank = idx.filter((j) => j < idx[k]).length; // same relative order as in the whole mesh
      triB[3 * t + k] = 3 * t + rank;
      for (let c = 0; c < 4; c++) posB[(t * V3 + 3 * t + rank) * 4 + c] = pos[4 * idx[k] + c];
    }
  }
  const rast = rasterize(posB, V3, triB, T, H, W);
  const count = new Int32Array(H * W);
  for (let t = 0; t < T; t++) {
    for (let p = 0; p < H * W; p++) {
      const id = rast[4 * (t * H * W + p) + 3];
      if (id === 0) continue;
      expect(id).toBe(t + 1); // a frame shows its own triangle only
      count[p]++;
    }
  }
  return count;
}

function countWhere(a: ArrayLike<number>, pred: (v: number, i: number) => boolean): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (pred(a[i], i)) n++;
  return n;
}

function jitteredPlane(seed: number, n: number): { pos: number[]; V: number; r: () => number } {
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
  return { pos, V: n * n, r };
}

// ---------------------------------------------------------------------------------------------------------

describe('watertight coverage on the kernel (each pixel owned exactly once)', () => {
  it('the coverage count sees a double coverage that the id buffer hides', () => {
    // two identical overlapping triangles: the id buffer shows one owner, the count says 2
    const one = [...clipOf(-0.8, -0.8, 0, 1), ...clipOf(0.8, -0.8, 0, 1), ...clipOf(0, 0.8, 0, 1)];
    const pos = new Float32Array([...one, ...one]);
    const tri = new Int32Array([0, 1, 2, 3, 4, 5]);
    const cnt = kernelCoverageCount(pos, 6, tri, 12, 12);
    expect(countWhere(cnt, (c) => c === 2)).toBeGreaterThan(20);
    expect(countWhere(cnt, (c) => c !== 0 && c !== 2)).toBe(0);
  });

  it('jittered subdivided plane with perspective w covers every pixel exactly once (both windings)', () => {
    for (const [seed, n, H, W] of [
      [1, 9, 37, 53],
      [2, 11, 40, 40],
    ] as const) {
      const { pos, V, r } = jitteredPlane(seed, n);
      const tri = gridTris(n, n, () => r() < 0.5);
      for (const t of [tri, flipped(tri)]) {
        const cnt = kernelCoverageCount(pos, V, t, H, W);
        expect(countWhere(cnt, (c) => c !== 1)).toBe(0);
      }
    }
  });

  it('plane with vertices exactly on sample positions and on pixel edges: exactly once', () => {
    const H = 33;
    const W = 41;
    const r = rng(7);
    const n = 8;
    // fixed-point positions (1/16 px): 16 px + 8 is a sample (pixel centre), 16 px is a pixel edge
    const fixedAt = (k: number, size: number): number => {
      if (k === 0) return -40;
      if (k === n - 1) return 16 * size + 40;
      const basePx = Math.round((k * size) / (n - 1)) + Math.floor(r() * 3) - 1;
      return 16 * basePx + (r() < 0.5 ? 8 : 0);
    };
    const pos: number[] = [];
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        const w = [1, 2, 0.5][Math.floor(r() * 3)];
        pos.push(...clipOf(ndcOfFixed(fixedAt(i, W), W), ndcOfFixed(fixedAt(j, H), H), 0, w));
      }
    }
    const p32 = Float32Array.from(pos);
    let onSample = 0;
    let onEdge = 0;
    for (let v = 0; v < n * n; v++) {
      // the float32 vertex still lands on the 1/2-pixel lattice (within far less than 1/32 px)
      const X = ((p32[4 * v] / p32[4 * v + 3]) * 8 * W) + 8 * W;
      const Y = ((p32[4 * v + 1] / p32[4 * v + 3]) * 8 * H) + 8 * H;
      expect(Math.abs(X - 8 * Math.round(X / 8))).toBeLessThan(1e-3);
      expect(Math.abs(Y - 8 * Math.round(Y / 8))).toBeLessThan(1e-3);
      const sx = Math.round(X / 8) % 2 !== 0;
      const sy = Math.round(Y / 8) % 2 !== 0;
      if (sx && sy) onSample++;
      if (!sx || !sy) onEdge++;
    }
    expect(onSample).toBeGreaterThan(3);
    expect(onEdge).toBeGreaterThan(3);
    for (let rep = 0; rep < 3; rep++) {
      const tri = gridTris(n, n, () => r() < 0.5);
      const cnt = kernelCoverageCount(p32, n * n, rep === 2 ? flipped(tri) : tri, H, W);
      expect(countWhere(cnt, (c) => c !== 1)).toBe(0);
    }
  });

  it('a 12-triangle fan around a vertex exactly on a pixel centre: exactly one owner per pixel', () => {
    const H = 40;
    const W = 44;
    // spokes to samples, including the axis and diagonal directions (shared edges through samples)
    const offs = [[10, 0], [8, 5], [7, 7], [3, 9], [0, 10], [-7, 7], [-10, 0], [-8, -5], [-7, -7], [0, -10], [5, -8], [7, -7]];
    for (const [cx, cy, w, flip] of [
      [20, 15, 1, false],
      [21, 22, 3, true],
    ] as const) {
      const sample = (px: number, py: number): number[] => clipOf(ndcOfFixed(16 * px + 8, W), ndcOfFixed(16 * py + 8, H), 0.1, w);
      const pos = [...sample(cx, cy)];
      for (const [dx, dy] of offs) pos.push(...sample(cx + dx, cy + dy));
      let tri: Int32Array = new Int32Array(36);
      for (let k = 0; k < 12; k++) tri.set([0, 1 + k, 1 + ((k + 1) % 12)], 3 * k);
      if (flip) tri = flipped(tri);
      const cnt = kernelCoverageCount(pos, 13, tri, H, W);
      expect(countWhere(cnt, (c) => c > 1)).toBe(0);
      // every pixel centre strictly inside the fan's outline is owned (outline = the 12 outer vertices)
      let inside = 0;
      for (let py = 0; py < H; py++) {
        for (let px = 0; px < W; px++) {
          let strictly = true;
          for (let k = 0; k < 12; k++) {
            const [ax, ay] = offs[k];
            const [bx, by] = offs[(k + 1) % 12];
            const e = (bx - ax) * (py - cy - ay) - (by - ay) * (px - cx - ax);
            if (!(e > 0)) strictly = false;
          }
          if (strictly) {
            expect(cnt[py * W + px], `pixel (${px}, ${py})`).toBe(1);
            inside++;
          }
        }
      }
      expect(inside).toBeGreaterThan(200);
      expect(cnt[cy * W + cx]).toBe(1);
      const rast = rasterize(Float32Array.from(pos), 13, tri, 1, H, W);
      expect(rast[4 * (cy * W + cx) + 3]).toBeGreaterThan(0);
    }
  });

  it('closed sphere: exactly 2 layers inside the silhouette, 0 outside', () => {
    const H = 40;
    const W = 40;
    const nu = 16;
    const nv = 10;
    const { points: cam, tri } = uvSphere(nu, nv);
    const V = cam.length;
    const centre = [0.13, -0.07, -3.5];
    const f = 2.2;
    const pos = cam.flatMap((p) => project([p[0] + centre[0], p[1] + centre[1], p[2] + centre[2]], f));
    const cnt = kernelCoverageCount(pos, V, new Int32Array(tri), H, W);
    // the polyhedron is inscribed in the unit sphere: its silhouette lies between the rays missing the sphere by
    // more than 1 and those passing within cos(pi/nv) ~ 0.95 of its centre
    const inner = Math.cos(Math.PI / nv) * Math.cos(Math.PI / nu) - 0.01;
    let inside = 0;
    for (let py = 0; py < H; py++) {
      for (let px = 0; px < W; px++) {
        const c = cnt[py * W + px];
        expect(c === 0 || c === 2, `pixel (${px}, ${py}): ${c} layers`).toBe(true);
        const d = [((2 * px + 1) / W - 1) / f, ((2 * py + 1) / H - 1) / f, -1];
        const dn = Math.hypot(d[0], d[1], d[2]);
        const tc = (d[0] * centre[0] + d[1] * centre[1] + d[2] * centre[2]) / dn;
        const dist = Math.sqrt(Math.max(0, centre[0] ** 2 + centre[1] ** 2 + centre[2] ** 2 - tc * tc));
        if (dist < inner) {
          expect(c).toBe(2);
          inside++;
        }
        if (dist > 1.0) expect(c).toBe(0);
      }
    }
    expect(inside).toBeGreaterThan(200);
  });

  it('near-plane clipping (1, 2 and 3 vertices behind, a w == 0 vertex): crack-free, one owner where the floor is seen', () => {
    const H = 40;
    const W = 48;
    const f = 1;
    // floor y = -1 in camera space reaching behind the camera, through z_c = 0 (w == 0 exactly)
    const xs = [-6, -2.6, 0.4, 3.3, 6];
    const zs = [2, 1, 0.5, 0, -0.05, -0.5, -1, -2, -4, -8, -15];
    const cam: number[][] = [];
    zs.forEach((z, j) => xs.forEach((x, i) => cam.push([i === 0 || i === xs.length - 1 ? x : x + 0.3 * Math.sin(j), -1, z])));
    const pos = Float32Array.from(cam.flatMap((p) => project(p, f)));
    const V = cam.length;
    const tri = gridTris(xs.length, zs.length, (i, j) => (i + j) % 2 === 0);
    const behind = (k: number): boolean => pos[4 * k + 2] < -pos[4 * k + 3];
    const kinds = new Set<number>();
    for (let t = 0; t < tri.length / 3; t++) kinds.add([0, 1, 2].filter((c) => behind(tri[3 * t + c])).length);
    expect([...kinds].sort()).toEqual([0, 1, 2, 3]);
    expect(countWhere(pos, (v, i) => i % 4 === 3 && v === 0)).toBeGreaterThan(0);
    const cnt = kernelCoverageCount(pos, V, tri, H, W);
    // the floor seen through the pixel corners (ray-plane hit within the mesh's extent)
    const hit = (fx: number, fy: number): boolean => {
      const d = [fx / f, fy / f, -1];
      if (d[1] >= 0) return false;
      const t = -1 / d[1];
      return Math.abs(t * d[0]) < 5.5 && -t > -15;
    };
    let full = 0;
    for (let py = 0; py < H; py++) {
      for (let px = 0; px < W; px++) {
        const k = py * W + px;
        expect(cnt[k]).toBeLessThanOrEqual(1);
        const fx = (2 * px + 1) / W - 1;
        const fy = (2 * py + 1) / H - 1;
        const corners = [-1, 1].flatMap((sx) => [-1, 1].map((sy) => hit(fx + sx / W, fy + sy / H)));
        if (corners.every((x) => x)) {
          expect(cnt[k], `pixel (${px}, ${py})`).toBe(1);
          full++;
        } else if (corners.every((x) => !x)) {
          expect(cnt[k]).toBe(0);
        }
      }
    }
    expect(full).toBeGreaterThan(400);
    const rast = rasterize(pos, V, tri, 1, H, W);
    expect(rast.some((v) => !Number.isFinite(v))).toBe(false);
  });

  it('huge triangles beyond the guard band (saturated fixed point) stay watertight', () => {
    const H = 24;
    const W = 24;
    for (const [s, ws] of [
      [1e9, [1, 1, 1, 1]],
      [3e7, [0.5, 2, 1.5, 0.7]],
    ] as const) {
      const pos = [...clipOf(-s, -s, 0, ws[0]), ...clipOf(s, -s, 0, ws[1]), ...clipOf(s, s, 0, ws[2]), ...clipOf(-s, s, 0, ws[3])];
      for (const tri of [
        [0, 1, 2, 0, 2, 3],
        [0, 1, 3, 1, 2, 3],
      ]) {
        const cnt = kernelCoverageCount(pos, 4, new Int32Array(tri), H, W);
        expect(countWhere(cnt, (c) => c !== 1)).toBe(0);
      }
    }
    // one huge vertex and two inside the image: the edges through the image are where the spec puts them
    const pos = Float32Array.from([...atPx(3.3, 4.1, H, W), ...atPx(19.6, 7.2, H, W), ...clipOf(-2e6, 3e6, 0, 1)]);
    const rast = rasterize(pos, 3, new Int32Array([0, 1, 2]), 1, H, W);
    const ref = referenceRasterize(pos, 3, new Int32Array([0, 1, 2]), H, W);
    for (let p = 0; p < H * W; p++) expect(rast[4 * p + 3]).toBe(ref[4 * p + 3]);
    expect(countWhere(rast, (v, i) => i % 4 === 3 && v === 1)).toBeGreaterThan(50);
  });

  it('top-left rule: an axis-aligned rectangle with edges through samples covers exactly its left/top-inclusive set', () => {
    const H = 16;
    const W = 20;
    const [a, b, c, d] = [3, 12, 2, 10]; // sample columns a, b and sample rows c, d (row 0 = bottom, y up)
    const v = (px: number, py: number): number[] => clipOf(ndcOfFixed(16 * px + 8, W), ndcOfFixed(16 * py + 8, H), 0, 1);
    const pos = [...v(a, c), ...v(b, c), ...v(b, d), ...v(a, d)];
    for (const tri of [
      [0, 1, 2, 0, 2, 3],
      [0, 1, 3, 1, 2, 3],
      [0, 2, 1, 0, 3, 2],
      [0, 3, 1, 1, 3, 2],
    ]) {
      const cnt = kernelCoverageCount(pos, 4, new Int32Array(tri), H, W);
      // counter-clockwise (y up), the left edge runs down (Yb < Ya: inclusive) and the top edge runs left
      // (Yb == Ya, Xb < Xa: inclusive); the right and bottom edges are exclusive
      for (let py = 0; py < H; py++) {
        for (let px = 0; px < W; px++) expect(cnt[py * W + px]).toBe(px >= a && px < b && py > c && py <= d ? 1 : 0);
      }
    }
  });
});

describe('clipping and degenerate input on the kernel', () => {
  const H = 20;
  const W = 24;

  it('w == 0 vertices (behind with z < 0; on the camera plane with z >= 0): no NaN, ids as the reference', () => {
    const cases = [
      [...clipOf(-0.6, -0.7, 0, 1), ...clipOf(0.7, -0.5, 0, 1.5), 0.3, 0.4, -1, 0], // w = 0, z = -1: behind
      [...clipOf(-0.6, -0.7, 0, 1), 0.5, 0.2, -0.3, 0, ...clipOf(0.1, 0.8, 0, 2)], // w = 0, z = -0.3: behind
      [...clipOf(-0.6, -0.7, 0, 1), ...clipOf(0.7, -0.5, 0, 1.5), 0.3, 0.4, 0, 0], // w = 0, z = 0: not behind
      [0, 0, 0, 0, ...clipOf(0.7, -0.5, 0, 1.5), ...clipOf(0.1, 0.8, 0, 2)], // the origin
    ];
    for (const c of cases) {
      const pos = Float32Array.from(c);
      const rast = rasterize(pos, 3, new Int32Array([0, 1, 2]), 1, H, W);
      const ref = referenceRasterize(pos, 3, new Int32Array([0, 1, 2]), H, W);
      expect(rast.some((v) => !Number.isFinite(v))).toBe(false);
      for (let p = 0; p < H * W; p++) expect(rast[4 * p + 3]).toBe(ref[4 * p + 3]);
    }
    // the clipped triangles (w = 0 behind the near plane) still cover their visible part
    const clipped = rasterize(Float32Array.from(cases[0]), 3, new Int32Array([0, 1, 2]), 1, H, W);
    expect(countWhere(clipped, (v, i) => i % 4 === 3 && v === 1)).toBeGreaterThan(20);
  });

  it('zero area after snapping, sub-pixel slivers between samples and fully off-screen triangles cover nothing', () => {
    const pos = Float32Array.from([
      ...clipOf(0.2, 0.2, 0, 1), ...clipOf(0.2 + 1e-4, 0.2, 0, 1), ...clipOf(0.2, 0.2 + 1e-4, 0, 1), // < 1/32 px
      ...atPx(3.2, 4.1, H, W), ...atPx(15.7, 4.3, H, W), ...atPx(9.4, 4.45, H, W), // a sliver between sample rows 4 and 5
      ...clipOf(1.05, -0.5, 0, 1), ...clipOf(3, -0.4, 0, 1), ...clipOf(2, 0.9, 0, 1), // right of the image
      ...clipOf(-0.5, -2, 0, 2), ...clipOf(0.5, -2, 0, 2), ...clipOf(0, -1.01, 0, 2), // below the image
    ]);
    for (let t = 0; t < 4; t++) {
      const rast = rasterize(pos, 12, new Int32Array([3 * t, 3 * t + 1, 3 * t + 2]), 1, H, W);
      expect(rast.every((v) => v === 0), `triangle ${t}`).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// antialias

describe('antialias guarantees on the kernel', () => {
  /** Back plane over the whole image (ids 1, 2) at NDC depth 0.5. */
  const backPlane = (H: number, W: number): number[] => [
    ...atPx(-5, -5, H, W, 0.5), ...atPx(W + 5, -5, H, W, 0.5), ...atPx(W + 5, H + 5, H, W, 0.5), ...atPx(-5, H + 5, H, W, 0.5),
  ];
  const colourOf = (rast: Float32Array, N: number, byId: (id: number) => number): Float32Array => {
    const c = new Float32Array(N);
    for (let p = 0; p < N; p++) c[p] = byId(rast[4 * p + 3]);
    return c;
  };

  it('an exact 45-degree edge against another surface is counted once: each row holds its 1D coverage', () => {
    const H = 40;
    const W = 40;
    const shape = { batch: 1, height: H, width: W };
    const cf = 1;
    const cb = 0.25;
    for (const x0 of [8.3, 8.7]) {
      // right isosceles triangle in front of the back plane: legs along x and y, hypotenuse at exactly 45 degrees
      const P0 = [x0, 6.1];
      const P1 = [x0, 34.1];
      const P2 = [x0 + 28, 6.1];
      const pos = Float32Array.from([...backPlane(H, W), ...[P0, P1, P2].flatMap((p) => atPx(p[0], p[1], H, W, -0.5))]);
      const tri = new Int32Array([0, 1, 2, 0, 2, 3, 4, 5, 6]);
      const rast = rasterize(pos, 7, tri, 1, H, W);
      const colour = colourOf(rast, H * W, (id) => (id === 3 ? cf : cb));
      const out = antialias(colour, 1, rast, shape, pos, 7, tri);
      let checked = 0;
      for (let py = 10; py <= 28; py++) {
        // the hypotenuse crosses row py at xc; the triangle is left of it. Spec 2.6: only the horizontal pair
        // straddling xc gets a correction, which leaves each pixel with its box-filtered 1D coverage of the row.
        const xc = P1[0] + (py - P1[1]) * ((P2[0] - P1[0]) / (P2[1] - P1[1]));
        for (let px = Math.floor(xc) - 3; px <= Math.floor(xc) + 3; px++) {
          const cov = Math.min(1, Math.max(0, xc - px + 0.5));
          expect(Math.abs(out[py * W + px] - (cb + (cf - cb) * cov)), `pixel (${px}, ${py})`).toBeLessThan(1e-5);
          checked++;
        }
      }
      expect(checked).toBe(19 * 7);
    }
  });

  it('a fold against a back surface: the fold edge is a silhouette (the front triangle alone gives the same result)', () => {
    const H = 160;
    const W = 160;
    const N = H * W;
    const shape = { batch: 1, height: H, width: W };
    // sides of 90 px and more: the AA area gradient is within a few % (5% here, as antialias.test.ts asks of a
    // single triangle; at half this size the worst vertex is 8% off, on a background just the same)
    const front = [[33.2, 30.8], [124.8, 49.6], [58.4, 133.2]]; // vertices 4, 5, 6
    const inside = [72.2, 70.4]; // vertex 7: inside the front triangle's image, deeper (folded under it)
    const outside = [105.2, 12.8]; // vertex 8: across edge (4, 5), at the front depth (an ordinary neighbour)
    const pos = Float32Array.from([
      ...backPlane(H, W),
      ...front.flatMap((p) => atPx(p[0], p[1], H, W, -0.5)),
      ...atPx(inside[0], inside[1], H, W, -0.2),
      ...atPx(outside[0], outside[1], H, W, -0.5),
    ]);
    const V = 9;
    const back = [0, 1, 2, 0, 2, 3];
    const alone = new Int32Array([...back, 4, 5, 6]);
    const fold = new Int32Array([...back, 4, 5, 6, 5, 4, 7]);
    const rastA = rasterize(pos, V, alone, 1, H, W);
    const rastF = rasterize(pos, V, fold, 1, H, W);
    expect(countWhere(rastF, (v, i) => i % 4 === 3 && v === 4)).toBe(0); // the folded triangle is hidden
    expect(rastF).toEqual(rastA);
    const cf = 1;
    const cb = 0.25;
    const colour = colourOf(rastA, N, (id) => (id >= 3 ? cf : cb));
    const outA = antialias(colour, 1, rastA, shape, pos, V, alone);
    const outF = antialias(colour, 1, rastF, shape, pos, V, fold);
    expect(outF).toEqual(outA);
    const ones = new Float32Array(N).fill(1);
    const gA = antialiasBackward(colour, 1, rastA, shape, pos, V, alone, ones).gradPos!;
    const gF = antialiasBackward(colour, 1, rastF, shape, pos, V, fold, ones).gradPos!;
    for (let i = 0; i < gA.length; i++) expect(Math.abs(gF[i] - gA[i])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(gA[i])));
    for (let c = 0; c < 4; c++) expect(gF[4 * 7 + c]).toBe(0); // the hidden vertex gets nothing
    // and that result is the physical one: front coverage sums to its area, with the analytic area gradient
    const sx = (k: number) => ((pos[4 * k] / pos[4 * k + 3] + 1) * W) / 2 - 0.5;
    const sy = (k: number) => ((pos[4 * k + 1] / pos[4 * k + 3] + 1) * H) / 2 - 0.5;
    const A2 = (sx(5) - sx(4)) * (sy(6) - sy(4)) - (sx(6) - sx(4)) * (sy(5) - sy(4));
    const area = Math.abs(A2) / 2;
    let est = 0;
    for (let p = 0; p < N; p++) est += (outF[p] - cb) / (cf - cb);
    expect(Math.abs(est - area) / area).toBeLessThan(0.01);
    for (let k = 4; k <= 6; k++) {
      const o = 4 + ((k - 4 + 1) % 3);
      const q = 4 + ((k - 4 + 2) % 3);
      // d area / d screen position of vertex k (times cf - cb), then through sx = (x/w + 1) W/2 - 0.5 (w = 1)
      const gx = 0.5 * Math.sign(A2) * (sy(o) - sy(q)) * (cf - cb) * (W / 2);
      const gy = 0.5 * Math.sign(A2) * (sx(q) - sx(o)) * (cf - cb) * (H / 2);
      const err = Math.hypot(gF[4 * k] - gx, gF[4 * k + 1] - gy) / Math.hypot(gx, gy);
      if (process.env.P3D_VERBOSE) console.log(`vertex ${k}: AA gradient (${gF[4 * k]}, ${gF[4 * k + 1]}), area gradient (${gx}, ${gy})`);
      expect(err, `vertex ${k}`).toBeLessThan(0.05);
    }
    // an ordinary neighbour across the same edge (not folded) makes it an interior edge: no correction there
    const flat = new Int32Array([...back, 4, 5, 6, 5, 4, 8]);
    const rastN = rasterize(pos, V, flat, 1, H, W);
    const colourN = colourOf(rastN, N, (id) => (id === 3 ? cf : id === 4 ? 0.6 : cb));
    const outN = antialias(colourN, 1, rastN, shape, pos, V, flat);
    let interior = 0;
    for (let py = 1; py < H - 1; py++) {
      for (let px = 1; px < W - 1; px++) {
        let surfaceOnly = true;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if (rastN[4 * ((py + dy) * W + px + dx) + 3] < 3) surfaceOnly = false;
        const p = py * W + px;
        if (!surfaceOnly) continue;
        expect(outN[p]).toBe(colourN[p]);
        if (rastN[4 * p + 3] !== rastN[4 * (p + 1) + 3] || rastN[4 * p + 3] !== rastN[4 * (p + W) + 3]) interior++;
      }
    }
    expect(interior).toBeGreaterThan(10); // pixels along the shared edge were checked
  });
});

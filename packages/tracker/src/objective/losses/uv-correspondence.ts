// UV correspondences (pixel3dmm-spec.md 6.1): for each vertex of the valid set, the exact nearest pixel of the
// predicted UV map in UV space (found once per frame), and the loss pulling the projected vertex onto it.
//
// Nearest neighbours: a uniform grid over [0,1]² holds the S² pixel UVs (every pixel, including the masked
// (0,0) ones, as the original's knn_points). A query scans rings of cells around its own cell until the ring's
// distance lower bound exceeds the best distance found, so the result is the exact 1-NN. Ties go to the lowest
// pixel index (deterministic). Distances are computed in float64 from the float32 map.
import { checkTyped, fail } from '@pixel3dmm/kernels';
import type { Correspondences } from '../../types.js';
import { pixelTerms } from '../pixel-terms-native.js';

/** Cells per side of the grid for an S×S map: about one point per cell on average. */
function gridSideFor(S: number): number {
  return Math.max(1, Math.min(1024, S));
}

/** Reusable uniform grid over UV space (per render size). */
export class UvGrid {
  readonly side: number;
  private readonly cellStart: Int32Array;
  private readonly cellFill: Int32Array;
  private readonly items: Int32Array;
  private readonly cellOf: Int32Array;
  private us: Float64Array;
  private vs: Float64Array;

  constructor(readonly size: number) {
    const G = gridSideFor(size);
    this.side = G;
    this.cellStart = new Int32Array(G * G + 1);
    this.cellFill = new Int32Array(G * G);
    this.items = new Int32Array(size * size);
    this.cellOf = new Int32Array(size * size);
    this.us = new Float64Array(size * size);
    this.vs = new Float64Array(size * size);
  }

  private cellCoord(x: number): number {
    const G = this.side;
    const c = Math.floor(x * G);
    return c < 0 ? 0 : c >= G ? G - 1 : c;
  }

  /** Indexes the pixels of `uv` [S,S,2] (channels 0,1 are the UV point of each pixel). */
  build(uv: Float32Array): void {
    const S = this.size, N = S * S, G = this.side;
    if (uv.length !== 2 * N) throw new Error(`UvGrid.build: the UV map must be [${S}, ${S}, 2], got ${uv.length} values`);
    this.cellStart.fill(0);
    for (let i = 0; i < N; i++) {
      const u = uv[2 * i], v = uv[2 * i + 1];
      this.us[i] = u;
      this.vs[i] = v;
      const c = this.cellCoord(v) * G + this.cellCoord(u);
      this.cellOf[i] = c;
      this.cellStart[c + 1]++;
    }
    for (let c = 0; c < G * G; c++) this.cellStart[c + 1] += this.cellStart[c];
    this.cellFill.set(this.cellStart.subarray(0, G * G));
    for (let i = 0; i < N; i++) this.items[this.cellFill[this.cellOf[i]]++] = i; // ascending pixel order per cell
  }

  /** Exact nearest pixel of (qu, qv): writes [pixel index, squared distance] into out. */
  nearest(qu: number, qv: number, out: Float64Array): void {
    const G = this.side, h = 1 / G;
    const cu = this.cellCoord(qu), cv = this.cellCoord(qv);
    this.best = Infinity;
    this.bestIdx = -1;
    for (let ring = 0; ring <= G; ring++) {
      if (ring > 0) {
        // Rings 0..ring-1 cover the cell block [cu-ring+1, cu+ring-1]²; every unscanned point lies beyond one of
        // its inner sides (sides at the grid border have nothing beyond them: out-of-range points are clamped
        // into the border cells). Stop once that distance exceeds the best one (1e-12 absorbs the rounding
        // of the cell assignment).
        let bound = Infinity;
        if (cu - ring + 1 > 0) bound = Math.min(bound, qu - (cu - ring + 1) * h);
        if (cu + ring - 1 < G - 1) bound = Math.min(bound, (cu + ring) * h - qu);
        if (cv - ring + 1 > 0) bound = Math.min(bound, qv - (cv - ring + 1) * h);
        if (cv + ring - 1 < G - 1) bound = Math.min(bound, (cv + ring) * h - qv);
        if (bound === Infinity) break; // the whole grid has been scanned
        bound -= 1e-12;
        if (bound > 0 && bound * bound > this.best) break;
      }
      const u0 = cu - ring, u1 = cu + ring, v0 = cv - ring, v1 = cv + ring;
      for (let gv = Math.max(0, v0); gv <= Math.min(G - 1, v1); gv++) {
        if (gv === v0 || gv === v1) {
          for (let gu = Math.max(0, u0); gu <= Math.min(G - 1, u1); gu++) this.scanCell(gv * G + gu, qu, qv);
        } else {
          if (u0 >= 0) this.scanCell(gv * G + u0, qu, qv);
          if (u1 <= G - 1 && u1 !== u0) this.scanCell(gv * G + u1, qu, qv);
        }
      }
    }
    out[0] = this.bestIdx;
    out[1] = this.best;
  }

  private best = Infinity;
  private bestIdx = -1;

  private scanCell(c: number, qu: number, qv: number): void {
    for (let k = this.cellStart[c], e = this.cellStart[c + 1]; k < e; k++) {
      const i = this.items[k];
      const du = this.us[i] - qu, dv = this.vs[i] - qv;
      const d = du * du + dv * dv;
      if (d < this.best || (d === this.best && i < this.bestIdx)) {
        this.best = d;
        this.bestIdx = i;
      }
    }
  }
}

/** Query points q_j = (u_j, 1 - v_j) of the valid vertices (spec 6.1), [J,2]. */
export function correspondenceQueries(vertexUvs: Float64Array, valid: Int32Array): Float64Array {
  const q = new Float64Array(2 * valid.length);
  for (let j = 0; j < valid.length; j++) {
    q[2 * j] = vertexUvs[2 * valid[j]];
    q[2 * j + 1] = 1 - vertexUvs[2 * valid[j] + 1];
  }
  return q;
}

/** Nearest pixels of the queries [J,2] in the map `uv` [S,S,2] (through `grid`, built here). */
export function findCorrespondences(grid: UvGrid, uv: Float32Array, queries: Float64Array): Correspondences {
  const S = grid.size;
  grid.build(uv);
  const J = queries.length / 2;
  const pixels = new Int32Array(2 * J), dist2 = new Float32Array(J);
  const r = new Float64Array(2);
  for (let j = 0; j < J; j++) {
    grid.nearest(queries[2 * j], queries[2 * j + 1], r);
    pixels[2 * j] = r[0] % S;
    pixels[2 * j + 1] = Math.floor(r[0] / S);
    dist2[j] = r[1];
  }
  return { pixels, dist2 };
}

/** Brute-force reference of findCorrespondences (tests only: O(J S²)). */
export function bruteForceCorrespondences(uv: Float32Array, S: number, queries: Float64Array): Correspondences {
  const J = queries.length / 2, N = S * S;
  const pixels = new Int32Array(2 * J), dist2 = new Float32Array(J);
  for (let j = 0; j < J; j++) {
    let best = Infinity, bi = -1;
    for (let i = 0; i < N; i++) {
      const du = uv[2 * i] - queries[2 * j], dv = uv[2 * i + 1] - queries[2 * j + 1];
      const d = du * du + dv * dv;
      if (d < best) {
        best = d;
        bi = i;
      }
    }
    pixels[2 * j] = bi % S;
    pixels[2 * j + 1] = Math.floor(bi / S);
    dist2[j] = best;
  }
  return { pixels, dist2 };
}

export interface UvCorrespondenceArgs {
  size: number;
  batch: number;
  numVertices: number;
  valid: Int32Array;
  /** Per frame of the batch. */
  correspondences: readonly Correspondences[];
  /** [B,V,3] projected vertices (x_s, y_s, z_s) (the original's point projection). */
  projected: Float32Array;
  /**
   * Visibility (occ_filter): the rendered depth z_s, read at depth[(b*S*S + pixel)*stride + offset]; null
   * switches visibility off (the camera init). Each frame is sampled at its own pixels (spec 9 fix).
   */
  depth: { data: Float32Array; stride: number; offset: number } | null;
  deltaUv: number;
  distUv: number;
  /** Added to the target pixels g (uv_target_half_pixel: (-1/2, +1/2), the point projection's convention); default (0, 0). */
  targetOffset?: readonly [number, number];
  /** L2 ×100 (uv_l2) or L1. */
  l2: boolean;
  weight: number;
  /** [B,V,3] gradient of the projected points, accumulated. */
  gradProjected: Float64Array;
}

/** Visibility margin of the depth test (rendered z < z_s + 0.01). */
export const VISIBILITY_MARGIN = 0.01;

/**
 * The weighted UV correspondence loss; adds its gradient into args.gradProjected. Runs natively
 * (native/src/tracker/pixel_terms.cc: the frames, or one frame's pairs, on the pool), bit for bit the plain loop of
 * uv-correspondence-reference.ts: each counted pair's term added in frame and pair order, its gradient onto its own
 * vertex.
 */
export function uvCorrespondenceLoss(a: UvCorrespondenceArgs): number {
  const where = 'uvCorrespondenceLoss';
  const { size: S, batch: B, valid, projected: p, depth } = a;
  const V = a.numVertices, J = valid.length;
  const count = B * J * 2;
  const [ox, oy] = a.targetOffset ?? [0, 0];
  if (!Array.isArray(a.correspondences) || a.correspondences.length < B) fail(where, 'correspondences', `one per frame of the batch (${B})`, a.correspondences);
  for (let b = 0; b < B; b++) {
    const corr = a.correspondences[b];
    if (corr.pixels.length !== 2 * J || corr.dist2.length !== J) {
      throw new Error(`uvCorrespondenceLoss: the correspondences of batch frame ${b} have ${corr.dist2.length} entries, expected ${J} (the valid vertex set)`);
    }
  }
  checkTyped(where, 'projected', p, Float32Array, B * V * 3);
  checkTyped(where, 'gradProjected', a.gradProjected, Float64Array, B * V * 3);
  const g = a.l2 ? (-2 * 100 * a.weight) / (S * S * count) : -a.weight / (S * count);
  const sum = pixelTerms().uvCorrespondenceLoss({
    size: S,
    frames: B,
    numVertices: V,
    valid,
    pixels: a.correspondences.slice(0, B).map((c) => c.pixels),
    dist2: a.correspondences.slice(0, B).map((c) => c.dist2),
    projected: p,
    depth: depth ? depth.data : null,
    depthStride: depth ? depth.stride : 1,
    depthOffset: depth ? depth.offset : 0,
    deltaUv: a.deltaUv,
    distUv: a.distUv,
    offsetX: ox,
    offsetY: oy,
    margin: VISIBILITY_MARGIN,
    l2: a.l2,
    gradScale: g,
    gradProjected: a.gradProjected,
  });
  return ((a.l2 ? 100 : 1) * a.weight * sum) / count;
}

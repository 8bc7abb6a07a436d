// FLAME-layout test fixtures: random values with the FLAME 2020 key names, dtypes, shapes and Python
// types (flame-formats.md §1.2), so tests can build model files at test time instead of committing
// FLAME data (which may not be redistributed). Nothing here is FLAME data.

import { NdArray, ndarray } from '../ndarray.js';
import { writePickle, type WritePickleOptions } from '../pickle-writer.js';
import { ChumpyArray, CscMatrix, PyDict, type PyValue } from '../pytypes.js';

export interface FlameLikeOptions {
  /** Vertex count (FLAME: 5023). */
  vertices: number;
  /** Triangle count (FLAME: 9976). */
  faces: number;
  /** Shape + expression components in shapedirs (FLAME 2020: 400 = 300 identity + 100 expression). */
  components: number;
  /** PRNG seed (same seed → same values). */
  seed?: number;
  /** Which arrays to wrap in chumpy `Ch`: only shapedirs (default, as in the SMPL/FLAME files), all five float arrays, or none. */
  chumpy?: 'shapedirs' | 'all' | 'none';
  /** Number of joints (FLAME: 5). */
  joints?: number;
  /** Pose corrective count (FLAME: 36 = 4 joints × 9). */
  poseComponents?: number;
}

/** Sizes of the real model and of a tiny stand-in for unit tests. */
export const FLAME_SIZES = {
  full: { vertices: 5023, faces: 9976, components: 400 },
  tiny: { vertices: 12, faces: 8, components: 6 },
} as const;

/** The key order used by the fixtures (the order of the CPython-written test vectors). */
export const FLAME_KEY_ORDER = ['f', 'J_regressor', 'kintree_table', 'J', 'weights', 'posedirs', 'v_template', 'shapedirs', 'bs_style', 'bs_type'] as const;

/** A small fast seeded PRNG (mulberry32) with uniform and normal draws. */
export class Rng {
  private s: number;
  private spare: number | null = null;
  constructor(seed = 0) {
    this.s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Normal(mean, std) via Box-Muller. */
  normal(mean = 0, std = 1): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return mean + std * v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }
  /** `n` Normal(0, std) draws (Box-Muller in pairs; same stream as repeated normal() calls from a fresh state). */
  normals(n: number, std: number): Float64Array {
    const a = new Float64Array(n);
    let i = 0;
    if (this.spare !== null && n > 0) {
      a[i++] = std * this.spare;
      this.spare = null;
    }
    let s = this.s;
    const next = (): number => {
      let t = (s = (s + 0x6d2b79f5) >>> 0);
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    while (i < n) {
      let u = next();
      while (u === 0) u = next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      a[i++] = std * r * Math.cos(2 * Math.PI * v);
      if (i < n) a[i++] = std * r * Math.sin(2 * Math.PI * v);
      else this.spare = r * Math.sin(2 * Math.PI * v);
    }
    this.s = s;
    return a;
  }
}

/** A dict with FLAME 2020's keys, dtypes, shapes and Python types, filled with random values. */
export function makeFlameLikeDict(opts: FlameLikeOptions): PyDict {
  const { vertices: nv, faces: nf, components: nc } = opts;
  const nj = opts.joints ?? 5;
  const np_ = opts.poseComponents ?? 36;
  for (const [k, v] of Object.entries({ vertices: nv, faces: nf, components: nc, joints: nj, poseComponents: np_ })) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`makeFlameLikeDict: ${k} must be a positive integer, got ${v}`);
  }
  const rng = new Rng(opts.seed ?? 0);
  const f = new Uint32Array(nf * 3);
  for (let i = 0; i < f.length; i++) f[i] = rng.int(nv);
  const vTemplate = rng.normals(nv * 3, 0.05);
  const shapedirs = rng.normals(nv * 3 * nc, 1e-3);
  const posedirs = rng.normals(nv * 3 * np_, 1e-3);
  const weights = new Float64Array(nv * nj);
  for (let v = 0; v < nv; v++) {
    let s = 0;
    for (let j = 0; j < nj; j++) s += weights[v * nj + j] = rng.next() + 1e-6;
    for (let j = 0; j < nj; j++) weights[v * nj + j] /= s;
  }
  const J = rng.normals(nj * 3, 0.05);
  const kt = new BigInt64Array(2 * nj);
  const parents = [4294967295, 0, 1, 1, 1];
  for (let j = 0; j < nj; j++) {
    kt[j] = BigInt(j < parents.length ? parents[j] : j - 1);
    kt[nj + j] = BigInt(j);
  }
  // Sparse joint regressor: each joint averages up to 40 distinct vertices (CSC, sorted indices).
  const perCol: number[][] = Array.from({ length: nv }, () => []);
  for (let j = 0; j < nj; j++) {
    const k = Math.min(nv, 40);
    const picked = new Set<number>();
    while (picked.size < k) picked.add(rng.int(nv));
    for (const v of picked) perCol[v].push(j);
  }
  const indptr = new Int32Array(nv + 1);
  const indices: number[] = [];
  const data: number[] = [];
  for (let c = 0; c < nv; c++) {
    const rows = perCol[c].sort((a, b) => a - b);
    for (const r of rows) {
      indices.push(r);
      data.push(1 / Math.min(nv, 40));
    }
    indptr[c + 1] = indices.length;
  }
  const jReg = new CscMatrix(
    [nj, nv],
    new NdArray('<f8', [data.length], Float64Array.from(data)),
    new NdArray('<i4', [indices.length], Int32Array.from(indices)),
    new NdArray('<i4', [nv + 1], indptr),
  );
  const mode = opts.chumpy ?? 'shapedirs';
  const wrap = (key: string, a: NdArray): PyValue => (mode === 'all' || (mode === 'shapedirs' && key === 'shapedirs') ? new ChumpyArray(a) : a);
  const d = new PyDict();
  d.set('f', new NdArray('<u4', [nf, 3], f));
  d.set('J_regressor', jReg);
  d.set('kintree_table', new NdArray('<i8', [2, nj], kt));
  d.set('J', wrap('J', new NdArray('<f8', [nj, 3], J)));
  d.set('weights', wrap('weights', new NdArray('<f8', [nv, nj], weights)));
  d.set('posedirs', wrap('posedirs', new NdArray('<f8', [nv, 3, np_], posedirs)));
  d.set('v_template', wrap('v_template', new NdArray('<f8', [nv, 3], vTemplate)));
  d.set('shapedirs', wrap('shapedirs', new NdArray('<f8', [nv, 3, nc], shapedirs)));
  d.set('bs_style', 'lbs');
  d.set('bs_type', 'lrotmin');
  return d;
}

/** `makeFlameLikeDict` written as a pickle (default: protocol 2 in the Python-2 FLAME 2020 layout). */
export function makeFlameLikePickle(opts: FlameLikeOptions, write: WritePickleOptions = {}): Uint8Array {
  return writePickle(makeFlameLikeDict(opts), write);
}

export { ndarray };

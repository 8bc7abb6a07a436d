import { beforeAll, describe, expect, it } from 'vitest';
import type { NdArray } from '@pixel3dmm/formats';
import type { RawFlameFiles } from '../raw-files.js';
import { generateSyntheticHead, SYNTHETIC_NUM_FACES, SYNTHETIC_NUM_VERTICES } from './index.js';
import { binYaw } from './landmarks.js';

const V = SYNTHETIC_NUM_VERTICES;
const F = SYNTHETIC_NUM_FACES;
const HEAD = 3931;
const EYE = 546;
const K = 400;

let head: RawFlameFiles;
let genMs = 0;

beforeAll(() => {
  const t0 = performance.now();
  head = generateSyntheticHead();
  genMs = performance.now() - t0;
});

function num(a: NdArray, i: number): number {
  return Number(a.data[i]);
}

function facesOf(h: RawFlameFiles): Uint32Array {
  return h.model.f.data as Uint32Array;
}

function pos(h: RawFlameFiles): Float64Array {
  return h.model.v_template.data as Float64Array;
}

function vsub(a: number[], b: number[]): number[] {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}

function vcross(a: number[], b: number[]): number[] {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

function vertex(p: ArrayLike<number>, i: number): number[] {
  return [p[3 * i], p[3 * i + 1], p[3 * i + 2]];
}

/** Directed edge counts: key a*V+b. */
function directedEdges(f: Uint32Array, first = 0, last = f.length / 3): Map<number, number> {
  const m = new Map<number, number>();
  for (let t = first; t < last; t++) {
    for (let e = 0; e < 3; e++) {
      const a = f[3 * t + e];
      const b = f[3 * t + ((e + 1) % 3)];
      const k = a * V + b;
      m.set(k, (m.get(k) ?? 0) + 1);
    }
  }
  return m;
}

function landmarkPosition(h: RawFlameFiles, face: number, bary: number[], p: ArrayLike<number> = pos(h)): number[] {
  const f = facesOf(h);
  const out = [0, 0, 0];
  for (let c = 0; c < 3; c++) for (let d = 0; d < 3; d++) out[d] += bary[c] * p[3 * f[3 * face + c] + d];
  return out;
}

describe('synthetic head: determinism and layout', () => {
  it('is bit-identical for the same seed and differs for another seed', () => {
    const again = generateSyntheticHead({ seed: 0 });
    const other = generateSyntheticHead({ seed: 1 });
    const bytes = (a: NdArray): Buffer => Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);
    const arrays = (h: RawFlameFiles): NdArray[] => [
      h.model.f, h.model.v_template, h.model.shapedirs, h.model.posedirs, h.model.weights, h.model.J,
      h.model.kintree_table, h.model.J_regressor.data, h.model.J_regressor.indices, h.model.J_regressor.indptr,
      h.leftEyelid, h.rightEyelid, ...Object.values(h.landmarkEmbedding), ...Object.values(h.masks),
    ];
    const a = arrays(head);
    const b = arrays(again);
    for (let i = 0; i < a.length; i++) expect(bytes(a[i]).equals(bytes(b[i]))).toBe(true);
    expect(Buffer.from(head.template.uvs.buffer).equals(Buffer.from(again.template.uvs.buffer))).toBe(true);
    expect(bytes(head.model.shapedirs).equals(bytes(other.model.shapedirs))).toBe(false);
    // the seed only drives the random components; the template and the rig do not change
    expect(bytes(head.model.v_template).equals(bytes(other.model.v_template))).toBe(true);
    // outputs are fresh arrays: mutating one result does not leak into the next
    (again.model.v_template.data as Float64Array)[0] = 123;
    expect(num(generateSyntheticHead().model.v_template, 0)).toBe(num(head.model.v_template, 0));
  });

  it('generates in reasonable time', () => {
    console.log(`synthetic head: first generation ${genMs.toFixed(0)} ms`);
    // generous bound (shared CI machines); the first call also builds the seed-independent core
    expect(genMs).toBeLessThan(20000);
  });

  it('has FLAME keys, shapes and dtypes', () => {
    const m = head.model;
    const check = (a: NdArray, dtype: string, shape: number[]): void => {
      expect(a.dtype).toBe(dtype);
      expect([...a.shape]).toEqual(shape);
    };
    check(m.f, '<u4', [F, 3]);
    check(m.v_template, '<f8', [V, 3]);
    check(m.shapedirs, '<f8', [V, 3, K]);
    check(m.posedirs, '<f8', [V, 3, 36]);
    check(m.weights, '<f8', [V, 5]);
    check(m.J, '<f8', [5, 3]);
    check(m.kintree_table, '<i8', [2, 5]);
    expect(Array.from(m.kintree_table.data as BigInt64Array, Number)).toEqual([4294967295, 0, 1, 1, 1, 0, 1, 2, 3, 4]);
    expect(m.J_regressor.shape).toEqual([5, V]);
    check(m.J_regressor.indptr, '<i4', [V + 1]);
    expect(m.J_regressor.data.dtype).toBe('<f8');
    expect(m.J_regressor.indices.dtype).toBe('<i4');
    expect(m.bs_style).toBe('lbs');
    expect(m.bs_type).toBe('lrotmin');
    const L = head.landmarkEmbedding;
    check(L.static_lmk_faces_idx, '<i8', [51]);
    check(L.static_lmk_bary_coords, '<f8', [51, 3]);
    check(L.dynamic_lmk_faces_idx, '<i8', [79, 17]);
    check(L.dynamic_lmk_bary_coords, '<f8', [79, 17, 3]);
    check(L.full_lmk_faces_idx, '<i8', [1, 68]);
    check(L.full_lmk_bary_coords, '<f8', [1, 68, 3]);
    check(head.leftEyelid, '<f8', [V, 3]);
    check(head.rightEyelid, '<f8', [V, 3]);
    const t = head.template;
    expect(t.positions).toEqual(pos(head));
    expect(t.faces).toEqual(facesOf(head));
    expect(t.faceUvs.length).toBe(3 * F);
    for (const name of ['face', 'left_eyeball', 'right_eyeball', 'eye_region', 'left_eye_region', 'right_eye_region', 'lips', 'nose', 'forehead', 'scalp', 'neck', 'left_ear', 'right_ear', 'boundary']) {
      const a = head.masks[name];
      expect(a, name).toBeDefined();
      expect(a.dtype).toBe('<i8');
      expect(a.shape.length).toBe(1);
      expect(a.size, name).toBeGreaterThan(20);
      for (let i = 0; i < a.size; i++) {
        expect(num(a, i)).toBeGreaterThanOrEqual(0);
        expect(num(a, i)).toBeLessThan(V);
        if (i > 0) expect(num(a, i)).toBeGreaterThan(num(a, i - 1));
      }
    }
  });

  it('puts the eyeballs last, left (+x) then right, and fits FLAME-like bounds', () => {
    const p = pos(head);
    const le = head.masks.left_eyeball;
    const re = head.masks.right_eyeball;
    expect(le.size).toBe(EYE);
    expect(re.size).toBe(EYE);
    expect(num(le, 0)).toBe(HEAD);
    expect(num(re, 0)).toBe(HEAD + EYE);
    expect(num(re, EYE - 1)).toBe(V - 1);
    let lx = 0;
    let rx = 0;
    for (let i = 0; i < EYE; i++) {
      lx += p[3 * (HEAD + i)];
      rx += p[3 * (HEAD + EYE + i)];
    }
    expect(lx / EYE).toBeGreaterThan(0.02);
    expect(rx / EYE).toBeLessThan(-0.02);
    const lo = [Infinity, Infinity, Infinity];
    const hi = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < V; i++) for (let d = 0; d < 3; d++) {
      lo[d] = Math.min(lo[d], p[3 * i + d]);
      hi[d] = Math.max(hi[d], p[3 * i + d]);
    }
    expect(hi[0]).toBeGreaterThan(0.08);
    expect(hi[0]).toBeLessThan(0.12);
    expect(lo[0]).toBeCloseTo(-hi[0], 12);
    expect(lo[1]).toBeCloseTo(-0.19, 6);
    expect(hi[1]).toBeGreaterThan(0.11);
    expect(hi[1]).toBeLessThan(0.15);
    expect(lo[2]).toBeGreaterThan(-0.18);
    expect(lo[2]).toBeLessThan(-0.13);
    expect(hi[2]).toBeGreaterThan(0.065); // the nose tip looks toward +z
    expect(hi[2]).toBeLessThan(0.095);
  });

  it('is mirror-symmetric (every vertex has a mirror partner)', () => {
    const p = pos(head);
    const key = (x: number, y: number, z: number): string => `${x.toFixed(9)},${y.toFixed(9)},${z.toFixed(9)}`;
    const set = new Set<string>();
    for (let i = 0; i < V; i++) set.add(key(p[3 * i], p[3 * i + 1], p[3 * i + 2]));
    let missing = 0;
    for (let i = 0; i < V; i++) if (!set.has(key(-p[3 * i] + 0, p[3 * i + 1], p[3 * i + 2]))) missing++;
    expect(missing).toBe(0);
  });
});

describe('synthetic head: topology', () => {
  it('uses every vertex, keeps parts separate and has no duplicate triangles', () => {
    const f = facesOf(head);
    const used = new Uint8Array(V);
    const seen = new Set<string>();
    for (let t = 0; t < F; t++) {
      const tri = [f[3 * t], f[3 * t + 1], f[3 * t + 2]];
      for (const v of tri) {
        expect(v).toBeLessThan(V);
        used[v] = 1;
      }
      const part = (v: number): number => (v < HEAD ? 0 : v < HEAD + EYE ? 1 : 2);
      expect(part(tri[1])).toBe(part(tri[0]));
      expect(part(tri[2])).toBe(part(tri[0]));
      expect(new Set(tri).size).toBe(3);
      const k = [...tri].sort((a, b) => a - b).join(',');
      expect(seen.has(k)).toBe(false);
      seen.add(k);
    }
    expect(used.every((u) => u === 1)).toBe(true);
  });

  it('is an oriented manifold: head closed except one neck boundary loop, eyeballs closed', () => {
    const f = facesOf(head);
    const de = directedEdges(f);
    let boundary = 0;
    const bverts = new Set<number>();
    const next = new Map<number, number>();
    for (const [k, n] of de) {
      expect(n).toBe(1); // each directed edge once: consistent winding and at most 2 faces per edge
      const a = Math.floor(k / V);
      const b = k % V;
      if (!de.has(b * V + a)) {
        boundary++;
        expect(a).toBeLessThan(HEAD);
        bverts.add(a);
        bverts.add(b);
        next.set(a, b);
      }
    }
    // one loop
    expect(boundary).toBe(bverts.size);
    const start = next.keys().next().value as number;
    let v = start;
    let steps = 0;
    do {
      v = next.get(v)!;
      steps++;
    } while (v !== start && steps <= boundary);
    expect(steps).toBe(boundary);
    // it is the neck cut, and the boundary mask
    const p = pos(head);
    for (const b of bverts) expect(p[3 * b + 1]).toBeCloseTo(-0.19, 6);
    const mask = head.masks.boundary;
    expect(mask.size).toBe(bverts.size);
    for (let i = 0; i < mask.size; i++) expect(bverts.has(num(mask, i))).toBe(true);
    // Euler characteristic: head is a disc (1), each eyeball a sphere (2)
    const euler = (vFirst: number, vLast: number): number => {
      const edges = new Set<number>();
      let faces = 0;
      for (let t = 0; t < F; t++) {
        if (f[3 * t] < vFirst || f[3 * t] >= vLast) continue;
        faces++;
        for (let e = 0; e < 3; e++) {
          const a = f[3 * t + e];
          const b = f[3 * t + ((e + 1) % 3)];
          edges.add(Math.min(a, b) * V + Math.max(a, b));
        }
      }
      return vLast - vFirst - edges.size + faces;
    };
    expect(euler(0, HEAD)).toBe(1);
    expect(euler(HEAD, HEAD + EYE)).toBe(2);
    expect(euler(HEAD + EYE, V)).toBe(2);
  });

  it('winds triangles outward (positive signed volume of each closed part)', () => {
    const f = facesOf(head);
    const p = pos(head);
    const volume = (vFirst: number, vLast: number, cap: number[] | null): number => {
      let vol = 0;
      for (let t = 0; t < F; t++) {
        if (f[3 * t] < vFirst || f[3 * t] >= vLast) continue;
        const a = vertex(p, f[3 * t]);
        const b = vertex(p, f[3 * t + 1]);
        const c = vertex(p, f[3 * t + 2]);
        const o = cap ?? [0, 0, 0];
        const cr = vcross(vsub(b, o), vsub(c, o));
        const ao = vsub(a, o);
        vol += (ao[0] * cr[0] + ao[1] * cr[1] + ao[2] * cr[2]) / 6;
      }
      return vol;
    };
    // The head is open at the neck: measure from a point on the cut's plane (the open cap adds nothing).
    const mask = head.masks.boundary;
    const c = [0, 0, 0];
    for (let i = 0; i < mask.size; i++) for (let d = 0; d < 3; d++) c[d] += p[3 * num(mask, i) + d] / mask.size;
    const headVol = volume(0, HEAD, c);
    expect(headVol).toBeGreaterThan(0.003); // a few litres
    expect(headVol).toBeLessThan(0.008);
    const r = 0.0125;
    const sphere = (4 / 3) * Math.PI * r ** 3;
    for (const s of [HEAD, HEAD + EYE]) {
      const eye = [0, 0, 0];
      for (let i = 0; i < EYE; i++) for (let d = 0; d < 3; d++) eye[d] += p[3 * (s + i) + d] / EYE;
      const vol = volume(s, s + EYE, eye);
      expect(vol).toBeGreaterThan(0.95 * sphere);
      expect(vol).toBeLessThan(sphere);
    }
    // Normals of the face point forward (+z) around the nose and lips.
    let forward = 0;
    let backward = 0;
    for (let t = 0; t < F; t++) {
      const a = vertex(p, f[3 * t]);
      if (f[3 * t] >= HEAD || Math.abs(a[0]) > 0.02 || a[1] < -0.06 || a[1] > 0.02 || a[2] < 0.05) continue;
      const n = vcross(vsub(vertex(p, f[3 * t + 1]), a), vsub(vertex(p, f[3 * t + 2]), a));
      if (n[2] > 0) forward++;
      else backward++;
    }
    expect(forward).toBeGreaterThan(20 * Math.max(1, backward));
  });

  it('has no degenerate triangles', () => {
    const f = facesOf(head);
    const p = pos(head);
    let minArea = Infinity;
    let minQuality = Infinity;
    for (let t = 0; t < F; t++) {
      const a = vertex(p, f[3 * t]);
      const b = vertex(p, f[3 * t + 1]);
      const c = vertex(p, f[3 * t + 2]);
      const n = vcross(vsub(b, a), vsub(c, a));
      const area = 0.5 * Math.hypot(n[0], n[1], n[2]);
      const e = Math.max(Math.hypot(...vsub(b, a)), Math.hypot(...vsub(c, b)), Math.hypot(...vsub(a, c)));
      minArea = Math.min(minArea, area);
      minQuality = Math.min(minQuality, area / (e * e));
    }
    expect(minArea).toBeGreaterThan(1e-9); // 0.001 mm^2
    expect(minQuality).toBeGreaterThan(3e-3); // area / longest edge^2 (equilateral: 0.43)
  });
});

describe('synthetic head: rig', () => {
  it('has weights summing to 1, eyeballs one-hot on their joints', () => {
    const w = head.model.weights.data as Float64Array;
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let j = 0; j < 5; j++) {
        expect(w[5 * v + j]).toBeGreaterThanOrEqual(0);
        s += w[5 * v + j];
      }
      expect(Math.abs(s - 1)).toBeLessThan(1e-12);
      if (v >= HEAD) {
        const j = v < HEAD + EYE ? 3 : 4;
        expect(w[5 * v + j]).toBe(1);
      } else {
        expect(w[5 * v + 3] + w[5 * v + 4]).toBe(0);
      }
    }
    // the chin follows the jaw, the forehead the neck, the neck's bottom the root
    const p = pos(head);
    let chin = -1;
    let brow = -1;
    for (let v = 0; v < HEAD; v++) {
      if (p[3 * v] === 0 && Math.abs(p[3 * v + 1] + 0.08) < 0.003 && p[3 * v + 2] > 0.04) chin = v;
      if (p[3 * v] === 0 && Math.abs(p[3 * v + 1] - 0.06) < 0.004 && p[3 * v + 2] > 0.04) brow = v;
    }
    expect(w[5 * chin + 2]).toBeGreaterThan(0.95);
    expect(w[5 * brow + 1]).toBeGreaterThan(0.99);
    expect(w[5 * num(head.masks.boundary, 0)]).toBe(1);
  });

  it('regresses joints as weighted means: root/neck in the neck, jaw at the hinge, eyes at the eyeball centres', () => {
    const R = head.model.J_regressor;
    const indptr = R.indptr.data as Int32Array;
    const rows = R.indices.data as Int32Array;
    const vals = R.data.data as Float64Array;
    expect(indptr[0]).toBe(0);
    expect(indptr[V]).toBe(vals.length);
    const J = new Float64Array(15);
    const sums = [0, 0, 0, 0, 0];
    const counts = [0, 0, 0, 0, 0];
    const p = pos(head);
    for (let v = 0; v < V; v++) {
      for (let e = indptr[v]; e < indptr[v + 1]; e++) {
        if (e > indptr[v]) expect(rows[e]).toBeGreaterThan(rows[e - 1]);
        expect(vals[e]).toBeGreaterThan(0);
        sums[rows[e]] += vals[e];
        counts[rows[e]]++;
        for (let d = 0; d < 3; d++) J[3 * rows[e] + d] += vals[e] * p[3 * v + d];
      }
    }
    for (let j = 0; j < 5; j++) {
      expect(sums[j]).toBeCloseTo(1, 12);
      expect(counts[j]).toBeGreaterThanOrEqual(20);
      for (let d = 0; d < 3; d++) expect(num(head.model.J, 3 * j + d)).toBeCloseTo(J[3 * j + d], 14);
      expect(Math.abs(J[3 * j])).toBeLessThan(j >= 3 ? 0.05 : 1e-12); // on the midline except the eyes
    }
    expect(J[1]).toBeLessThan(-0.1); // root at the top of the neck
    expect(J[1]).toBeGreaterThan(-0.14);
    expect(J[4]).toBeGreaterThan(J[1]); // neck joint above it, at the base of the skull
    expect(J[4]).toBeLessThan(-0.06);
    for (const j of [0, 1]) expect(J[3 * j + 2]).toBeLessThan(-0.02); // inside the neck, behind the jaw
    expect(J[7]).toBeGreaterThan(-0.04); // jaw hinge below the ears, behind the face
    expect(J[7]).toBeLessThan(0.0);
    expect(J[8]).toBeLessThan(0.0);
    // eyes: the centres of their (spherical) eyeballs
    for (const [j, s] of [[3, HEAD], [4, HEAD + EYE]]) {
      const c = [J[3 * j], J[3 * j + 1], J[3 * j + 2]];
      for (let i = 0; i < EYE; i++) expect(Math.hypot(...vsub(vertex(p, s + i), c))).toBeCloseTo(0.0125, 10);
    }
    expect(J[9]).toBeGreaterThan(0);
    expect(J[12]).toBeLessThan(0);
  });

  it('keeps the eyeballs rigid: no blendshape, pose corrective or eyelid offset moves them', () => {
    const S = head.model.shapedirs.data as Float64Array;
    const Pd = head.model.posedirs.data as Float64Array;
    const L = head.leftEyelid.data as Float64Array;
    const Rr = head.rightEyelid.data as Float64Array;
    let nonzero = 0;
    for (let i = 3 * HEAD * K; i < S.length; i++) if (S[i] !== 0) nonzero++;
    for (let i = 3 * HEAD * 36; i < Pd.length; i++) if (Pd[i] !== 0) nonzero++;
    for (let i = 3 * HEAD; i < L.length; i++) if (L[i] !== 0 || Rr[i] !== 0) nonzero++;
    expect(nonzero).toBe(0);
  });

  it('has small pose correctives for the neck and jaw only', () => {
    const Pd = head.model.posedirs.data as Float64Array;
    const maxPerFeature = new Float64Array(36);
    for (let i = 0; i < V * 3; i++) for (let k = 0; k < 36; k++) maxPerFeature[k] = Math.max(maxPerFeature[k], Math.abs(Pd[i * 36 + k]));
    for (let k = 18; k < 36; k++) expect(maxPerFeature[k]).toBe(0); // eyes
    expect(Math.max(...maxPerFeature.slice(9, 18))).toBeGreaterThan(0.0005); // jaw
    expect(Math.max(...maxPerFeature.slice(0, 9))).toBeGreaterThan(0.0005); // neck
    expect(Math.max(...maxPerFeature)).toBeLessThan(0.01);
  });
});

describe('synthetic head: blendshapes', () => {
  it('are smooth, sized like FLAME components, and decreasing', () => {
    const S = head.model.shapedirs.data as Float64Array;
    const f = facesOf(head);
    const p = pos(head);
    const edges = new Set<number>();
    for (let t = 0; t < F; t++) for (let e = 0; e < 3; e++) {
      const a = f[3 * t + e];
      const b = f[3 * t + ((e + 1) % 3)];
      if (a < HEAD && b < HEAD) edges.add(Math.min(a, b) * V + Math.max(a, b));
    }
    // The mouth slit is a cut: its two sides may move apart. Leave out the edges in a thin box around it.
    const inSlit = (v: number): boolean => Math.abs(p[3 * v]) < 0.033 && Math.abs(p[3 * v + 1] + 0.0435) < 0.0035 && p[3 * v + 2] > 0.015;
    const slit = (a: number, b: number): boolean => inSlit(a) && inSlit(b);
    const edgeList = [...edges].map((k) => [Math.floor(k / V), k % V]).filter(([a, b]) => !slit(a, b));
    const peaks: number[] = [];
    for (let k = 0; k < K; k++) {
      let peak = 0;
      for (let v = 0; v < HEAD; v++) {
        const o = 3 * v * K + k;
        peak = Math.max(peak, Math.hypot(S[o], S[o + K], S[o + 2 * K]));
      }
      peaks.push(peak);
      expect(peak, `component ${k}`).toBeGreaterThan(2e-5);
      expect(peak, `component ${k}`).toBeLessThan(0.012);
      // No spikes: across an edge a component changes by less than half its peak, or, on long edges
      // (the coarse back of the head, the mouth slit's walls), by less than its peak per centimetre.
      let worst = 0;
      for (const [a, b] of edgeList) {
        const oa = 3 * a * K + k;
        const ob = 3 * b * K + k;
        const jump = Math.hypot(S[oa] - S[ob], S[oa + K] - S[ob + K], S[oa + 2 * K] - S[ob + 2 * K]);
        const len = Math.hypot(p[3 * a] - p[3 * b], p[3 * a + 1] - p[3 * b + 1], p[3 * a + 2] - p[3 * b + 2]);
        worst = Math.max(worst, jump / (peak * Math.max(0.5, len / 0.01)));
      }
      expect(worst, `component ${k}`).toBeLessThan(1);
    }
    const mean = (a: number[]): number => a.reduce((s, x) => s + x, 0) / a.length;
    expect(mean(peaks.slice(0, 30))).toBeGreaterThan(2 * mean(peaks.slice(250, 300)));
    expect(mean(peaks.slice(300, 320))).toBeGreaterThan(mean(peaks.slice(380, 400)));
  });

  it('are mostly mirror-symmetric', () => {
    // compare each component with its mirror through the x -> -x vertex map
    const p = pos(head);
    const S = head.model.shapedirs.data as Float64Array;
    const key = (x: number, y: number, z: number): string => `${x.toFixed(9)},${y.toFixed(9)},${z.toFixed(9)}`;
    const index = new Map<string, number>();
    for (let v = 0; v < HEAD; v++) index.set(key(p[3 * v], p[3 * v + 1], p[3 * v + 2]), v);
    const mirror = Int32Array.from({ length: HEAD }, (_, v) => index.get(key(-p[3 * v] + 0, p[3 * v + 1], p[3 * v + 2]))!);
    let symmetric = 0;
    for (let k = 0; k < 300; k++) {
      let num2 = 0;
      let den = 0;
      for (let v = 0; v < HEAD; v++) {
        const m = mirror[v];
        const o = 3 * v * K + k;
        const om = 3 * m * K + k;
        num2 += (S[o] + S[om]) ** 2 + (S[o + K] - S[om + K]) ** 2 + (S[o + 2 * K] - S[om + 2 * K]) ** 2;
        den += S[o] ** 2 + S[o + K] ** 2 + S[o + 2 * K] ** 2;
      }
      if (Math.sqrt(num2 / den) < 0.35) symmetric++;
    }
    expect(symmetric).toBeGreaterThan(270);
  });

  it('open the mouth with the first expression component', () => {
    const S = head.model.shapedirs.data as Float64Array;
    const E = head.landmarkEmbedding;
    const at = (i: number, k: number): number[] => {
      const face = num(E.static_lmk_faces_idx, i - 17);
      const b = [0, 1, 2].map((c) => num(E.static_lmk_bary_coords, 3 * (i - 17) + c));
      const f = facesOf(head);
      const out = [0, 0, 0];
      for (let c = 0; c < 3; c++) for (let d = 0; d < 3; d++) out[d] += b[c] * S[(3 * f[3 * face + c] + d) * K + k];
      return out;
    };
    // inner lips 62 (upper) and 66 (lower): the lower one drops, the upper one rises
    expect(at(66, 300)[1]).toBeLessThan(-0.002);
    expect(at(62, 300)[1]).toBeGreaterThan(0.0);
    // smile lifts the mouth corners
    expect(at(48, 301)[1]).toBeGreaterThan(0.001);
    expect(at(54, 301)[1]).toBeGreaterThan(0.001);
  });
});

describe('synthetic head: eyelids', () => {
  it('close the upper lid of each eye and touch nothing else', () => {
    const p = pos(head);
    for (const [lid, side] of [[head.leftEyelid, 1], [head.rightEyelid, -1]] as const) {
      const d = lid.data as Float64Array;
      let moved = 0;
      let maxDown = 0;
      for (let v = 0; v < V; v++) {
        const m = Math.hypot(d[3 * v], d[3 * v + 1], d[3 * v + 2]);
        if (m === 0) continue;
        moved++;
        expect(Math.sign(p[3 * v])).toBe(side);
        expect(Math.abs(Math.abs(p[3 * v]) - 0.0315)).toBeLessThan(0.03);
        expect(Math.abs(p[3 * v + 1] - 0.0285)).toBeLessThan(0.025);
        maxDown = Math.max(maxDown, -d[3 * v + 1]);
      }
      expect(moved).toBeGreaterThan(20);
      expect(maxDown).toBeGreaterThan(0.006);
      expect(maxDown).toBeLessThan(0.014);
    }
  });
});

describe('synthetic head: landmarks', () => {
  const lm = (i: number, p?: ArrayLike<number>): number[] => {
    const E = head.landmarkEmbedding;
    const face = num(E.full_lmk_faces_idx, i);
    return landmarkPosition(head, face, [0, 1, 2].map((c) => num(E.full_lmk_bary_coords, 3 * i + c)), p);
  };

  it('have valid barycentric coordinates on head faces', () => {
    const E = head.landmarkEmbedding;
    const sets: Array<[NdArray, NdArray]> = [
      [E.static_lmk_faces_idx, E.static_lmk_bary_coords],
      [E.dynamic_lmk_faces_idx, E.dynamic_lmk_bary_coords],
      [E.full_lmk_faces_idx, E.full_lmk_bary_coords],
    ];
    const f = facesOf(head);
    for (const [faces, bary] of sets) {
      for (let i = 0; i < faces.size; i++) {
        const face = num(faces, i);
        expect(face).toBeGreaterThanOrEqual(0);
        expect(face).toBeLessThan(F);
        expect(f[3 * face]).toBeLessThan(HEAD);
        let s = 0;
        for (let c = 0; c < 3; c++) {
          const b = num(bary, 3 * i + c);
          expect(b).toBeGreaterThanOrEqual(0);
          s += b;
        }
        expect(s).toBeCloseTo(1, 12);
      }
    }
    // full = frontal contour (bin 0) + static
    for (let k = 0; k < 17; k++) expect(num(E.full_lmk_faces_idx, k)).toBe(num(E.dynamic_lmk_faces_idx, k));
    for (let i = 0; i < 51; i++) expect(num(E.full_lmk_faces_idx, 17 + i)).toBe(num(E.static_lmk_faces_idx, i));
  });

  it('are mirror-symmetric in pairs', () => {
    const pairs: Array<[number, number]> = [
      [17, 26], [18, 25], [19, 24], [20, 23], [21, 22], [31, 35], [32, 34],
      [36, 45], [37, 44], [38, 43], [39, 42], [40, 47], [41, 46],
      [48, 54], [49, 53], [50, 52], [59, 55], [58, 56], [60, 64], [61, 63], [67, 65],
    ];
    for (let k = 0; k < 8; k++) pairs.push([k, 16 - k]);
    for (const [r, l] of pairs) {
      const a = lm(r);
      const b = lm(l);
      expect(a[0], `${r}`).toBeLessThan(0);
      expect(a[0] + b[0]).toBeCloseTo(0, 9);
      expect(a[1]).toBeCloseTo(b[1], 9);
      expect(a[2]).toBeCloseTo(b[2], 9);
    }
    for (const c of [8, 27, 28, 29, 30, 33, 51, 57, 62, 66]) expect(Math.abs(lm(c)[0])).toBeLessThan(1e-9);
  });

  it('sit at the right anatomical places', () => {
    const y = (i: number): number => lm(i)[1];
    const z = (i: number): number => lm(i)[2];
    // top to bottom: brows, eyes, nose tip, nostrils, lips, chin
    expect(y(19)).toBeGreaterThan(y(37) + 0.008);
    expect(y(37)).toBeGreaterThan(y(41) + 0.004); // the eyes are open
    expect(y(27)).toBeGreaterThan(y(30) + 0.03);
    expect(y(30)).toBeGreaterThan(y(33));
    expect(y(33)).toBeGreaterThan(y(51) + 0.005);
    expect(y(51)).toBeGreaterThan(y(62));
    expect(y(62)).toBeGreaterThanOrEqual(y(66));
    expect(y(66)).toBeGreaterThan(y(57));
    expect(y(57)).toBeGreaterThan(y(8) + 0.02);
    // the nose tip is the most forward point
    for (let i = 0; i < 68; i++) expect(z(30)).toBeGreaterThanOrEqual(z(i));
    // eye corners: inner closer to the midline than outer, both on the eyeball's side
    expect(lm(42)[0]).toBeLessThan(lm(45)[0]);
    expect(lm(42)[0]).toBeGreaterThan(0.012);
    // mouth corners about 4-6 cm apart
    const mw = lm(54)[0] - lm(48)[0];
    expect(mw).toBeGreaterThan(0.04);
    expect(mw).toBeLessThan(0.06);
    // the contour runs from beside the eyes down around the chin
    for (let k = 0; k < 8; k++) {
      expect(lm(k)[0]).toBeLessThan(lm(k + 1)[0]);
      expect(lm(k)[1]).toBeGreaterThan(lm(k + 1)[1] - 0.002);
    }
    expect(Math.abs(lm(0)[0])).toBeGreaterThan(0.05);
  });

  it('have a yaw-dependent contour: bins of opposite yaw mirror each other, turning away pulls the far side in', () => {
    const E = head.landmarkEmbedding;
    const point = (bin: number, k: number): number[] => {
      const i = bin * 17 + k;
      return landmarkPosition(head, num(E.dynamic_lmk_faces_idx, i), [0, 1, 2].map((c) => num(E.dynamic_lmk_bary_coords, 3 * i + c)));
    };
    const binOf = (yaw: number): number => (yaw <= 0 ? -yaw : 39 + yaw);
    for (let yaw = 1; yaw <= 39; yaw++) {
      expect(binYaw(binOf(yaw))).toBe(yaw);
      expect(binYaw(binOf(-yaw))).toBe(-yaw);
      for (let k = 0; k < 17; k++) {
        const a = point(binOf(yaw), k);
        const b = point(binOf(-yaw), 16 - k);
        expect(a[0] + b[0]).toBeCloseTo(0, 9);
        expect(a[1]).toBeCloseTo(b[1], 9);
      }
    }
    // yaw +30 turns the face toward +x: the -x side (points 0..3) comes into view and its outline
    // moves back toward the ear; the +x side (13..16) moves forward onto the cheek.
    for (const k of [1, 2, 3]) {
      expect(point(binOf(30), k)[2]).toBeLessThan(point(0, k)[2] - 0.005);
      expect(point(binOf(30), 16 - k)[2]).toBeGreaterThan(point(0, 16 - k)[2] + 0.005);
    }
  });
});

describe('synthetic head: UVs', () => {
  it('lie in (0, 1), with seams, a centred face and separate eyeball islands, and no flipped triangles', () => {
    const { uvs, faceUvs } = head.template;
    const VT = uvs.length / 2;
    expect(VT).toBeGreaterThan(V);
    for (let i = 0; i < uvs.length; i++) {
      expect(uvs[i]).toBeGreaterThan(0);
      expect(uvs[i]).toBeLessThan(1);
    }
    const f = facesOf(head);
    const uvsOf = new Map<number, Set<number>>();
    for (let i = 0; i < faceUvs.length; i++) {
      expect(faceUvs[i]).toBeLessThan(VT);
      const s = uvsOf.get(f[i]) ?? new Set<number>();
      s.add(faceUvs[i]);
      uvsOf.set(f[i], s);
    }
    let seams = 0;
    for (const s of uvsOf.values()) if (s.size > 1) seams++;
    expect(seams).toBeGreaterThan(10);
    // every triangle keeps its orientation in UV space
    let flipped = 0;
    for (let t = 0; t < F; t++) {
      const [a, b, c] = [faceUvs[3 * t], faceUvs[3 * t + 1], faceUvs[3 * t + 2]];
      const area = (uvs[2 * b] - uvs[2 * a]) * (uvs[2 * c + 1] - uvs[2 * a + 1]) - (uvs[2 * b + 1] - uvs[2 * a + 1]) * (uvs[2 * c] - uvs[2 * a]);
      if (!(area > 0)) flipped++;
    }
    expect(flipped).toBe(0);
    // no two triangles cover the same texel (rasterised at 1024 x 1024, pixel centres strictly inside)
    const N = 1024;
    const cover = new Uint8Array(N * N);
    let overlap = 0;
    for (let t = 0; t < F; t++) {
      const q = [0, 1, 2].map((c) => [uvs[2 * faceUvs[3 * t + c]] * N, uvs[2 * faceUvs[3 * t + c] + 1] * N]);
      const [a, b, c] = q;
      const area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
      for (let y = Math.floor(Math.min(a[1], b[1], c[1])); y <= Math.ceil(Math.max(a[1], b[1], c[1])); y++) {
        for (let x = Math.floor(Math.min(a[0], b[0], c[0])); x <= Math.ceil(Math.max(a[0], b[0], c[0])); x++) {
          const px = x + 0.5;
          const py = y + 0.5;
          const w0 = ((b[0] - px) * (c[1] - py) - (b[1] - py) * (c[0] - px)) / area;
          const w1 = ((c[0] - px) * (a[1] - py) - (c[1] - py) * (a[0] - px)) / area;
          const w2 = 1 - w0 - w1;
          if (w0 <= 1e-9 || w1 <= 1e-9 || w2 <= 1e-9) continue;
          if (cover[y * N + x]++) overlap++;
        }
      }
    }
    expect(overlap).toBe(0);
    // face region near the centre of the atlas
    const face = head.masks.face;
    let mu = 0;
    let mv = 0;
    for (let i = 0; i < face.size; i++) {
      const uv = [...uvsOf.get(num(face, i))!][0];
      mu += uvs[2 * uv] / face.size;
      mv += uvs[2 * uv + 1] / face.size;
    }
    expect(Math.abs(mu - 0.5)).toBeLessThan(0.05);
    expect(Math.abs(mv - 0.5)).toBeLessThan(0.15);
    // eyeball islands do not overlap the head's UV region
    let headTop = 0;
    for (let t = 0; t < F; t++) if (f[3 * t] < HEAD) for (let c = 0; c < 3; c++) headTop = Math.max(headTop, uvs[2 * faceUvs[3 * t + c] + 1]);
    for (let t = 0; t < F; t++) {
      if (f[3 * t] < HEAD) continue;
      for (let c = 0; c < 3; c++) expect(uvs[2 * faceUvs[3 * t + c] + 1]).toBeGreaterThan(headTop);
    }
  });
});

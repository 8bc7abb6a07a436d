// A validated FLAME model in the layout the kernels stream, built from the raw file contents (raw-files.ts).
//
// Layout: bases are float32 and basis-major [K, 3V] (component k of vertex i, coordinate d at
// k * 3V + 3i + d): the transpose of the pickle's [V, 3, K]. The native kernel pads each row to a whole
// cache line when it takes its copy (native/src/common/aligned.h).
import { FormatError, type NdArray } from '@pixel3dmm/formats';
import type { FlameKernelArrays, FlameLandmarkArrays } from '@pixel3dmm/kernels';
import type { RawFlameFiles, RawFlameModel, RawLandmarkEmbedding, RawTemplateMesh } from './raw-files.js';

export const FLAME_PARENTS = [-1, 0, 1, 1, 1] as const;
export const EXPRESSION_COMPONENTS = 100;

export interface FlameModel {
  /** Where it came from, for messages ("generic_model.pkl", "built-in synthetic head (seed 0)"). */
  source: string;
  numVertices: number;
  numFaces: number;
  numShape: number;
  numExpression: number;
  faces: Uint32Array; // [F, 3]
  vTemplate: Float32Array; // [V * 3]
  shapeBasis: Float32Array; // [numShape, 3V]
  exprBasis: Float32Array; // [numExpression, 3V]
  poseBasis: Float32Array; // [36, 3V]
  eyelidBasis?: Float32Array; // [2, 3V]: row 0 = l_eyelid (the subject's left), row 1 = r_eyelid
  skinWeights: Float32Array; // [V, 5]
  parents: Int32Array; // [5]
  /** Sparse joint regressor by joint (CSR). */
  jointRegressor: { offsets: Int32Array; vertices: Int32Array; weights: Float64Array };
  landmarks?: FlameLandmarkArrays;
  /** Vertex index sets from FLAME_masks.pkl. */
  masks: Record<string, Int32Array>;
  /** UVs of head_template.obj (with seams: separate UV indices per triangle corner). */
  uv?: { uvs: Float32Array; faceUvs: Uint32Array };
}

type Where = (what: string) => never;

function whereFn(file: string): Where {
  return (what: string) => {
    throw new FormatError(file, what);
  };
}

function checkShape(fail: Where, key: string, a: NdArray | undefined, shape: (number | null)[]): NdArray {
  if (!a) fail(`missing key '${key}'`);
  const ok = a.shape.length === shape.length && shape.every((s, i) => s === null || s === a.shape[i]);
  if (!ok) fail(`'${key}' has shape [${a.shape.join(', ')}], expected [${shape.map((s) => s ?? 'N').join(', ')}]`);
  return a;
}

function checkFloat(fail: Where, key: string, a: NdArray): void {
  if (a.dtype !== '<f8' && a.dtype !== '<f4') fail(`'${key}' has dtype ${a.dtype}, expected float64 or float32`);
}

function checkInt(fail: Where, key: string, a: NdArray): void {
  if (a.dtype[1] !== 'i' && a.dtype[1] !== 'u') fail(`'${key}' has dtype ${a.dtype}, expected an integer type`);
}

function toNumber(a: NdArray, i: number): number {
  return Number(a.data[i]);
}

function finiteFloat32(fail: Where, key: string, a: NdArray): Float32Array {
  const out = new Float32Array(a.size);
  const d = a.data as Float64Array | Float32Array;
  for (let i = 0; i < out.length; i++) {
    const v = d[i];
    if (!Number.isFinite(v)) fail(`'${key}' has a non-finite value at flat index ${i}`);
    out[i] = v;
  }
  return out;
}

/** [V, 3, K] (pickle layout) -> [K, 3V] float32. */
function basisMajor(fail: Where, key: string, a: NdArray, first: number, count: number): Float32Array {
  const [V, , K] = a.shape;
  const out = new Float32Array(count * 3 * V);
  const d = a.data as Float64Array | Float32Array;
  for (let i = 0; i < V; i++) {
    for (let c = 0; c < 3; c++) {
      const row = (i * 3 + c) * K;
      for (let k = 0; k < count; k++) {
        const v = d[row + first + k];
        if (!Number.isFinite(v)) fail(`'${key}' has a non-finite value at [${i}, ${c}, ${first + k}]`);
        out[k * 3 * V + 3 * i + c] = v;
      }
    }
  }
  return out;
}

/** The number of expression components: FLAME 2023 Open says so itself; otherwise the last 100 of 400. */
export function expressionCount(totalComponents: number, declared?: number): number {
  if (declared !== undefined) return declared;
  return Math.min(EXPRESSION_COMPONENTS, Math.floor(totalComponents / 4));
}

function modelArrays(raw: RawFlameModel, file: string, declaredExpr?: number) {
  const fail = whereFn(file);
  const vt = checkShape(fail, 'v_template', raw.v_template, [null, 3]);
  checkFloat(fail, 'v_template', vt);
  const V = vt.shape[0];
  if (V < 1) fail(`'v_template' has no vertices`);
  const f = checkShape(fail, 'f', raw.f, [null, 3]);
  checkInt(fail, 'f', f);
  const F = f.shape[0];
  const faces = new Uint32Array(3 * F);
  for (let i = 0; i < 3 * F; i++) {
    const v = toNumber(f, i);
    if (!(v >= 0 && v < V)) fail(`'f' has vertex index ${v} at triangle ${Math.floor(i / 3)}, expected [0, ${V})`);
    faces[i] = v;
  }
  const sd = checkShape(fail, 'shapedirs', raw.shapedirs, [V, 3, null]);
  checkFloat(fail, 'shapedirs', sd);
  const K = sd.shape[2];
  const nE = expressionCount(K, declaredExpr);
  if (nE > K) fail(`'shapedirs' has ${K} components but ${nE} expression components are declared`);
  const nS = K - nE;
  const pd = checkShape(fail, 'posedirs', raw.posedirs, [V, 3, 36]);
  checkFloat(fail, 'posedirs', pd);
  const w = checkShape(fail, 'weights', raw.weights, [V, 5]);
  checkFloat(fail, 'weights', w);
  const skinWeights = finiteFloat32(fail, 'weights', w);
  for (let i = 0; i < V; i++) {
    let s = 0;
    for (let j = 0; j < 5; j++) s += skinWeights[5 * i + j];
    if (Math.abs(s - 1) > 1e-3) fail(`'weights' row ${i} sums to ${s}, expected 1 (skinning weights are convex)`);
  }
  const kt = checkShape(fail, 'kintree_table', raw.kintree_table, [2, 5]);
  checkInt(fail, 'kintree_table', kt);
  const parents = new Int32Array(5);
  for (let j = 0; j < 5; j++) {
    const p = toNumber(kt, j);
    // The root's parent is stored as 4294967295 (uint32 -1) in SMPL-family files.
    parents[j] = j === 0 ? -1 : p;
    if (j > 0 && !(p >= 0 && p < j)) fail(`'kintree_table' gives joint ${j} the parent ${p}, expected a joint below ${j}`);
    if (toNumber(kt, 5 + j) !== j) fail(`'kintree_table' row 1 must list the joint ids 0..4`);
  }
  const jr = raw.J_regressor;
  if (!jr) fail(`missing key 'J_regressor'`);
  if (jr.shape[0] !== 5 || jr.shape[1] !== V) fail(`'J_regressor' has shape [${jr.shape.join(', ')}], expected [5, ${V}]`);
  const jointRegressor = cscToJointCsr(fail, jr, V);
  return {
    numVertices: V,
    numFaces: F,
    numShape: nS,
    numExpression: nE,
    faces,
    vTemplate: finiteFloat32(fail, 'v_template', vt),
    shapeBasis: basisMajor(fail, 'shapedirs', sd, 0, nS),
    exprBasis: basisMajor(fail, 'shapedirs', sd, nS, nE),
    poseBasis: basisMajor(fail, 'posedirs', pd, 0, 36),
    skinWeights,
    parents,
    jointRegressor,
  };
}

/** The CSC [5, V] regressor regrouped by joint (row), keeping every stored value. */
function cscToJointCsr(fail: Where, jr: RawFlameModel['J_regressor'], V: number) {
  const indptr = jr.indptr;
  const indices = jr.indices;
  const data = jr.data;
  if (indptr.size !== V + 1) fail(`'J_regressor' indptr has ${indptr.size} entries, expected ${V + 1}`);
  const nnz = toNumber(indptr, V);
  if (indices.size < nnz || data.size < nnz) fail(`'J_regressor' is truncated: ${nnz} values announced`);
  const perJoint: Array<Array<[number, number]>> = [[], [], [], [], []];
  for (let c = 0; c < V; c++) {
    const a = toNumber(indptr, c), b = toNumber(indptr, c + 1);
    if (!(a <= b && b <= nnz)) fail(`'J_regressor' indptr is not monotone at column ${c}`);
    for (let k = a; k < b; k++) {
      const r = toNumber(indices, k);
      const v = toNumber(data, k);
      if (!(r >= 0 && r < 5)) fail(`'J_regressor' has row index ${r}, expected [0, 5)`);
      if (!Number.isFinite(v)) fail(`'J_regressor' has a non-finite value`);
      perJoint[r].push([c, v]);
    }
  }
  const offsets = new Int32Array(6);
  const vertices: number[] = [];
  const weights: number[] = [];
  perJoint.forEach((entries, j) => {
    if (entries.length === 0) fail(`'J_regressor' row ${j} is empty: joint ${j} would sit at the origin`);
    for (const [v, w] of entries) {
      vertices.push(v);
      weights.push(w);
    }
    offsets[j + 1] = vertices.length;
  });
  return { offsets, vertices: Int32Array.from(vertices), weights: Float64Array.from(weights) };
}

function landmarkArrays(raw: RawLandmarkEmbedding, faces: Uint32Array, file: string): FlameLandmarkArrays {
  const fail = whereFn(file);
  const F = faces.length / 3;
  const sf = raw.static_lmk_faces_idx;
  const sb = raw.static_lmk_bary_coords;
  if (!sf || !sb) fail(`missing 'static_lmk_faces_idx' or 'static_lmk_bary_coords'`);
  const nStatic = sf.size;
  checkShape(fail, 'static_lmk_bary_coords', sb, [nStatic, 3]);
  const df = raw.dynamic_lmk_faces_idx;
  const db = raw.dynamic_lmk_bary_coords;
  if (!df || !db) fail(`missing 'dynamic_lmk_faces_idx' or 'dynamic_lmk_bary_coords'`);
  checkShape(fail, 'dynamic_lmk_faces_idx', df, [null, null]);
  const [bins, per] = df.shape;
  checkShape(fail, 'dynamic_lmk_bary_coords', db, [bins, per, 3]);
  const convert = (facesIdx: NdArray, bary: NdArray, key: string) => {
    const n = facesIdx.size;
    const verts = new Int32Array(3 * n);
    const w = new Float64Array(3 * n);
    for (let l = 0; l < n; l++) {
      const t = toNumber(facesIdx, l);
      if (!(t >= 0 && t < F)) fail(`'${key}' has triangle index ${t} at ${l}, expected [0, ${F})`);
      for (let c = 0; c < 3; c++) {
        verts[3 * l + c] = faces[3 * t + c];
        const b = toNumber(bary, 3 * l + c);
        if (!Number.isFinite(b)) fail(`'${key}' has a non-finite barycentric coordinate`);
        w[3 * l + c] = b;
      }
    }
    return { verts, w };
  };
  const s = convert(sf, sb, 'static_lmk_faces_idx');
  const d = convert(df, db, 'dynamic_lmk_faces_idx');
  return { staticVertices: s.verts, staticBary: s.w, dynamicBins: bins, dynamicPerBin: per, dynamicVertices: d.verts, dynamicBary: d.w };
}

function eyelidRows(left: NdArray, right: NdArray, V: number, files: [string, string]): Float32Array {
  const out = new Float32Array(6 * V);
  [left, right].forEach((a, row) => {
    const fail = whereFn(files[row]);
    checkShape(fail, 'eyelid offsets', a, [V, 3]);
    checkFloat(fail, 'eyelid offsets', a);
    out.set(finiteFloat32(fail, 'eyelid offsets', a), row * 3 * V);
  });
  return out;
}

function uvArrays(t: RawTemplateMesh, faces: Uint32Array, file: string): { uvs: Float32Array; faceUvs: Uint32Array } {
  const fail = whereFn(file);
  if (t.faces.length !== faces.length) fail(`has ${t.faces.length / 3} triangles, the model has ${faces.length / 3}`);
  for (let i = 0; i < faces.length; i++) {
    if (t.faces[i] !== faces[i]) fail(`triangle ${Math.floor(i / 3)} differs from the model's triangle list`);
  }
  const nUv = t.uvs.length / 2;
  for (let i = 0; i < t.faceUvs.length; i++) {
    if (t.faceUvs[i] >= nUv) fail(`UV index ${t.faceUvs[i]} out of range [0, ${nUv})`);
  }
  return { uvs: Float32Array.from(t.uvs), faceUvs: Uint32Array.from(t.faceUvs) };
}

export interface RawFlameSources {
  model: string;
  masks?: string;
  landmarkEmbedding?: string;
  leftEyelid?: string;
  rightEyelid?: string;
  template?: string;
}

/**
 * Validates raw file contents and converts them into a FlameModel. Companion files are optional (a
 * missing one leaves its feature out); `names` are used in error messages.
 */
export function flameModelFromRaw(
  raw: Partial<RawFlameFiles> & { model: RawFlameModel },
  names: RawFlameSources,
  options: { source?: string; expressionComponents?: number } = {},
): FlameModel {
  const core = modelArrays(raw.model, names.model, options.expressionComponents);
  const model: FlameModel = { source: options.source ?? names.model, ...core, masks: {} };
  if (raw.leftEyelid && raw.rightEyelid) {
    model.eyelidBasis = eyelidRows(raw.leftEyelid, raw.rightEyelid, core.numVertices, [
      names.leftEyelid ?? 'l_eyelid.npy',
      names.rightEyelid ?? 'r_eyelid.npy',
    ]);
  }
  if (raw.landmarkEmbedding) {
    model.landmarks = landmarkArrays(raw.landmarkEmbedding, core.faces, names.landmarkEmbedding ?? 'landmark_embedding.npy');
  }
  if (raw.masks) {
    const fail = whereFn(names.masks ?? 'FLAME_masks.pkl');
    for (const [name, a] of Object.entries(raw.masks)) {
      checkShape(fail, name, a, [null]);
      checkInt(fail, name, a);
      const idx = new Int32Array(a.size);
      for (let i = 0; i < idx.length; i++) {
        const v = toNumber(a, i);
        if (!(v >= 0 && v < core.numVertices)) fail(`mask '${name}' has vertex index ${v}, expected [0, ${core.numVertices})`);
        idx[i] = v;
      }
      model.masks[name] = idx;
    }
  }
  if (raw.template) model.uv = uvArrays(raw.template, core.faces, names.template ?? 'head_template.obj');
  return model;
}

/** The arrays the FLAME kernel takes. */
export function kernelArrays(m: FlameModel): FlameKernelArrays {
  return {
    numVertices: m.numVertices,
    numShape: m.numShape,
    numExpression: m.numExpression,
    vTemplate: m.vTemplate,
    shapeBasis: m.shapeBasis,
    exprBasis: m.exprBasis,
    poseBasis: m.poseBasis,
    eyelidBasis: m.eyelidBasis,
    skinWeights: m.skinWeights,
    parents: m.parents,
    jointOffsets: m.jointRegressor.offsets,
    jointVertices: m.jointRegressor.vertices,
    jointWeights: m.jointRegressor.weights,
    landmarks: m.landmarks,
  };
}

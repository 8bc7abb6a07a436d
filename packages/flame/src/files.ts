// FLAME model files on disk: where each comes from, reading them into the raw structures of raw-files.ts,
// and writing them (the built-in synthetic head is written in exactly the licensed files' layouts).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  ChumpyArray,
  CscMatrix,
  FormatError,
  NdArray,
  ObjectArray,
  PyDict,
  type PyValue,
  readNpy,
  readNpz,
  readNpyObject,
  readObj,
  readPickle,
} from '@pixel3dmm/formats';
import type { RawFlameFiles, RawFlameModel, RawLandmarkEmbedding, RawTemplateMesh } from './raw-files.js';
import { flameModelFromRaw, type FlameModel, type RawFlameSources } from './model.js';

/** The file names the original tools use, and where a user gets each (they are licensed downloads). */
export const FLAME_FILES = {
  model: {
    names: ['generic_model.pkl', 'flame2023_no_jaw.pkl', 'flame2023.pkl', 'flame2023_Open.pkl'],
    origin:
      'FLAME 2020 (generic_model.pkl in FLAME2020.zip) or FLAME 2023 (flame2023*.pkl in FLAME2023.zip; ' +
      'flame2023_Open.pkl in FLAME2023Open.zip, CC-BY-4.0) from https://flame.is.tue.mpg.de after registering ' +
      'and accepting the licence',
  },
  masks: { names: ['FLAME_masks.pkl'], origin: 'FLAME_masks.zip from https://flame.is.tue.mpg.de (also in MICA\'s data/FLAME2020/FLAME_masks)' },
  landmarkEmbedding: {
    names: ['landmark_embedding.npy'],
    origin: 'DECA\'s data/landmark_embedding.npy (also MICA\'s data/FLAME2020/landmark_embedding.npy)',
  },
  leftEyelid: { names: ['l_eyelid.npy'], origin: 'Pixel3DMM\'s src/pixel3dmm/tracking/flame/blendshapes (also metrical-tracker\'s flame/blendshapes)' },
  rightEyelid: { names: ['r_eyelid.npy'], origin: 'Pixel3DMM\'s src/pixel3dmm/tracking/flame/blendshapes (also metrical-tracker\'s flame/blendshapes)' },
  template: { names: ['head_template.obj'], origin: 'Pixel3DMM\'s assets/head_template.obj (the same file as DECA\'s data/head_template.obj)' },
  mediapipeEmbedding: {
    names: ['mediapipe_landmark_embedding.npz'],
    origin: 'metrical-tracker\'s flame/mediapipe/mediapipe_landmark_embedding.npz (also a FLAME-site download)',
  },
} as const;

export type FlameFileKind = keyof typeof FLAME_FILES;

export class MissingFlameFileError extends Error {
  override name = 'MissingFlameFileError';
  constructor(readonly kind: FlameFileKind, readonly path: string) {
    super(`${path}: not found. This file is not shipped with pixel3dmm (licence); get it from ${FLAME_FILES[kind].origin}.`);
  }
}

function readBytes(path: string, kind: FlameFileKind): Uint8Array {
  if (!existsSync(path)) throw new MissingFlameFileError(kind, path);
  if (statSync(path).isDirectory()) throw new FormatError(path, 'is a directory, expected a file');
  const b = readFileSync(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

function unwrapArray(v: PyValue | undefined, key: string, file: string): NdArray {
  if (v instanceof ChumpyArray) return v.x;
  if (v instanceof NdArray) return v;
  if (v === undefined) throw new FormatError(file, `missing key '${key}'`);
  throw new FormatError(file, `'${key}' is not an array (got ${describeValue(v)})`);
}

function describeValue(v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v === 'object') return v.constructor.name;
  return typeof v;
}

function asDict(v: PyValue, file: string, what: string): PyDict {
  if (v instanceof PyDict) return v;
  throw new FormatError(file, `expected ${what} (a Python dict) at the top level, got ${describeValue(v)}`);
}

function asString(v: PyValue | undefined): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return latin1(v);
  return '';
}

/** The dict of a FLAME model pickle (any of the four releases) as raw arrays. */
export function rawModelFromPickle(value: PyValue, file: string): { model: RawFlameModel; expressionComponents?: number } {
  const d = asDict(value, file, 'the FLAME model');
  const jr = d.get('J_regressor');
  let J_regressor: RawFlameModel['J_regressor'];
  if (jr instanceof CscMatrix) {
    jr.validate(file);
    J_regressor = { shape: [jr.shape[0], jr.shape[1]], data: jr.data, indices: jr.indices, indptr: jr.indptr };
  } else if (jr instanceof NdArray || jr instanceof ChumpyArray) {
    // A dense regressor (some re-saves): compress it by columns.
    const dense = unwrapArray(jr, 'J_regressor', file);
    if (dense.shape.length !== 2) throw new FormatError(file, `'J_regressor' has shape [${dense.shape.join(', ')}], expected [5, V]`);
    const [rows, cols] = dense.shape;
    const data: number[] = [], indices: number[] = [], indptr = [0];
    for (let c = 0; c < cols; c++) {
      for (let r = 0; r < rows; r++) {
        const v = Number(dense.data[r * cols + c]);
        if (v !== 0) {
          data.push(v);
          indices.push(r);
        }
      }
      indptr.push(data.length);
    }
    J_regressor = {
      shape: [rows, cols],
      data: new NdArray('<f8', [data.length], Float64Array.from(data)),
      indices: new NdArray('<i4', [indices.length], Int32Array.from(indices)),
      indptr: new NdArray('<i4', [indptr.length], Int32Array.from(indptr)),
    };
  } else {
    throw new FormatError(file, jr === undefined ? `missing key 'J_regressor'` : `'J_regressor' is not a sparse or dense matrix`);
  }
  const model: RawFlameModel = {
    f: unwrapArray(d.get('f'), 'f', file),
    v_template: unwrapArray(d.get('v_template'), 'v_template', file),
    shapedirs: unwrapArray(d.get('shapedirs'), 'shapedirs', file),
    posedirs: unwrapArray(d.get('posedirs'), 'posedirs', file),
    J_regressor,
    weights: unwrapArray(d.get('weights'), 'weights', file),
    J: d.has('J') ? unwrapArray(d.get('J'), 'J', file) : new NdArray('<f8', [5, 3], new Float64Array(15)),
    kintree_table: unwrapArray(d.get('kintree_table'), 'kintree_table', file),
    bs_style: asString(d.get('bs_style')),
    bs_type: asString(d.get('bs_type')),
  };
  // FLAME 2023 Open states how many expression components it has (the last n_expr of shapedirs).
  const meta = d.get('supr_expression_metadata');
  let expressionComponents: number | undefined;
  if (meta instanceof PyDict) {
    const n = meta.get('n_expr');
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0) expressionComponents = n;
  }
  return { model, expressionComponents };
}

export function rawMasksFromPickle(value: PyValue, file: string): Record<string, NdArray> {
  const d = asDict(value, file, 'the FLAME masks');
  const out: Record<string, NdArray> = {};
  for (const [k, v] of d) out[String(k)] = unwrapArray(v, String(k), file);
  for (const needed of ['face', 'left_eyeball', 'right_eyeball']) {
    if (!out[needed]) throw new FormatError(file, `missing mask '${needed}'`);
  }
  return out;
}

export function rawLandmarksFromNpy(value: PyValue, file: string): RawLandmarkEmbedding {
  let v = value;
  if (v instanceof ObjectArray) {
    if (v.items.length !== 1) throw new FormatError(file, `expected a 0-d object array holding one dict, got ${v.items.length} items`);
    v = v.items[0];
  }
  const d = asDict(v, file, 'the landmark embedding');
  const get = (k: keyof RawLandmarkEmbedding) => unwrapArray(d.get(k), k, file);
  return {
    static_lmk_faces_idx: get('static_lmk_faces_idx'),
    static_lmk_bary_coords: get('static_lmk_bary_coords'),
    dynamic_lmk_faces_idx: get('dynamic_lmk_faces_idx'),
    dynamic_lmk_bary_coords: get('dynamic_lmk_bary_coords'),
    full_lmk_faces_idx: d.has('full_lmk_faces_idx') ? get('full_lmk_faces_idx') : new NdArray('<i8', [0], new BigInt64Array(0)),
    full_lmk_bary_coords: d.has('full_lmk_bary_coords') ? get('full_lmk_bary_coords') : new NdArray('<f8', [0], new Float64Array(0)),
  };
}

export function rawTemplateFromObj(bytes: Uint8Array, file: string): RawTemplateMesh {
  const obj = readObj(bytes, file);
  if (!obj.faceUvs) throw new FormatError(file, 'has no texture coordinates (f v/vt), expected a UV-mapped template');
  return { positions: obj.positions, uvs: obj.uvs, faces: obj.faces, faceUvs: obj.faceUvs };
}

/** Paths of a model file and of whichever companion files are at hand. */
export type FlameFilePaths = RawFlameSources;

/**
 * The files of a model directory (or of the directory holding a model .pkl): the model is required, each
 * companion file is used when present under its standard name.
 */
export function findFlameFiles(modelPathOrDir: string): FlameFilePaths {
  let dir = modelPathOrDir;
  let model: string | undefined;
  if (existsSync(modelPathOrDir) && statSync(modelPathOrDir).isDirectory()) {
    model = FLAME_FILES.model.names.map((n) => join(dir, n)).find((p) => existsSync(p));
    if (!model) throw new MissingFlameFileError('model', join(dir, FLAME_FILES.model.names[0]));
  } else {
    model = modelPathOrDir;
    dir = dirname(modelPathOrDir);
  }
  const paths: FlameFilePaths = { model };
  for (const kind of ['masks', 'landmarkEmbedding', 'leftEyelid', 'rightEyelid', 'template'] as const) {
    const p = join(dir, FLAME_FILES[kind].names[0]);
    if (existsSync(p)) paths[kind] = p;
  }
  return paths;
}

/** Reads and validates a FLAME model and whichever companion files are given. */
export function loadFlameModel(paths: FlameFilePaths): FlameModel {
  const { model, expressionComponents } = rawModelFromPickle(readPickle(readBytes(paths.model, 'model'), paths.model), paths.model);
  const raw: Partial<RawFlameFiles> & { model: RawFlameModel } = { model };
  if (paths.masks) raw.masks = rawMasksFromPickle(readPickle(readBytes(paths.masks, 'masks'), paths.masks), paths.masks);
  if (paths.landmarkEmbedding) {
    const p = paths.landmarkEmbedding;
    raw.landmarkEmbedding = rawLandmarksFromNpy(readNpyObject(readBytes(p, 'landmarkEmbedding'), p), p);
  }
  if (paths.leftEyelid && paths.rightEyelid) {
    raw.leftEyelid = readNpy(readBytes(paths.leftEyelid, 'leftEyelid'), paths.leftEyelid);
    raw.rightEyelid = readNpy(readBytes(paths.rightEyelid, 'rightEyelid'), paths.rightEyelid);
  }
  if (paths.template) raw.template = rawTemplateFromObj(readBytes(paths.template, 'template'), paths.template);
  return flameModelFromRaw(raw, paths, { source: basename(paths.model), expressionComponents });
}

/** metrical-tracker's MediaPipe embedding: FLAME triangles and barycentrics for a subset of MediaPipe's points. */
export interface MediapipeEmbedding {
  faces: Int32Array; // [N] FLAME triangle per point
  bary: Float64Array; // [N, 3]
  mediapipeIndices: Int32Array; // [N] MediaPipe FaceMesh point ids (0..467)
}

export function loadMediapipeEmbedding(path: string, numFaces: number): MediapipeEmbedding {
  const arrays = readNpz(readBytes(path, 'mediapipeEmbedding'), path);
  const get = (k: string) => {
    const a = arrays.get(k);
    if (!a) throw new FormatError(path, `missing array '${k}' (expected lmk_face_idx, lmk_b_coords, landmark_indices)`);
    return a;
  };
  const f = get('lmk_face_idx');
  const b = get('lmk_b_coords');
  const m = get('landmark_indices');
  const n = f.size;
  if (f.shape.length !== 1) throw new FormatError(path, `'lmk_face_idx' has shape [${f.shape.join(', ')}], expected [N]`);
  if (b.shape.length !== 2 || b.shape[0] !== n || b.shape[1] !== 3) {
    throw new FormatError(path, `'lmk_b_coords' has shape [${b.shape.join(', ')}], expected [${n}, 3]`);
  }
  if (m.size !== n) throw new FormatError(path, `'landmark_indices' has ${m.size} entries, expected ${n}`);
  const faces = new Int32Array(n);
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const t = Number(f.data[i]);
    const id = Number(m.data[i]);
    if (!(t >= 0 && t < numFaces)) throw new FormatError(path, `'lmk_face_idx'[${i}] = ${t} is not a triangle of the model (0..${numFaces - 1})`);
    if (!(id >= 0 && id < 478)) throw new FormatError(path, `'landmark_indices'[${i}] = ${id} is not a MediaPipe point id (0..477)`);
    faces[i] = t;
    ids[i] = id;
  }
  return { faces, bary: Float64Array.from(b.data as Float64Array), mediapipeIndices: ids };
}

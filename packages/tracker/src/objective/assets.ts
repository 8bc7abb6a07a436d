// Tracking assets: what the objective needs beyond the FLAME model itself (pixel3dmm-spec.md 4.3):
// - the render UVs: per-corner UVs with their own face indices (UV seams), from head_template.obj;
// - per-vertex UVs (flame_uv_coords.npy), the query points of the UV correspondences (spec 6.1);
// - the vertex set of the UV-correspondence loss (default, and the stricter one of `stricter_uv_mask`);
// - the left/right mirror index of the mirror regulariser (spec 6.6), used as is;
// - the silhouette texture (uv_mask_eyes.png as {0,1} float) sampled by the fg render (spec 5);
// - 0/1 vertex masks face, face ∪ eyeballs, eyeballs (FLAME_masks: `face`, `left_eyeball`, `right_eyeball`);
// - the iris vertices matched to WFLW landmarks 96 and 97 (spec 6.5).
//
// For the built-in synthetic head, builtInTrackingAssets derives equivalents from the model and the generator;
// for real FLAME, loadTrackingAssets reads Pixel3DMM's asset files (its repository's `assets/`, never shipped).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { syntheticMirrorIndex, type FlameModel } from '@pixel3dmm/flame';
import { FormatError, readNpy, readObj, type NdArray } from '@pixel3dmm/formats';
import sharp from 'sharp';

export interface TrackingAssets {
  /** Where the assets came from (for messages). */
  source: string;
  numVertices: number;
  /** [NT,2] per-corner UVs in OBJ convention (v points up). */
  cornerUvs: Float32Array;
  /** [F,3] indices into cornerUvs, triangle for triangle with the model's faces. */
  uvFaces: Int32Array;
  /** [V,2] per-vertex UVs (OBJ convention). */
  vertexUvs: Float64Array;
  /** Vertex set of the UV-correspondence loss (uv_valid_verty_noEyes_noEyeRegion_debug_wEars). */
  uvValidVertices: Int32Array;
  /** The stricter set used with `stricter_uv_mask` (uv_valid_verty_noEyes); null when not available. */
  uvValidVerticesStrict: Int32Array | null;
  /** [V] mirror partner of each vertex (flame_mirror_index.npy). */
  mirror: Int32Array;
  /**
   * Silhouette texture [size, size] of {0,1}, row-major, texel (col, row) at row*size + col, sampled with the
   * render's texture coordinates (1-u, 1-v) (spec 5, 9.2).
   */
  silhouette: { size: number; data: Float32Array };
  /** [V] 0/1 vertex masks. */
  vertexMasks: { face: Uint8Array; faceEyes: Uint8Array; eyes: Uint8Array };
  /** Iris vertices: the one compared with WFLW landmark 96 and the one compared with WFLW landmark 97. */
  iris: { wflw96: number; wflw97: number };
}

/** Pixel3DMM's asset file names (its repository's `assets/` folder). */
export const TRACKING_ASSET_FILES = {
  template: 'head_template.obj',
  vertexUvs: 'flame_uv_coords.npy',
  uvValid: 'uv_valid_verty_noEyes_noEyeRegion_debug_wEars.npy',
  uvValidStrict: 'uv_valid_verty_noEyes.npy',
  mirror: 'flame_mirror_index.npy',
  silhouette: 'uv_mask_eyes.png',
} as const;

/** Iris vertices of FLAME (spec 6.5): 4597 <-> WFLW 96, 4051 <-> WFLW 97. */
export const FLAME_IRIS = { wflw96: 4597, wflw97: 4051 } as const;
/** Iris vertices of the synthetic head: the eyeballs' front poles (their first vertices). */
export const SYNTHETIC_IRIS = { wflw96: 4477, wflw97: 3931 } as const;

/** Side of the silhouette texture built for the synthetic head (uv_mask_eyes.png is 2048²). */
export const SYNTHETIC_SILHOUETTE_SIZE = 2048;

export class MissingTrackingAssetError extends Error {
  override name = 'MissingTrackingAssetError';
  constructor(readonly path: string) {
    super(
      `${path}: not found. This Pixel3DMM asset is not shipped with pixel3dmm; copy it from the Pixel3DMM repository's assets/ folder (https://github.com/SimonGiebenhain/pixel3dmm).`,
    );
  }
}

function vertexMasksOf(model: FlameModel, where: string): TrackingAssets['vertexMasks'] {
  const V = model.numVertices;
  const get = (name: string): Int32Array => {
    const m = model.masks[name];
    if (!m) throw new Error(`${where}: the FLAME model (${model.source}) has no vertex mask '${name}' (FLAME_masks.pkl)`);
    return m;
  };
  const face = new Uint8Array(V), eyes = new Uint8Array(V), faceEyes = new Uint8Array(V);
  for (const v of get('face')) face[v] = 1;
  for (const v of get('left_eyeball')) eyes[v] = 1;
  for (const v of get('right_eyeball')) eyes[v] = 1;
  for (let v = 0; v < V; v++) faceEyes[v] = face[v] | eyes[v];
  return { face, faceEyes, eyes };
}

/** Per-vertex UVs from the per-corner ones: each vertex takes the UV of its first corner in face order. */
function vertexUvsFromCorners(V: number, faces: Uint32Array, uvFaces: Int32Array, uvs: Float32Array): Float64Array {
  const out = new Float64Array(2 * V).fill(NaN);
  for (let k = 0; k < faces.length; k++) {
    const v = faces[k];
    if (Number.isNaN(out[2 * v])) {
      out[2 * v] = uvs[2 * uvFaces[k]];
      out[2 * v + 1] = uvs[2 * uvFaces[k] + 1];
    }
  }
  for (let v = 0; v < V; v++) if (Number.isNaN(out[2 * v])) out[2 * v] = out[2 * v + 1] = 0; // unreferenced vertex
  return out;
}

/**
 * The silhouette texture: texel (col, row) is 1 iff the UV point u = 1-(col+0.5)/W, v = 1-(row+0.5)/H lies in a
 * triangle (in UV space) whose three vertices are all in face ∪ eyeballs, so that the render's lookup at
 * (1-u, 1-v) returns exactly the face and eyeball UV regions. Edges count as inside.
 */
export function silhouetteTexture(
  size: number,
  uvs: Float32Array,
  uvFaces: Int32Array,
  faces: Uint32Array,
  faceEyes: Uint8Array,
): Float32Array {
  const tex = new Float32Array(size * size);
  const T = uvFaces.length / 3;
  const cx = new Float64Array(3), cy = new Float64Array(3);
  for (let t = 0; t < T; t++) {
    if (!faceEyes[faces[3 * t]] || !faceEyes[faces[3 * t + 1]] || !faceEyes[faces[3 * t + 2]]) continue;
    for (let k = 0; k < 3; k++) {
      const i = uvFaces[3 * t + k];
      cx[k] = (1 - uvs[2 * i]) * size - 0.5; // texel column whose centre has this u
      cy[k] = (1 - uvs[2 * i + 1]) * size - 0.5;
    }
    const area = (cx[1] - cx[0]) * (cy[2] - cy[0]) - (cx[2] - cx[0]) * (cy[1] - cy[0]);
    if (area === 0) continue;
    const s = area > 0 ? 1 : -1;
    const c0 = Math.max(0, Math.ceil(Math.min(cx[0], cx[1], cx[2])));
    const c1 = Math.min(size - 1, Math.floor(Math.max(cx[0], cx[1], cx[2])));
    const r0 = Math.max(0, Math.ceil(Math.min(cy[0], cy[1], cy[2])));
    const r1 = Math.min(size - 1, Math.floor(Math.max(cy[0], cy[1], cy[2])));
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        let inside = true;
        for (let k = 0; k < 3 && inside; k++) {
          const a = k, b = (k + 1) % 3;
          const e = (cx[b] - cx[a]) * (r - cy[a]) - (cy[b] - cy[a]) * (c - cx[a]);
          if (s * e < 0) inside = false;
        }
        if (inside) tex[r * size + c] = 1;
      }
    }
  }
  return tex;
}

const builtInCache = new WeakMap<FlameModel, TrackingAssets>();

/**
 * Synthetic equivalents of Pixel3DMM's assets for the built-in head (builtInFlameModel): the model's own UV
 * atlas, per-vertex UVs from it, the valid set = face-mask vertices outside the eyeballs and the eye region,
 * the stricter set = that without the forehead, the generator's exact mirror index, the eyeballs' front
 * poles as irises, and a 2048² silhouette texture (built once per model and process).
 */
export function builtInTrackingAssets(model: FlameModel): TrackingAssets {
  const cached = builtInCache.get(model);
  if (cached) return cached;
  const where = 'builtInTrackingAssets';
  if (!model.uv) throw new Error(`${where}: the model (${model.source}) has no UV atlas`);
  const V = model.numVertices;
  const mirror = syntheticMirrorIndex();
  if (mirror.length !== V) throw new Error(`${where}: the model (${model.source}) is not the built-in synthetic head (${V} vertices)`);
  const cornerUvs = model.uv.uvs;
  const uvFaces = Int32Array.from(model.uv.faceUvs);
  const vertexMasks = vertexMasksOf(model, where);
  const excluded = new Uint8Array(V);
  for (const name of ['left_eyeball', 'right_eyeball', 'eye_region']) for (const v of model.masks[name] ?? []) excluded[v] = 1;
  const forehead = new Uint8Array(V);
  for (const v of model.masks.forehead ?? []) forehead[v] = 1;
  const valid: number[] = [], strict: number[] = [];
  for (let v = 0; v < V; v++) {
    if (!vertexMasks.face[v] || excluded[v]) continue;
    valid.push(v);
    if (!forehead[v]) strict.push(v);
  }
  const size = SYNTHETIC_SILHOUETTE_SIZE;
  const assets: TrackingAssets = {
    source: model.source,
    numVertices: V,
    cornerUvs,
    uvFaces,
    vertexUvs: vertexUvsFromCorners(V, model.faces, uvFaces, cornerUvs),
    uvValidVertices: Int32Array.from(valid),
    uvValidVerticesStrict: Int32Array.from(strict),
    mirror,
    silhouette: { size, data: silhouetteTexture(size, cornerUvs, uvFaces, model.faces, vertexMasks.faceEyes) },
    vertexMasks,
    iris: { ...SYNTHETIC_IRIS },
  };
  builtInCache.set(model, assets);
  return assets;
}

function readAsset(dir: string, name: string): Uint8Array {
  const path = join(dir, name);
  if (!existsSync(path)) throw new MissingTrackingAssetError(path);
  if (statSync(path).isDirectory()) throw new FormatError(path, 'is a directory, expected a file');
  const b = readFileSync(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function indexArray(a: NdArray, file: string, V: number, length?: number): Int32Array {
  if (a.shape.length !== 1 || (length !== undefined && a.shape[0] !== length)) {
    throw new FormatError(file, `expected a 1-D index array${length !== undefined ? ` of ${length} entries` : ''}, got shape [${a.shape.join(', ')}]`);
  }
  const out = new Int32Array(a.size);
  for (let i = 0; i < a.size; i++) {
    const x = Number(a.data[i]);
    if (!Number.isInteger(x) || x < 0 || x >= V) throw new FormatError(file, `entry ${i} is ${x}, expected a vertex index in [0, ${V})`);
    out[i] = x;
  }
  return out;
}

/**
 * Reads Pixel3DMM's tracking assets from `dir` (a copy of its repository's `assets/` folder) for a FLAME
 * model (whose FLAME_masks provide the vertex masks). uv_valid_verty_noEyes.npy is optional (only
 * `stricter_uv_mask` needs it). Every error names the file.
 */
export async function loadTrackingAssets(dir: string, model: FlameModel): Promise<TrackingAssets> {
  const V = model.numVertices, F = model.numFaces;
  const f = TRACKING_ASSET_FILES;
  const p = (name: string) => join(dir, name);

  const obj = readObj(readAsset(dir, f.template), p(f.template));
  if (!obj.faceUvs) throw new FormatError(p(f.template), 'has no texture coordinates (expected f v/vt faces)');
  if (obj.faces.length !== 3 * F) throw new FormatError(p(f.template), `has ${obj.faces.length / 3} triangles, expected ${F} (the FLAME topology)`);
  for (let i = 0; i < obj.faces.length; i++) {
    if (obj.faces[i] !== model.faces[i]) {
      throw new FormatError(p(f.template), `triangle ${Math.floor(i / 3)} differs from the FLAME model's (${model.source}); expected the same topology`);
    }
  }
  const cornerUvs = Float32Array.from(obj.uvs);
  const uvFaces = Int32Array.from(obj.faceUvs);

  const uvArr = readNpy(readAsset(dir, f.vertexUvs), p(f.vertexUvs));
  if (uvArr.shape.length !== 2 || uvArr.shape[0] !== V || uvArr.shape[1] !== 2) {
    throw new FormatError(p(f.vertexUvs), `expected shape [${V}, 2], got [${uvArr.shape.join(', ')}]`);
  }
  const vertexUvs = Float64Array.from(uvArr.data as ArrayLike<number>, Number);

  const uvValidVertices = indexArray(readNpy(readAsset(dir, f.uvValid), p(f.uvValid)), p(f.uvValid), V);
  const uvValidVerticesStrict = existsSync(p(f.uvValidStrict))
    ? indexArray(readNpy(readAsset(dir, f.uvValidStrict), p(f.uvValidStrict)), p(f.uvValidStrict), V)
    : null;
  const mirror = indexArray(readNpy(readAsset(dir, f.mirror), p(f.mirror)), p(f.mirror), V, V);

  const png = readAsset(dir, f.silhouette);
  let raw: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    raw = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new FormatError(p(f.silhouette), `cannot decode the PNG (${(e as Error).message})`);
  }
  const { width, height, channels } = raw.info;
  if (width !== height) throw new FormatError(p(f.silhouette), `expected a square mask, got ${width}x${height}`);
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = raw.data[i * channels] > 127 ? 1 : 0;

  return {
    source: dir,
    numVertices: V,
    cornerUvs,
    uvFaces,
    vertexUvs,
    uvValidVertices,
    uvValidVerticesStrict,
    mirror,
    silhouette: { size: width, data },
    vertexMasks: vertexMasksOf(model, `loadTrackingAssets(${dir})`),
    iris: { ...FLAME_IRIS },
  };
}

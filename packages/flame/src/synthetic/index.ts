// The built-in synthetic head: a procedurally generated face model in FLAME's exact file format (keys,
// shapes, dtypes, companion files), used by tests and demos because the licensed FLAME model can never be
// shipped. Nothing here is derived from FLAME's data; the geometry is sculpted from a few primitives
// (anatomy.ts), meshed to FLAME's vertex and triangle counts (mesh.ts), then rigged (rig.ts), given
// blendshapes (blendshapes.ts), landmarks (landmarks.ts), masks (masks.ts) and a UV atlas (uv.ts).
//
// Deterministic: the same seed gives bit-identical arrays. The seed drives the random (non-designed)
// identity and expression components; the template, rig, landmarks, masks and UVs do not depend on it.
import { NdArray } from '@pixel3dmm/formats';
import type { RawFlameFiles } from '../raw-files.js';
import { buildShapedirs, NUM_BLENDSHAPES } from './blendshapes.js';
import { vertexNormals } from './geometry-utils.js';
import { buildLandmarks, type LandmarkSet, type SurfacePoint } from './landmarks.js';
import { buildMasks } from './masks.js';
import { buildHead, headPositions, type HeadGeometry } from './mesh.js';
import { Prng } from './prng.js';
import { buildRig, NUM_JOINTS, POSE_FEATURES, type Rig } from './rig.js';
import { buildUvAtlas, type UvAtlas } from './uv.js';

export interface SyntheticHeadOptions {
  /** Seed of the random blendshape components (default 0). */
  seed?: number;
}

/** Vertex and triangle counts of the synthetic head (FLAME's). */
export const SYNTHETIC_NUM_VERTICES = 5023;
export const SYNTHETIC_NUM_FACES = 9976;

interface Core {
  g: HeadGeometry;
  rig: Rig;
  normals: Float64Array;
  landmarks: LandmarkSet;
  uv: UvAtlas;
  masks: Record<string, number[]>;
  leftEyelid: Float64Array;
  rightEyelid: Float64Array;
}

let cached: Core | null = null;

/** The seed-independent part, built once per process (read-only; outputs are always fresh copies). */
function core(): Core {
  if (cached) return cached;
  const g = buildHead();
  const normals = vertexNormals(g.positions, g.faces);
  const rig = buildRig(g);
  const landmarks = buildLandmarks(g, rig, normals);
  const uv = buildUvAtlas(g);
  const masks = buildMasks(g);
  const lid = (l: number, r: number): Float64Array => {
    const p = headPositions(g, { lidClose: [l, r] });
    for (let i = 0; i < p.length; i++) p[i] -= g.positions[i];
    return p;
  };
  cached = { g, rig, normals, landmarks, uv, masks, leftEyelid: lid(1, 0), rightEyelid: lid(0, 1) };
  return cached;
}

function f8(shape: number[], data: Float64Array): NdArray {
  return new NdArray('<f8', shape, data);
}

function i8(shape: number[], values: ArrayLike<number>): NdArray {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return new NdArray('<i8', shape, data);
}

/** Generate the synthetic head's model files (FLAME 2020 layout). */
export function generateSyntheticHead(options: SyntheticHeadOptions = {}): RawFlameFiles {
  const seed = options.seed ?? 0;
  if (!Number.isFinite(seed)) throw new Error(`generateSyntheticHead: seed must be a finite number, got ${seed}`);
  const c = core();
  const { g, rig } = c;
  const V = g.positions.length / 3;
  const F = g.faces.length / 3;

  const shapedirs = buildShapedirs({ g, rig, normals: c.normals, rng: new Prng(seed) });

  // J_regressor as CSC [5, V]: per vertex column, the joints (rows) that use it.
  const entries = [...rig.regressor].sort((a, b) => a.vertex - b.vertex || a.joint - b.joint);
  const indptr = new Int32Array(V + 1);
  for (const e of entries) indptr[e.vertex + 1]++;
  for (let v = 0; v < V; v++) indptr[v + 1] += indptr[v];
  const J_regressor = {
    shape: [NUM_JOINTS, V] as [number, number],
    data: f8([entries.length], Float64Array.from(entries, (e) => e.weight)),
    indices: new NdArray('<i4', [entries.length], Int32Array.from(entries, (e) => e.joint)),
    indptr: new NdArray('<i4', [V + 1], indptr),
  };
  const joints = new Float64Array(NUM_JOINTS * 3);
  for (const e of entries) for (let d = 0; d < 3; d++) joints[3 * e.joint + d] += e.weight * g.positions[3 * e.vertex + d];

  const kintree = new BigInt64Array([4294967295n, 0n, 1n, 1n, 1n, 0n, 1n, 2n, 3n, 4n]);

  const masks: Record<string, NdArray> = {};
  for (const [name, ids] of Object.entries(c.masks)) masks[name] = i8([ids.length], ids);

  const lm = c.landmarks;
  const faceIdx = (pts: SurfacePoint[]): number[] => pts.map((p) => p.face);
  const bary = (pts: SurfacePoint[]): Float64Array => Float64Array.from(pts.flatMap((p) => p.bary));
  const full = [...lm.dynamic[0], ...lm.static51];

  return {
    model: {
      f: new NdArray('<u4', [F, 3], g.faces.slice()),
      v_template: f8([V, 3], g.positions.slice()),
      shapedirs: f8([V, 3, NUM_BLENDSHAPES], shapedirs),
      posedirs: f8([V, 3, POSE_FEATURES], rig.posedirs.slice()),
      J_regressor,
      weights: f8([V, NUM_JOINTS], rig.weights.slice()),
      J: f8([NUM_JOINTS, 3], joints),
      kintree_table: new NdArray('<i8', [2, NUM_JOINTS], kintree),
      bs_style: 'lbs',
      bs_type: 'lrotmin',
    },
    masks,
    landmarkEmbedding: {
      static_lmk_faces_idx: i8([51], faceIdx(lm.static51)),
      static_lmk_bary_coords: f8([51, 3], bary(lm.static51)),
      dynamic_lmk_faces_idx: i8([lm.dynamic.length, 17], lm.dynamic.flatMap(faceIdx)),
      dynamic_lmk_bary_coords: f8([lm.dynamic.length, 17, 3], Float64Array.from(lm.dynamic.flatMap((row) => [...bary(row)]))),
      full_lmk_faces_idx: i8([1, 68], faceIdx(full)),
      full_lmk_bary_coords: f8([1, 68, 3], bary(full)),
    },
    leftEyelid: f8([V, 3], c.leftEyelid.slice()),
    rightEyelid: f8([V, 3], c.rightEyelid.slice()),
    template: {
      positions: g.positions.slice(),
      uvs: c.uv.uvs.slice(),
      faces: g.faces.slice(),
      faceUvs: c.uv.faceUvs.slice(),
    },
  };
}

/**
 * Mirror partner of every vertex of the synthetic head (x -> -x, eyeballs included): the synthetic
 * equivalent of Pixel3DMM's flame_mirror_index.npy. A fresh copy each call.
 */
export function syntheticMirrorIndex(): Int32Array {
  return core().g.mirror.slice();
}

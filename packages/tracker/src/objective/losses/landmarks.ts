// Landmark terms (pixel3dmm-spec.md 6.5 and 6.8). All compare the original's point projection (x_s, y_s) of
// FLAME landmarks or vertices with detected landmarks in pixels of S:
//   lmk(a, b, m) = mean((a/S - b/S)²·m) over every (frame, landmark, coordinate) element;
//   closure(up, lo) = mean(((a_up - a_lo) - (b_up - b_lo))²/S²·m_up) over (frame, pair, coordinate).
// The projected points are read with a stride of 3 (x_s, y_s, z_s); their gradients are added into `grad`
// (same layout, float64). Targets are the frame's WFLW landmarks mapped to iBUG-68 (WFLW_TO_IBUG68).
import { WFLW_TO_IBUG68 } from '@pixel3dmm/formats';
import type { FrameData } from '../../types.js';

/** iBUG-68 index ranges and pairs used by the tracker. */
export const EYES_68 = range(36, 48);
export const MOUTH_68 = range(48, 68);
export const ALL_68 = range(0, 68);
export const EYELID_UPPER = [37, 38, 43, 44];
export const EYELID_LOWER = [41, 40, 47, 46];
export const MOUTH_UPPER = [49, 50, 51, 52, 53, 61, 62, 63];
export const MOUTH_LOWER = [59, 58, 57, 56, 55, 67, 66, 65];
/** WFLW indices of the irises (compared with the iris vertices of the assets). */
export const WFLW_IRIS_96 = 96;
export const WFLW_IRIS_97 = 97;

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}

/** A batch's landmark targets: [B,68,2] pixels and [B,68] validity, plus the WFLW originals. */
export interface LandmarkTargets {
  batch: number;
  ibug: Float64Array;
  ibugValid: Uint8Array;
  frames: readonly FrameData[];
}

export function landmarkTargets(frames: readonly FrameData[]): LandmarkTargets {
  const B = frames.length;
  const ibug = new Float64Array(B * 68 * 2), ibugValid = new Uint8Array(B * 68);
  frames.forEach((f, b) => {
    for (let k = 0; k < 68; k++) {
      const w = WFLW_TO_IBUG68[k];
      ibug[2 * (b * 68 + k)] = f.landmarks98[2 * w];
      ibug[2 * (b * 68 + k) + 1] = f.landmarks98[2 * w + 1];
      ibugValid[b * 68 + k] = f.landmarkValid[w];
    }
  });
  return { batch: B, ibug, ibugValid, frames };
}

/**
 * lmk over the points `indices` of each frame: projected point of index i of frame b at
 * proj[(b*perFrame + indices[i])*3], target (tx, ty, valid) from `target(b, i)`.
 */
function lmkLoss(
  S: number,
  B: number,
  proj: Float32Array,
  perFrame: number,
  indices: readonly number[],
  tx: (b: number, i: number) => number,
  ty: (b: number, i: number) => number,
  valid: (b: number, i: number) => number,
  weight: number,
  grad: Float64Array,
): number {
  const n = indices.length, count = B * n * 2;
  let sum = 0;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < n; i++) {
      const m = valid(b, i);
      if (!m) continue;
      const o = 3 * (b * perFrame + indices[i]);
      const dx = proj[o] - tx(b, i), dy = proj[o + 1] - ty(b, i);
      sum += (m * (dx * dx + dy * dy)) / (S * S);
      const g = (2 * weight * m) / (S * S * count);
      grad[o] += g * dx;
      grad[o + 1] += g * dy;
    }
  }
  return (weight * sum) / count;
}

/** lmk(ℓ[indices], L68[indices], valid68) · weight on projected FLAME landmarks [B,68,3]. */
export function landmarkLoss(
  S: number,
  t: LandmarkTargets,
  projLmk: Float32Array,
  indices: readonly number[],
  weight: number,
  grad: Float64Array,
): number {
  return lmkLoss(
    S,
    t.batch,
    projLmk,
    68,
    indices,
    (b, i) => t.ibug[2 * (b * 68 + indices[i])],
    (b, i) => t.ibug[2 * (b * 68 + indices[i]) + 1],
    (b, i) => t.ibugValid[b * 68 + indices[i]],
    weight,
    grad,
  );
}

/** lmk(p_v[vertex], L98[wflw], valid98[wflw]) · weight on projected vertices [B,V,3]. */
export function vertexLandmarkLoss(
  S: number,
  t: LandmarkTargets,
  projVerts: Float32Array,
  numVertices: number,
  vertex: number,
  wflw: number,
  weight: number,
  grad: Float64Array,
): number {
  return lmkLoss(
    S,
    t.batch,
    projVerts,
    numVertices,
    [vertex],
    (b) => t.frames[b].landmarks98[2 * wflw],
    (b) => t.frames[b].landmarks98[2 * wflw + 1],
    (b) => t.frames[b].landmarkValid[wflw],
    weight,
    grad,
  );
}

/** Closure term over pairs (upper[k], lower[k]) of iBUG landmarks, masked by the upper one's validity. */
export function closureLoss(
  S: number,
  t: LandmarkTargets,
  projLmk: Float32Array,
  upper: readonly number[],
  lower: readonly number[],
  weight: number,
  grad: Float64Array,
): number {
  const B = t.batch, n = upper.length, count = B * n * 2;
  let sum = 0;
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < n; k++) {
      const m = t.ibugValid[b * 68 + upper[k]];
      if (!m) continue;
      const ou = 3 * (b * 68 + upper[k]), ol = 3 * (b * 68 + lower[k]);
      const iu = 2 * (b * 68 + upper[k]), il = 2 * (b * 68 + lower[k]);
      const ex = projLmk[ou] - projLmk[ol] - (t.ibug[iu] - t.ibug[il]);
      const ey = projLmk[ou + 1] - projLmk[ol + 1] - (t.ibug[iu + 1] - t.ibug[il + 1]);
      sum += (ex * ex + ey * ey) / (S * S);
      const g = (2 * weight) / (S * S * count);
      grad[ou] += g * ex;
      grad[ou + 1] += g * ey;
      grad[ol] -= g * ex;
      grad[ol + 1] -= g * ey;
    }
  }
  return (weight * sum) / count;
}

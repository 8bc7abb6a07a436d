// The error metric of tracked sequences against ground truth: posed-vertex distance in millimetres, in
// camera space (the head pose counts: world = R v + t and camera space differ by a constant offset, which
// the alignment absorbs), over the model's `face` mask, after ONE rigid alignment (rotation + translation,
// no scale; rigid.ts, float64) of all frames together, as face-tracking benchmarks do. Mean and max over
// every (frame, vertex) pair, plus the per-frame means.
import { Flame, type FlameModel, type FlameParams } from '@pixel3dmm/flame';
import { rigidAlign, type RigidTransform } from './rigid.js';

export interface VertexErrorReport {
  /** Mean distance over all frames and vertices, mm. */
  meanMm: number;
  /** Largest distance, mm. */
  maxMm: number;
  /** Mean distance per frame, mm. */
  perFrameMeanMm: number[];
  /** The alignment applied to the predictions (prediction -> ground truth), metres. */
  alignment: RigidTransform;
  numFrames: number;
  numVertices: number;
}

/**
 * predicted[f], groundTruth[f]: posed world- or camera-space vertices [V*3] in metres (the same space for both).
 * `vertices`: the vertex indices evaluated (e.g. model.masks.face).
 */
export function posedVertexError(predicted: ArrayLike<number>[], groundTruth: ArrayLike<number>[], vertices: ArrayLike<number>): VertexErrorReport {
  const F = predicted.length;
  if (F === 0 || groundTruth.length !== F) throw new RangeError(`posedVertexError: expected the same non-zero number of frames, got ${F} predicted and ${groundTruth.length} ground truth`);
  const V3 = predicted[0].length;
  const J = vertices.length;
  for (let f = 0; f < F; f++) {
    if (predicted[f].length !== V3 || groundTruth[f].length !== V3) throw new RangeError(`posedVertexError: frame ${f} has ${predicted[f].length} / ${groundTruth[f].length} values, expected ${V3} (V*3) in both`);
  }
  for (let k = 0; k < J; k++) {
    const v = vertices[k];
    if (!Number.isInteger(v) || v < 0 || 3 * v >= V3) throw new RangeError(`posedVertexError: vertex index ${v} at ${k} outside [0, ${V3 / 3})`);
  }
  // Stack the selected vertices of every frame into one point set and align once.
  const src = new Float64Array(F * J * 3), dst = new Float64Array(F * J * 3);
  for (let f = 0; f < F; f++) {
    for (let k = 0; k < J; k++) {
      const v = vertices[k], o = 3 * (f * J + k);
      for (let d = 0; d < 3; d++) {
        src[o + d] = predicted[f][3 * v + d];
        dst[o + d] = groundTruth[f][3 * v + d];
      }
    }
  }
  const alignment = rigidAlign(src, dst);
  const R = alignment.rotation, t = alignment.translation;
  let sum = 0, max = 0;
  const perFrameMeanMm: number[] = [];
  for (let f = 0; f < F; f++) {
    let fs = 0;
    for (let k = 0; k < J; k++) {
      const o = 3 * (f * J + k);
      const x = src[o], y = src[o + 1], z = src[o + 2];
      const dx = R[0] * x + R[1] * y + R[2] * z + t[0] - dst[o];
      const dy = R[3] * x + R[4] * y + R[5] * z + t[1] - dst[o + 1];
      const dz = R[6] * x + R[7] * y + R[8] * z + t[2] - dst[o + 2];
      const e = 1000 * Math.sqrt(dx * dx + dy * dy + dz * dz);
      fs += e;
      if (e > max) max = e;
    }
    sum += fs;
    perFrameMeanMm.push(fs / J);
  }
  return { meanMm: sum / (F * J), maxMm: max, perFrameMeanMm, alignment, numFrames: F, numVertices: J };
}

/**
 * The metric for parameter sets: both evaluated with the model (or a Flame of it, to reuse its kernel) in world
 * space (R v + t), over the model's vertex mask `mask` (default 'face').
 */
export function parameterVertexError(modelOrFlame: FlameModel | Flame, predicted: FlameParams[], groundTruth: FlameParams[], mask = 'face'): VertexErrorReport {
  const flame = modelOrFlame instanceof Flame ? modelOrFlame : new Flame(modelOrFlame);
  const model = flame.model;
  const vertices = model.masks[mask];
  if (!vertices) throw new RangeError(`parameterVertexError: ${model.source} has no vertex mask '${mask}'`);
  if (predicted.length !== groundTruth.length) throw new RangeError(`parameterVertexError: ${predicted.length} predicted frames but ${groundTruth.length} ground-truth frames`);
  const V3 = model.numVertices * 3;
  // Evaluate frame by frame: Flame.evaluate requires one shape per batch, and the two sets may differ.
  const world = (ps: FlameParams[]) => ps.map((p) => flame.evaluate([p], { world: true }).vertices.subarray(0, V3));
  return posedVertexError(world(predicted), world(groundTruth), vertices);
}

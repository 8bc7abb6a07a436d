import { describe, expect, it } from 'vitest';
import { Flame, builtInFlameModel, defaultFlameParams } from '@pixel3dmm/flame';
import { eulerTo6d, sampleMotion } from '../synth/index.js';
import { rotationMatrices } from '@pixel3dmm/kernels';
import { parameterVertexError, posedVertexError, rigidAlign } from './index.js';

/** A reproducible point cloud (not degenerate). */
function cloud(n: number): Float64Array {
  const p = new Float64Array(3 * n);
  for (let i = 0; i < 3 * n; i++) p[i] = 0.1 * Math.sin(1.7 * i + 0.3 * (i % 7)) + 0.01 * (i % 5);
  return p;
}

function transform(R: ArrayLike<number>, t: number[], pts: Float64Array): Float64Array {
  const out = new Float64Array(pts.length);
  for (let i = 0; i < pts.length; i += 3) {
    for (let r = 0; r < 3; r++) out[i + r] = R[3 * r] * pts[i] + R[3 * r + 1] * pts[i + 1] + R[3 * r + 2] * pts[i + 2] + t[r];
  }
  return out;
}

describe('rigid alignment (Horn / Kabsch, float64)', () => {
  it('recovers a known rotation and translation exactly', () => {
    const src = cloud(50);
    const R = rotationMatrices(Float64Array.from(eulerTo6d(0.7, -0.4, 2.5)));
    const t = [0.3, -0.2, 1.5];
    const { rotation, translation } = rigidAlign(src, transform(R, t, src));
    for (let i = 0; i < 9; i++) expect(rotation[i]).toBeCloseTo(R[i], 12);
    for (let i = 0; i < 3; i++) expect(translation[i]).toBeCloseTo(t[i], 12);
  });

  it('never returns a reflection, and a 180-degree rotation is found too', () => {
    const src = cloud(30);
    const R = Float64Array.of(-1, 0, 0, 0, -1, 0, 0, 0, 1);
    const { rotation } = rigidAlign(src, transform(R, [0, 0, 0], src));
    for (let i = 0; i < 9; i++) expect(rotation[i]).toBeCloseTo(R[i], 10);
    const mirrored = src.map((v, i) => (i % 3 === 0 ? -v : v));
    const m = rigidAlign(src, mirrored).rotation;
    const det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
    expect(det).toBeCloseTo(1, 12);
  });
});

describe('posed-vertex error', () => {
  const F = 3;
  const frames = Array.from({ length: F }, (_, f) => cloud(40).map((v, i) => v + 0.001 * f * (i % 3)));
  const all = Array.from({ length: 40 }, (_, i) => i);

  it('is 0 for the ground truth under one rigid motion of the whole sequence', () => {
    const R = rotationMatrices(Float64Array.from(eulerTo6d(0.2, 0.1, -0.3)));
    const moved = frames.map((f) => transform(R, [0.01, 0.02, -0.03], f));
    const r = posedVertexError(moved, frames, all);
    expect(r.meanMm).toBeLessThan(1e-9);
    expect(r.maxMm).toBeLessThan(1e-9);
  });

  it('reports a per-frame offset that one alignment cannot absorb: +d and -d on two frames give d', () => {
    // 4 mm along x, opposite on two frames of the same shape: sum |R p + t - p +- R d|^2 = 2 sum |R p + t - p|^2
    // + 2 N d^2, so the best alignment is the identity and every vertex is off by exactly d.
    const d = 0.004;
    const pred = [frames[0].map((v, i) => (i % 3 === 0 ? v + d : v)), frames[0].map((v, i) => (i % 3 === 0 ? v - d : v))];
    const r = posedVertexError(pred, [frames[0], frames[0]], all);
    expect(r.meanMm).toBeCloseTo(4, 6);
    expect(r.maxMm).toBeCloseTo(4, 6);
    expect(r.perFrameMeanMm).toEqual([expect.closeTo(4, 6), expect.closeTo(4, 6)]);
  });

  it('a single vertex displaced by 10 mm: max ~ 10, mean ~ 2 x 10/N (the fit moves the others by ~10/N)', () => {
    const pred = frames.map((f) => f.slice());
    pred[1][3 * 5 + 2] += 0.01;
    const r = posedVertexError(pred, frames, all);
    expect(r.maxMm).toBeGreaterThan(9.5);
    expect(r.maxMm).toBeLessThanOrEqual(10 + 1e-9);
    expect(r.meanMm).toBeGreaterThan(10 / (F * 40));
    expect(r.meanMm).toBeLessThan(2.5 * 10 / (F * 40));
  });

  it('only counts the listed vertices', () => {
    const pred = frames.map((f) => f.slice());
    pred[0][3 * 39] += 1; // vertex 39 is far off, but not evaluated
    expect(posedVertexError(pred, frames, all.slice(0, 39)).maxMm).toBeLessThan(1e-9);
  });

  it('rejects mismatched inputs with clear messages', () => {
    expect(() => posedVertexError([], [], all)).toThrow(/same non-zero number of frames/);
    expect(() => posedVertexError([frames[0]], [frames[0].subarray(3)], all)).toThrow(/frame 0/);
    expect(() => posedVertexError([frames[0]], [frames[0]], [40])).toThrow(/vertex index 40/);
  });

  it('on FLAME parameters: a global head-pose change of the whole sequence costs 0 mm, an expression change does not', () => {
    const model = builtInFlameModel(0);
    const flame = new Flame(model);
    const gt = sampleMotion(model, 2, 7);
    const R = rotationMatrices(Float64Array.from(eulerTo6d(0.1, 0, 0)));
    // Rotating every frame's head pose by the same extra rotation about the camera's origin is one rigid motion.
    const posed = gt.map((p) => {
      const Rp = rotationMatrices(Float64Array.from(p.rotation));
      const RR = new Float64Array(9);
      for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) RR[3 * r + c] += R[3 * r + k] * Rp[3 * k + c];
      const t = [0, 1, 2].map((r) => R[3 * r] * p.translation[0] + R[3 * r + 1] * p.translation[1] + R[3 * r + 2] * p.translation[2]);
      return { ...p, rotation: Array.from(RR.subarray(0, 6)), translation: t };
    });
    const same = parameterVertexError(flame, posed, gt);
    expect(same.meanMm).toBeLessThan(0.01); // float32 vertices
    const smiling = gt.map((p) => ({ ...p, expression: p.expression.map((v, k) => (k === 0 ? v + 2 : v)) }));
    const diff = parameterVertexError(flame, smiling, gt);
    expect(diff.meanMm).toBeGreaterThan(0.3);
    expect(diff.numVertices).toBe(model.masks.face.length);
    expect(() => parameterVertexError(flame, [defaultFlameParams()], gt)).toThrow(/1 predicted frames but 2/);
  });
});

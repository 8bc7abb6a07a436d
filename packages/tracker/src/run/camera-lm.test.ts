import { describe, expect, it } from 'vitest';
import { builtInFlameModel, kernelArrays } from '@pixel3dmm/flame';
import { WFLW_TO_IBUG68 } from '@pixel3dmm/formats';
import { FlameKernel, rotationMatrices } from '@pixel3dmm/kernels';
import { makeCamera, projectPoints } from '@pixel3dmm/render';
import { defaultTrackerConfig, withOverrides } from '../config.js';
import { TrackingObjective, builtInTrackingAssets } from '../objective/index.js';
import { flameLandmarks, solveCameraLandmarks } from './camera-lm.js';
import { fakeFrame } from './testing.js';
import { VariableStore } from './variables.js';

const S = 256;
const model = builtInFlameModel(0);
const config = withOverrides(defaultTrackerConfig(), { size: S, camera_solver: 'lm' });
const landmarks = flameLandmarks(new FlameKernel(kernelArrays(model)), config);

/** A frame whose 68 landmarks are the projection of the head at a known pose and camera. */
function frameAt(rotation6d: number[], t: number[], focal: number) {
  const store = new VariableStore({ shape: new Float64Array(model.numShape), focal, numFrames: 1, numExpression: model.numExpression });
  const R = rotationMatrices(Float64Array.from(rotation6d));
  const lmk = landmarks(store.shape, store.frames[0], R);
  const world = new Float32Array(lmk.length);
  for (let k = 0; k < 68; k++) for (let r = 0; r < 3; r++) world[3 * k + r] = R[3 * r] * lmk[3 * k] + R[3 * r + 1] * lmk[3 * k + 1] + R[3 * r + 2] * lmk[3 * k + 2] + t[r];
  const p = projectPoints(makeCamera(S, focal), world);
  const frame = fakeFrame(0, S, false);
  for (let k = 0; k < 68; k++) {
    const w = WFLW_TO_IBUG68[k];
    frame.landmarks98[2 * w] = p[3 * k];
    frame.landmarks98[2 * w + 1] = p[3 * k + 1];
    frame.landmarkValid[w] = 1;
  }
  return frame;
}

describe('Levenberg-Marquardt camera warm-up (camera_solver=lm)', () => {
  const yaw = 0.25, pitch = 0.1;
  // R = Ry(yaw) Rx(pitch): rows are the 6D's first two rows.
  const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
  const gtR = [cy, sy * sp, sy * cp, 0, cp, -sp];
  const gtT = [0.012, -0.02, 0.04];
  const frame = frameAt(gtR, gtT, 4.2);

  it('recovers a known head pose and focal length from exact landmarks in a few iterations', () => {
    const store = new VariableStore({ shape: new Float64Array(model.numShape), focal: config.focal_init, numFrames: 1, numExpression: model.numExpression });
    const r = solveCameraLandmarks(landmarks, frame, store.frames[0], store, config);
    expect(r.iterations).toBeLessThan(30);
    expect(r.cost).toBeLessThan(1e-9 * r.initialCost);
    for (let i = 0; i < 6; i++) expect(store.frames[0].rotation[i]).toBeCloseTo(gtR[i], 5);
    for (let i = 0; i < 3; i++) expect(store.frames[0].translation[i]).toBeCloseTo(gtT[i], 5);
    expect(store.focal[0]).toBeCloseTo(4.2, 4);
    expect(Math.abs(store.pp[0]) + Math.abs(store.pp[1])).toBeLessThan(1e-5);
  });

  it('minimises exactly the objective\u2019s camera-landmarks cost', () => {
    const objective = new TrackingObjective(model, builtInTrackingAssets(model), config);
    const store = new VariableStore({ shape: new Float64Array(model.numShape), focal: config.focal_init, numFrames: 1, numExpression: model.numExpression });
    // Perturb the target so that the optimum has a non-zero cost, then compare both costs there.
    const noisy = fakeFrame(0, S, false);
    noisy.landmarks98.set(frame.landmarks98.map((x, i) => x + 1.5 * Math.sin(i)));
    noisy.landmarkValid.set(frame.landmarkValid);
    const evaluate = () =>
      objective.evaluate({
        variables: store.view(),
        batch: [0],
        frames: [noisy],
        correspondences: [objective.correspondences(noisy)],
        options: { phase: 'camera-landmarks', silhouetteScale: 1, smoothness: false, wantShape: false },
      });
    const start = evaluate();
    const r = solveCameraLandmarks(landmarks, noisy, store.frames[0], store, config);
    const e = evaluate();
    expect(start.total).toBeCloseTo(r.initialCost, 9);
    expect(e.total).toBeCloseTo(r.cost, 9);
    expect(r.cost).toBeGreaterThan(0);
    // At the optimum the objective's gradient in t and focal (nearly) vanishes.
    const norm = (g: typeof e) => Math.hypot(...g.gradient.frames[0].translation, g.gradient.shared.focal);
    expect(norm(e)).toBeLessThan(1e-4 * norm(start));
  });
});

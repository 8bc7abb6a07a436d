import { describe, expect, it } from 'vitest';
import { referenceFlame, referenceRotation6d } from '@pixel3dmm/kernels/testing/flame-reference';
import { makeRandomFlameArrays, makeRng } from '@pixel3dmm/kernels/testing/random-flame';
import { Flame } from './flame.js';
import { kernelArrays, type FlameModel } from './model.js';
import { FlameParamsError, defaultFlameParams, parseFlameParams, type FlameParams } from './params.js';

function randomModel(): FlameModel {
  const a = makeRandomFlameArrays({ numVertices: 200, numShape: 10, numExpression: 5, seed: 9 });
  return {
    source: 'random test model',
    numVertices: a.numVertices,
    numFaces: 1,
    numShape: a.numShape,
    numExpression: a.numExpression,
    faces: Uint32Array.from([0, 1, 2]),
    vTemplate: a.vTemplate,
    shapeBasis: a.shapeBasis,
    exprBasis: a.exprBasis,
    poseBasis: a.poseBasis,
    eyelidBasis: a.eyelidBasis,
    skinWeights: a.skinWeights,
    parents: a.parents,
    jointRegressor: { offsets: a.jointOffsets, vertices: a.jointVertices, weights: a.jointWeights },
    landmarks: a.landmarks,
    masks: {},
  };
}

describe('Flame: Pixel3DMM parameters on the kernel', () => {
  const model = randomModel();
  const flame = new Flame(model);
  const rng = makeRng(4);
  const sixD = () => [1, 0, 0, 0, 1, 0].map((v) => v + 0.2 * rng.normal());
  const params = (): FlameParams => ({
    shape: Array.from({ length: 7 }, () => rng.normal()), // fewer than the model has: the rest are zero
    expression: Array.from({ length: 5 }, () => rng.normal()),
    neck: sixD(),
    jaw: sixD(),
    eyes: [...sixD(), ...sixD()],
    eyelids: [rng.normal(), rng.normal()],
    rotation: sixD(),
    translation: [0.01, -0.02, 0.3],
  });

  it('maps neck, jaw and eyes onto joints 1..4 with the root at identity, and applies R v + t with --world', () => {
    const p = params();
    const ref = referenceFlame(kernelArrays(model), {
      shape: p.shape,
      expression: p.expression,
      pose: [1, 0, 0, 0, 1, 0, ...p.neck, ...p.jaw, ...p.eyes],
      rotationFormat: '6d',
      eyelids: p.eyelids,
      landmarkRotation: referenceRotation6d(p.rotation),
    });
    const local = flame.evaluate([p]);
    let err = 0;
    for (let i = 0; i < ref.vertices.length; i++) err = Math.max(err, Math.abs(local.vertices[i] - ref.vertices[i]));
    expect(err).toBeLessThan(2e-6);
    const world = flame.evaluate([p], { world: true });
    const R = referenceRotation6d(p.rotation);
    err = 0;
    for (let i = 0; i < model.numVertices; i++) {
      for (let r = 0; r < 3; r++) {
        const v = R[3 * r] * ref.vertices[3 * i] + R[3 * r + 1] * ref.vertices[3 * i + 1] + R[3 * r + 2] * ref.vertices[3 * i + 2] + p.translation[r];
        err = Math.max(err, Math.abs(world.vertices[3 * i + r] - v));
      }
    }
    expect(err).toBeLessThan(2e-6);
    // landmarks follow the same world transform and the contour bin of the head rotation
    let lerr = 0;
    for (let l = 0; l < ref.landmarks.length / 3; l++) {
      for (let r = 0; r < 3; r++) {
        const x = ref.landmarks;
        const v = R[3 * r] * x[3 * l] + R[3 * r + 1] * x[3 * l + 1] + R[3 * r + 2] * x[3 * l + 2] + p.translation[r];
        lerr = Math.max(lerr, Math.abs(world.landmarks![3 * l + r] - v));
      }
    }
    expect(lerr).toBeLessThan(2e-6);
  });

  it('evaluates a batch with the same bits as frame by frame', () => {
    const shared = params();
    const frames = [shared, { ...params(), shape: shared.shape }, { ...params(), shape: shared.shape }];
    const batch = flame.evaluate(frames, { world: true });
    const n = model.numVertices * 3;
    frames.forEach((f, b) => {
      expect(Array.from(flame.evaluate([f], { world: true }).vertices)).toEqual(Array.from(batch.vertices.subarray(b * n, (b + 1) * n)));
    });
    expect(() => flame.evaluate([shared, params()])).toThrow(/share the same shape/);
  });
});

describe('the parameter file', () => {
  const limits = { numShape: 300, numExpression: 100 };
  it('fills missing groups with zero or the identity and keeps camera keys out of the way', () => {
    const p = parseFlameParams({ jaw: [1, 0, 0, 0, 0.9, 0.1], focal_length: [3.9] }, 'p.json', limits);
    expect(p.jaw).toEqual([1, 0, 0, 0, 0.9, 0.1]);
    expect(p.neck).toEqual(defaultFlameParams().neck);
    expect(p.shape).toEqual([]);
  });
  it('names the file and the key of every problem', () => {
    expect(() => parseFlameParams([], 'p.json', limits)).toThrow(/p\.json: expected a JSON object/);
    expect(() => parseFlameParams({ jaws: [] }, 'p.json', limits)).toThrow(/p\.json: unknown key 'jaws'/);
    expect(() => parseFlameParams({ neck: [1, 0, 0] }, 'p.json', limits)).toThrow(/'neck' must have 6 values, got 3/);
    expect(() => parseFlameParams({ shape: new Array(301).fill(0) }, 'p.json', limits)).toThrow(/'shape' has 301 coefficients, the model has 300/);
    expect(() => parseFlameParams({ eyelids: [0, 'x'] }, 'p.json', limits)).toThrow(FlameParamsError);
    expect(() => parseFlameParams({ translation: [0, null, 0] }, 'p.json', limits)).toThrow(/'translation\[1\]' must be a finite number/);
  });
});


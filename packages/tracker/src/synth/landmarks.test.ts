import { describe, expect, it } from 'vitest';
import { builtInFlameModel } from '@pixel3dmm/flame';
import { WFLW_TO_IBUG68 } from '@pixel3dmm/formats';
import { makeCamera, projectPoints } from '@pixel3dmm/render';
import { FLAME_PUPIL_VERTICES, normalisedLandmarks, pupilVertices, wflw98FromIbug68 } from './landmarks.js';

/** iBUG-68 points on known curves: the contour on the parabola y = x^2 (x = k - 8), each lid on a parabola. */
function curveLandmarks(): Float32Array {
  const L = new Float32Array(68 * 3);
  const set = (i: number, x: number, y: number, z = 0) => L.set([x, y, z], 3 * i);
  for (let k = 0; k < 17; k++) set(k, k - 8, (k - 8) ** 2);
  for (let i = 17; i < 68; i++) set(i, i, -i, 1); // anything distinct
  // Right eye: corners 36 (x=0) and 39 (x=3); upper lid 37, 38 on y = x(3 - x); lower 40 (x=2), 41 (x=1) on y = -x(3 - x).
  for (const [i, x, s] of [[36, 0, 1], [37, 1, 1], [38, 2, 1], [39, 3, 1], [40, 2, -1], [41, 1, -1]]) set(i, x, s * x * (3 - x), 5);
  return L;
}

describe('WFLW-98 from iBUG-68', () => {
  const vertices = new Float32Array(5023 * 3).map((_, i) => i);
  const L = curveLandmarks();
  const W = wflw98FromIbug68(L, vertices, { right: 4477, left: 3931 });
  const at = (w: number) => Array.from(W.subarray(3 * w, 3 * w + 3));

  it('keeps the 68 iBUG points where WFLW_TO_IBUG68 puts them, and the pupils on their vertices (96 = right eye)', () => {
    WFLW_TO_IBUG68.forEach((w, i) => expect(at(w)).toEqual(Array.from(L.subarray(3 * i, 3 * i + 3))));
    expect(at(96)).toEqual([3 * 4477, 3 * 4477 + 1, 3 * 4477 + 2]);
    expect(at(97)).toEqual([3 * 3931, 3 * 3931 + 1, 3 * 3931 + 2]);
  });

  it('places the extra contour and lid points on the curve through their neighbours (exact for parabolas)', () => {
    for (let k = 0; k < 16; k++) {
      const x = k - 8 + 0.5;
      expect(at(2 * k + 1)[0]).toBeCloseTo(x, 5);
      expect(at(2 * k + 1)[1]).toBeCloseTo(x * x, 5);
    }
    expect(at(62)).toEqual([expect.closeTo(1.5, 5), expect.closeTo(1.5 * 1.5, 5), 5]); // upper lid apex
    expect(at(66)).toEqual([expect.closeTo(1.5, 5), expect.closeTo(-1.5 * 1.5, 5), 5]);
  });

  it('puts the lower brow edge a quarter of the way from the upper edge towards the eye', () => {
    const eye = [36, 37, 38, 39, 40, 41].map((i) => L[3 * i]).reduce((a, b) => a + b) / 6;
    const upperMid = (L[3 * 20] + L[3 * 21]) / 2;
    expect(at(38)[0]).toBeCloseTo(upperMid + 0.25 * (eye - upperMid), 4);
  });

  it('stores the point projection at S divided by S', () => {
    const cam = makeCamera(256);
    const pts = new Float32Array(98 * 3).map((_, i) => (i % 3 === 2 ? 0.05 : 0.001 * (i % 50) - 0.02));
    const n = normalisedLandmarks(cam, pts), p = projectPoints(cam, pts);
    for (let i = 0; i < 98; i++) expect([n[2 * i] * 256, n[2 * i + 1] * 256]).toEqual([p[3 * i], p[3 * i + 1]]);
  });
});

describe('pupilVertices', () => {
  it('uses the eyeballs\' front poles on a model laid out like the synthetic head, FLAME\'s 4597 / 4051 otherwise', () => {
    const model = builtInFlameModel(0);
    expect(pupilVertices(model)).toEqual({ right: 4477, left: 3931 });
    const T = model.vTemplate.slice();
    T[3 * 3931 + 2] -= 0.01; // the first left-eyeball vertex is no longer the most forward one
    expect(pupilVertices({ ...model, vTemplate: T })).toEqual(FLAME_PUPIL_VERTICES);
  });
});

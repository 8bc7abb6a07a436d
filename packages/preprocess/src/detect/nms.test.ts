import { expect, it } from 'vitest';
import { iou, nonMaxSuppression, type FaceDetection } from './blazeface.js';

const det = (x: number, score: number): FaceDetection => ({ x, y: 0, w: 10, h: 10, score, keypoints: [[x, 0]] });

it('keeps separate faces and merges overlapping boxes by score-weighted averaging', () => {
  expect(iou(det(0, 1), det(5, 1))).toBeCloseTo(50 / 150, 12);
  const out = nonMaxSuppression([det(0, 0.6), det(2, 0.9), det(50, 0.7)], 0.3);
  expect(out.length).toBe(2);
  expect(out[0].score).toBe(0.9);
  expect(out[0].x).toBeCloseTo((0 * 0.6 + 2 * 0.9) / 1.5, 12);
  expect(out[1].x).toBe(50);
});

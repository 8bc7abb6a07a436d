import { describe, expect, it } from 'vitest';
import { flipHorizontal, invertAffine, makeImage, resizeBilinear, warpToTensor, applyAffine } from './image.js';

describe('resizeBilinear (cv2 INTER_LINEAR sampling)', () => {
  it('upsamples 2x1 -> 4x1 with half-pixel centres and border clamping', () => {
    const img = makeImage(2, 1, new Uint8Array([0, 0, 0, 100, 100, 100]));
    const r = resizeBilinear(img, 4, 1);
    // source x = (d + 0.5) / 2 - 0.5 = -0.25 (clamped 0), 0.25, 0.75, 1.25 (clamped to the last pixel)
    expect(Array.from(r.data.filter((_, i) => i % 3 === 0))).toEqual([0, 25, 75, 100]);
  });

  it('is the identity at the same size', () => {
    const img = makeImage(3, 2, Uint8Array.from({ length: 18 }, (_, i) => i * 13));
    expect(Array.from(resizeBilinear(img, 3, 2).data)).toEqual(Array.from(img.data));
  });
});

describe('warpToTensor', () => {
  it('samples pixel centres exactly under the identity and scales values', () => {
    const img = makeImage(2, 2, new Uint8Array([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]));
    const t = warpToTensor(img, { a: 1, b: 0, c: 0, d: 1, e: 0, f: 0 }, 2, 2, 2, 1);
    expect(Array.from(t)).toEqual([21, 41, 61, 81, 101, 121, 141, 161, 181, 201, 221, 241]);
  });

  it('inverts affines', () => {
    const m = { a: 2, b: 0.5, c: -0.3, d: 1.5, e: 10, f: -4 };
    const [x, y] = applyAffine(invertAffine(m), ...applyAffine(m, 3, 7));
    expect(x).toBeCloseTo(3, 12);
    expect(y).toBeCloseTo(7, 12);
  });
});

it('flipHorizontal mirrors columns', () => {
  const img = makeImage(3, 1, new Uint8Array([1, 1, 1, 2, 2, 2, 3, 3, 3]));
  expect(Array.from(flipHorizontal(img).data)).toEqual([3, 3, 3, 2, 2, 2, 1, 1, 1]);
});

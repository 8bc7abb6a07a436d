import { expect, it } from 'vitest';
import { convexHull, fillPolygon } from './raster.js';

it('fills pixel centres inside a polygon, and two polygons sharing an edge never overlap', () => {
  const W = 20;
  const map = new Uint8Array(W * W);
  fillPolygon(map, W, W, [2, 2, 12, 2, 12, 8, 2, 8], 1); // 10 x 6 rectangle
  expect(map.reduce((s, v) => s + v, 0)).toBe(60);
  expect(map[2 * W + 2]).toBe(1);
  expect(map[1 * W + 2]).toBe(0);
  const m2 = new Uint8Array(W * W);
  fillPolygon(m2, W, W, [0, 0, 10, 0, 0, 10], 1);
  fillPolygon(m2, W, W, [10, 0, 10, 10, 0, 10], 2);
  // The square 10 x 10 split along its diagonal: every pixel exactly once.
  let ones = 0;
  let twos = 0;
  for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) (m2[y * W + x] === 1 ? ones++ : m2[y * W + x] === 2 ? twos++ : 0);
  expect(ones + twos).toBe(100);
});

it('clips to the map', () => {
  const map = new Uint8Array(16);
  fillPolygon(map, 4, 4, [-5, -5, 10, -5, 10, 10, -5, 10], 7);
  expect(Array.from(map)).toEqual(new Array(16).fill(7));
});

it('convexHull drops interior points and keeps the corners', () => {
  const h = convexHull([0, 0, 4, 0, 2, 1, 4, 4, 0, 4, 1, 3]);
  expect(h.length).toBe(8);
  const pts = new Set(Array.from({ length: 4 }, (_, i) => `${h[2 * i]},${h[2 * i + 1]}`));
  expect(pts).toEqual(new Set(['0,0', '4,0', '4,4', '0,4']));
});

import { describe, expect, it } from 'vitest';
import { extendBeyondCoverage } from './extend.js';

describe('extendBeyondCoverage', () => {
  it('continues a linear ramp exactly, ring by ring, and leaves covered pixels and far pixels alone', () => {
    const S = 12;
    const covered = new Uint8Array(S * S);
    const values = new Float32Array(S * S * 2);
    // Covered: a 4x4 block in the middle, with values 0.1 x + 0.05 y and a constant.
    for (let y = 4; y < 8; y++) {
      for (let x = 4; x < 8; x++) {
        covered[y * S + x] = 1;
        values[2 * (y * S + x)] = 0.1 * x + 0.05 * y;
        values[2 * (y * S + x) + 1] = 0.7;
      }
    }
    const before = values.slice();
    const filled = extendBeyondCoverage(values, 2, covered, S, 2);
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const p = y * S + x;
        // Ring distance (4-neighbour steps) from the block.
        const d = Math.max(0, 4 - x, x - 7) + Math.max(0, 4 - y, y - 7);
        expect(filled[p], `(${x}, ${y})`).toBe(d <= 2 ? 1 : 0);
        if (covered[p] || d > 2) {
          expect(values[2 * p]).toBe(before[2 * p]);
          continue;
        }
        expect(values[2 * p]).toBeCloseTo(0.1 * x + 0.05 * y, 5);
        expect(values[2 * p + 1]).toBeCloseTo(0.7, 6);
      }
    }
  });
});

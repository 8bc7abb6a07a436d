import { describe, expect, it } from 'vitest';
import { WFLW_TO_IBUG68 } from '@pixel3dmm/formats';
import { JAW_POLYLINE, WFLW_FROM_MEDIAPIPE, mediapipeToWflw } from './wflw.js';

describe('MediaPipe 478 -> WFLW 98', () => {
  it('maps 65 distinct mesh points (or midpoints) plus a 33-point jaw, with the pupils last', () => {
    expect(WFLW_FROM_MEDIAPIPE.length).toBe(98 - 33);
    const keys = WFLW_FROM_MEDIAPIPE.map((m) => String(m));
    expect(new Set(keys).size).toBe(keys.length);
    expect(WFLW_FROM_MEDIAPIPE.slice(-2)).toEqual([468, 473]);
    expect(WFLW_FROM_MEDIAPIPE.flat().every((i) => i >= 0 && i < 478)).toBe(true);
  });

  it('resamples the jaw evenly by arc length between its end points', () => {
    // A mesh whose jaw polyline lies on a line x = cumulative uneven steps, y = 0.
    const pts = new Float32Array(478 * 3);
    let x = 0;
    JAW_POLYLINE.forEach((m, k) => {
      x += k === 0 ? 0 : 1 + (k % 3); // uneven spacing
      pts[m * 3] = x;
    });
    const w = mediapipeToWflw(pts);
    for (let k = 0; k <= 32; k++) expect(w[2 * k]).toBeCloseTo((x * k) / 32, 4);
  });

  it('copies the other points by the table (pupil 96 <- 468, eye corner 60 <- 33)', () => {
    const pts = new Float32Array(478 * 3);
    for (let i = 0; i < 478; i++) {
      pts[i * 3] = i;
      pts[i * 3 + 1] = -i;
    }
    const w = mediapipeToWflw(pts);
    expect([w[96 * 2], w[96 * 2 + 1]]).toEqual([468, -468]);
    expect(w[60 * 2]).toBe(33);
    expect(w[72 * 2]).toBe(263);
    expect(w[53 * 2]).toBe((5 + 4) / 2); // a midpoint entry
  });

  it('gives the 68-point subset through WFLW_TO_IBUG68 (jaw = even contour points)', () => {
    expect(WFLW_TO_IBUG68.slice(0, 17)).toEqual(Array.from({ length: 17 }, (_, i) => 2 * i));
  });
});

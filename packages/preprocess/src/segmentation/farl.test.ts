import { describe, expect, it } from 'vitest';
import { SEG_CLASS } from '@pixel3dmm/formats';
import { applyAffine } from '../image.js';
import { FARL_SIZE, farlAlignment, logitsToClasses } from './farl.js';

describe('FaRL alignment (spec 2.4)', () => {
  it('builds the FFHQ quad, scales it x1.5 and maps it onto the centred square of side 448/f', () => {
    // Eyes 100 px apart, mouth 100 px below the eyes: x = (200, 0), y = (0, 200), c = (250, 210);
    // quad x1.5 about (250, 210): corners (-50, -90) .. (550, 510); diag = 600 sqrt 2 > 500 -> f = 1.25,
    // T = 358.4, offset int(44.8) = 44.
    const { toImage, quad } = farlAlignment([[200, 200], [300, 200], [250, 250], [210, 300], [290, 300]]);
    expect(quad[0][0]).toBeCloseTo(-50, 9);
    expect(quad[0][1]).toBeCloseTo(-90, 9);
    expect(quad[2][0]).toBeCloseTo(550, 9);
    expect(quad[2][1]).toBeCloseTo(510, 9);
    const [x0, y0] = applyAffine(toImage, 44, 44);
    expect(x0).toBeCloseTo(-50, 6);
    expect(y0).toBeCloseTo(-90, 6);
    const [x1, y1] = applyAffine(toImage, 44 + 358.4, 44 + 358.4);
    expect(x1).toBeCloseTo(550, 6);
    expect(y1).toBeCloseTo(510, 6);
  });

  it('raises f for small faces: f = 1.25 + (500 - diag)/150', () => {
    // Eyes 50 apart, mouth 50 below: half-size 100 -> x1.5 -> 150; diag = 300 sqrt 2 = 424.26.
    const { toImage } = farlAlignment([[230, 230], [280, 230], [255, 255], [235, 280], [275, 280]]);
    const f = 1.25 + (500 - 300 * Math.SQRT2) / 150;
    const scale = Math.hypot(toImage.a, toImage.c); // image px per FaRL px
    expect(scale).toBeCloseTo(300 / (FARL_SIZE / f), 9);
  });

  it('warps logits back, takes the argmax, and marks pixels outside the warped region as class 20', () => {
    // A small face (eyes 20 px apart): f = 2.25, the 448 input covers ~270 crop pixels around (255, 232).
    const { toImage } = farlAlignment([[245, 230], [265, 230], [255, 240], [247, 250], [263, 250]]);
    const plane = FARL_SIZE * FARL_SIZE;
    const logits = new Float32Array(19 * plane);
    // class 2 (skin) wins in the left half of the FaRL input, class 14 (hair) in the right half.
    for (let y = 0; y < FARL_SIZE; y++) for (let x = 0; x < FARL_SIZE; x++) logits[(x < FARL_SIZE / 2 ? 2 : 14) * plane + y * FARL_SIZE + x] = 5;
    const seg = logitsToClasses(logits, toImage, 512);
    expect(seg[0]).toBe(SEG_CLASS.outside); // crop corner, far outside the quad
    expect(seg[232 * 512 + 240]).toBe(SEG_CLASS.skin); // left of the face centre (255, 232)
    expect(seg[232 * 512 + 270]).toBe(SEG_CLASS.hair);
  });
});

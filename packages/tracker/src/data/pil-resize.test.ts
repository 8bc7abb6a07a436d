// Pillow parity of the resizers: the expected digests were produced by Pillow 12.3 (Image.resize with
// BICUBIC / NEAREST) on the same generated images (a formula with gradients and hard edges, rebuilt here).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { resizeBicubicPil, resizeNearestPil } from './pil-resize.js';

function testImage(w: number, h: number, c: number): Uint8Array {
  const out = new Uint8Array(w * h * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) {
        let v = (x * x * 7 + y * 13 + k * 91 + ((x * y) % 97)) & 255;
        if ((Math.floor(x / 5) + Math.floor(y / 7) + k) % 3 === 0) v = 255 - v;
        out[(y * w + x) * c + k] = v;
      }
    }
  }
  return out;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const CASES: [number, number, number, number, number, string, string][] = [
  [512, 512, 3, 256, 256, 'f6e86511b521daee0f88e7e50c88f4b772f88c13fe1ff2c10d261956a6730694', 'ed4e1799dcb666b5f2e3bd62654e1fbd432c5813bb8b916fac8f46d5aaa6856d'],
  [512, 512, 1, 256, 256, '0aa07deb110a870358eb19478503edb8667447f6dd3f2853ff65e99e3a2a34ea', 'aa656e7854efbe4226ff16a8fb555b33268f3af5bf6cb6fc7afdc2e5b22aab0c'],
  [37, 23, 3, 16, 41, '5bdb4f01a581178b81ab1c8c019279cc93cbf744cd62152bb6fce5bbafac42e3', 'c1b5f15b8be34cd146ea2a22ea4d1daf68580394090d5578109f0623856e39d5'],
  [512, 512, 3, 200, 200, '4f19e4bf00a899e324fb551807d0adc9bf1b65cb8b95888c597f864e45ffb3cf', '46e393ca357a7a0aef5e208d3ca4f552cec577519dd5a64ad500ed0b36eca401'],
  [30, 30, 1, 30, 30, '3f0e3c0ef3509c62a3fa832af986c7f7b00634014a81ea669032765b13ee822b', '3f0e3c0ef3509c62a3fa832af986c7f7b00634014a81ea669032765b13ee822b'],
];

describe('Pillow-exact resizing', () => {
  it.each(CASES)('%ix%ix%i -> %ix%i matches Pillow byte for byte', (w, h, c, ow, oh, bicubic, nearest) => {
    const img = testImage(w, h, c);
    expect(sha(resizeBicubicPil(img, w, h, c, ow, oh))).toBe(bicubic);
    expect(sha(resizeNearestPil(img, w, h, c, ow, oh))).toBe(nearest);
  });

  it('NEAREST 512 -> 256 takes the odd pixels (Pillow samples at (i + 0.5) * 2)', () => {
    const img = testImage(512, 512, 1);
    const r = resizeNearestPil(img, 512, 512, 1, 256, 256);
    for (const [x, y] of [[0, 0], [17, 200], [255, 255]]) expect(r[y * 256 + x]).toBe(img[(2 * y + 1) * 512 + 2 * x + 1]);
  });

  it('keeps a constant image constant and rejects a wrong buffer size', () => {
    const flat = new Uint8Array(64 * 64 * 3).fill(77);
    expect(resizeBicubicPil(flat, 64, 64, 3, 20, 20).every((v) => v === 77)).toBe(true);
    expect(() => resizeBicubicPil(flat, 64, 63, 3, 20, 20)).toThrow(/64x63x3/);
  });
});

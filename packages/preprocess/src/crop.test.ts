import { describe, expect, it } from 'vitest';
import { cropBoxFor, cropFrame, frameToCrop, staticBox } from './crop.js';
import { makeImage } from './image.js';

describe('staticBox (spec 2.1)', () => {
  it('takes the truncated mean box with scale 1.42 when the union is not larger', () => {
    const r = staticBox([
      { x: 100, y: 50, w: 201, h: 199 },
      { x: 103, y: 52, w: 200, h: 200 },
    ]);
    expect(r.rule).toBe('mean');
    expect(r.scale).toBe(1.42);
    expect(r.box).toEqual({ x: 101, y: 51, w: 200, h: 199 });
  });

  it('takes the union box with scale 1.1 when the head moves a lot', () => {
    const r = staticBox([
      { x: 0, y: 0, w: 100, h: 100 },
      { x: 300, y: 0, w: 100, h: 100 },
    ]);
    // mean 150x0 100x100 -> (142)^2 = 20164 < (1.1*400)(1.1*100) = 48400
    expect(r.rule).toBe('union');
    expect(r.box).toEqual({ x: 0, y: 0, w: 400, h: 100 });
  });
});

describe('cropBoxFor', () => {
  it("grows a side that is a multiple of 100 by 0.21w-1 (float64 s-1 = 0.41999999999999993), like the original", () => {
    const b = cropBoxFor({ x: 400, y: 300, w: 200, h: 200 }, 1.42, 2000, 2000, 'original');
    // int(200 * 0.41999999999999993 / 2) = 41, not 42
    expect(b).toEqual({ xmin: 359, xmax: 640, ymin: 259, ymax: 540 });
    const c = cropBoxFor({ x: 400, y: 300, w: 201, h: 201 }, 1.42, 2000, 2000, 'original');
    expect(c.xmin).toBe(400 - 42);
  });

  it('squares the box about its centre with (w-h)//2', () => {
    const b = cropBoxFor({ x: 100, y: 100, w: 50, h: 41 }, 1.0, 1000, 1000, 'original');
    expect(b).toEqual({ xmin: 100, xmax: 149, ymin: 96, ymax: 145 });
  });

  it("keeps the original's border quirks in mode 'original' (mins shifted alone, maxes by the off-by-two amount)", () => {
    const b = cropBoxFor({ x: -10, y: 5, w: 100, h: 100 }, 1.0, 1000, 1000, 'original');
    // xmin -10 -> shift both mins by 10; maxes stay
    expect(b).toEqual({ xmin: 0, ymin: 15, xmax: 89, ymax: 104 });
    const c = cropBoxFor({ x: 950, y: 10, w: 100, h: 100 }, 1.0, 1000, 1000, 'original');
    // xmax = 1049 > 999: shift = max(1049 - 1001, 109 - 1001) = 48 -> both maxes move, mins stay
    expect(c).toEqual({ xmin: 950, ymin: 10, xmax: 1001, ymax: 61 });
  });

  it("stays square and inside the frame in mode 'square'", () => {
    for (const box of [
      { x: -10, y: 5, w: 100, h: 100 },
      { x: 950, y: 10, w: 100, h: 100 },
      { x: 900, y: 700, w: 120, h: 90 },
    ]) {
      const b = cropBoxFor(box, 1.42, 1080, 720, 'square');
      expect(b.xmax - b.xmin).toBe(b.ymax - b.ymin);
      expect(b.xmin).toBeGreaterThanOrEqual(0);
      expect(b.ymin).toBeGreaterThanOrEqual(0);
      expect(b.xmax).toBeLessThanOrEqual(1079);
      expect(b.ymax).toBeLessThanOrEqual(719);
    }
  });

  it('pads instead of squeezing when the box is larger than the frame', () => {
    const b = cropBoxFor({ x: 0, y: 0, w: 100, h: 100 }, 1.42, 100, 60, 'square');
    expect(b.xmax - b.xmin).toBe(b.ymax - b.ymin);
    expect(b.ymin).toBeLessThan(0);
    const img = makeImage(100, 60, new Uint8Array(100 * 60 * 3).fill(200));
    const c = cropFrame(img, b, 'square', 64);
    expect(c.data[0]).toBe(0); // top-left corner is padding
    expect(c.data[(32 * 64 + 32) * 3]).toBe(200); // centre is the frame
  });
});

describe('cropFrame and frameToCrop', () => {
  it('maps the box to 512x512 and frame points to the same crop pixels', () => {
    const img = makeImage(300, 200);
    // A bright 1-pixel dot at frame pixel (150, 90).
    img.data.set([255, 255, 255], (90 * 300 + 150) * 3);
    const box = { xmin: 100, xmax: 227, ymin: 40, ymax: 167 }; // 128 px side -> scale 4
    const crop = cropFrame(img, box, 'square', 512);
    expect([crop.width, crop.height]).toEqual([512, 512]);
    const [cx, cy] = frameToCrop(box, 'square', 512)(150.5, 90.5); // the dot's centre
    expect([cx, cy]).toEqual([202, 202]);
    // The brightest crop pixel is the one at the mapped centre.
    let best = 0;
    let at = -1;
    for (let i = 0; i < 512 * 512; i++) if (crop.data[i * 3] > best) [best, at] = [crop.data[i * 3], i];
    expect(Math.abs((at % 512) + 0.5 - cx)).toBeLessThanOrEqual(1);
    expect(Math.abs(Math.floor(at / 512) + 0.5 - cy)).toBeLessThanOrEqual(1);
  });
});

it("maps points through the original's clipped slice at the frame edge", () => {
  // Box [950, 1001] in a 1000-wide frame: numpy slices 950:1000 (50 columns) onto 512 pixels.
  const b = { xmin: 950, xmax: 1001, ymin: 10, ymax: 61 };
  const [x] = frameToCrop(b, 'original', 512, 1000, 1000)(975, 20);
  expect(x).toBeCloseTo(((975 - 950) * 512) / 50, 9);
  const img = makeImage(1000, 100);
  expect(cropFrame(img, b, 'original', 64).width).toBe(64);
});

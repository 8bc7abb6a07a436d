// The face crop of spec 2.1: one static square box for the whole video, from the per-frame face boxes, in
// the original's integer arithmetic, then a 512x512 bilinear resize.
//
// Quirks of the original, decided one by one:
// - kept: mean box (s = 1.42) unless the union box (s = 1.1) is larger; integer truncation of the mean;
//   squaring by (w-h)//2; growth int(w*(s-1)/2) in float64, so s-1 = 0.41999999999999993 and a side that
//   is a multiple of 100 grows by 0.21w-1. These decide the framing the tracker's first-frame camera
//   (f = 3.906, 1 m) was tuned for (spec 9.18), so they stay bit-exact.
// - fixed by default (mode 'square'); kept in mode 'original' for byte-for-byte comparisons:
//   * the border handling: the original shifts only the min sides when the box leaves the image at the
//     top/left, and only the max sides (by max(xmax-W-1, ymax-H-1), off by two and possibly negative) at the
//     bottom/right, so the box stops being square and the face is stretched by the resize. We shift the
//     whole box inside the frame along each axis, and where the box is larger than the frame we pad with
//     black instead of squeezing;
//   * the end-exclusive slicing ymin:ymax, xmin:xmax that drops the last row and column of the box: we crop
//     the inclusive box [xmin, xmax] x [ymin, ymax].
import { NdArray } from '@pixel3dmm/formats';
import { cropImage, resizeBilinear, type RgbImage } from './image.js';

/** A face box with integer pixel coordinates (left, top, width, height), as the original's detector gives. */
export interface IntBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Inclusive pixel bounds of the crop, in the order the original saves them. */
export interface CropBox {
  ymin: number;
  ymax: number;
  xmin: number;
  xmax: number;
}

export type CropMode = 'square' | 'original';

/** The static box rule: mean box with scale 1.42, or the union box with 1.1 when that is larger. */
export function staticBox(boxes: readonly IntBox[]): { box: IntBox; scale: number; rule: 'mean' | 'union' } {
  if (boxes.length === 0) throw new RangeError('staticBox: no face boxes');
  const n = boxes.length;
  const mean = (f: (b: IntBox) => number) => Math.trunc(boxes.reduce((s, b) => s + f(b), 0) / n);
  const m: IntBox = { x: mean((b) => b.x), y: mean((b) => b.y), w: mean((b) => b.w), h: mean((b) => b.h) };
  const ux = Math.min(...boxes.map((b) => b.x));
  const uy = Math.min(...boxes.map((b) => b.y));
  const u: IntBox = { x: ux, y: uy, w: Math.max(...boxes.map((b) => b.x + b.w)) - ux, h: Math.max(...boxes.map((b) => b.y + b.h)) - uy };
  if (1.42 * m.w * (1.42 * m.h) < 1.1 * u.w * (1.1 * u.h)) return { box: u, scale: 1.1, rule: 'union' };
  return { box: m, scale: 1.42, rule: 'mean' };
}

/** Square, enlarge and fit the box to a W x H frame (see the header for the two modes). */
export function cropBoxFor(box: IntBox, scale: number, W: number, H: number, mode: CropMode = 'square'): CropBox {
  let { x: xmin, y: ymin, w, h } = box;
  if (w > h) {
    ymin -= Math.floor((w - h) / 2);
    h = w;
  } else if (w < h) {
    xmin -= Math.floor((h - w) / 2);
    w = h;
  }
  let xmax = xmin + w - 1;
  let ymax = ymin + h - 1;
  const gx = Math.trunc((w * (scale - 1)) / 2);
  const gy = Math.trunc((h * (scale - 1)) / 2);
  xmin -= gx;
  xmax += gx;
  ymin -= gy;
  ymax += gy;
  if (mode === 'original') {
    if (xmin < 0 || ymin < 0) {
      const s = -Math.min(xmin, ymin);
      xmin += s;
      ymin += s;
    }
    if (xmax > W - 1 || ymax > H - 1) {
      const s = Math.max(xmax - W - 1, ymax - H - 1);
      xmax -= s;
      ymax -= s;
    }
    return { ymin, ymax, xmin, xmax };
  }
  const fit = (lo: number, hi: number, size: number): [number, number] => {
    const side = hi - lo + 1;
    if (side > size) {
      // Larger than the frame: centre it on the frame, the rest is padding.
      const l = Math.floor((size - side) / 2);
      return [l, l + side - 1];
    }
    if (lo < 0) return [0, side - 1];
    if (hi > size - 1) return [size - side, size - 1];
    return [lo, hi];
  };
  [xmin, xmax] = fit(xmin, xmax, W);
  [ymin, ymax] = fit(ymin, ymax, H);
  return { ymin, ymax, xmin, xmax };
}

/** Cut the box out of a frame and resize it to size x size (cv2 INTER_LINEAR sampling). */
export function cropFrame(img: RgbImage, b: CropBox, mode: CropMode = 'square', size = 512): RgbImage {
  const patch =
    mode === 'original'
      ? cropImage(img, b.xmin, b.ymin, Math.min(b.xmax, img.width), Math.min(b.ymax, img.height))
      : cropImage(img, b.xmin, b.ymin, b.xmax + 1, b.ymax + 1);
  return resizeBilinear(patch, size, size);
}

/**
 * Frame pixel coordinates -> crop coordinates for points (continuous coordinates, see image.ts). The crop
 * starts at xmin and its side (xmax - xmin + 1 in mode 'square') maps onto `size` pixels.
 */
export function frameToCrop(b: CropBox, mode: CropMode = 'square', size = 512, W = Infinity, H = Infinity): (x: number, y: number) => [number, number] {
  // Mode 'original' slices [min, max) and numpy clips the slice at the frame's edge (W, H), as cropFrame does.
  const w = mode === 'original' ? Math.min(b.xmax, W) - b.xmin : b.xmax - b.xmin + 1;
  const h = mode === 'original' ? Math.min(b.ymax, H) - b.ymin : b.ymax - b.ymin + 1;
  return (x, y) => [((x - b.xmin) * size) / w, ((y - b.ymin) * size) / h];
}

/** `crop_ymin_ymax_xmin_xmax.npy`: int64 [4], as numpy saves a Python int list. */
export function cropBoxArray(b: CropBox): NdArray {
  return new NdArray('<i8', [4], BigInt64Array.from([b.ymin, b.ymax, b.xmin, b.xmax].map(BigInt)));
}

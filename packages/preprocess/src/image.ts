// Interleaved 8-bit RGB images and the few resampling operations preprocessing needs. Conventions, written
// once: pixel (x, y) has its centre at (x + 0.5, y + 0.5) in continuous image coordinates; a "point" given in
// pixels uses the same continuous coordinates as the landmark outputs (MediaPipe and PIPNet both report
// positions in that frame, scaled by the image size).

export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** width * height * 3 bytes, row-major, RGB. */
  readonly data: Uint8Array;
}

export function makeImage(width: number, height: number, data?: Uint8Array): RgbImage {
  const d = data ?? new Uint8Array(width * height * 3);
  if (d.length !== width * height * 3) throw new RangeError(`RGB buffer of ${d.length} bytes does not match ${width}x${height}x3`);
  return { width, height, data: d };
}

/**
 * Crop rows [y0, y1) and columns [x0, x1) (end exclusive, numpy slicing). Parts outside the image are black;
 * the caller decides whether that can happen (crop.ts).
 */
export function cropImage(img: RgbImage, x0: number, y0: number, x1: number, y1: number): RgbImage {
  const w = x1 - x0;
  const h = y1 - y0;
  if (w <= 0 || h <= 0) throw new RangeError(`empty crop [${x0},${x1})x[${y0},${y1})`);
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const sy = y0 + y;
    if (sy < 0 || sy >= img.height) continue;
    const xa = Math.max(0, -x0);
    const xb = Math.min(w, img.width - x0);
    if (xb <= xa) continue;
    out.set(img.data.subarray((sy * img.width + x0 + xa) * 3, (sy * img.width + x0 + xb) * 3), (y * w + xa) * 3);
  }
  return { width: w, height: h, data: out };
}

/**
 * Bilinear resize with cv2.INTER_LINEAR's sampling: source coordinate (dst + 0.5) * scale - 0.5, clamped to
 * the border, no antialiasing (the original crops with cv2.resize, spec 2.1). Rounds to nearest; cv2's
 * fixed-point arithmetic can differ by one grey level.
 */
export function resizeBilinear(img: RgbImage, width: number, height: number): RgbImage {
  const out = new Uint8Array(width * height * 3);
  const sx = img.width / width;
  const sy = img.height / height;
  const x0s = new Int32Array(width);
  const x1s = new Int32Array(width);
  const fxs = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    let fx = (x + 0.5) * sx - 0.5;
    if (fx < 0) fx = 0;
    const xi = Math.min(Math.floor(fx), img.width - 1);
    x0s[x] = xi * 3;
    x1s[x] = Math.min(xi + 1, img.width - 1) * 3;
    fxs[x] = fx - xi;
  }
  const src = img.data;
  const rowStride = img.width * 3;
  for (let y = 0; y < height; y++) {
    let fy = (y + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    const yi = Math.min(Math.floor(fy), img.height - 1);
    const r0 = yi * rowStride;
    const r1 = Math.min(yi + 1, img.height - 1) * rowStride;
    const wy = fy - yi;
    let o = y * width * 3;
    for (let x = 0; x < width; x++) {
      const a = x0s[x];
      const b = x1s[x];
      const wx = fxs[x];
      for (let c = 0; c < 3; c++) {
        const top = src[r0 + a + c] + (src[r0 + b + c] - src[r0 + a + c]) * wx;
        const bot = src[r1 + a + c] + (src[r1 + b + c] - src[r1 + a + c]) * wx;
        out[o++] = Math.round(top + (bot - top) * wy);
      }
    }
  }
  return { width, height, data: out };
}

/**
 * A 2D affine map from output pixel centres to source coordinates: src = [a b; c d] * (x+0.5, y+0.5) + (e, f),
 * both in continuous coordinates.
 */
export interface Affine {
  a: number;
  b: number;
  c: number;
  d: number;
  e: number;
  f: number;
}

export function applyAffine(m: Affine, x: number, y: number): [number, number] {
  return [m.a * x + m.b * y + m.e, m.c * x + m.d * y + m.f];
}

export function invertAffine(m: Affine): Affine {
  const det = m.a * m.d - m.b * m.c;
  const a = m.d / det;
  const b = -m.b / det;
  const c = -m.c / det;
  const d = m.a / det;
  return { a, b, c, d, e: -(a * m.e + b * m.f), f: -(c * m.e + d * m.f) };
}

/**
 * Sample `size` x `size` pixels through `m` (output continuous coords -> source continuous coords) with
 * bilinear interpolation, black outside, into float32 NHWC values `scale * byte + offset`. This is how every
 * network crop is made (rotated face and eye crops, letterboxes), so one loop serves them all.
 */
export function warpToTensor(
  img: RgbImage,
  m: Affine,
  width: number,
  height: number,
  scale: number,
  offset: number,
  out = new Float32Array(width * height * 3),
): Float32Array {
  const src = img.data;
  const W = img.width;
  const H = img.height;
  let o = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const sx = m.a * (x + 0.5) + m.b * (y + 0.5) + m.e - 0.5;
      const sy = m.c * (x + 0.5) + m.d * (y + 0.5) + m.f - 0.5;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      let r = 0;
      let g = 0;
      let bl = 0;
      for (let k = 0; k < 4; k++) {
        const xx = x0 + (k & 1);
        const yy = y0 + (k >> 1);
        if (xx < 0 || yy < 0 || xx >= W || yy >= H) continue;
        const w = ((k & 1) ? fx : 1 - fx) * ((k >> 1) ? fy : 1 - fy);
        const i = (yy * W + xx) * 3;
        r += w * src[i];
        g += w * src[i + 1];
        bl += w * src[i + 2];
      }
      out[o++] = r * scale + offset;
      out[o++] = g * scale + offset;
      out[o++] = bl * scale + offset;
    }
  }
  return out;
}

/** Mirror along the width (x -> W-1-x). */
export function flipHorizontal(img: RgbImage): RgbImage {
  const out = new Uint8Array(img.data.length);
  const W = img.width;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < W; x++) {
      const s = (y * W + x) * 3;
      const d = (y * W + (W - 1 - x)) * 3;
      out[d] = img.data[s];
      out[d + 1] = img.data[s + 1];
      out[d + 2] = img.data[s + 2];
    }
  }
  return { width: W, height: img.height, data: out };
}

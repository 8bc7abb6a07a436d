// Image resizing exactly as Pillow does it for 8-bit images, because the original tracker reads every input
// with PIL: `Image.resize((S, S), BICUBIC)` for the crop, the normal and the UV maps, NEAREST for the
// segmentation (spec 6, 9.15). Bit-exact ports of Pillow's libImaging/Resample.c (ImagingResample, 8 bpc)
// and of its NEAREST path (libImaging/Geometry.c ImagingScaleAffine).
//
// Why not sharp: its 'cubic' kernel is the same Catmull-Rom cubic (a = -0.5) and libvips also widens the
// support when shrinking, but it rounds differently (no 8-bit intermediate between the two passes, other
// fixed-point scaling) and centres samples differently, so values differ by +-1 and more at edges.
//
// Pillow's algorithm (per axis; the horizontal pass runs first and writes an 8-bit image, then the vertical):
//   scale = in/out; support = 2 * max(scale, 1) (bicubic's support is 2);
//   for output pixel i: centre = (i + 0.5) * scale; taps x in [max(int(centre - support + 0.5), 0),
//   min(int(centre + support + 0.5), in)); weight = cubic((x - centre + 0.5) / max(scale, 1)), normalised
//   to sum 1, then to fixed point with 22 fraction bits (rounded half away from zero);
//   value = clip8((2^21 + sum(pixel * weight)) >> 22).

const PRECISION_BITS = 32 - 8 - 2;

/** Pillow's bicubic filter, a = -0.5. */
function bicubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Coefficients {
  /** First input index of each output pixel. */
  bounds: Int32Array; // [out * 2]: (xmin, count)
  /** Fixed-point weights [out * ksize]. */
  weights: Int32Array;
  ksize: number;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis (box = the whole input). */
function coefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 2 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubic((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) if (ww !== 0) k[x] /= ww;
    for (let x = 0; x < ksize; x++) {
      const v = x < xmax ? k[x] : 0;
      // C: (int)(-0.5 + v * 2^22) for negative values, (int)(0.5 + ...) otherwise; (int) truncates.
      weights[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return { bounds, weights, ksize };
}

function clip8(v: number): number {
  if (v >= 1 << (PRECISION_BITS + 8)) return 255;
  if (v <= 0) return 0;
  return v >> PRECISION_BITS;
}

/**
 * Pillow `Image.resize((outW, outH), Image.BICUBIC)` of an 8-bit image [h, w, channels] (row-major,
 * interleaved). Returns [outH, outW, channels] bytes. Same size in and out returns a copy, as Pillow does.
 */
export function resizeBicubicPil(src: Uint8Array, width: number, height: number, channels: number, outWidth: number, outHeight: number): Uint8Array {
  if (src.length !== width * height * channels) throw new RangeError(`resizeBicubicPil: expected ${width}x${height}x${channels} bytes, got ${src.length}`);
  let img = src;
  let w = width;
  const half = 1 << (PRECISION_BITS - 1);
  if (outWidth !== width) {
    const c = coefficients(width, outWidth);
    const out = new Uint8Array(outWidth * height * channels);
    for (let y = 0; y < height; y++) {
      const row = y * width * channels;
      for (let xx = 0; xx < outWidth; xx++) {
        const xmin = c.bounds[2 * xx], n = c.bounds[2 * xx + 1], kOff = xx * c.ksize;
        for (let ch = 0; ch < channels; ch++) {
          let ss = half;
          for (let x = 0; x < n; x++) ss += img[row + (x + xmin) * channels + ch] * c.weights[kOff + x];
          out[(y * outWidth + xx) * channels + ch] = clip8(ss);
        }
      }
    }
    img = out;
    w = outWidth;
  }
  if (outHeight !== height) {
    const c = coefficients(height, outHeight);
    const out = new Uint8Array(w * outHeight * channels);
    const stride = w * channels;
    for (let yy = 0; yy < outHeight; yy++) {
      const ymin = c.bounds[2 * yy], n = c.bounds[2 * yy + 1], kOff = yy * c.ksize;
      for (let i = 0; i < stride; i++) {
        let ss = half;
        for (let y = 0; y < n; y++) ss += img[(y + ymin) * stride + i] * c.weights[kOff + y];
        out[yy * stride + i] = clip8(ss);
      }
    }
    img = out;
  }
  return img === src ? src.slice() : img;
}

/**
 * Pillow `Image.resize((outW, outH), Image.NEAREST)`: output pixel (x, y) takes input pixel
 * (floor((x + 0.5) * w/outW), floor((y + 0.5) * h/outH)), computed as Pillow's ImagingScaleAffine does
 * (so 512 -> 256 takes the odd pixels 2i + 1).
 */
export function resizeNearestPil(src: Uint8Array, width: number, height: number, channels: number, outWidth: number, outHeight: number): Uint8Array {
  if (src.length !== width * height * channels) throw new RangeError(`resizeNearestPil: expected ${width}x${height}x${channels} bytes, got ${src.length}`);
  const out = new Uint8Array(outWidth * outHeight * channels);
  const xs = nearestIndices(width, outWidth);
  const ys = nearestIndices(height, outHeight);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      const s = (ys[y] * width + xs[x]) * channels, d = (y * outWidth + x) * channels;
      for (let ch = 0; ch < channels; ch++) out[d + ch] = src[s + ch];
    }
  }
  return out;
}

/**
 * Pillow's ImagingScaleAffine (the NEAREST path of a pure scale): the source position starts at a/2 and is
 * advanced by a = in/out per pixel in float64 (accumulated, as Pillow does), then truncated.
 */
function nearestIndices(inSize: number, outSize: number): Int32Array {
  const a = inSize / outSize;
  let xo = a * 0.5;
  const out = new Int32Array(outSize);
  for (let x = 0; x < outSize; x++) {
    const xin = xo < 0 ? -1 : Math.trunc(xo);
    out[x] = Math.min(Math.max(xin, 0), inSize - 1);
    xo += a;
  }
  return out;
}

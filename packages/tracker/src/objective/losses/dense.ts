// The per-pixel terms (pixel3dmm-spec.md 6.2-6.4). `mean` is over every element of the tensor, masked or not:
// the denominators are B·S²·C with C the channel count of the tensor (2 for UV, 3 for normals, 1 for fg).
// Each function returns the weighted loss and writes (not adds) the gradient of that weighted loss with respect
// to the rendered image into `grad`, every pixel (0 where the term does not reach): a dense float32 [B,S,S,C]
// array or a StridedImage, so that the gradient can go straight into the renderer's interleaved backward
// buffer (see renderSceneBackward). Sums run in float64. Gradients are the error times a per-term constant
// (weight / count folded once: no division per pixel); the L1 ones and, with a power-of-two count, the L2 ones
// have the bits of dividing per pixel. Each frame's sum runs from 0 in pixel order and the frames' sums are added in
// frame order. The loops run natively (native/src/tracker/pixel_terms.cc, the frames of a batch in parallel), bit
// for bit the plain loops of dense-reference.ts.
import { strided, type StridedImage } from '../strided-image.js';
import { checkTyped, fail } from '@pixel3dmm/kernels';
import { pixelTerms } from '../pixel-terms-native.js';

/** The frames' float64 sums (each from 0 in pixel order) added in frame order: the reference's total. */
function inFrameOrder(sums: number[]): number {
  let total = 0;
  for (const s of sums) total += s;
  return total;
}

/** Per-frame arrays: B typed arrays of P·C elements each. */
function checkFrames<T extends Uint8Array | Float32Array>(
  where: string,
  B: number,
  P: number,
  frames: readonly T[],
  C: number,
  name: string,
  ctor: { new (n: number): T; name: string },
): void {
  if (!Array.isArray(frames) || frames.length < B) fail(where, name, `an array of ${B} per-frame ${ctor.name}s`, frames);
  for (let b = 0; b < B; b++) checkTyped(where, `${name}[${b}]`, frames[b], ctor, P * C);
}

/** A dense [N,C] Float32Array or a strided image of N pixels whose C channels fit its buffer. */
function checkStrided(where: string, name: string, image: Float32Array | StridedImage, C: number, N: number): StridedImage {
  const s = strided(image, C);
  if (!(s.data instanceof Float32Array)) fail(where, `${name}.data`, 'a Float32Array', s.data);
  if (!Number.isInteger(s.stride) || !Number.isInteger(s.offset) || s.stride < C || s.offset < 0 || s.offset + C > s.stride || (N - 1) * s.stride + s.offset + C > s.data.length)
    fail(where, name, `${N} pixels of ${C} channels (stride >= ${C}, 0 <= offset <= stride - ${C}, inside the buffer)`, `stride ${s.stride}, offset ${s.offset}, ${s.data.length} values`);
  return s;
}

export interface DenseImages {
  size: number;
  batch: number;
}

/**
 * 6.2 dense UV: mean_{b,h,w,c} ((UV - uv_images)·uv_mask)² ·100·weight (L1 without the ×100 when !l2).
 * `targets[b]` [S,S,2] and `masks[b]` [S,S] per frame; `rendered` [B,S,S,2].
 */
export function uvPixelLoss(
  d: DenseImages,
  targets: readonly Float32Array[],
  masks: readonly Uint8Array[],
  rendered: Float32Array,
  l2: boolean,
  weight: number,
  grad: Float32Array | StridedImage,
): number {
  const where = 'uvPixelLoss';
  const { size: S, batch: B } = d;
  const P = S * S, count = B * P * 2;
  checkFrames(where, B, P, targets, 2, 'targets', Float32Array);
  checkFrames(where, B, P, masks, 1, 'masks', Uint8Array);
  checkTyped(where, 'rendered', rendered, Float32Array, B * P * 2);
  const g = checkStrided(where, 'grad', grad, 2, B * P);
  const scale = l2 ? 100 * weight : weight;
  const k = l2 ? (-2 * scale) / count : -scale / count;
  const sums = pixelTerms().uvImageLoss({
    pixels: P,
    frames: B,
    targets: targets.slice(0, B),
    masks: masks.slice(0, B),
    rendered,
    l2,
    k,
    grad: g.data,
    gradStride: g.stride,
    gradOffset: g.offset,
  });
  return (scale * inFrameOrder(sums)) / count;
}

/** Pixel box [x0, x1] × [y0, y1] of one frame (inclusive; empty when x1 < x0). */
export interface PixelBox {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/**
 * The eye exclusion E = 1 - [dilate(eyes > 0) > 0] of the normal loss: the original blurs the eyes mask with a
 * k×k Gaussian (σ = k, reflect padding) and thresholds it at > 0. All Gaussian weights are positive, and with
 * reflect padding every reflected window position is also inside the clamped window, so this is exactly a k×k
 * box dilation over the clamped window. `eyes(i)` reads pixel i of one frame; out[i] = E. `search` (optional):
 * a box outside which every eyes value is known to be <= 0 (the render knows where the eye triangles are), so
 * that only it is scanned instead of the whole image.
 */
export function eyeExclusion(
  S: number,
  kernel: number,
  eyes: Float32Array,
  stride: number,
  offset: number,
  frameOffset: number,
  rowScratch: Int32Array,
  out: Uint8Array,
  search?: PixelBox,
): void {
  const r = Math.floor(kernel / 2);
  // Only the eyes' bounding box grown by r can be excluded: find it, set everything else to 1.
  let x0 = S, x1 = -1, y0 = S, y1 = -1;
  const sx0 = search ? Math.max(0, search.x0) : 0, sx1 = search ? Math.min(S - 1, search.x1) : S - 1;
  const sy0 = search ? Math.max(0, search.y0) : 0, sy1 = search ? Math.min(S - 1, search.y1) : S - 1;
  for (let y = sy0; y <= sy1; y++) {
    for (let x = sx0, i = (frameOffset + y * S + sx0) * stride + offset; x <= sx1; x++, i += stride) {
      if (eyes[i] > 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  out.fill(1);
  if (x1 < 0) return;
  const bx0 = Math.max(0, x0 - r), bx1 = Math.min(S - 1, x1 + r), by0 = Math.max(0, y0 - r), by1 = Math.min(S - 1, y1 + r);
  const isEye = (x: number, y: number) => (eyes[(frameOffset + y * S + x) * stride + offset] > 0 ? 1 : 0);
  // Horizontal pass over the eye rows: rowScratch[y*S + x] = eye pixels within columns [x-r, x+r] (clamped).
  for (let y = y0; y <= y1; y++) {
    let run = 0;
    // Start with columns [bx0-r-1, bx0+r-1]: the first step adds bx0+r and drops bx0-r-1.
    for (let x = Math.max(0, bx0 - r - 1); x < Math.min(S, bx0 + r); x++) run += isEye(x, y);
    for (let x = bx0; x <= bx1; x++) {
      if (x + r < S) run += isEye(x + r, y);
      if (x - r - 1 >= 0) run -= isEye(x - r - 1, y);
      rowScratch[y * S + x] = run;
    }
  }
  // Vertical pass: a pixel is excluded when any eye row within ±r has a count > 0 at its column.
  for (let x = bx0; x <= bx1; x++) {
    for (let y = by0; y <= by1; y++) {
      for (let yy = Math.max(y0, y - r); yy <= Math.min(y1, y + r); yy++) {
        if (rowScratch[yy * S + x] > 0) {
          out[y * S + x] = 0;
          break;
        }
      }
    }
  }
}

/**
 * 6.3 normals: Δ = N̂ - n_F, valid = mean_c |Δ_c| < δ_n, L = mean_{b,c,h,w} |Δ·valid·normal_mask·E| ·weight
 * (squared with l2). `exclusion` [B,S,S] is E of eyeExclusion; the rendered normals of pixel i are read at
 * rendered[i*stride + offset + c] (an interleaved render buffer); `grad` is [B,S,S,3] or strided.
 */
export function normalLoss(
  d: DenseImages,
  targets: readonly Float32Array[],
  masks: readonly Uint8Array[],
  exclusion: Uint8Array,
  rendered: Float32Array,
  stride: number,
  offset: number,
  deltaN: number,
  l2: boolean,
  weight: number,
  grad: Float32Array | StridedImage,
): number {
  const where = 'normalLoss';
  const { size: S, batch: B } = d;
  const P = S * S, count = B * P * 3;
  checkFrames(where, B, P, targets, 3, 'targets', Float32Array);
  checkFrames(where, B, P, masks, 1, 'masks', Uint8Array);
  checkTyped(where, 'exclusion', exclusion, Uint8Array, B * P);
  const r = checkStrided(where, 'rendered', { data: rendered, stride, offset }, 3, B * P);
  const g = checkStrided(where, 'grad', grad, 3, B * P);
  const k = l2 ? (-2 * weight) / count : -weight / count;
  const sums = pixelTerms().normalImageLoss({
    pixels: P,
    frames: B,
    targets: targets.slice(0, B),
    masks: masks.slice(0, B),
    exclusion,
    rendered: r.data,
    renderedStride: r.stride,
    renderedOffset: r.offset,
    deltaN,
    l2,
    k,
    grad: g.data,
    gradStride: g.stride,
    gradOffset: g.offset,
  });
  return (weight * inFrameOrder(sums)) / count;
}

/**
 * 6.4 one-sided silhouette: mean_{b,h,w} |valid_bg·(fg_mask - fg)| ·weight. `rendered` [B,S,S] (fg).
 */
export function silhouetteLoss(
  d: DenseImages,
  foreground: readonly Uint8Array[],
  validBackground: readonly Uint8Array[],
  rendered: Float32Array,
  weight: number,
  grad: Float32Array,
): number {
  const where = 'silhouetteLoss';
  const { size: S, batch: B } = d;
  const P = S * S, count = B * P;
  checkFrames(where, B, P, foreground, 1, 'foreground', Uint8Array);
  checkFrames(where, B, P, validBackground, 1, 'validBackground', Uint8Array);
  checkTyped(where, 'rendered', rendered, Float32Array, B * P);
  if (!(grad instanceof Float32Array) || grad.length < B * P) fail(where, 'grad', `a Float32Array of at least ${B * P} values`, grad);
  const sums = pixelTerms().silhouetteImageLoss({
    pixels: P,
    frames: B,
    foreground: foreground.slice(0, B),
    validBackground: validBackground.slice(0, B),
    rendered,
    k: -weight / count,
    grad: grad.subarray(0, B * P),
  });
  return (weight * inFrameOrder(sums)) / count;
}

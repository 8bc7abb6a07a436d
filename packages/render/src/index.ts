/**
 * @pixel3dmm/render - differentiable rasterizer ops (kernels-design.md section 2).
 *
 * This entry point documents the shared conventions once and exports the ops on the native kernels
 * (raster.ts: rasterize, rasterizeBackward, interpolate, interpolateBackward, and interpolateRasterizeBackward, the
 * last two backward passes in one; texture.ts; antialias.ts). Every op
 * takes a trailing `options` argument `{ device?: 'cpu' | 'cuda' | 'auto' }` (default 'cpu'; see device.ts):
 * the CUDA kernels give the CPU's results (rasterize forward bitwise). The independent float64 reference lives
 * in `@pixel3dmm/render/testing`.
 *
 * Layouts (kernels-design.md 2.3; float32 / int32, batch-major, channel-last, contiguous):
 * - `pos`      [B,V,4]  clip space (x, y, z, w), OpenGL convention: visible iff -w <= x,y,z <= w.
 * - `tri`      [T,3]    int32 vertex indices; `attrTri` [T,3] may differ (UV seams), same T.
 * - `rast`     [B,H,W,4] (u, v, z/w, triId+1), zeros for background; row 0 is the BOTTOM (y = -1).
 * - `attr`     [B,V,C] or [1,V,C] (broadcast over the batch).
 * - `interp`   [B,H,W,C].
 * - `gradRast` [B,H,W,2] (du, dv).  `gradPos` [B,V,4] (z channel always 0).
 * - `color` / AA output [B,H,W,C].
 * Index of pixel (b, py, px) is (b*H + py)*W + px.
 */

/** Channels of the `rast` buffer. */
export const RAST_CHANNELS = 4;
/** Channels of `pos` (clip-space x, y, z, w). */
export const POS_CHANNELS = 4;
/** Sub-pixel precision of the coverage test: vertices snap to 1/2^SUBPIXEL_LOG2 px (1/16 px). */
export const SUBPIXEL_LOG2 = 4;
/** Fixed-point coordinates are saturated to +-FIXED_SATURATE (units of 1/16 px). */
export const FIXED_SATURATE = 2 ** 28;
/** Near plane used for clipping: z = -w (OpenGL clip space). */
export const NEAR_PLANE = 'z=-w' as const;

/** Shape of a rasterizer problem (all sizes explicit, as the addon checks lengths). */
export interface RasterShape {
  /** Batch size (frames). */
  B: number;
  /** Vertex count of `pos`. */
  V: number;
  /** Triangle count. */
  T: number;
  /** Image height (rows; row 0 = bottom). */
  H: number;
  /** Image width (columns). */
  W: number;
}

/** Linear index of pixel (b, py, px) in a [B,H,W,...] buffer (multiply by the channel count). */
export function pixelIndex(b: number, py: number, px: number, H: number, W: number): number {
  return (b * H + py) * W + px;
}

/** NDC coordinates of the centre of pixel (px, py): ((2px+1)/W - 1, (2py+1)/H - 1). */
export function pixelCentreNdc(px: number, py: number, H: number, W: number): [number, number] {
  return [(2 * px + 1) / W - 1, (2 * py + 1) / H - 1];
}

export {
  MAX_IMAGE_SIDE,
  MAX_TRIANGLES,
  interpolate,
  interpolateBackward,
  interpolateRasterizeBackward,
  rasterize,
  rasterizeBackward,
  type AttrShape,
  type InterpolateGradients,
  type InterpolateRasterizeGradients,
  type RastShape,
} from './raster.js';
export {
  MAX_TEXTURE_SIDE,
  texture,
  textureBackward,
  type TextureGradients,
  type TextureShape,
  type TextureWrapMode,
} from './texture.js';
export * from './camera.js';
export {
  antialias,
  antialiasBackward,
  antialiasTopology,
  antialiasWorkBuffer,
  type AntialiasGradients,
  type AntialiasOptions,
} from './antialias.js';
export { renderDevice, type RenderOptions } from './device.js';

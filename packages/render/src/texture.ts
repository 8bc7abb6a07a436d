// Bilinear texture sampling (forward, backward to uv and optionally to the texture) on the native kernels (CPU:
// native/src/raster/texture_cpu.cc; CUDA with `{ device: 'cuda' | 'auto' }`: cuda/raster_cuda.cu, see
// device.ts), with every size validated here before any native code runs.
//
// Convention (nvdiffrast's texel centres; see referenceTexture in ./testing/reference-raster.ts): tex is
// [height, width, channels]; uv = (0,0) is a corner of the texture and (1,1) the opposite one; u runs along the
// width (column), v along the height (row, v = 0 at row 0); texel (i, j) is centred at ((i+0.5)/W, (j+0.5)/H).
// Out-of-range texel indices wrap (repeat) or clamp to the edge. A non-finite uv samples 0 (zero gradients).
// The per-pixel math runs in float64, so results equal the float64 reference up to float32 rounding.
//
// Determinism: every output is bitwise identical for any thread count; the texture gradient is reduced
// without atomics (each texel sums its contributions in ascending pixel order).
import { checkInteger, checkTyped, fail, nativeAddon, type Device } from '@pixel3dmm/kernels';
import { renderDevice, type RenderOptions } from './device.js';

interface TextureNative {
  texture(args: Record<string, unknown>): void;
  textureBackward(args: Record<string, unknown>): void;
}

function native(): TextureNative {
  return nativeAddon() as unknown as TextureNative;
}

/** Largest texture side in texels. */
export const MAX_TEXTURE_SIDE = 2 ** 16;
const MAX_ELEMENTS = 2 ** 31 - 1;

/** Out-of-range texel addressing. */
export type TextureWrapMode = 'wrap' | 'clamp';

/** Shape of a texture [height, width, channels]. */
export interface TextureShape {
  height: number;
  width: number;
  channels: number;
}

interface Checked {
  tex: Float32Array;
  shape: TextureShape;
  wrap: boolean;
  uv: Float32Array;
  count: number;
}

/** The fields that texture and textureBackward add to the checked ones (each call sets its own). */
interface TextureCallFields {
  device: Device;
  out?: Float32Array;
  gradOut?: Float32Array;
  gradUv?: Float32Array;
  gradTex?: Float32Array;
  accumulateUv?: boolean;
}

/** The native arguments of a texture call: one literal with every field (see nativeInterpArgs in raster.ts). */
function nativeTextureArgs(c: Checked, f: TextureCallFields) {
  return {
    tex: c.tex,
    texHeight: c.shape.height,
    texWidth: c.shape.width,
    channels: c.shape.channels,
    wrap: c.wrap ? 1 : 0,
    uv: c.uv,
    out: f.out,
    gradOut: f.gradOut,
    gradUv: f.gradUv,
    gradTex: f.gradTex,
    accumulateUv: f.accumulateUv,
    device: f.device,
  };
}

function checkArgs(where: string, tex: unknown, s: TextureShape, uv: unknown, mode: unknown): Checked {
  if (typeof s !== 'object' || s === null) fail(where, 'the texture shape', 'an object {height, width, channels}', s);
  checkInteger(where, 'texture height', s.height, 1, MAX_TEXTURE_SIDE);
  checkInteger(where, 'texture width', s.width, 1, MAX_TEXTURE_SIDE);
  checkInteger(where, 'texture channels', s.channels, 1, 2 ** 16);
  const texLen = s.height * s.width * s.channels;
  if (texLen > MAX_ELEMENTS) fail(where, 'tex', `at most ${MAX_ELEMENTS} elements`, texLen);
  const t = checkTyped(where, 'tex', tex, Float32Array, texLen);
  if (mode !== 'wrap' && mode !== 'clamp') fail(where, 'mode', "'wrap' or 'clamp'", mode);
  if (!(uv instanceof Float32Array) || uv.length % 2 !== 0) fail(where, 'uv', 'a Float32Array of length 2*N', uv);
  const count = uv.length / 2;
  if (count * s.channels > MAX_ELEMENTS) fail(where, 'the sampled image', `at most ${MAX_ELEMENTS} elements`, count * s.channels);
  return { tex: t, shape: s, wrap: mode === 'wrap', uv, count };
}

/**
 * Bilinear lookup: tex [height, width, channels], uv [N,2] (any leading shape, e.g. [B,H,W,2]) -> [N, channels].
 * `out` (optional) is filled and returned. `options.device`: 'cpu' (default), 'cuda' or 'auto' (see device.ts).
 */
export function texture(
  tex: Float32Array,
  texShape: TextureShape,
  uv: Float32Array,
  mode: TextureWrapMode = 'wrap',
  out?: Float32Array,
  options?: RenderOptions,
): Float32Array {
  const where = 'texture';
  const c = checkArgs(where, tex, texShape, uv, mode);
  const o = out === undefined ? new Float32Array(c.count * texShape.channels) : checkTyped(where, 'out', out, Float32Array, c.count * texShape.channels);
  const device = renderDevice(where, options);
  native().texture(nativeTextureArgs(c, { out: o, device }));
  return o;
}

export interface TextureGradients {
  /** [N,2] (du, dv). Null when not requested. */
  gradUv: Float32Array | null;
  /** [height, width, channels]. Null when not requested. */
  gradTex: Float32Array | null;
}

/**
 * Backward of texture for gradOut [N, channels]. `want` selects the outputs: uv by default, the texture
 * gradient only when `want.tex` is true (constant textures such as masks need none). `out` (optional) supplies
 * the output buffers (every element is overwritten) for reuse across calls; with `out.accumulateUv` the uv
 * gradient is added to `out.gradUv` instead (one float32 addition per element). `options.device` as for texture.
 */
export function textureBackward(
  tex: Float32Array,
  texShape: TextureShape,
  uv: Float32Array,
  gradOut: Float32Array,
  mode: TextureWrapMode = 'wrap',
  want: { uv?: boolean; tex?: boolean } = {},
  out: { gradUv?: Float32Array; gradTex?: Float32Array; accumulateUv?: boolean } = {},
  options?: RenderOptions,
): TextureGradients {
  const where = 'textureBackward';
  const c = checkArgs(where, tex, texShape, uv, mode);
  checkTyped(where, 'gradOut', gradOut, Float32Array, c.count * texShape.channels);
  if (typeof want !== 'object' || want === null) fail(where, 'want', 'an object {uv?, tex?}', want);
  if (typeof out !== 'object' || out === null) fail(where, 'out', 'an object {gradUv?, gradTex?}', out);
  const buffer = (name: string, b: Float32Array | undefined, n: number) =>
    b === undefined ? new Float32Array(n) : checkTyped(where, name, b, Float32Array, n);
  const gradUv = want.uv === false ? null : buffer('out.gradUv', out.gradUv, c.count * 2);
  const gradTex = want.tex === true ? buffer('out.gradTex', out.gradTex, c.tex.length) : null;
  const accumulateUv = out.accumulateUv === true;
  if (accumulateUv && (out.gradUv === undefined || want.uv === false)) {
    fail(where, 'out.gradUv', 'a Float32Array to accumulate into (out.accumulateUv)', out.gradUv);
  }
  const device = renderDevice(where, options);
  if (gradUv || gradTex) {
    native().textureBackward(
      nativeTextureArgs(c, { gradOut, gradUv: gradUv ?? undefined, gradTex: gradTex ?? undefined, accumulateUv, device }),
    );
  }
  return { gradUv, gradTex };
}

// Rasterize and interpolate (forward and backward) on the native kernels (CPU: native/src/raster; CUDA with
// `{ device: 'cuda' | 'auto' }`: cuda/raster_cuda.cu, see device.ts), with every size and index validated here
// before any native code runs. Layouts: see index.ts (kernels-design.md 2.3).
//
// Determinism: every output is bitwise identical for any thread count (setThreads from @pixel3dmm/kernels),
// and a frame rendered in a batch is bitwise identical to the frame rendered alone.
import { checkIndices, checkInteger, checkTyped, fail, nativeAddon, type Device } from '@pixel3dmm/kernels';
import { renderDevice, type RenderOptions } from './device.js';

/** The rasterizer entry points of the addon (native/src/addon/addon.cc). */
interface RasterNative {
  rasterize(args: Record<string, unknown>): void;
  rasterizeBackward(args: Record<string, unknown>): void;
  interpolate(args: Record<string, unknown>): void;
  interpolateBackward(args: Record<string, unknown>): void;
  interpolateRasterizeBackward(args: Record<string, unknown>): void;
}

function native(): RasterNative {
  return nativeAddon() as unknown as RasterNative;
}

/** Largest triangle count: ids are stored as float32 triId + 1, exact up to 2^24. */
export const MAX_TRIANGLES = 2 ** 24 - 1;
/** Largest image side in pixels. */
export const MAX_IMAGE_SIDE = 2 ** 15;
const MAX_BATCH = 2 ** 20;
const MAX_VERTICES = 2 ** 28;
const MAX_ELEMENTS = 2 ** 31 - 1;

/** Shape of a rast buffer [batch, height, width, 4]. */
export interface RastShape {
  batch: number;
  height: number;
  width: number;
}

/** Shape of an attribute buffer [batch, vertices, channels]; batch is 1 (broadcast over frames) or the rast batch. */
export interface AttrShape {
  batch: number;
  vertices: number;
  channels: number;
}

function checkElements(where: string, name: string, count: number): void {
  if (count > MAX_ELEMENTS) fail(where, name, `at most ${MAX_ELEMENTS} elements`, count);
}

function checkImage(where: string, s: RastShape): void {
  if (typeof s !== 'object' || s === null) fail(where, 'the rast shape', 'an object {batch, height, width}', s);
  checkInteger(where, 'batch', s.batch, 1, MAX_BATCH);
  checkInteger(where, 'height', s.height, 1, MAX_IMAGE_SIDE);
  checkInteger(where, 'width', s.width, 1, MAX_IMAGE_SIDE);
  checkElements(where, 'rast', s.batch * s.height * s.width * 4);
}

/**
 * The shape of a triangle list [T,3]. Returns T. The per-index range check (every index in [0, numVertices))
 * is done by the native kernel before any work; when the kernel rejects its input, checkTriangleIndices /
 * checkRast rerun here (see callChecked) to report the first bad entry with a precise message.
 */
function checkTriangles(where: string, name: string, tri: unknown): number {
  if (!(tri instanceof Int32Array) || tri.length % 3 !== 0) fail(where, name, 'an Int32Array of length 3*T', tri);
  const T = tri.length / 3;
  if (T > MAX_TRIANGLES) fail(where, name, `at most ${MAX_TRIANGLES} triangles`, T);
  return T;
}

function checkTriangleIndices(where: string, name: string, tri: Int32Array, numVertices: number): void {
  checkIndices(where, name, tri, numVertices);
}

/**
 * Runs a native call whose kernel validates the indices (triangle indices, rast triangle ids) itself before using
 * them (an O(pixels) scan in JS costs as much as the kernel). If the call throws, `recheck` repeats the
 * validation in JS so that a bad input is reported with the same message as before; other errors are rethrown.
 */
function callChecked(call: () => void, recheck: () => void): void {
  try {
    call();
  } catch (e) {
    recheck();
    throw e;
  }
}

/** The triangle ids of rast (channel 3) must be 0 (background) or an integer in [1, T]. */
function checkRastIds(where: string, r: Float32Array, T: number): void {
  for (let i = 3; i < r.length; i += 4) {
    const id = r[i];
    if (id !== 0 && !(Number.isInteger(id) && id >= 1 && id <= T)) {
      fail(where, `the triangle id of rast pixel ${(i - 3) / 4}`, `0 or an integer in [1, ${T}]`, id);
    }
  }
}

function output(where: string, name: string, out: unknown, length: number): Float32Array {
  if (out === undefined) return new Float32Array(length);
  return checkTyped(where, name, out, Float32Array, length);
}

/**
 * Forward rasterize. pos [batch, numVertices, 4] clip space, tri [T,3] -> rast [batch, height, width, 4] =
 * (u, v, z/w, triId+1), zeros for background, row 0 = bottom. `out` (optional) is filled and returned.
 * `options.device`: 'cpu' (default), 'cuda' or 'auto' (see device.ts); CUDA gives the CPU's bits.
 */
export function rasterize(
  pos: Float32Array,
  numVertices: number,
  tri: Int32Array,
  batch: number,
  height: number,
  width: number,
  out?: Float32Array,
  options?: RenderOptions,
): Float32Array {
  const where = 'rasterize';
  checkInteger(where, 'numVertices', numVertices, 0, MAX_VERTICES);
  checkImage(where, { batch, height, width });
  checkElements(where, 'pos', batch * numVertices * 4);
  checkTyped(where, 'pos', pos, Float32Array, batch * numVertices * 4);
  checkTriangles(where, 'tri', tri);
  const rast = output(where, 'out', out, batch * height * width * 4);
  const device = renderDevice(where, options);
  callChecked(
    () => native().rasterize({ pos, numVertices, tri, batch, height, width, rast, device }),
    () => checkTriangleIndices(where, 'tri', tri, numVertices),
  );
  return rast;
}

/**
 * Backward of rasterize: gradRast [batch, height, width, 2] (du, dv) -> gradPos [batch, numVertices, 4]
 * (x, y, w; z = 0). rast is the forward output for the same pos / tri (its triangle ids choose the pixels).
 * `out` (optional) is filled and returned; with `options.accumulate` the gradient is added to `out` instead
 * (one float32 addition per element: the same bits as adding the returned gradient to it afterwards).
 * `options.device` as for rasterize.
 */
export function rasterizeBackward(
  pos: Float32Array,
  numVertices: number,
  tri: Int32Array,
  batch: number,
  height: number,
  width: number,
  rast: Float32Array,
  gradRast: Float32Array,
  out?: Float32Array,
  options: { accumulate?: boolean } & RenderOptions = {},
): Float32Array {
  const where = 'rasterizeBackward';
  if (typeof options !== 'object' || options === null) fail(where, 'options', 'an object {accumulate?}', options);
  const accumulate = options.accumulate === true;
  if (accumulate && out === undefined) fail(where, 'out', 'a Float32Array to accumulate into (options.accumulate)', out);
  checkInteger(where, 'numVertices', numVertices, 0, MAX_VERTICES);
  const shape = { batch, height, width };
  checkImage(where, shape);
  checkElements(where, 'pos', batch * numVertices * 4);
  checkTyped(where, 'pos', pos, Float32Array, batch * numVertices * 4);
  const T = checkTriangles(where, 'tri', tri);
  checkTyped(where, 'rast', rast, Float32Array, batch * height * width * 4);
  checkTyped(where, 'gradRast', gradRast, Float32Array, batch * height * width * 2);
  const gradPos = output(where, 'out', out, batch * numVertices * 4);
  const device = renderDevice(where, options);
  callChecked(
    () => native().rasterizeBackward({ pos, numVertices, tri, batch, height, width, rast, gradRast, gradPos, accumulate, device }),
    () => {
      checkTriangleIndices(where, 'tri', tri, numVertices);
      checkRastIds(where, rast, T);
    },
  );
  return gradPos;
}

function checkInterpArgs(
  where: string,
  attr: unknown,
  a: AttrShape,
  rast: unknown,
  s: RastShape,
  attrTri: unknown,
): { attr: Float32Array; rast: Float32Array; attrTri: Int32Array; recheck: () => void } {
  checkImage(where, s);
  if (typeof a !== 'object' || a === null) fail(where, 'the attr shape', 'an object {batch, vertices, channels}', a);
  checkInteger(where, 'attr batch', a.batch, 1, MAX_BATCH);
  if (a.batch !== 1 && a.batch !== s.batch) fail(where, 'attr batch', `1 or the rast batch ${s.batch}`, a.batch);
  checkInteger(where, 'attr vertices', a.vertices, 0, MAX_VERTICES);
  checkInteger(where, 'attr channels', a.channels, 1, 2 ** 16);
  checkElements(where, 'attr', a.batch * a.vertices * a.channels);
  checkElements(where, 'the interpolated image', s.batch * s.height * s.width * a.channels);
  const at = checkTyped(where, 'attr', attr, Float32Array, a.batch * a.vertices * a.channels);
  const T = checkTriangles(where, 'attrTri', attrTri);
  const r = checkTyped(where, 'rast', rast, Float32Array, s.batch * s.height * s.width * 4);
  const at3 = attrTri as Int32Array;
  const recheck = () => {
    checkTriangleIndices(where, 'attrTri', at3, a.vertices);
    checkRastIds(where, r, T);
  };
  return { attr: at, rast: r, attrTri: at3, recheck };
}

/** The fields that the interpolate calls add to nativeInterpArgs' common ones (each call sets its own). */
interface InterpCallFields {
  device: Device;
  out?: Float32Array;
  gradOut?: Float32Array;
  gradAttr?: Float32Array;
  gradRast?: Float32Array;
  accumulateRast?: boolean;
  pos?: Float32Array;
  numVertices?: number;
  tri?: Int32Array;
  gradPos?: Float32Array;
  accumulatePos?: boolean;
  gradRastIn?: Float32Array;
}

/**
 * The native arguments of an interpolate call: one object literal with every field of any of the calls (those a
 * call does not use stay undefined, which the binding reads as absent). Not a spread of the common fields plus the
 * call's own: `{ ...common, out }` sent V8 down its slow path on every call (map migrations and descriptor copies in
 * a profile), 2-8 us per call with the binding's own work (antialias 5.8 -> 3.2 us, interpolateRasterizeBackward
 * 11.3 -> 3.2 us on a tiny image). texture.ts and antialias.ts build theirs likewise (nativeTextureArgs,
 * nativeAntialiasArgs).
 */
function nativeInterpArgs(attr: Float32Array, a: AttrShape, rast: Float32Array, s: RastShape, attrTri: Int32Array, f: InterpCallFields) {
  return {
    attr,
    attrBatch: a.batch,
    attrVertices: a.vertices,
    channels: a.channels,
    rast,
    batch: s.batch,
    height: s.height,
    width: s.width,
    attrTri,
    out: f.out,
    gradOut: f.gradOut,
    gradAttr: f.gradAttr,
    gradRast: f.gradRast,
    accumulateRast: f.accumulateRast,
    pos: f.pos,
    numVertices: f.numVertices,
    tri: f.tri,
    gradPos: f.gradPos,
    accumulatePos: f.accumulatePos,
    gradRastIn: f.gradRastIn,
    device: f.device,
  };
}

/**
 * Interpolate: attr [a.batch, a.vertices, a.channels] (a.batch = 1 broadcasts over frames), rast [B,H,W,4]
 * from rasterize, attrTri [T,3] indexing attr (T = the triangle count given to rasterize) ->
 * [B,H,W,C] = u*attr[i0] + v*attr[i1] + (1-u-v)*attr[i2]; zeros for background. `options.device` as for
 * rasterize. A rast triangle id that is not 0 or an integer in [1, T] is refused (the CPU kernel checks each id in
 * its own pass, so `out`, when given, may then hold a partial result; nothing else is written).
 */
export function interpolate(
  attr: Float32Array,
  attrShape: AttrShape,
  rast: Float32Array,
  rastShape: RastShape,
  attrTri: Int32Array,
  out?: Float32Array,
  options?: RenderOptions,
): Float32Array {
  const where = 'interpolate';
  const c = checkInterpArgs(where, attr, attrShape, rast, rastShape, attrTri);
  const o = output(where, 'out', out, rastShape.batch * rastShape.height * rastShape.width * attrShape.channels);
  const device = renderDevice(where, options);
  callChecked(
    () => native().interpolate(nativeInterpArgs(c.attr, attrShape, c.rast, rastShape, c.attrTri, { out: o, device })),
    c.recheck,
  );
  return o;
}

export interface InterpolateGradients {
  /** [a.batch, a.vertices, a.channels]; summed over the frames when a.batch = 1. Null when not requested. */
  gradAttr: Float32Array | null;
  /** [B,H,W,2] (du, dv), to be added to the other gradients of rast before rasterizeBackward. Null when not requested. */
  gradRast: Float32Array | null;
}

/**
 * Backward of interpolate for gradOut [B,H,W,C]. `want` selects the outputs (both by default); skip the
 * attribute gradient for constant attributes (UVs, masks). `out` (optional) supplies the output buffers (every
 * element is overwritten), so that an optimisation loop can reuse them instead of allocating per call; with
 * `out.accumulateRast` the rast gradient is added to `out.gradRast` instead (one float32 addition per element, the
 * same bits as summing the gradients of several interpolate calls afterwards). `options.device` as for rasterize.
 */
export function interpolateBackward(
  attr: Float32Array,
  attrShape: AttrShape,
  rast: Float32Array,
  rastShape: RastShape,
  attrTri: Int32Array,
  gradOut: Float32Array,
  want: { attr?: boolean; rast?: boolean } = {},
  out: { gradAttr?: Float32Array; gradRast?: Float32Array; accumulateRast?: boolean } = {},
  options?: RenderOptions,
): InterpolateGradients {
  const where = 'interpolateBackward';
  const c = checkInterpArgs(where, attr, attrShape, rast, rastShape, attrTri);
  const pixels = rastShape.batch * rastShape.height * rastShape.width;
  checkTyped(where, 'gradOut', gradOut, Float32Array, pixels * attrShape.channels);
  if (typeof out !== 'object' || out === null) fail(where, 'out', 'an object {gradAttr?, gradRast?}', out);
  const attrLen = attrShape.batch * attrShape.vertices * attrShape.channels;
  const gradAttr = want.attr === false ? null : output(where, 'out.gradAttr', out.gradAttr, attrLen);
  const gradRast = want.rast === false ? null : output(where, 'out.gradRast', out.gradRast, pixels * 2);
  const accumulateRast = out.accumulateRast === true;
  if (accumulateRast && (out.gradRast === undefined || want.rast === false)) {
    fail(where, 'out.gradRast', 'a Float32Array to accumulate into (out.accumulateRast)', out.gradRast);
  }
  const device = renderDevice(where, options);
  if (gradAttr || gradRast) {
    callChecked(
      () =>
        native().interpolateBackward(
          nativeInterpArgs(c.attr, attrShape, c.rast, rastShape, c.attrTri, {
            gradOut,
            gradAttr: gradAttr ?? undefined,
            gradRast: gradRast ?? undefined,
            accumulateRast,
            device,
          }),
        ),
      c.recheck,
    );
  }
  return { gradAttr, gradRast };
}

export interface InterpolateRasterizeGradients {
  /** [a.batch, a.vertices, a.channels], as interpolateBackward gives it; null when not requested. */
  gradAttr: Float32Array | null;
  /** [B, numVertices, 4] on the clip-space positions (x, y, w; z = 0), as rasterizeBackward gives it. */
  gradPos: Float32Array;
}

/**
 * interpolateBackward followed by rasterizeBackward of its rast gradient, in one native pass: the same bits as
 * `interpolateBackward(attr, ..., gradOut, { attr, rast: true })` and then `rasterizeBackward(pos, numVertices,
 * tri, B, H, W, rast, gradRast, out.gradPos, { accumulate: out.accumulatePos })`, without the [B,H,W,2] rast
 * gradient ever being stored and with one scan of the pixels instead of two (what an optimisation loop that
 * renders an interpolated attribute needs every iteration). pos [B, numVertices, 4] and tri [T,3] are those given
 * to rasterize; attrTri has the same T. `inputs.attr` (default true) selects the attribute gradient;
 * `inputs.gradRast` [B,H,W,2] is the rast gradient of other ops on the same rast (another interpolate's, say), to
 * which this one is added as interpolateBackward's `out.accumulateRast` adds it. `out` supplies the output buffers,
 * and with `out.accumulatePos` the position gradient is added to `out.gradPos` (one float32 addition per element).
 * `options.device` as for rasterize.
 */
export function interpolateRasterizeBackward(
  attr: Float32Array,
  attrShape: AttrShape,
  rast: Float32Array,
  rastShape: RastShape,
  attrTri: Int32Array,
  gradOut: Float32Array,
  pos: Float32Array,
  numVertices: number,
  tri: Int32Array,
  inputs: { attr?: boolean; gradRast?: Float32Array } = {},
  out: { gradAttr?: Float32Array; gradPos?: Float32Array; accumulatePos?: boolean } = {},
  options?: RenderOptions,
): InterpolateRasterizeGradients {
  const where = 'interpolateRasterizeBackward';
  const c = checkInterpArgs(where, attr, attrShape, rast, rastShape, attrTri);
  const pixels = rastShape.batch * rastShape.height * rastShape.width;
  checkTyped(where, 'gradOut', gradOut, Float32Array, pixels * attrShape.channels);
  checkInteger(where, 'numVertices', numVertices, 0, MAX_VERTICES);
  checkElements(where, 'pos', rastShape.batch * numVertices * 4);
  checkTyped(where, 'pos', pos, Float32Array, rastShape.batch * numVertices * 4);
  const T = checkTriangles(where, 'tri', tri);
  if (T !== c.attrTri.length / 3) fail(where, 'tri', `${c.attrTri.length / 3} triangles, as attrTri`, T);
  if (typeof inputs !== 'object' || inputs === null) fail(where, 'inputs', 'an object {attr?, gradRast?}', inputs);
  if (typeof out !== 'object' || out === null) fail(where, 'out', 'an object {gradAttr?, gradPos?, accumulatePos?}', out);
  const gradRastIn = inputs.gradRast === undefined ? undefined : checkTyped(where, 'inputs.gradRast', inputs.gradRast, Float32Array, pixels * 2);
  const gradAttr = inputs.attr === false ? null : output(where, 'out.gradAttr', out.gradAttr, attrShape.batch * attrShape.vertices * attrShape.channels);
  const accumulatePos = out.accumulatePos === true;
  if (accumulatePos && out.gradPos === undefined) fail(where, 'out.gradPos', 'a Float32Array to accumulate into (out.accumulatePos)', out.gradPos);
  const gradPos = output(where, 'out.gradPos', out.gradPos, rastShape.batch * numVertices * 4);
  const device = renderDevice(where, options);
  callChecked(
    () =>
      native().interpolateRasterizeBackward(
        nativeInterpArgs(c.attr, attrShape, c.rast, rastShape, c.attrTri, {
          gradOut,
          gradAttr: gradAttr ?? undefined,
          pos,
          numVertices,
          tri,
          gradPos,
          accumulatePos,
          gradRastIn,
          device,
        }),
      ),
    () => {
      c.recheck();
      checkTriangleIndices(where, 'tri', tri, numVertices);
    },
  );
  return { gradAttr, gradPos };
}

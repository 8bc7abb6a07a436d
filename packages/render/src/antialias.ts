// Analytic silhouette antialiasing (nvdiffrast semantics; forward, backward to colour and to clip-space
// positions) on the native kernels (CPU: native/src/raster/antialias_cpu.cc; CUDA with
// `{ device: 'cuda' | 'auto' }`: cuda/raster_cuda.cu, see device.ts). Semantics: referenceAntialias in
// ./testing/reference-raster.ts (kernels-design.md 2.1 "Antialias", 2.6).
//
// The forward pass is a gather (each pixel pulls the corrections of its 4 incident pixel pairs), an exact
// 45-degree edge is used by horizontal pairs only, and position gradients are reduced per vertex in a fixed
// order, so every output is bitwise identical for any thread count (setThreads) and a frame in a batch equals
// the frame alone.
import { checkIndices, checkInteger, checkTyped, fail, nativeAddon, type Device } from '@pixel3dmm/kernels';
import { renderDevice, type RenderOptions } from './device.js';
import type { RastShape } from './raster.js';

interface AntialiasNative {
  antialias(args: Record<string, unknown>): void;
  antialiasBackward(args: Record<string, unknown>): void;
  antialiasWorkSize(args: { batch: number; height: number; width: number }): number;
}

function native(): AntialiasNative {
  return nativeAddon() as unknown as AntialiasNative;
}

const MAX_TRIANGLES = 2 ** 24 - 1;
const MAX_VERTICES = 2 ** 28;
const MAX_BATCH = 2 ** 20;
const MAX_SIDE = 2 ** 15;
const MAX_ELEMENTS = 2 ** 31 - 1;

/**
 * The shape of a triangle list [T,3]; returns T. With `indices`, also every index in [0, numVertices) (here, in
 * JS); the antialias ops leave that O(T) scan to the kernel, which checks tri before any work, and repeat it here
 * only to report a rejected input with the precise message (see callChecked).
 */
function checkTriangles(where: string, tri: unknown, numVertices: number, indices = true): number {
  if (!(tri instanceof Int32Array) || tri.length % 3 !== 0) fail(where, 'tri', 'an Int32Array of length 3*T', tri);
  const T = tri.length / 3;
  if (T > MAX_TRIANGLES) fail(where, 'tri', `at most ${MAX_TRIANGLES} triangles`, T);
  if (indices) checkIndices(where, 'tri', tri, numVertices);
  return T;
}

/**
 * Antialias topology of a triangle list [T,3] over numVertices vertices: opp [T,3], where opp[t*3+k] is the
 * vertex opposite edge k = (tri[t][k], tri[t][(k+1)%3]) in the other triangle sharing that edge, or -1 for a
 * boundary edge. Non-manifold edges (shared by more than 2 triangles) count as boundary; degenerate triangles
 * (repeated indices) get -1 and are nobody's neighbour. Build it once per topology and pass it to antialias.
 */
export function antialiasTopology(tri: Int32Array, numVertices: number): Int32Array {
  const where = 'antialiasTopology';
  checkInteger(where, 'numVertices', numVertices, 0, MAX_VERTICES);
  const T = checkTriangles(where, tri, numVertices);
  const opp = new Int32Array(3 * T).fill(-1);
  // Undirected edges grouped by their lower vertex (CSR), each entry = the corner t*3+k owning the edge.
  const start = new Int32Array(numVertices + 1);
  const good = (t: number): boolean =>
    tri[3 * t] !== tri[3 * t + 1] && tri[3 * t + 1] !== tri[3 * t + 2] && tri[3 * t] !== tri[3 * t + 2];
  for (let t = 0; t < T; t++) {
    if (!good(t)) continue;
    for (let k = 0; k < 3; k++) start[Math.min(tri[3 * t + k], tri[3 * t + ((k + 1) % 3)]) + 1]++;
  }
  for (let v = 0; v < numVertices; v++) start[v + 1] += start[v];
  const fill = start.slice(0, numVertices);
  const corner = new Int32Array(start[numVertices]);
  for (let t = 0; t < T; t++) {
    if (!good(t)) continue;
    for (let k = 0; k < 3; k++) corner[fill[Math.min(tri[3 * t + k], tri[3 * t + ((k + 1) % 3)])]++] = 3 * t + k;
  }
  const hiOf = (ck: number): number => Math.max(tri[ck], tri[ck - (ck % 3) + (((ck % 3) + 1) % 3)]);
  const thirdOf = (ck: number): number => tri[ck - (ck % 3) + (((ck % 3) + 2) % 3)];
  for (let v = 0; v < numVertices; v++) {
    for (let i = start[v]; i < start[v + 1]; i++) {
      const hi = hiOf(corner[i]);
      let count = 0;
      let other = -1;
      for (let j = start[v]; j < start[v + 1]; j++) {
        if (hiOf(corner[j]) !== hi) continue;
        count++;
        if (j !== i) other = corner[j];
      }
      if (count === 2) opp[corner[i]] = thirdOf(other);
    }
  }
  return opp;
}

interface Checked {
  color: Float32Array;
  channels: number;
  rast: Float32Array;
  shape: RastShape;
  pos: Float32Array;
  numVertices: number;
  tri: Int32Array;
  opp: Int32Array;
  pixels: number;
  recheck: () => void;
}

/** The fields that antialias and antialiasBackward add to the checked ones (each call sets its own). */
interface AntialiasCallFields {
  device: Device;
  work: Int32Array | undefined;
  out?: Float32Array;
  gradOut?: Float32Array;
  gradColor?: Float32Array;
  gradPos?: Float32Array;
}

/** The native arguments of an antialias call: one literal with every field (see nativeInterpArgs in raster.ts). */
function nativeAntialiasArgs(c: Checked, f: AntialiasCallFields) {
  return {
    color: c.color,
    channels: c.channels,
    rast: c.rast,
    batch: c.shape.batch,
    height: c.shape.height,
    width: c.shape.width,
    pos: c.pos,
    numVertices: c.numVertices,
    tri: c.tri,
    opp: c.opp,
    out: f.out,
    gradOut: f.gradOut,
    gradColor: f.gradColor,
    gradPos: f.gradPos,
    device: f.device,
    work: f.work,
  };
}

function checkArgs(
  where: string,
  color: unknown,
  channels: number,
  rast: unknown,
  s: RastShape,
  pos: unknown,
  numVertices: number,
  tri: unknown,
  opp: Int32Array | undefined,
): Checked {
  if (typeof s !== 'object' || s === null) fail(where, 'the rast shape', 'an object {batch, height, width}', s);
  checkInteger(where, 'batch', s.batch, 1, MAX_BATCH);
  checkInteger(where, 'height', s.height, 1, MAX_SIDE);
  checkInteger(where, 'width', s.width, 1, MAX_SIDE);
  checkInteger(where, 'channels', channels, 1, 2 ** 16);
  checkInteger(where, 'numVertices', numVertices, 0, MAX_VERTICES);
  const pixels = s.batch * s.height * s.width;
  if (pixels * Math.max(4, channels) > MAX_ELEMENTS) fail(where, 'the image', `at most ${MAX_ELEMENTS} elements`, pixels * channels);
  if (s.batch * numVertices * 4 > MAX_ELEMENTS) fail(where, 'pos', `at most ${MAX_ELEMENTS} elements`, s.batch * numVertices * 4);
  const col = checkTyped(where, 'color', color, Float32Array, pixels * channels);
  const r = checkTyped(where, 'rast', rast, Float32Array, pixels * 4);
  const p = checkTyped(where, 'pos', pos, Float32Array, s.batch * numVertices * 4);
  const T = checkTriangles(where, tri, numVertices, false);
  const t3 = tri as Int32Array;
  const o = opp === undefined ? antialiasTopology(t3, numVertices) : checkTyped(where, 'opp', opp, Int32Array, 3 * T);
  const recheck = () => {
    checkIndices(where, 'tri', t3, numVertices);
    for (let i = 0; i < o.length; i++) {
      if (o[i] < -1 || o[i] >= numVertices) fail(where, `opp[${i}]`, `-1 or an index in [0, ${numVertices})`, o[i]);
    }
    for (let i = 3; i < r.length; i += 4) {
      const id = r[i];
      if (id !== 0 && !(Number.isInteger(id) && id >= 1 && id <= T)) {
        fail(where, `the triangle id of rast pixel ${(i - 3) / 4}`, `0 or an integer in [1, ${T}]`, id);
      }
    }
  };
  return { color: col, channels, rast: r, shape: s, pos: p, numVertices, tri: t3, opp: o, pixels, recheck };
}

/** Options of antialias and antialiasBackward. */
export interface AntialiasOptions extends RenderOptions {
  /**
   * A work buffer from antialiasWorkBuffer(rastShape) (CPU; the CUDA path ignores it). antialias fills it with
   * its pixel-pair records (the silhouette crossings); antialiasBackward given the buffer filled by the antialias
   * call with the same rast, pos, tri and opp (the colour may differ) uses them instead of repeating that
   * analysis: identical results, several times faster. The backward checks the buffer's sizes and every record's
   * indices before using it (a buffer never filled, or filled for other sizes, is rejected), but cannot detect a
   * buffer filled from other positions or rasterization: passing one gives wrong gradients.
   */
  work?: Int32Array;
}

function workLength(where: string, s: RastShape): number {
  const n = native().antialiasWorkSize({ batch: s.batch, height: s.height, width: s.width });
  if (!(n >= 0 && n <= MAX_ELEMENTS)) fail(where, 'the work buffer', `at most ${MAX_ELEMENTS} elements`, n);
  return n;
}

/** options.work, checked: undefined or an Int32Array of the length for this shape. */
function checkWork(where: string, options: unknown, s: RastShape): Int32Array | undefined {
  const work = options === undefined ? undefined : (options as AntialiasOptions).work;
  if (work === undefined) return undefined;
  return checkTyped(where, 'options.work', work, Int32Array, workLength(where, s));
}

/**
 * A work buffer for antialias / antialiasBackward of images of this shape (see AntialiasOptions.work): 8 int32 per
 * pixel (rows rounded up to a multiple of 8) plus one per 8-row band and a header, zero-filled; allocate it once
 * and reuse it. Only the records of the silhouette crossings are written, so a call touches a small part of it.
 */
export function antialiasWorkBuffer(rastShape: RastShape): Int32Array {
  const where = 'antialiasWorkBuffer';
  if (typeof rastShape !== 'object' || rastShape === null) fail(where, 'the rast shape', 'an object {batch, height, width}', rastShape);
  checkInteger(where, 'batch', rastShape.batch, 1, MAX_BATCH);
  checkInteger(where, 'height', rastShape.height, 1, MAX_SIDE);
  checkInteger(where, 'width', rastShape.width, 1, MAX_SIDE);
  return new Int32Array(workLength(where, rastShape));
}

function callChecked(call: () => void, recheck: () => void): void {
  try {
    call();
  } catch (e) {
    recheck();
    throw e;
  }
}

/**
 * Antialias forward: color [B,H,W,channels], rast [B,H,W,4] (from rasterize with the same pos / tri), pos [B,V,4],
 * tri [T,3], opp = antialiasTopology(tri, V) (computed here when omitted) -> [B,H,W,channels].
 * `options.device`: 'cpu' (default), 'cuda' or 'auto' (see device.ts); `options.work`: see AntialiasOptions.
 * A rast triangle id that is not 0 or an integer in [1, T] is refused (the CPU kernel checks the ids band by band,
 * so `out`, when given, may then hold a partial result; `options.work` is left invalid).
 */
export function antialias(
  color: Float32Array,
  channels: number,
  rast: Float32Array,
  rastShape: RastShape,
  pos: Float32Array,
  numVertices: number,
  tri: Int32Array,
  opp?: Int32Array,
  out?: Float32Array,
  options?: AntialiasOptions,
): Float32Array {
  const where = 'antialias';
  const c = checkArgs(where, color, channels, rast, rastShape, pos, numVertices, tri, opp);
  const o = out === undefined ? new Float32Array(c.pixels * channels) : checkTyped(where, 'out', out, Float32Array, c.pixels * channels);
  const device = renderDevice(where, options);
  const work = checkWork(where, options, rastShape);
  callChecked(() => native().antialias(nativeAntialiasArgs(c, { out: o, device, work })), c.recheck);
  return o;
}

export interface AntialiasGradients {
  /** [B,H,W,channels]. Null when not requested. */
  gradColor: Float32Array | null;
  /** [B,V,4] (x, y, w; z = 0), to be added to the rasterize/interpolate position gradients. Null when not requested. */
  gradPos: Float32Array | null;
}

/**
 * Backward of antialias for gradOut [B,H,W,channels]; `want` selects the outputs (both by default); `out`
 * (optional) supplies the output buffers (every element is overwritten) for reuse across calls.
 * `options.device` as for antialias; `options.work`: the buffer the forward filled (see AntialiasOptions).
 */
export function antialiasBackward(
  color: Float32Array,
  channels: number,
  rast: Float32Array,
  rastShape: RastShape,
  pos: Float32Array,
  numVertices: number,
  tri: Int32Array,
  gradOut: Float32Array,
  opp?: Int32Array,
  want: { color?: boolean; pos?: boolean } = {},
  out: { gradColor?: Float32Array; gradPos?: Float32Array } = {},
  options?: AntialiasOptions,
): AntialiasGradients {
  const where = 'antialiasBackward';
  const c = checkArgs(where, color, channels, rast, rastShape, pos, numVertices, tri, opp);
  checkTyped(where, 'gradOut', gradOut, Float32Array, c.pixels * channels);
  if (typeof want !== 'object' || want === null) fail(where, 'want', 'an object {color?, pos?}', want);
  if (typeof out !== 'object' || out === null) fail(where, 'out', 'an object {gradColor?, gradPos?}', out);
  const buffer = (name: string, b: Float32Array | undefined, n: number) =>
    b === undefined ? new Float32Array(n) : checkTyped(where, name, b, Float32Array, n);
  const gradColor = want.color === false ? null : buffer('out.gradColor', out.gradColor, c.pixels * channels);
  const gradPos = want.pos === false ? null : buffer('out.gradPos', out.gradPos, rastShape.batch * numVertices * 4);
  const device = renderDevice(where, options);
  const work = checkWork(where, options, rastShape);
  if (gradColor || gradPos) {
    callChecked(
      () =>
        native().antialiasBackward(
          nativeAntialiasArgs(c, { gradOut, gradColor: gradColor ?? undefined, gradPos: gradPos ?? undefined, device, work }),
        ),
      c.recheck,
    );
  }
  return { gradColor, gradPos };
}

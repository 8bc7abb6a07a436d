// Vertex normals as the original computes them (pytorch3d / DECA `vertex_normals`): every face adds its
// unnormalised normal e1 × e2 = (v1 - v0) × (v2 - v0) (twice its area, so the sum is area-weighted) to each
// of its three vertices, and the sum s is normalised as s / max(|s|, 1e-6) (F.normalize, eps 1e-6).
// Sums run in float64 in face order (deterministic). Both passes run natively (native/src/tracker/pixel_terms.cc),
// bit for bit the plain loops of vertex-normals-reference.ts.
import { checkTyped, fail } from '@pixel3dmm/kernels';
import { pixelTerms } from './pixel-terms-native.js';

/** Epsilon of F.normalize in the original. */
export const NORMAL_EPS = 1e-6;

function checkMesh(where: string, positions: Float32Array, frames: number, numVertices: number, faces: Int32Array): number {
  if (!Number.isInteger(frames) || frames < 1) fail(where, 'frames', 'an integer >= 1', frames);
  if (!Number.isInteger(numVertices) || numVertices < 1) fail(where, 'numVertices', 'an integer >= 1', numVertices);
  if (!(faces instanceof Int32Array) || faces.length % 3 !== 0) fail(where, 'faces', 'an Int32Array [F,3]', faces);
  const n = frames * numVertices * 3;
  checkTyped(where, 'positions', positions, Float32Array, n);
  return n;
}

/** A Float64Array / Float32Array of at least n values, as its first n. */
function prefix<T extends Float64Array | Float32Array>(where: string, name: string, a: T, ctor: { name: string }, n: number): T {
  if (!(a instanceof (ctor as unknown as Function)) || a.length < n) fail(where, name, `a ${ctor.name} of at least ${n} values`, a);
  return (a.length === n ? a : a.subarray(0, n)) as T;
}

/**
 * Normals of `frames` meshes [frames, V, 3] (float32 positions) over triangles `faces` [F,3].
 * `sums` [frames, V, 3] receives the unnormalised sums (kept for the backward pass), `out` the normals.
 */
export function vertexNormals(
  positions: Float32Array,
  frames: number,
  numVertices: number,
  faces: Int32Array,
  sums: Float64Array,
  out: Float32Array,
): void {
  const where = 'vertexNormals';
  const n = checkMesh(where, positions, frames, numVertices, faces);
  pixelTerms().vertexNormals({
    positions,
    frames,
    numVertices,
    faces,
    sums: prefix(where, 'sums', sums, Float64Array, n),
    out: prefix(where, 'out', out, Float32Array, n),
  });
}

/**
 * Backward of vertexNormals: gradNormals [frames, V, 3] -> gradient of the positions, ADDED into gradPositions
 * (which must hold no -0: the zero contributions that are skipped would turn it into +0). `gradSums`
 * [frames*V*3] is scratch.
 */
export function vertexNormalsBackward(
  positions: Float32Array,
  frames: number,
  numVertices: number,
  faces: Int32Array,
  sums: Float64Array,
  gradNormals: Float64Array,
  gradSums: Float64Array,
  gradPositions: Float32Array,
): void {
  const where = 'vertexNormalsBackward';
  const n = checkMesh(where, positions, frames, numVertices, faces);
  pixelTerms().vertexNormalsBackward({
    positions,
    frames,
    numVertices,
    faces,
    sums: prefix(where, 'sums', sums, Float64Array, n),
    gradNormals: prefix(where, 'gradNormals', gradNormals, Float64Array, n),
    gradSums: prefix(where, 'gradSums', gradSums, Float64Array, n),
    gradPositions: prefix(where, 'gradPositions', gradPositions, Float32Array, n),
  });
}

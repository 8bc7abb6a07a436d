// Rotation maps shared with the FLAME kernel (one implementation, native/src/flame/joint_math.cc, where the
// conventions are defined): 6D = the first two ROWS of R (Pixel3DMM / PyTorch3D), or axis-angle.
// Matrices are row-major 3x3 and act on column vectors (v' = R v).
import { addon } from './addon.js';
import type { RotationFormat } from './flame.js';
import { checkFinite, fail } from './validate.js';

const dimsOf = (format: RotationFormat) => (format === 'axis-angle' ? 3 : 6);

/** R for each rotation in `params` ([N, 6] or [N, 3]); returns [N, 9]. */
export function rotationMatrices(params: Float64Array, format: RotationFormat = '6d'): Float64Array {
  const dims = dimsOf(format);
  if (!(params instanceof Float64Array) || params.length % dims !== 0) {
    fail('rotationMatrices', 'params', `a Float64Array with a multiple of ${dims} values`, params);
  }
  checkFinite('rotationMatrices', 'params', params);
  const out = new Float64Array((params.length / dims) * 9);
  addon().rotationMatrices(dims, params, out);
  return out;
}

/** Gradient of the parameters given the gradient of each matrix ([N, 9]). */
export function rotationVjp(params: Float64Array, gradMatrices: Float64Array, format: RotationFormat = '6d'): Float64Array {
  const dims = dimsOf(format);
  const n = params.length / dims;
  if (!(params instanceof Float64Array) || !Number.isInteger(n)) fail('rotationVjp', 'params', `a multiple of ${dims} values`, params);
  if (!(gradMatrices instanceof Float64Array) || gradMatrices.length !== 9 * n) {
    fail('rotationVjp', 'gradMatrices', `a Float64Array of length ${9 * n}`, gradMatrices);
  }
  checkFinite('rotationVjp', 'params', params);
  const out = new Float64Array(n * dims);
  addon().rotationVjp(dims, params, gradMatrices, out);
  return out;
}

export const IDENTITY_6D: readonly number[] = [1, 0, 0, 0, 1, 0];

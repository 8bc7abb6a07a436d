// The rigid head transform of the FLAME-space points, world = R p + t per frame, and its backward. Both run natively
// (native/src/tracker/rigid.cc: points, or frames, in parallel), bit for bit the plain loops of rigid-reference.ts:
// float64 arithmetic on the float32 points, one rounding per stored value, each frame's sums in point order.
import { checkTyped, fail, nativeAddon } from '@pixel3dmm/kernels';
import type { FrameVariables } from '../types.js';

interface RigidNative {
  rigidTransform(args: { frames: number; numPoints: number; R: Float64Array; t: Float64Array; points: Float32Array; out: Float32Array }): void;
  rigidBackward(args: {
    frames: number;
    numPoints: number;
    R: Float64Array;
    points: Float32Array;
    grad: Float32Array;
    cot: Float32Array;
    gradR: Float64Array;
    gradT: Float64Array;
  }): void;
}

function native(): RigidNative {
  return nativeAddon() as unknown as RigidNative;
}

/** The frames' translations, packed [B,3]. */
function translations(where: string, vars: readonly FrameVariables[]): Float64Array {
  const t = new Float64Array(3 * vars.length);
  vars.forEach((v, b) => {
    if (!(v.translation instanceof Float64Array) || v.translation.length !== 3) fail(where, `frame ${b}'s translation`, 'a Float64Array of 3 values', v.translation);
    t.set(v.translation, 3 * b);
  });
  return t;
}

/** out[b] = R_b p[b] + t_b for [B,N,3] points; R [B,3,3] row-major, t_b the frame's translation. */
export function rigid(R: Float64Array, vars: readonly FrameVariables[], points: Float32Array, N: number, out: Float32Array): void {
  const where = 'rigid', B = vars.length;
  checkTyped(where, 'R', R, Float64Array, 9 * B);
  native().rigidTransform({ frames: B, numPoints: N, R, t: translations(where, vars), points, out });
}

/**
 * Backward of `rigid`: grad [B,N,3] on the outputs -> cot = Rᵀ grad on the FLAME-space points (written), gradR
 * += Σ grad pᵀ and each frame's translation gradient += Σ grad (float64 sums in point order).
 */
export function rigidBackward(
  R: Float64Array,
  points: Float32Array,
  grad: Float32Array,
  N: number,
  B: number,
  cot: Float32Array,
  gradR: Float64Array,
  grads: FrameVariables[],
): void {
  const gradT = new Float64Array(3 * B);
  native().rigidBackward({ frames: B, numPoints: N, R, points, grad, cot, gradR, gradT });
  for (let b = 0; b < B; b++) {
    const t = grads[b].translation;
    t[0] += gradT[3 * b];
    t[1] += gradT[3 * b + 1];
    t[2] += gradT[3 * b + 2];
  }
}

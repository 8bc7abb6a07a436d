// The rigid transform and its backward as plain loops: the reference that the native passes behind rigid.ts
// (native/src/tracker/rigid.cc) must match bit for bit (test support, not exported from the package). Same
// arguments and contracts as rigid.ts.
import type { FrameVariables } from '../types.js';

/** out[b] = R_b p[b] + t_b for [B,N,3] points (float64 math, float32 storage). */
export function rigidReference(R: Float64Array, vars: FrameVariables[], points: Float32Array, N: number, out: Float32Array): void {
  for (let b = 0; b < vars.length; b++) {
    const r = 9 * b, t = vars[b].translation;
    for (let i = b * N * 3; i < (b + 1) * N * 3; i += 3) {
      const x = points[i], y = points[i + 1], z = points[i + 2];
      out[i] = R[r] * x + R[r + 1] * y + R[r + 2] * z + t[0];
      out[i + 1] = R[r + 3] * x + R[r + 4] * y + R[r + 5] * z + t[1];
      out[i + 2] = R[r + 6] * x + R[r + 7] * y + R[r + 8] * z + t[2];
    }
  }
}

/**
 * Backward of `rigid`: grad [B,N,3] on the outputs -> cot = Rᵀ grad on the FLAME-space points (written), gradR
 * += Σ grad pᵀ and the translation gradients (float64 sums in point order).
 */
export function rigidBackwardReference(
  R: Float64Array,
  points: Float32Array,
  grad: Float32Array,
  N: number,
  B: number,
  cot: Float32Array,
  gradR: Float64Array,
  grads: FrameVariables[],
): void {
  for (let b = 0; b < B; b++) {
    const r = 9 * b;
    let r00 = 0, r01 = 0, r02 = 0, r10 = 0, r11 = 0, r12 = 0, r20 = 0, r21 = 0, r22 = 0, tx = 0, ty = 0, tz = 0;
    for (let i = b * N * 3; i < (b + 1) * N * 3; i += 3) {
      const gx = grad[i], gy = grad[i + 1], gz = grad[i + 2];
      const x = points[i], y = points[i + 1], z = points[i + 2];
      cot[i] = R[r] * gx + R[r + 3] * gy + R[r + 6] * gz;
      cot[i + 1] = R[r + 1] * gx + R[r + 4] * gy + R[r + 7] * gz;
      cot[i + 2] = R[r + 2] * gx + R[r + 5] * gy + R[r + 8] * gz;
      r00 += gx * x; r01 += gx * y; r02 += gx * z;
      r10 += gy * x; r11 += gy * y; r12 += gy * z;
      r20 += gz * x; r21 += gz * y; r22 += gz * z;
      tx += gx; ty += gy; tz += gz;
    }
    gradR[r] += r00; gradR[r + 1] += r01; gradR[r + 2] += r02;
    gradR[r + 3] += r10; gradR[r + 4] += r11; gradR[r + 5] += r12;
    gradR[r + 6] += r20; gradR[r + 7] += r21; gradR[r + 8] += r22;
    const t = grads[b].translation;
    t[0] += tx; t[1] += ty; t[2] += tz;
  }
}

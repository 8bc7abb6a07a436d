// Least-squares rigid alignment (rotation + translation, no scale) of corresponding 3D point sets, in float64:
// Horn's closed-form quaternion method (equivalent to Kabsch's SVD, and always a proper rotation, never a
// reflection). The rotation is the eigenvector of the largest eigenvalue of a symmetric 4x4 matrix, found
// by cyclic Jacobi rotations.

export interface RigidTransform {
  /** Row-major 3x3 rotation (acts on column vectors). */
  rotation: Float64Array;
  translation: Float64Array;
}

/** Eigen-decomposition of a symmetric n x n matrix (row-major) by cyclic Jacobi; returns values and column vectors. */
function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const A = a.slice();
  const Vm = new Float64Array(n * n);
  for (let i = 0; i < n; i++) Vm[i * n + i] = 1;
  for (let sweep = 0; sweep < 64; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (apq === 0) continue;
        const theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p], akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k], aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = Vm[k * n + p], vkq = Vm[k * n + q];
          Vm[k * n + p] = c * vkp - s * vkq;
          Vm[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = A[i * n + i];
  return { values, vectors: Vm };
}

/**
 * The rigid transform (R, t) minimising sum_i |R source_i + t - target_i|^2 over the listed points.
 * source, target: [N*3] (float32 or float64); `indices` selects the points (all when omitted).
 */
export function rigidAlign(source: ArrayLike<number>, target: ArrayLike<number>, indices?: ArrayLike<number>): RigidTransform {
  if (source.length !== target.length || source.length % 3 !== 0) {
    throw new RangeError(`rigidAlign: source and target must be [N,3] of the same N, got ${source.length} and ${target.length} values`);
  }
  const n = indices ? indices.length : source.length / 3;
  if (n < 3) throw new RangeError(`rigidAlign: needs at least 3 points, got ${n}`);
  const idx = (k: number) => (indices ? indices[k] : k);
  const cs = [0, 0, 0], ct = [0, 0, 0];
  for (let k = 0; k < n; k++) {
    const i = idx(k);
    for (let d = 0; d < 3; d++) {
      cs[d] += source[3 * i + d] / n;
      ct[d] += target[3 * i + d] / n;
    }
  }
  // Cross-covariance M = sum (s - cs)(t - ct)^T.
  const M = new Float64Array(9);
  for (let k = 0; k < n; k++) {
    const i = idx(k);
    for (let a = 0; a < 3; a++) {
      const s = source[3 * i + a] - cs[a];
      for (let b = 0; b < 3; b++) M[3 * a + b] += s * (target[3 * i + b] - ct[b]);
    }
  }
  const [Sxx, Sxy, Sxz, Syx, Syy, Syz, Szx, Szy, Szz] = M;
  const N = Float64Array.of(
    Sxx + Syy + Szz, Syz - Szy, Szx - Sxz, Sxy - Syx,
    Syz - Szy, Sxx - Syy - Szz, Sxy + Syx, Szx + Sxz,
    Szx - Sxz, Sxy + Syx, -Sxx + Syy - Szz, Syz + Szy,
    Sxy - Syx, Szx + Sxz, Syz + Szy, -Sxx - Syy + Szz,
  );
  const { values, vectors } = symmetricEigen(N, 4);
  let best = 0;
  for (let i = 1; i < 4; i++) if (values[i] > values[best]) best = i;
  let [w, x, y, z] = [0, 1, 2, 3].map((r) => vectors[r * 4 + best]);
  const len = Math.hypot(w, x, y, z);
  [w, x, y, z] = [w / len, x / len, y / len, z / len];
  const R = Float64Array.of(
    w * w + x * x - y * y - z * z, 2 * (x * y - w * z), 2 * (x * z + w * y),
    2 * (x * y + w * z), w * w - x * x + y * y - z * z, 2 * (y * z - w * x),
    2 * (x * z - w * y), 2 * (y * z + w * x), w * w - x * x - y * y + z * z,
  );
  const t = Float64Array.of(
    ct[0] - (R[0] * cs[0] + R[1] * cs[1] + R[2] * cs[2]),
    ct[1] - (R[3] * cs[0] + R[4] * cs[1] + R[5] * cs[2]),
    ct[2] - (R[6] * cs[0] + R[7] * cs[1] + R[8] * cs[2]),
  );
  return { rotation: R, translation: t };
}

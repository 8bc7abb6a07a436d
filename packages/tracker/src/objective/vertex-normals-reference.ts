// The vertex normals of vertex-normals.ts (the original's definition is written there) as plain loops: the reference
// that the native passes behind vertex-normals.ts must match bit for bit (test support, not exported from the package).
import { NORMAL_EPS } from './vertex-normals.js';

/** vertex-normals.ts's vertexNormals (the same arguments and contract). */
export function vertexNormalsReference(
  positions: Float32Array,
  frames: number,
  numVertices: number,
  faces: Int32Array,
  sums: Float64Array,
  out: Float32Array,
): void {
  const F = faces.length / 3;
  const n3 = 3 * numVertices;
  sums.fill(0, 0, frames * n3);
  for (let b = 0; b < frames; b++) {
    const o = b * n3;
    for (let f = 0; f < F; f++) {
      const i0 = o + 3 * faces[3 * f], i1 = o + 3 * faces[3 * f + 1], i2 = o + 3 * faces[3 * f + 2];
      const ax = positions[i1] - positions[i0], ay = positions[i1 + 1] - positions[i0 + 1], az = positions[i1 + 2] - positions[i0 + 2];
      const bx = positions[i2] - positions[i0], by = positions[i2 + 1] - positions[i0 + 1], bz = positions[i2 + 2] - positions[i0 + 2];
      const cx = ay * bz - az * by, cy = az * bx - ax * bz, cz = ax * by - ay * bx;
      sums[i0] += cx; sums[i0 + 1] += cy; sums[i0 + 2] += cz;
      sums[i1] += cx; sums[i1 + 1] += cy; sums[i1 + 2] += cz;
      sums[i2] += cx; sums[i2 + 1] += cy; sums[i2 + 2] += cz;
    }
    for (let i = o; i < o + n3; i += 3) {
      const inv = 1 / Math.max(Math.sqrt(sums[i] * sums[i] + sums[i + 1] * sums[i + 1] + sums[i + 2] * sums[i + 2]), NORMAL_EPS);
      out[i] = sums[i] * inv;
      out[i + 1] = sums[i + 1] * inv;
      out[i + 2] = sums[i + 2] * inv;
    }
  }
}

/** vertex-normals.ts's vertexNormalsBackward (the same arguments and contract). */
export function vertexNormalsBackwardReference(
  positions: Float32Array,
  frames: number,
  numVertices: number,
  faces: Int32Array,
  sums: Float64Array,
  gradNormals: ArrayLike<number>,
  gradSums: Float64Array,
  gradPositions: Float32Array,
): void {
  const F = faces.length / 3;
  const n3 = 3 * numVertices;
  for (let b = 0; b < frames; b++) {
    const o = b * n3;
    // n = s / |s|: dn/ds = (I - n nᵀ) / |s| above the epsilon, I / eps below it.
    for (let i = o; i < o + n3; i += 3) {
      const sx = sums[i], sy = sums[i + 1], sz = sums[i + 2];
      const len = Math.sqrt(sx * sx + sy * sy + sz * sz);
      const gx = gradNormals[i], gy = gradNormals[i + 1], gz = gradNormals[i + 2];
      if (len > NORMAL_EPS) {
        const inv = 1 / len;
        const nx = sx * inv, ny = sy * inv, nz = sz * inv;
        const d = nx * gx + ny * gy + nz * gz;
        gradSums[i] = (gx - nx * d) * inv;
        gradSums[i + 1] = (gy - ny * d) * inv;
        gradSums[i + 2] = (gz - nz * d) * inv;
      } else {
        gradSums[i] = gx / NORMAL_EPS;
        gradSums[i + 1] = gy / NORMAL_EPS;
        gradSums[i + 2] = gz / NORMAL_EPS;
      }
    }
    // c = e1 × e2 feeds the sums of its three vertices: d(g·c) = de1·(e2 × g) + de2·(g × e1). A face whose g
    // is 0 (no normal gradient at its vertices: most faces outside the rendered, masked region) would add
    // only zeros, which change no sum (+0 start, round-to-nearest): it is skipped.
    for (let f = 0; f < F; f++) {
      const i0 = o + 3 * faces[3 * f], i1 = o + 3 * faces[3 * f + 1], i2 = o + 3 * faces[3 * f + 2];
      const gx = gradSums[i0] + gradSums[i1] + gradSums[i2];
      const gy = gradSums[i0 + 1] + gradSums[i1 + 1] + gradSums[i2 + 1];
      const gz = gradSums[i0 + 2] + gradSums[i1 + 2] + gradSums[i2 + 2];
      if (gx === 0 && gy === 0 && gz === 0) continue;
      const ax = positions[i1] - positions[i0], ay = positions[i1 + 1] - positions[i0 + 1], az = positions[i1 + 2] - positions[i0 + 2];
      const bx = positions[i2] - positions[i0], by = positions[i2 + 1] - positions[i0 + 1], bz = positions[i2 + 2] - positions[i0 + 2];
      const d1x = by * gz - bz * gy, d1y = bz * gx - bx * gz, d1z = bx * gy - by * gx; // e2 × g
      const d2x = gy * az - gz * ay, d2y = gz * ax - gx * az, d2z = gx * ay - gy * ax; // g × e1
      gradPositions[i1] += d1x; gradPositions[i1 + 1] += d1y; gradPositions[i1 + 2] += d1z;
      gradPositions[i2] += d2x; gradPositions[i2 + 1] += d2y; gradPositions[i2 + 2] += d2z;
      gradPositions[i0] -= d1x + d2x; gradPositions[i0 + 1] -= d1y + d2y; gradPositions[i0 + 2] -= d1z + d2z;
    }
  }
}

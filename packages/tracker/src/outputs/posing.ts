// FLAME evaluated for the outputs (spec 8): the posed mesh in FLAME space (neck, jaw, eyes, eyelids applied;
// the global R, t not), the neck-free mesh for the rendered normals, the joint transforms, and the canonical
// (shape-only) mesh.
import { FLAME_JOINTS, IDENTITY_6D, rotationMatrices } from '@pixel3dmm/kernels';
import type { Flame } from '@pixel3dmm/flame';
import { applyRigid } from '@pixel3dmm/flame';
import type { FrameVariables } from '../types.js';

export interface PosedFrame {
  /** [V,3] FLAME space. */
  vertices: Float32Array;
  /** [V,3] FLAME space, neck at identity, no eyelids (Pixel3DMM's vertices_noneck). */
  noNeck: Float32Array;
  /** [5,4,4] row-major skinning transforms. */
  jointTransforms: Float32Array;
  /** Head rotation R (row-major 3x3). */
  R: Float64Array;
}

export function poseFrame(flame: Flame, shape: Float64Array, v: FrameVariables): PosedFrame {
  const pose = new Float64Array(FLAME_JOINTS * 6);
  pose.set(IDENTITY_6D, 0);
  pose.set(v.neck, 6);
  pose.set(v.jaw, 12);
  pose.set(v.eyes, 18);
  const R = rotationMatrices(Float64Array.from(v.rotation));
  const r = flame.kernel.forward({
    batch: 1,
    shape,
    expression: v.expression,
    pose,
    eyelids: v.eyelids,
    // The contour landmarks follow the head's yaw; the original passes R when saving.
    landmarkRotation: R,
    withNoNeck: true,
    jointTransforms: true,
  });
  return { vertices: r.vertices.slice(), noNeck: r.verticesNoNeck!.slice(), jointTransforms: r.jointTransforms!.slice(), R };
}

/** Shape only: zero expression, identity pose, no eyelids (mesh/canonical.ply). */
export function canonicalVertices(flame: Flame, shape: Float64Array): Float32Array {
  const pose = new Float64Array(FLAME_JOINTS * 6);
  for (let j = 0; j < FLAME_JOINTS; j++) pose.set(IDENTITY_6D, 6 * j);
  return flame.kernel.forward({ batch: 1, shape, pose }).vertices.slice();
}

/** World space copy: R v + t. */
export function toWorld(points: Float32Array, R: ArrayLike<number>, t: ArrayLike<number>): Float32Array {
  const out = points.slice();
  applyRigid(R, t, out);
  return out;
}

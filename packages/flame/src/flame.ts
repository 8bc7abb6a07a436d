// FLAME evaluation in Pixel3DMM's parameterisation: per-frame parameter sets (params.ts) mapped onto the
// kernel's joints (root = identity, neck, jaw, left eye, right eye), plus the global head pose.
import { FLAME_JOINTS, FlameKernel, IDENTITY_6D, rotationMatrices, type DeviceRequest } from '@pixel3dmm/kernels';
import { kernelArrays, type FlameModel } from './model.js';
import type { FlameParams } from './params.js';

export interface FlameEvaluation {
  batch: number;
  /** [B, V, 3]: FLAME space, or world space (R v + t) with `world`. */
  vertices: Float32Array;
  /** [B, 68, 3] when the model has a landmark embedding: 17 contour points, then the 51 static ones. */
  landmarks?: Float32Array;
  /** [B, 5, 4, 4] skinning transforms (FLAME space). */
  jointTransforms: Float32Array;
}

/**
 * The kernel of a model, made once per model and shared by every Flame and every tracking objective of it: making
 * one copies and checks the bases and regresses the joints of every basis vector (~90 ms for FLAME's sizes), and
 * its first forward lays out the CPU backend's copy of the bases (~90 ms more), which a fit of a single image paid
 * again each time. A kernel keeps no state between calls but the shape it evaluated last (a cache keyed by the
 * shape coefficients), so sharing it changes no result.
 */
const kernels = new WeakMap<FlameModel, FlameKernel>();
export function flameKernelOf(model: FlameModel): FlameKernel {
  let kernel = kernels.get(model);
  if (!kernel) kernels.set(model, (kernel = new FlameKernel(kernelArrays(model))));
  return kernel;
}

export class Flame {
  readonly kernel: FlameKernel;

  constructor(readonly model: FlameModel, private readonly device: DeviceRequest = 'cpu') {
    this.kernel = flameKernelOf(model);
  }

  /** Kernel pose [B, 5, 6] for parameter sets: root fixed at the identity (Pixel3DMM keeps it there). */
  static poseOf(frames: FlameParams[]): Float64Array {
    const pose = new Float64Array(frames.length * FLAME_JOINTS * 6);
    frames.forEach((p, b) => pose.set([...IDENTITY_6D, ...p.neck, ...p.jaw, ...p.eyes], b * 30));
    return pose;
  }

  evaluate(frames: FlameParams[], options: { world?: boolean } = {}): FlameEvaluation {
    const B = frames.length;
    if (B === 0) throw new RangeError('Flame.evaluate: no parameter sets given');
    const shape = frames[0].shape;
    for (const p of frames) {
      if (p.shape.length !== shape.length || p.shape.some((v, i) => v !== shape[i])) {
        throw new RangeError('Flame.evaluate: every frame of a batch must share the same shape coefficients');
      }
    }
    const numExpr = Math.max(...frames.map((p) => p.expression.length));
    const expression = new Float64Array(B * numExpr);
    frames.forEach((p, b) => expression.set(p.expression, b * numExpr));
    const headRotations = rotationMatrices(Float64Array.from(frames.flatMap((p) => p.rotation)));
    const r = this.kernel.forward({
      batch: B,
      shape: Float64Array.from(shape),
      expression,
      pose: Flame.poseOf(frames),
      eyelids: Float64Array.from(frames.flatMap((p) => p.eyelids)),
      // The contour landmarks follow the head's yaw (Pixel3DMM passes R when saving results).
      landmarkRotation: headRotations,
      landmarks: true,
      jointTransforms: true,
      device: this.device,
    });
    const out: FlameEvaluation = { batch: B, vertices: r.vertices, landmarks: r.landmarks, jointTransforms: r.jointTransforms! };
    if (options.world) {
      frames.forEach((p, b) => {
        const R = headRotations.subarray(9 * b, 9 * b + 9);
        applyRigid(R, p.translation, out.vertices.subarray(b * this.model.numVertices * 3, (b + 1) * this.model.numVertices * 3));
        if (out.landmarks) {
          const L = out.landmarks.length / B;
          applyRigid(R, p.translation, out.landmarks.subarray(b * L, (b + 1) * L));
        }
      });
    }
    return out;
  }
}

/** points <- R points + t, in place ([N, 3] row-major; R row-major, column vectors). */
export function applyRigid(R: ArrayLike<number>, t: ArrayLike<number>, points: Float32Array): void {
  for (let i = 0; i < points.length; i += 3) {
    const x = points[i], y = points[i + 1], z = points[i + 2];
    points[i] = R[0] * x + R[1] * y + R[2] * z + t[0];
    points[i + 1] = R[3] * x + R[4] * y + R[5] * z + t[1];
    points[i + 2] = R[6] * x + R[7] * y + R[8] * z + t[2];
  }
}

// FLAME evaluation with gradients on the CPU or CUDA kernels (native/src/flame, cuda/flame_cuda.cu).
//
// Layout (row-major everywhere): per-vertex arrays are [B, V, 3]; bases are [K, V*3] (component-major, as
// the kernel streams them); the pose is [B, 5, dims] for the joints root, neck, jaw, left eye, right eye,
// with dims 6 (6D rotation: the first two ROWS of R, Pixel3DMM's convention) or 3 (axis-angle).
import { addon, type NativeFlameModel, type NativeTape } from './addon.js';
import { resolveDevice, type DeviceRequest } from './device.js';
import { checkFinite, checkIndices, checkInteger, checkTyped, fail } from './validate.js';

export const FLAME_JOINTS = 5;
export const POSE_FEATURES = 36;

export interface FlameLandmarkArrays {
  /** [S, 3] vertex triplets and barycentric weights of the static landmarks. */
  staticVertices: Int32Array;
  staticBary: Float64Array;
  /** [bins, perBin, 3] vertex triplets and weights of the yaw-dependent contour landmarks. */
  dynamicBins: number;
  dynamicPerBin: number;
  dynamicVertices: Int32Array;
  dynamicBary: Float64Array;
}

/** What the kernel needs from a FLAME model (built by @pixel3dmm/flame from the model files). */
export interface FlameKernelArrays {
  numVertices: number;
  numShape: number;
  numExpression: number;
  vTemplate: Float32Array; // [V*3]
  shapeBasis: Float32Array; // [numShape, V*3]
  exprBasis: Float32Array; // [numExpression, V*3]
  poseBasis: Float32Array; // [36, V*3]
  eyelidBasis?: Float32Array; // [2, V*3]
  skinWeights: Float32Array; // [V, 5]
  parents: Int32Array; // [5], -1 for the root, parents[j] < j
  /** Joint regressor as CSR by joint: joint j uses entries jointOffsets[j] .. jointOffsets[j+1]. */
  jointOffsets: Int32Array; // [6]
  jointVertices: Int32Array;
  jointWeights: Float64Array;
  landmarks?: FlameLandmarkArrays;
}

export type RotationFormat = '6d' | 'axis-angle';

export interface FlameForwardInput {
  batch: number;
  /** Shared by the batch; fewer than numShape coefficients means the rest are zero. */
  shape?: Float64Array;
  /** [B, numExpressionUsed]; numExpressionUsed = expression.length / B. */
  expression?: Float64Array;
  rotationFormat?: RotationFormat;
  /** [B, 5, 6] or [B, 5, 3]. */
  pose: Float64Array;
  /** [B, 2]: scales of the left and right eyelid blendshapes, added after skinning. */
  eyelids?: Float64Array;
  /** [B, 9] row-major head rotation used to choose the contour landmarks (default identity). */
  landmarkRotation?: Float64Array;
  /** Also skin the mesh with the neck at identity (Pixel3DMM's vertices_noneck, used for normals). */
  withNoNeck?: boolean;
  jointTransforms?: boolean;
  landmarks?: boolean;
  device?: DeviceRequest;
  /**
   * A previous result of this kernel whose native tape and output arrays are recycled (no allocation in a
   * tracking loop). That result is invalid afterwards: its arrays hold the new values and its vjp throws.
   */
  reuse?: FlameForwardResult;
}

export interface FlameGradients {
  shape: Float64Array | null; // [numShape], summed over the batch; null when not requested
  expression: Float64Array; // [B, numExpression]
  pose: Float64Array; // [B, 5, dims]
  eyelids: Float64Array; // [B, 2]
}

export interface FlameCotangents {
  vertices?: Float32Array; // [B, V, 3]
  verticesNoNeck?: Float32Array; // [B, V, 3]
  landmarks?: Float32Array; // [B, L, 3]
  /** Skip the shape gradient (one pass over the 300 identity bases) when shape is frozen. */
  wantShape?: boolean;
}

const WHERE = 'FlameKernel';

export class FlameKernel {
  readonly numVertices: number;
  readonly numShape: number;
  readonly numExpression: number;
  readonly numLandmarks: number;
  private readonly native: NativeFlameModel;

  constructor(arrays: FlameKernelArrays) {
    const V = checkInteger(WHERE, 'numVertices', arrays.numVertices, 1, 10_000_000);
    const nS = checkInteger(WHERE, 'numShape', arrays.numShape, 0, 100_000);
    const nE = checkInteger(WHERE, 'numExpression', arrays.numExpression, 0, 100_000);
    checkTyped(WHERE, 'vTemplate', arrays.vTemplate, Float32Array, 3 * V);
    checkTyped(WHERE, 'shapeBasis', arrays.shapeBasis, Float32Array, 3 * V * nS);
    checkTyped(WHERE, 'exprBasis', arrays.exprBasis, Float32Array, 3 * V * nE);
    checkTyped(WHERE, 'poseBasis', arrays.poseBasis, Float32Array, 3 * V * POSE_FEATURES);
    if (arrays.eyelidBasis !== undefined) checkTyped(WHERE, 'eyelidBasis', arrays.eyelidBasis, Float32Array, 6 * V);
    checkTyped(WHERE, 'skinWeights', arrays.skinWeights, Float32Array, FLAME_JOINTS * V);
    checkTyped(WHERE, 'parents', arrays.parents, Int32Array, FLAME_JOINTS);
    if (arrays.parents[0] !== -1) fail(WHERE, 'parents[0]', '-1 (the root)', arrays.parents[0]);
    for (let j = 1; j < FLAME_JOINTS; j++) {
      if (arrays.parents[j] < 0 || arrays.parents[j] >= j) fail(WHERE, `parents[${j}]`, `a joint index below ${j}`, arrays.parents[j]);
    }
    checkTyped(WHERE, 'jointOffsets', arrays.jointOffsets, Int32Array, FLAME_JOINTS + 1);
    const off = arrays.jointOffsets;
    if (off[0] !== 0) fail(WHERE, 'jointOffsets[0]', '0', off[0]);
    for (let j = 0; j < FLAME_JOINTS; j++) if (off[j + 1] < off[j]) fail(WHERE, `jointOffsets[${j + 1}]`, 'non-decreasing offsets', off[j + 1]);
    checkTyped(WHERE, 'jointVertices', arrays.jointVertices, Int32Array, off[FLAME_JOINTS]);
    checkTyped(WHERE, 'jointWeights', arrays.jointWeights, Float64Array, off[FLAME_JOINTS]);
    checkIndices(WHERE, 'jointVertices', arrays.jointVertices, V);
    for (const [name, a] of [['vTemplate', arrays.vTemplate], ['skinWeights', arrays.skinWeights], ['jointWeights', arrays.jointWeights]] as const) {
      checkFinite(WHERE, name, a);
    }
    const desc: Record<string, unknown> = { ...arrays };
    let numLandmarks = 0;
    if (arrays.landmarks) {
      const L = arrays.landmarks;
      const nStatic = L.staticVertices.length / 3;
      if (!Number.isInteger(nStatic)) fail(WHERE, 'landmarks.staticVertices', 'a length divisible by 3', L.staticVertices);
      checkTyped(WHERE, 'landmarks.staticBary', L.staticBary, Float64Array, 3 * nStatic);
      checkInteger(WHERE, 'landmarks.dynamicBins', L.dynamicBins, 0, 1000);
      checkInteger(WHERE, 'landmarks.dynamicPerBin', L.dynamicPerBin, 0, 1000);
      const nd = 3 * L.dynamicBins * L.dynamicPerBin;
      checkTyped(WHERE, 'landmarks.dynamicVertices', L.dynamicVertices, Int32Array, nd);
      checkTyped(WHERE, 'landmarks.dynamicBary', L.dynamicBary, Float64Array, nd);
      checkIndices(WHERE, 'landmarks.staticVertices', L.staticVertices, V);
      checkIndices(WHERE, 'landmarks.dynamicVertices', L.dynamicVertices, V);
      Object.assign(desc, {
        numStaticLandmarks: nStatic,
        numDynamicBins: L.dynamicBins,
        numDynamicLandmarks: L.dynamicPerBin,
        staticLandmarkVertices: L.staticVertices,
        staticLandmarkBary: L.staticBary,
        dynamicLandmarkVertices: L.dynamicVertices,
        dynamicLandmarkBary: L.dynamicBary,
      });
      numLandmarks = nStatic > 0 ? nStatic + L.dynamicPerBin : 0;
    }
    delete desc.landmarks;
    this.native = new (addon().FlameModel)(desc);
    this.numVertices = V;
    this.numShape = nS;
    this.numExpression = nE;
    this.numLandmarks = numLandmarks;
  }

  /** Runs the forward pass; the result keeps what its `vjp` and `jacobian` need. */
  forward(input: FlameForwardInput): FlameForwardResult {
    const where = `${WHERE}.forward`;
    const B = checkInteger(where, 'batch', input.batch, 1, 1_000_000);
    const V = this.numVertices;
    const dims = input.rotationFormat === 'axis-angle' ? 3 : 6;
    if (input.rotationFormat !== undefined && input.rotationFormat !== '6d' && input.rotationFormat !== 'axis-angle') {
      fail(where, 'rotationFormat', "'6d' or 'axis-angle'", input.rotationFormat);
    }
    const shape = input.shape ?? new Float64Array(0);
    if (!(shape instanceof Float64Array) || shape.length > this.numShape) {
      fail(where, 'shape', `a Float64Array of at most ${this.numShape} coefficients`, shape);
    }
    const expression = input.expression ?? new Float64Array(0);
    if (!(expression instanceof Float64Array) || expression.length % B !== 0 || expression.length / B > this.numExpression) {
      fail(where, 'expression', `a Float64Array of B x (at most ${this.numExpression}) coefficients`, expression);
    }
    const numExpression = expression.length / B;
    checkTyped(where, 'pose', input.pose, Float64Array, B * FLAME_JOINTS * dims);
    if (input.eyelids !== undefined) checkTyped(where, 'eyelids', input.eyelids, Float64Array, 2 * B);
    if (input.landmarkRotation !== undefined) checkTyped(where, 'landmarkRotation', input.landmarkRotation, Float64Array, 9 * B);
    for (const [name, a] of Object.entries({ shape, expression, pose: input.pose, eyelids: input.eyelids, landmarkRotation: input.landmarkRotation })) {
      if (a) checkFinite(where, name, a);
    }
    const device = resolveDevice(input.device ?? 'cpu');
    const old = input.reuse;
    if (old !== undefined && (!(old instanceof FlameForwardResult) || old.kernel !== this)) {
      fail(where, 'reuse', 'a result of this FlameKernel', old);
    }
    const recycle = (prev: Float32Array | undefined, n: number) => (prev && prev.length === n ? prev : new Float32Array(n));
    const vertices = recycle(old?.vertices, B * V * 3);
    const verticesNoNeck = input.withNoNeck ? recycle(old?.verticesNoNeck, B * V * 3) : undefined;
    const jointTransforms = input.jointTransforms ? recycle(old?.jointTransforms, B * FLAME_JOINTS * 16) : undefined;
    const landmarks = input.landmarks && this.numLandmarks > 0 ? recycle(old?.landmarks, B * this.numLandmarks * 3) : undefined;
    const handle = old ? old.handle : new TapeHandle();
    handle.generation++;
    handle.native = this.native.forward({
      tape: handle.native,
      device,
      batch: B,
      numShape: shape.length,
      numExpression,
      shape,
      expression,
      rotationDims: dims,
      pose: input.pose,
      eyelids: input.eyelids,
      landmarkRotation: input.landmarkRotation,
      withNoNeck: !!input.withNoNeck,
      vertices,
      verticesNoNeck,
      jointTransforms,
      landmarks,
    });
    return new FlameForwardResult(this, this.native, handle, {
      batch: B, dims, numShape: shape.length, numExpression, device, vertices, verticesNoNeck, jointTransforms, landmarks,
    });
  }
}

/** The native tape shared by the results that recycle it; only the newest generation may use it. */
class TapeHandle {
  native: NativeTape | undefined = undefined;
  generation = 0;
}

interface ResultFields {
  batch: number;
  dims: number;
  numShape: number;
  numExpression: number;
  device: 'cpu' | 'cuda';
  vertices: Float32Array;
  verticesNoNeck?: Float32Array;
  jointTransforms?: Float32Array;
  landmarks?: Float32Array;
}

export class FlameForwardResult {
  readonly batch: number;
  readonly device: 'cpu' | 'cuda';
  /** [B, V, 3] posed vertices (eyelids included). */
  readonly vertices: Float32Array;
  /** [B, V, 3] posed with the neck at identity, without eyelids (when requested). */
  readonly verticesNoNeck?: Float32Array;
  /** [B, 5, 4, 4] row-major skinning transforms A_j (when requested). */
  readonly jointTransforms?: Float32Array;
  /** [B, L, 3]: the contour landmarks first, then the static ones (when requested). */
  readonly landmarks?: Float32Array;
  /** Parameters per frame in the Jacobian's column order: shape, expression, pose, eyelids. */
  readonly jacobianColumns: number;

  private readonly generation: number;

  /** @internal results are made by FlameKernel.forward */
  constructor(
    readonly kernel: FlameKernel,
    private readonly native: NativeFlameModel,
    readonly handle: TapeHandle,
    private readonly f: ResultFields,
  ) {
    this.generation = handle.generation;
    this.batch = f.batch;
    this.device = f.device;
    this.vertices = f.vertices;
    this.verticesNoNeck = f.verticesNoNeck;
    this.jointTransforms = f.jointTransforms;
    this.landmarks = f.landmarks;
    this.jacobianColumns = f.numShape + f.numExpression + FLAME_JOINTS * f.dims + 2;
  }

  /** Vector-Jacobian product: gradients of every input for the given output cotangents. */
  vjp(cot: FlameCotangents): FlameGradients {
    const where = 'FlameForwardResult.vjp';
    const tape = this.liveTape(where);
    const n = this.batch * this.kernel.numVertices * 3;
    if (cot.vertices !== undefined) checkTyped(where, 'vertices', cot.vertices, Float32Array, n);
    if (cot.verticesNoNeck !== undefined) {
      if (!this.verticesNoNeck) fail(where, 'verticesNoNeck', 'a forward pass run withNoNeck', cot.verticesNoNeck);
      checkTyped(where, 'verticesNoNeck', cot.verticesNoNeck, Float32Array, n);
    }
    if (cot.landmarks !== undefined) {
      checkTyped(where, 'landmarks', cot.landmarks, Float32Array, this.batch * this.kernel.numLandmarks * 3);
    }
    for (const [name, a] of Object.entries({ vertices: cot.vertices, verticesNoNeck: cot.verticesNoNeck, landmarks: cot.landmarks })) {
      if (a) checkFinite(where, name, a);
    }
    const wantShape = cot.wantShape ?? true;
    const grads: FlameGradients = {
      shape: wantShape ? new Float64Array(this.f.numShape) : null,
      expression: new Float64Array(this.batch * this.f.numExpression),
      pose: new Float64Array(this.batch * FLAME_JOINTS * this.f.dims),
      eyelids: new Float64Array(this.batch * 2),
    };
    this.native.vjp(tape, {
      gradVertices: cot.vertices,
      gradVerticesNoNeck: cot.verticesNoNeck,
      gradLandmarks: cot.landmarks,
      gradShape: grads.shape ?? undefined,
      gradExpression: grads.expression,
      gradPose: grads.pose,
      gradEyelids: grads.eyelids,
    });
    return grads;
  }

  /**
   * Explicit Jacobian d vertices / d parameters of the given vertices (e.g. the landmark vertices, for a
   * Gauss-Newton step): [B, n*3, P] row-major, P = jacobianColumns (shape, expression, pose, eyelids).
   */
  jacobian(vertexIndices: Int32Array): Float64Array {
    const where = 'FlameForwardResult.jacobian';
    const tape = this.liveTape(where);
    if (!(vertexIndices instanceof Int32Array)) fail(where, 'vertexIndices', 'an Int32Array', vertexIndices);
    checkIndices(where, 'vertexIndices', vertexIndices, this.kernel.numVertices);
    const out = new Float64Array(this.batch * vertexIndices.length * 3 * this.jacobianColumns);
    this.native.jacobian(tape, vertexIndices, out);
    return out;
  }

  private liveTape(where: string): NativeTape {
    if (this.generation !== this.handle.generation || !this.handle.native) {
      throw new Error(`${where}: this result was recycled by a later forward({ reuse }) and is no longer valid`);
    }
    return this.handle.native;
  }
}

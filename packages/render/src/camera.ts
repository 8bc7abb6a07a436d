// Pixel3DMM's camera (pixel3dmm-spec.md section 5), defined here once for the renderer, the tracker, the
// synthetic-subject generator and the CLI.
//
// World and camera: a fixed OpenGL camera (x right, y up, looking down -z) at (0,0,1) looking at the origin:
// the world-to-camera matrix is E = [I | (0,0,-1)], so camera space = world - (0,0,1). The head moves instead
// (its R, t are applied to FLAME before this). Depth d = -z_c > 0 in front of the camera.
//
// Intrinsics (per render size S): f_px = focal * S in both axes; principal point c = (S/2 + 0.5) (1 + pp) with
// pp_x -> c_x, pp_y -> c_y. focal = 2000/512 and pp = 0 by default.
//
// Two projections, with a deliberate half-pixel disagreement that the original has and we replicate:
// - Raster (clip space, through `worldToClip`): P below with near 0.1 and far 5. Its y row is negated, so
//   the rasterizer's row 0 (its bottom, y_ndc = -1) is the image TOP: a rast buffer read row by row is an
//   upright image. Pixel (col, row) has its centre at integers: col = fx x/d + cx - 0.5, row = cy - 0.5 - fy y/d.
// - Points (landmarks, UV correspondences, visibility; `projectPoints`): x_s = fx x/d + cx - 1,
//   y_s = cy - fy y/d, z_s = z_c. So x_s = col - 0.5 and y_s = row + 0.5 relative to the raster.
//
// Matrices are row-major, acting on column vectors.

/** Near and far planes of the tracking render (spec 5). */
export const NEAR = 0.1;
export const FAR = 5;
/** Default focal length as a fraction of the render size: f_px = focal * S. */
export const DEFAULT_FOCAL = 2000 / 512;
/** Camera centre in world space (the camera looks at the origin, down -z). */
export const CAMERA_POSITION: readonly [number, number, number] = [0, 0, 1];

/** The tracking camera for one render size. */
export interface Camera {
  /** Render size S (square images S x S). */
  size: number;
  /** Focal length as a fraction of S (f_px = focal * S). */
  focal: number;
  /** Normalised principal-point offset (pp_x, pp_y). */
  pp: readonly [number, number];
  near: number;
  far: number;
}

export function makeCamera(size: number, focal = DEFAULT_FOCAL, pp: readonly [number, number] = [0, 0]): Camera {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`camera size must be a positive integer, got ${size}`);
  if (!Number.isFinite(focal) || focal <= 0) throw new RangeError(`camera focal must be a positive number, got ${focal}`);
  if (!Number.isFinite(pp[0]) || !Number.isFinite(pp[1])) throw new RangeError(`camera pp must be finite, got [${pp}]`);
  return { size, focal, pp: [pp[0], pp[1]], near: NEAR, far: FAR };
}

/** Pixel intrinsics (fx, fy, cx, cy) of a camera, in pixels of its render size. */
export function intrinsics(c: Camera): { fx: number; fy: number; cx: number; cy: number } {
  const f = c.focal * c.size;
  const half = c.size / 2 + 0.5;
  return { fx: f, fy: f, cx: half * (1 + c.pp[0]), cy: half * (1 + c.pp[1]) };
}

/** OpenCV camera matrix K (3x3 row-major) with the same intrinsics. */
export function opencvK(c: Camera): Float64Array {
  const { fx, fy, cx, cy } = intrinsics(c);
  return Float64Array.of(fx, 0, cx, 0, fy, cy, 0, 0, 1);
}

/** The OpenGL projection P (4x4 row-major) of the raster path. */
export function projectionMatrix(c: Camera): Float64Array {
  const { fx, fy, cx, cy } = intrinsics(c);
  const S = c.size, n = c.near, f = c.far;
  return Float64Array.of(
    (2 * fx) / S, 0, (S - 2 * cx) / S, 0,
    0, (-2 * fy) / S, (S - 2 * cy) / S, 0,
    0, 0, -(n + f) / (f - n), (-2 * n * f) / (f - n),
    0, 0, -1, 0,
  );
}

/** World-to-camera E = [I | -(0,0,1)] (4x4 row-major, OpenGL camera). */
export function viewMatrix(): Float64Array {
  return Float64Array.of(1, 0, 0, -CAMERA_POSITION[0], 0, 1, 0, -CAMERA_POSITION[1], 0, 0, 1, -CAMERA_POSITION[2], 0, 0, 0, 1);
}

/** Gradient of a scalar loss with respect to the camera's free parameters. */
export interface CameraGradient {
  focal: number;
  pp: [number, number];
}

function checkPoints(where: string, points: Float32Array): number {
  if (!(points instanceof Float32Array) || points.length % 3 !== 0) {
    throw new TypeError(`${where}: points must be a Float32Array of length 3*N, got ${describe(points)}`);
  }
  return points.length / 3;
}

function checkGrad(where: string, grad: Float32Array, length: number): void {
  if (!(grad instanceof Float32Array) || grad.length !== length) {
    throw new TypeError(`${where}: the gradient must be a Float32Array of length ${length}, got ${describe(grad)}`);
  }
}

function describe(v: unknown): string {
  return ArrayBuffer.isView(v) ? `${v.constructor.name}(${(v as Float32Array).length})` : String(v);
}

/**
 * World points [N,3] -> clip-space positions [N,4] for the rasterizer (P E [v;1]). `out` is reused when given.
 * Points at or behind the camera give w <= 0; the rasterizer clips them at its near plane.
 */
export function worldToClip(c: Camera, world: Float32Array, out?: Float32Array): Float32Array {
  const N = checkPoints('worldToClip', world);
  const clip = out ?? new Float32Array(4 * N);
  checkGrad('worldToClip (out)', clip, 4 * N);
  const P = projectionMatrix(c);
  const cz = CAMERA_POSITION[2];
  for (let i = 0; i < N; i++) {
    const x = world[3 * i], y = world[3 * i + 1], z = world[3 * i + 2] - cz;
    clip[4 * i] = P[0] * x + P[2] * z;
    clip[4 * i + 1] = P[5] * y + P[6] * z;
    clip[4 * i + 2] = P[10] * z + P[11];
    clip[4 * i + 3] = -z;
  }
  return clip;
}

/**
 * Backward of worldToClip: gradClip [N,4] -> gradient to the world points [N,3] (accumulated into `gradWorld`
 * when given) and to focal and pp (summed over the points in index order, in float64).
 */
export function worldToClipBackward(
  c: Camera,
  world: Float32Array,
  gradClip: Float32Array,
  gradWorld?: Float32Array,
): { world: Float32Array; camera: CameraGradient } {
  const N = checkPoints('worldToClipBackward', world);
  checkGrad('worldToClipBackward', gradClip, 4 * N);
  const gw = gradWorld ?? new Float32Array(3 * N);
  checkGrad('worldToClipBackward (gradWorld)', gw, 3 * N);
  const P = projectionMatrix(c);
  const S = c.size, half = S / 2 + 0.5;
  const cz = CAMERA_POSITION[2];
  let dfx = 0, dfy = 0, dcx = 0, dcy = 0;
  for (let i = 0; i < N; i++) {
    const x = world[3 * i], y = world[3 * i + 1], z = world[3 * i + 2] - cz;
    const gX = gradClip[4 * i], gY = gradClip[4 * i + 1], gZ = gradClip[4 * i + 2], gW = gradClip[4 * i + 3];
    gw[3 * i] += gX * P[0];
    gw[3 * i + 1] += gY * P[5];
    gw[3 * i + 2] += gX * P[2] + gY * P[6] + gZ * P[10] - gW;
    // X = (2fx/S) x + ((S - 2cx)/S) z, Y = (-2fy/S) y + ((S - 2cy)/S) z.
    dfx += (gX * 2 * x) / S;
    dcx += (-gX * 2 * z) / S;
    dfy += (-gY * 2 * y) / S;
    dcy += (-gY * 2 * z) / S;
  }
  // fx = fy = focal S; cx = half (1 + pp_x); cy = half (1 + pp_y).
  return { world: gw, camera: { focal: (dfx + dfy) * S, pp: [dcx * half, dcy * half] } };
}

/**
 * World points [N,3] -> the original's point projection [N,3] = (x_s, y_s, z_s): x_s = fx x/d + cx - 1,
 * y_s = cy - fy y/d, z_s = z_c (negative in front of the camera), with camera-space (x, y, z_c) and d = -z_c.
 */
export function projectPoints(c: Camera, world: Float32Array, out?: Float32Array): Float32Array {
  const N = checkPoints('projectPoints', world);
  const p = out ?? new Float32Array(3 * N);
  checkGrad('projectPoints (out)', p, 3 * N);
  const { fx, fy, cx, cy } = intrinsics(c);
  const cz = CAMERA_POSITION[2];
  for (let i = 0; i < N; i++) {
    const x = world[3 * i], y = world[3 * i + 1], z = world[3 * i + 2] - cz;
    const d = -z;
    p[3 * i] = (fx * x) / d + cx - 1;
    p[3 * i + 1] = cy - (fy * y) / d;
    p[3 * i + 2] = z;
  }
  return p;
}

/**
 * Backward of projectPoints: grad [N,3] (x_s, y_s, z_s) -> gradient to the world points [N,3] (accumulated into
 * `gradWorld` when given) and to focal and pp (summed over the points in index order, in float64).
 */
export function projectPointsBackward(
  c: Camera,
  world: Float32Array,
  grad: Float32Array,
  gradWorld?: Float32Array,
): { world: Float32Array; camera: CameraGradient } {
  const N = checkPoints('projectPointsBackward', world);
  checkGrad('projectPointsBackward', grad, 3 * N);
  const gw = gradWorld ?? new Float32Array(3 * N);
  checkGrad('projectPointsBackward (gradWorld)', gw, 3 * N);
  const { fx, fy } = intrinsics(c);
  const S = c.size, half = S / 2 + 0.5;
  const cz = CAMERA_POSITION[2];
  let df = 0, dcx = 0, dcy = 0;
  for (let i = 0; i < N; i++) {
    const x = world[3 * i], y = world[3 * i + 1], z = world[3 * i + 2] - cz;
    const d = -z;
    const gx = grad[3 * i], gy = grad[3 * i + 1], gz = grad[3 * i + 2];
    // x_s = fx x / d + ...: d/dx = fx/d, d/dd = -fx x/d^2 (and dd/dz = -1).
    // y_s = cy - fy y / d:  d/dy = -fy/d, d/dd = fy y/d^2.
    gw[3 * i] += (gx * fx) / d;
    gw[3 * i + 1] += (-gy * fy) / d;
    gw[3 * i + 2] += (gx * fx * x) / (d * d) - (gy * fy * y) / (d * d) + gz;
    df += (gx * x) / d - (gy * y) / d;
    dcx += gx;
    dcy += gy;
  }
  return { world: gw, camera: { focal: df * S, pp: [dcx * half, dcy * half] } };
}

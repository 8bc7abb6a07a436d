// Optional, beyond the original (camera_solver=lm): the landmark half of the camera warm-up solved by
// Levenberg-Marquardt instead of ~250 Adam steps. The cost is the same as the objective's 'camera-landmarks'
// phase (spec 6.8): lmk(l[0:68], L68) * w_cam_lmk + w_pp |pp|^2, written as a sum of squared residuals
//   r = sqrt(w_cam_lmk / 136) m_k (l_k,c - L_k,c) / S   (68 landmarks x 2 coordinates, `mean` over all 136)
//   r = sqrt(w_pp) pp_c
// over 9 unknowns: a rotation increment (R <- exp([w]x) R, mapped back to 6D as the first two rows), t, focal
// and pp. The 68 FLAME landmarks depend only on the head rotation (their contour follows it, spec 4.2 step
// 8) since expression, jaw, neck and eyes are held, so each iteration evaluates them once and the Jacobian of
// the projection is taken by central differences with the landmarks fixed. The UV half of the warm-up then
// runs with Adam as usual.
import { FLAME_JOINTS, IDENTITY_6D, rotationMatrices, type FlameKernel } from '@pixel3dmm/kernels';
import { WFLW_TO_IBUG68 } from '@pixel3dmm/formats';
import { makeCamera, projectPoints } from '@pixel3dmm/render';
import type { TrackerConfig } from '../config.js';
import type { FrameData, FrameVariables } from '../types.js';

const NUM_LANDMARKS = 68;

/** FLAME-space 68 landmarks of a frame's (held) variables, with the contour chosen for head rotation R. */
export type LandmarkFunction = (shape: Float64Array, v: FrameVariables, R: Float64Array) => Float32Array;

/** The objective's convention: FLAME without eyelids, the contour following the INVERSE head rotation. */
export function flameLandmarks(kernel: FlameKernel, config: Pick<TrackerConfig, 'use_flame2023'>): LandmarkFunction {
  return (shape, v, R) => {
    const pose = new Float64Array(FLAME_JOINTS * 6);
    pose.set(IDENTITY_6D, 0);
    pose.set(v.neck, 6);
    pose.set(config.use_flame2023 ? IDENTITY_6D : v.jaw, 12);
    pose.set(v.eyes, 18);
    const Rt = Float64Array.of(R[0], R[3], R[6], R[1], R[4], R[7], R[2], R[5], R[8]);
    return kernel.forward({ batch: 1, shape, expression: v.expression, pose, eyelids: new Float64Array(2), landmarkRotation: Rt, landmarks: true }).landmarks!.slice();
  };
}

export interface CameraSolveResult {
  iterations: number;
  initialCost: number;
  cost: number;
}

/** Rodrigues: exp([w]x) (row-major). */
function expSo3(w: ArrayLike<number>): Float64Array {
  const th = Math.hypot(w[0], w[1], w[2]);
  const k = th > 1e-12 ? [w[0] / th, w[1] / th, w[2] / th] : [0, 0, 0];
  const s = Math.sin(th), c = 1 - Math.cos(th);
  const [x, y, z] = k;
  return Float64Array.of(
    1 - c * (y * y + z * z), -s * z + c * x * y, s * y + c * x * z,
    s * z + c * x * y, 1 - c * (x * x + z * z), -s * x + c * y * z,
    -s * y + c * x * z, s * x + c * y * z, 1 - c * (x * x + y * y),
  );
}

function mul3(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const o = new Float64Array(9);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) o[3 * r + c] = a[3 * r] * b[c] + a[3 * r + 1] * b[3 + c] + a[3 * r + 2] * b[6 + c];
  return o;
}

/** Solves a small dense symmetric positive-definite system in place (Cholesky); null if not positive definite. */
function solveSpd(A: Float64Array, b: Float64Array, n: number): Float64Array | null {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j];
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      if (i === j) {
        if (!(s > 0)) return null;
        L[i * n + i] = Math.sqrt(s);
      } else L[i * n + j] = s / L[j * n + j];
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i * n + k] * y[k];
    y[i] = s / L[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= L[k * n + i] * x[k];
    x[i] = s / L[i * n + i];
  }
  return x;
}

/**
 * Minimises the landmark half's cost over R, t (in `v`), focal and pp (updated in place). `fitIntrinsics`
 * false keeps focal and pp (the later frames' extra camera steps optimise t and R only).
 */
export function solveCameraLandmarks(
  landmarks: LandmarkFunction,
  frame: FrameData,
  v: FrameVariables,
  shared: { shape: Float64Array; focal: Float64Array; pp: Float64Array },
  config: Pick<TrackerConfig, 'w_cam_lmk' | 'w_pp' | 'size'>,
  options: { maxIterations?: number; fitIntrinsics?: boolean } = {},
): CameraSolveResult {
  const S = config.size;
  const maxIterations = options.maxIterations ?? 50;
  const nParams = options.fitIntrinsics === false ? 6 : 9;
  const target = new Float64Array(2 * NUM_LANDMARKS), valid = new Float64Array(NUM_LANDMARKS);
  for (let k = 0; k < NUM_LANDMARKS; k++) {
    const w = WFLW_TO_IBUG68[k];
    target[2 * k] = frame.landmarks98[2 * w];
    target[2 * k + 1] = frame.landmarks98[2 * w + 1];
    valid[k] = frame.landmarkValid[w] ? 1 : 0;
  }
  const lmkScale = Math.sqrt(config.w_cam_lmk / (2 * NUM_LANDMARKS)) / S;
  const ppScale = Math.sqrt(config.w_pp);
  const M = 2 * NUM_LANDMARKS + 2;

  type State = { R: Float64Array; t: Float64Array; focal: number; pp: [number, number] };
  const residuals = (st: State, lmk: Float32Array): Float64Array => {
    const world = new Float32Array(3 * NUM_LANDMARKS);
    for (let k = 0; k < NUM_LANDMARKS; k++) {
      const x = lmk[3 * k], y = lmk[3 * k + 1], z = lmk[3 * k + 2];
      for (let r = 0; r < 3; r++) world[3 * k + r] = st.R[3 * r] * x + st.R[3 * r + 1] * y + st.R[3 * r + 2] * z + st.t[r];
    }
    const p = projectPoints(makeCamera(S, st.focal, st.pp), world);
    const out = new Float64Array(M);
    for (let k = 0; k < NUM_LANDMARKS; k++) {
      out[2 * k] = lmkScale * valid[k] * (p[3 * k] - target[2 * k]);
      out[2 * k + 1] = lmkScale * valid[k] * (p[3 * k + 1] - target[2 * k + 1]);
    }
    out[M - 2] = ppScale * st.pp[0];
    out[M - 1] = ppScale * st.pp[1];
    return out;
  };
  const apply = (st: State, d: ArrayLike<number>): State => ({
    R: mul3(expSo3([d[0], d[1], d[2]]), st.R),
    t: Float64Array.of(st.t[0] + d[3], st.t[1] + d[4], st.t[2] + d[5]),
    focal: nParams > 6 ? st.focal + d[6] : st.focal,
    pp: nParams > 6 ? [st.pp[0] + d[7], st.pp[1] + d[8]] : st.pp,
  });
  const cost = (r: Float64Array) => r.reduce((a, x) => a + x * x, 0);

  let st: State = { R: rotationMatrices(Float64Array.from(v.rotation)), t: Float64Array.from(v.translation), focal: shared.focal[0], pp: [shared.pp[0], shared.pp[1]] };
  let lmk = landmarks(shared.shape, v, st.R);
  let r = residuals(st, lmk);
  const initialCost = cost(r);
  let current = initialCost;
  let lambda = 1e-3;
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations && !converged) {
    iterations++;
    // Jacobian [M, nParams] by central differences (the landmarks held at this iteration's contour).
    const J = new Float64Array(M * nParams);
    for (let j = 0; j < nParams; j++) {
      // The projection works in float32 (render/camera.ts), so the step must be well above its rounding
      // (~1e-5 px at ~100 px): 1e-4 in radians, metres, focal units and pp gives ~1e-5 relative accuracy.
      const h = 1e-4;
      const d = new Float64Array(nParams);
      d[j] = h;
      const rp = residuals(apply(st, d), lmk);
      d[j] = -h;
      const rm = residuals(apply(st, d), lmk);
      for (let i = 0; i < M; i++) J[i * nParams + j] = (rp[i] - rm[i]) / (2 * h);
    }
    const JtJ = new Float64Array(nParams * nParams), Jtr = new Float64Array(nParams);
    for (let i = 0; i < M; i++) {
      for (let a = 0; a < nParams; a++) {
        Jtr[a] += J[i * nParams + a] * r[i];
        for (let b = 0; b < nParams; b++) JtJ[a * nParams + b] += J[i * nParams + a] * J[i * nParams + b];
      }
    }
    let improved = false;
    for (let tries = 0; tries < 10 && !improved; tries++) {
      const A = Float64Array.from(JtJ);
      for (let a = 0; a < nParams; a++) A[a * nParams + a] += lambda * (JtJ[a * nParams + a] + 1e-12);
      const step = solveSpd(A, Jtr.map((x) => -x), nParams);
      if (!step) {
        lambda *= 10;
        continue;
      }
      const next = apply(st, step);
      const nextLmk = landmarks(shared.shape, v, next.R);
      const nextR = residuals(next, nextLmk);
      const c = cost(nextR);
      if (c < current) {
        const relative = (current - c) / Math.max(current, 1e-300);
        st = next;
        lmk = nextLmk;
        r = nextR;
        current = c;
        lambda = Math.max(lambda / 3, 1e-9);
        improved = true;
        converged = relative < 1e-10;
      } else lambda *= 3;
    }
    if (!improved) break;
  }
  // Back to the contract's 6D (the first two rows of R) and the shared intrinsics.
  v.rotation.set(st.R.subarray(0, 6));
  v.translation.set(st.t);
  shared.focal[0] = st.focal;
  shared.pp[0] = st.pp[0];
  shared.pp[1] = st.pp[1];
  return { iterations, initialCost, cost: current };
}

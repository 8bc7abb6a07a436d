// An independent float64 FLAME forward pass, written from pixel3dmm-spec.md section 4.2 for tests only.
// It shares no code with the kernel: straightforward loops, closed-form rotations, no caching or batching
// tricks, so it can judge the kernel's values, and its finite differences can judge the kernel's gradients.
import type { FlameKernelArrays } from '../flame.js';

export interface ReferenceFrame {
  shape: ArrayLike<number>;
  expression: ArrayLike<number>;
  /** 5 rotations: 6D (first two rows of R) or axis-angle. */
  pose: ArrayLike<number>;
  rotationFormat: '6d' | 'axis-angle';
  eyelids?: ArrayLike<number>;
  landmarkRotation?: ArrayLike<number>; // 3x3 row-major
}

export interface ReferenceOutput {
  vertices: Float64Array;
  verticesNoNeck: Float64Array;
  jointTransforms: Float64Array; // [5, 4, 4]
  landmarks: Float64Array;
  contourBin: number;
}

type Mat3 = number[]; // row-major 3x3

function mul3(a: Mat3, b: Mat3): Mat3 {
  const o = new Array(9).fill(0);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) o[3 * r + c] += a[3 * r + k] * b[3 * k + c];
  return o;
}

/** Gram-Schmidt on the two given rows; R has rows b1, b2, b1 x b2. */
export function referenceRotation6d(x: ArrayLike<number>): Mat3 {
  const n1 = Math.hypot(x[0], x[1], x[2]);
  const b1 = [x[0] / n1, x[1] / n1, x[2] / n1];
  const d = b1[0] * x[3] + b1[1] * x[4] + b1[2] * x[5];
  const p = [x[3] - d * b1[0], x[4] - d * b1[1], x[5] - d * b1[2]];
  const n2 = Math.hypot(p[0], p[1], p[2]);
  const b2 = [p[0] / n2, p[1] / n2, p[2] / n2];
  const b3 = [b1[1] * b2[2] - b1[2] * b2[1], b1[2] * b2[0] - b1[0] * b2[2], b1[0] * b2[1] - b1[1] * b2[0]];
  return [...b1, ...b2, ...b3];
}

/** Rotation about the unit axis by |r| (the matrix exponential of [r]x), via the axis-angle formula. */
export function referenceRotationAxisAngle(r: ArrayLike<number>): Mat3 {
  const t = Math.hypot(r[0], r[1], r[2]);
  if (t === 0) return [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const [x, y, z] = [r[0] / t, r[1] / t, r[2] / t];
  const c = Math.cos(t), s = Math.sin(t), C = 1 - c;
  return [
    c + x * x * C, x * y * C - z * s, x * z * C + y * s,
    y * x * C + z * s, c + y * y * C, y * z * C - x * s,
    z * x * C - y * s, z * y * C + x * s, c + z * z * C,
  ];
}

export function referenceFlame(m: FlameKernelArrays, f: ReferenceFrame): ReferenceOutput {
  const V = m.numVertices;
  const n3 = 3 * V;
  // 1. v_s = T + sum beta S + sum psi E
  const vs = new Float64Array(n3);
  for (let i = 0; i < n3; i++) {
    let v = m.vTemplate[i];
    for (let k = 0; k < f.shape.length; k++) v += f.shape[k] * m.shapeBasis[k * n3 + i];
    for (let k = 0; k < f.expression.length; k++) v += f.expression[k] * m.exprBasis[k * n3 + i];
    vs[i] = v;
  }
  // 2. J = J_reg v_s
  const J: number[][] = [];
  for (let j = 0; j < 5; j++) {
    const p = [0, 0, 0];
    for (let e = m.jointOffsets[j]; e < m.jointOffsets[j + 1]; e++) {
      for (let d = 0; d < 3; d++) p[d] += m.jointWeights[e] * vs[3 * m.jointVertices[e] + d];
    }
    J.push(p);
  }
  // 3. rotations
  const dims = f.rotationFormat === '6d' ? 6 : 3;
  const R: Mat3[] = [];
  for (let j = 0; j < 5; j++) {
    const x = Array.from({ length: dims }, (_, k) => f.pose[j * dims + k]);
    R.push(dims === 6 ? referenceRotation6d(x) : referenceRotationAxisAngle(x));
  }
  const skin = (Rs: Mat3[], withEyelids: boolean): { v: Float64Array; A: number[][] } => {
    // pose feature vec(R_j - I), j = 1..4, index 9(j-1) + 3r + c
    const feat: number[] = [];
    for (let j = 1; j < 5; j++) for (let k = 0; k < 9; k++) feat.push(Rs[j][k] - (k % 4 === 0 ? 1 : 0));
    const vp = new Float64Array(n3);
    for (let i = 0; i < n3; i++) {
      let v = vs[i];
      for (let k = 0; k < 36; k++) v += feat[k] * m.poseBasis[k * n3 + i];
      vp[i] = v;
    }
    // 4. chain: G_0 = [R_0 | J_0], G_j = G_parent [R_j | J_j - J_parent]; A_j = G_j - [0 | G_j (J_j, 0)]
    const Gr: Mat3[] = [];
    const Gt: number[][] = [];
    for (let j = 0; j < 5; j++) {
      if (j === 0) {
        Gr.push(Rs[0]);
        Gt.push([...J[0]]);
      } else {
        const p = m.parents[j];
        Gr.push(mul3(Gr[p], Rs[j]));
        const rel = [J[j][0] - J[p][0], J[j][1] - J[p][1], J[j][2] - J[p][2]];
        Gt.push([0, 1, 2].map((r) => Gr[p][3 * r] * rel[0] + Gr[p][3 * r + 1] * rel[1] + Gr[p][3 * r + 2] * rel[2] + Gt[p][r]));
      }
    }
    const A = Gr.map((g, j) => {
      const t = [0, 1, 2].map((r) => Gt[j][r] - (g[3 * r] * J[j][0] + g[3 * r + 1] * J[j][1] + g[3 * r + 2] * J[j][2]));
      return [g[0], g[1], g[2], t[0], g[3], g[4], g[5], t[1], g[6], g[7], g[8], t[2], 0, 0, 0, 1];
    });
    // 5. LBS, 6. eyelids after skinning
    const v = new Float64Array(n3);
    for (let i = 0; i < V; i++) {
      for (let r = 0; r < 3; r++) {
        let s = 0;
        for (let j = 0; j < 5; j++) {
          const w = m.skinWeights[5 * i + j];
          const a = A[j];
          s += w * (a[4 * r] * vp[3 * i] + a[4 * r + 1] * vp[3 * i + 1] + a[4 * r + 2] * vp[3 * i + 2] + a[4 * r + 3]);
        }
        if (withEyelids && f.eyelids && m.eyelidBasis) {
          s += f.eyelids[0] * m.eyelidBasis[3 * i + r] + f.eyelids[1] * m.eyelidBasis[n3 + 3 * i + r];
        }
        v[3 * i + r] = s;
      }
    }
    return { v, A };
  };
  const posed = skin(R, true);
  const noNeck = skin([R[0], [1, 0, 0, 0, 1, 0, 0, 0, 1], R[2], R[3], R[4]], false);
  // 8. landmarks: 17 contour points picked by the yaw of rel = H R_neck, then the static ones
  let bin = 0;
  const lms: number[] = [];
  if (m.landmarks) {
    const L = m.landmarks;
    const H = f.landmarkRotation ? Array.from(f.landmarkRotation) : [1, 0, 0, 0, 1, 0, 0, 0, 1];
    const rel = mul3(H, R[1]);
    const yaw = (Math.atan2(-rel[6], Math.sqrt(rel[0] * rel[0] + rel[3] * rel[3])) * 180) / Math.PI;
    const x = Math.min(-yaw, 39);
    // torch.round: half to even
    let a = Math.round(x);
    if (Math.abs(x % 1) === 0.5 && a % 2 !== 0) a -= 1;
    bin = (a >= 0 ? a : a < -39 ? 78 : 39 - a) + 0; // + 0 turns -0 into 0
    const add = (verts: Int32Array, bary: Float64Array, o: number) => {
      for (let d = 0; d < 3; d++) {
        let s = 0;
        for (let c = 0; c < 3; c++) s += bary[o + c] * posed.v[3 * verts[o + c] + d];
        lms.push(s);
      }
    };
    if (L.staticVertices.length > 0) {
      for (let l = 0; l < L.dynamicPerBin; l++) add(L.dynamicVertices, L.dynamicBary, (bin * L.dynamicPerBin + l) * 3);
      for (let l = 0; l < L.staticVertices.length / 3; l++) add(L.staticVertices, L.staticBary, 3 * l);
    }
  }
  return {
    vertices: posed.v,
    verticesNoNeck: noNeck.v,
    jointTransforms: Float64Array.from(posed.A.flat()),
    landmarks: Float64Array.from(lms),
    contourBin: bin,
  };
}

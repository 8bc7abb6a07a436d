// Skinning rig of the synthetic head, in FLAME's layout: joints root, neck, jaw, left eye, right eye with
// parents [-1, 0, 1, 1, 1]; a sparse joint regressor (each joint a weighted mean of a few dozen vertices);
// smooth skinning weights; small pose correctives (posedirs) for the neck and the jaw.
import { MOUTH_Y } from './anatomy.js';
import type { HeadGeometry } from './mesh.js';
import { DEG } from './mesh.js';
import { clamp, lerp, smoothstep } from './spline.js';

export const NUM_JOINTS = 5;
export const POSE_FEATURES = 36;

export interface RegressorEntry {
  joint: number;
  vertex: number;
  weight: number;
}

export interface Rig {
  regressor: RegressorEntry[];
  joints: Float64Array; // [5 * 3] = regressor * template
  weights: Float64Array; // [V * 5]
  posedirs: Float64Array; // [V * 3 * 36]
  /** 0..1 per head vertex: how much the vertex follows the lower jaw (before the root blend). */
  jawSide: Float64Array;
  /** 0..1 per head vertex: lower-lip side of the mouth (1) or upper (0), sharp across the mouth slit. */
  lipSide: Float64Array;
  /** 0..1 per head vertex: ear flap (1 on the flap, 0 at its root and elsewhere). */
  earness: Float64Array;
}

/** Per-vertex semantic scalars shared by the rig, the blendshapes and the masks. */
export function lipAndJaw(g: HeadGeometry): { jawSide: Float64Array; lipSide: Float64Array; earness: Float64Array } {
  const H = g.numHead;
  const P = g.positions;
  const jawSide = new Float64Array(H);
  const lipSide = new Float64Array(H);
  const earness = new Float64Array(H);
  const corner = g.windows.mouthCorner;
  for (let v = 0; v < H; v++) {
    const x = P[3 * v];
    const y = P[3 * v + 1];
    const z = P[3 * v + 2];
    const row = g.rows[g.row[v]];
    if (!Number.isNaN(g.earB[v])) {
      // 1 on the middle of the flap, fading toward its root and toward its top and bottom
      const a = g.earA[v];
      earness[v] = smoothstep(1, 0.35, Math.abs(g.earB[v])) * smoothstep(0, 0.35, Math.min(a, 1 - a));
    }
    // Vertical split between the upper face and the lower jaw: along the mouth line in front, rising to
    // the jaw hinge in front of the ear; sharp at the lips, softer over the cheek.
    const yb = lerp(MOUTH_Y - 0.003, -0.024, clamp((0.045 - z) / 0.07, 0, 1));
    const width = lerp(0.006, 0.016, clamp((Math.abs(x) - 0.022) / 0.03, 0, 1));
    let side = 1 - smoothstep(-width, width, y - yb);
    const at = Math.abs(g.theta[v]);
    const nearMouth = row !== undefined && row.y0 !== undefined && Math.abs(row.y0 - MOUTH_Y) < 0.0125;
    if (nearMouth || row?.slot) {
      const s = row!.slot ? (row!.slot.lower ? 1 : 0) : row!.y0! < MOUTH_Y ? 1 : 0;
      const t = smoothstep(corner, corner + 5 * DEG, at);
      side = lerp(s, side, t);
    }
    lipSide[v] = side;
    // Under the chin the jaw's share fades toward the throat; behind the jaw angle it is zero.
    let under = 1;
    if (row?.region === 'neck' || row === undefined) under = 0;
    else if (row.region === 'underchin') under = smoothstep(-0.1, 0.85, row.mix!.f);
    const back = smoothstep(-0.052, -0.02, z);
    jawSide[v] = side * under * back * (1 - earness[v]);
  }
  return { jawSide, lipSide, earness };
}

/** Regressor entries for a joint near `target`: a horizontal slab of vertices, front/back balanced. */
function slabJoint(g: HeadGeometry, joint: number, target: [number, number, number], halfHeight: number, filter: (v: number) => boolean): RegressorEntry[] {
  const P = g.positions;
  const sel: number[] = [];
  for (let v = 0; v < g.numHead; v++) {
    if (Math.abs(P[3 * v + 1] - target[1]) <= halfHeight && filter(v)) sel.push(v);
  }
  const front = sel.filter((v) => P[3 * v + 2] > target[2]);
  const back = sel.filter((v) => P[3 * v + 2] <= target[2]);
  if (front.length === 0 || back.length === 0) throw new Error('synthetic head: joint regressor selection');
  const mean = (vs: number[]): number => vs.reduce((a, v) => a + P[3 * v + 2], 0) / vs.length;
  const mf = mean(front);
  const mb = mean(back);
  const alpha = clamp((target[2] - mb) / (mf - mb), 0.05, 0.95);
  return [
    ...front.map((v) => ({ joint, vertex: v, weight: alpha / front.length })),
    ...back.map((v) => ({ joint, vertex: v, weight: (1 - alpha) / back.length })),
  ];
}

export function buildRig(g: HeadGeometry): Rig {
  const V = g.positions.length / 3;
  const H = g.numHead;
  const P = g.positions;
  const { jawSide, lipSide, earness } = lipAndJaw(g);
  const plain = (v: number): boolean => {
    const r = g.rows[g.row[v]];
    return v !== g.pole && earness[v] === 0 && !r?.slot && !r?.pocket && Number.isNaN(g.earB[v]);
  };
  // Joint regressor.
  const regressor: RegressorEntry[] = [
    ...slabJoint(g, 0, [0, -0.118, -0.047], 0.008, plain),
    ...slabJoint(g, 1, [0, -0.079, -0.043], 0.0065, plain),
  ];
  // Jaw hinge: skin patches in front of both ears, level with the lower ear.
  const jaw: number[] = [];
  for (let v = 0; v < H; v++) {
    const x = Math.abs(P[3 * v]);
    const y = P[3 * v + 1];
    const z = P[3 * v + 2];
    if (plain(v) && x > 0.035 && Math.abs(y + 0.019) < 0.016 && z > -0.04 && z < -0.004) jaw.push(v);
  }
  for (const v of jaw) regressor.push({ joint: 2, vertex: v, weight: 1 / jaw.length });
  for (let e = 0; e < 2; e++) {
    for (let i = 0; i < g.eyeCount; i++) regressor.push({ joint: 3 + e, vertex: g.eyeStart[e] + i, weight: 1 / g.eyeCount });
  }
  const joints = new Float64Array(NUM_JOINTS * 3);
  for (const r of regressor) for (let c = 0; c < 3; c++) joints[3 * r.joint + c] += r.weight * P[3 * r.vertex + c];

  // Skinning weights.
  const weights = new Float64Array(V * 5);
  for (let v = 0; v < H; v++) {
    const y = P[3 * v + 1];
    const root = 1 - smoothstep(-0.178, -0.112, y);
    const j = jawSide[v];
    weights[5 * v] = root;
    weights[5 * v + 1] = (1 - root) * (1 - j);
    weights[5 * v + 2] = (1 - root) * j;
  }
  for (let e = 0; e < 2; e++) for (let i = 0; i < g.eyeCount; i++) weights[5 * (g.eyeStart[e] + i) + 3 + e] = 1;

  // Pose correctives (zero on the eyeballs). Feature k = 9 (j - 1) + 3 r + c of vec(R_j - I).
  const posedirs = new Float64Array(V * 3 * POSE_FEATURES);
  let keepNow = 1;
  const put = (v: number, k: number, d: [number, number, number]): void => {
    for (let c = 0; c < 3; c++) posedirs[(3 * v + c) * POSE_FEATURES + k] += keepNow * d[c];
  };
  const bump = (x: number, y: number, z: number, c: [number, number, number], r: number): number => {
    const q = ((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2) / (r * r);
    return q < 1 ? (1 - q) ** 3 : 0;
  };
  for (let v = 0; v < H; v++) {
    const x = P[3 * v];
    const y = P[3 * v + 1];
    const z = P[3 * v + 2];
    // (all correctives fade out toward the neck's bottom cut, which stays put)
    keepNow = smoothstep(-0.19, -0.165, y);
    if (keepNow === 0) continue;
    // Jaw opening (rotation about +x; sin = (R21 - R12) / 2): the skin under the chin and the throat
    // bulges down and forward, the cheeks beside the jaw pull in a little.
    const throat = bump(x, y, z, [0, -0.108, 0.012], 0.045);
    const cheek = bump(Math.abs(x), y, z, [0.05, -0.05, 0.01], 0.03);
    const jawD: [number, number, number] = [-Math.sign(x) * 0.002 * cheek, -0.003 * throat, 0.004 * throat];
    put(v, 9 + 7, [0.5 * jawD[0], 0.5 * jawD[1], 0.5 * jawD[2]]);
    put(v, 9 + 5, [-0.5 * jawD[0], -0.5 * jawD[1], -0.5 * jawD[2]]);
    // Jaw opening, second order (cos - 1 on R11 and R22): the lower lip thins.
    const lowLip = bump(x, y, z, [0, MOUTH_Y - 0.006, 0.058], 0.02) * lipSide[v];
    put(v, 9 + 4, [0, 0, 0.0015 * lowLip]);
    put(v, 9 + 8, [0, 0, 0.0015 * lowLip]);
    // Neck pitch (about +x): the throat folds forward when the head nods down, the nape stretches.
    const front = bump(x, y, z, [0, -0.115, 0.03], 0.05);
    const nape = bump(x, y, z, [0, -0.1, -0.085], 0.05);
    const pitch: [number, number, number] = [0, 0.001 * nape, 0.005 * front - 0.002 * nape];
    put(v, 7, [0.5 * pitch[0], 0.5 * pitch[1], 0.5 * pitch[2]]);
    put(v, 5, [-0.5 * pitch[0], -0.5 * pitch[1], -0.5 * pitch[2]]);
    // Neck yaw (about +y; sin = (R02 - R20) / 2): the neck skin twists a little.
    const neckMid = bump(x, y, z, [0, -0.13, -0.025], 0.07);
    const twist: [number, number, number] = [0.04 * (z + 0.025) * neckMid, 0, -0.04 * x * neckMid];
    put(v, 2, [0.5 * twist[0], 0.5 * twist[1], 0.5 * twist[2]]);
    put(v, 6, [-0.5 * twist[0], -0.5 * twist[1], -0.5 * twist[2]]);
  }
  return { regressor, joints, weights, posedirs, jawSide, lipSide, earness };
}

// Shape (identity) and expression blendshapes of the synthetic head, as smooth displacement fields.
//
// Units: metres per unit coefficient, sized like FLAME's PCA bases at sigma 1 (a few millimetres).
// Identity: 30 designed components (head size, width, height, depth, face length, jaw, nose, chin, cheeks,
// forehead, ears, lips, neck, ...) then random smooth low-frequency fields with decreasing magnitude, all
// mirror-symmetric except for a small random asymmetric part.
// Expression: 20 designed components (mouth open, smile, pucker, brows, cheeks, squint, jaw, lips, ...),
// then smaller random local fields on the face.
// Near the eyes every component only slides the skin along the eyeball (whose surface it must not cross);
// no component moves an eyeball vertex.
import { EYE_CENTER, MOUTH_Y } from './anatomy.js';
import type { HeadGeometry } from './mesh.js';
import type { Prng } from './prng.js';
import type { Rig } from './rig.js';
import { smoothNormals } from './geometry-utils.js';
import { smoothstep } from './spline.js';

export const NUM_SHAPE = 300;
export const NUM_EXPRESSION = 100;
export const NUM_BLENDSHAPES = NUM_SHAPE + NUM_EXPRESSION;
export const NUM_DESIGNED_SHAPE = 30;
export const NUM_DESIGNED_EXPRESSION = 20;

type Vec3 = [number, number, number];
type FieldFn = (v: number, x: number, y: number, z: number, out: Float64Array) => void;

const [EX, EY, EZ] = EYE_CENTER;

function bump(x: number, y: number, z: number, cx: number, cy: number, cz: number, r: number): number {
  const dx = x - cx;
  const dy = y - cy;
  const dz = z - cz;
  const q = (dx * dx + dy * dy + dz * dz) / (r * r);
  if (q >= 1) return 0;
  const t = 1 - q;
  return t * t * t;
}

/** Bump centred at (cx, cy, cz) and at its mirror (-cx, cy, cz). */
function symBump(x: number, y: number, z: number, cx: number, cy: number, cz: number, r: number): number {
  return bump(Math.abs(x), y, z, cx, cy, cz, r);
}

function eyeDistance(x: number, y: number, z: number): number {
  return Math.hypot(Math.abs(x) - EX, y - EY, z - EZ);
}

export interface BlendshapeContext {
  g: HeadGeometry;
  rig: Rig;
  normals: Float64Array; // template vertex normals [V*3]
  rng: Prng;
}

/** Fill shapedirs [V, 3, 400] (row-major: ((v * 3) + c) * 400 + k). */
export function buildShapedirs(ctx: BlendshapeContext): Float64Array {
  const { g } = ctx;
  const V = g.positions.length / 3;
  const out = new Float64Array(V * 3 * NUM_BLENDSHAPES);
  const H = g.numHead;
  const P = g.positions;
  // Normals smoothed over a few rings, so that fields along the normal stay smooth across creases.
  const N = smoothNormals(ctx.normals, g.faces, V, 4);
  const d = new Float64Array(3);
  const tmp = new Float64Array(H * 3);

  // Near the eyes the motion is made tangent to the (fixed) eyeball: the lids slide over it, never into
  // it or away from it. Identity components are also damped there a little.
  // Random components are damped there more (the pocket behind the eyeball bends sharply).
  const nearEye = new Float64Array(H);
  const identityDamp = new Float64Array(H);
  const randomDamp = new Float64Array(H);
  for (let v = 0; v < H; v++) {
    const e = eyeDistance(P[3 * v], P[3 * v + 1], P[3 * v + 2]);
    nearEye[v] = 1 - smoothstep(0.0145, 0.026, e);
    identityDamp[v] = 0.35 + 0.65 * smoothstep(0.012, 0.034, e);
    randomDamp[v] = smoothstep(0.011, 0.04, e);
  }
  // Components are staged in batches of BATCH and written to the [V, 3, 400] layout together, so each
  // row of the output is touched once per batch rather than once per component.
  const BATCH = 16;
  const batch = Array.from({ length: BATCH }, () => new Float64Array(H * 3));
  let nextK = 0;
  const flush = (first: number, count: number): void => {
    for (let r = 0; r < H * 3; r++) {
      const o = r * NUM_BLENDSHAPES + first;
      for (let j = 0; j < count; j++) out[o + j] = batch[j][r];
    }
  };
  const write = (k: number, scale: number, expression: boolean, random = false): void => {
    if (k !== nextK) throw new Error('synthetic head: blendshapes out of order');
    nextK++;
    const dst = batch[k % BATCH];
    for (let v = 0; v < H; v++) {
      const damp = random ? randomDamp[v] : expression ? 1 : identityDamp[v];
      let dx = tmp[3 * v] * scale * damp;
      let dy = tmp[3 * v + 1] * scale * damp;
      let dz = tmp[3 * v + 2] * scale * damp;
      {
        const w = nearEye[v];
        if (w > 0) {
          const x = P[3 * v];
          const rx = Math.abs(x) - EX;
          const ry = P[3 * v + 1] - EY;
          const rz = P[3 * v + 2] - EZ;
          const rl = Math.hypot(rx, ry, rz) || 1;
          const ux = (x < 0 ? -rx : rx) / rl;
          const uy = ry / rl;
          const uz = rz / rl;
          const radial = dx * ux + dy * uy + dz * uz;
          dx -= w * radial * ux;
          dy -= w * radial * uy;
          dz -= w * radial * uz;
        }
      }
      dst[3 * v] = dx;
      dst[3 * v + 1] = dy;
      dst[3 * v + 2] = dz;
    }
    if (k % BATCH === BATCH - 1 || k === NUM_BLENDSHAPES - 1) flush(k - (k % BATCH), (k % BATCH) + 1);
  };
  const fill = (fn: FieldFn): void => {
    for (let v = 0; v < H; v++) {
      d[0] = d[1] = d[2] = 0;
      fn(v, P[3 * v], P[3 * v + 1], P[3 * v + 2], d);
      tmp[3 * v] = d[0];
      tmp[3 * v + 1] = d[1];
      tmp[3 * v + 2] = d[2];
    }
  };
  const normalAlong = (v: number, s: number, o: Float64Array): void => {
    o[0] += N[3 * v] * s;
    o[1] += N[3 * v + 1] * s;
    o[2] += N[3 * v + 2] * s;
  };
  const { lipSide, jawSide, earness } = ctx.rig;
  const front = (z: number): number => smoothstep(-0.03, 0.02, z);
  const neckFade = (y: number): number => smoothstep(-0.19, -0.12, y);
  const earRoot: Vec3 = [0.071, -0.001, -0.036];

  const designedShape: FieldFn[] = [
    // 0 head size (uniform scale about the middle of the head)
    (_v, x, y, z, o) => {
      o[0] = 0.04 * x;
      o[1] = 0.04 * (y + 0.02);
      o[2] = 0.04 * (z + 0.03);
    },
    // 1 head width
    (_v, x, _y, _z, o) => {
      o[0] = 0.055 * x;
    },
    // 2 cranium height
    (_v, _x, y, _z, o) => {
      o[1] = 0.055 * Math.max(0, y - 0.02) * smoothstep(0.02, 0.06, y);
    },
    // 3 head depth (the back of the head)
    (_v, _x, _y, z, o) => {
      o[2] = -0.05 * Math.max(0, -0.01 - z) * smoothstep(-0.01, -0.05, z);
    },
    // 4 face length (everything below the nose moves down, fading on the neck)
    (_v, _x, y, z, o) => {
      o[1] = -0.004 * smoothstep(0.0, -0.085, y) * front(z) * neckFade(y);
    },
    // 5 jaw width
    (_v, x, y, _z, o) => {
      o[0] = 0.09 * x * smoothstep(-0.005, -0.045, y) * smoothstep(-0.125, -0.085, y);
    },
    // 6 nose size (scale about the nose root)
    (_v, x, y, z, o) => {
      const w = bump(x, y, z, 0, -0.005, 0.068, 0.034);
      o[0] = 0.14 * x * w;
      o[1] = 0.14 * (y - 0.012) * w;
      o[2] = 0.14 * (z - 0.05) * w;
    },
    // 7 nose projection
    (_v, x, y, z, o) => {
      o[2] = 0.004 * bump(x, y, z, 0, -0.012, 0.074, 0.036);
    },
    // 8 nose width
    (_v, x, y, z, o) => {
      o[0] = 0.3 * x * bump(x, y, z, 0, -0.016, 0.06, 0.034);
    },
    // 9 chin projection
    (_v, x, y, z, o) => {
      const w = bump(x, y, z, 0, -0.084, 0.048, 0.04);
      o[1] = -0.0015 * w;
      o[2] = 0.004 * w;
    },
    // 10 cheek fullness
    (v, x, y, z, o) => normalAlong(v, 0.004 * symBump(x, y, z, 0.047, -0.015, 0.03, 0.034), o),
    // 11 forehead slope
    (_v, _x, y, z, o) => {
      o[2] = -0.004 * smoothstep(0.045, 0.11, y) * front(z);
    },
    // 12 ear size (scale about the ear's root)
    (v, x, y, z, o) => {
      const e = earness[v];
      const sx = x < 0 ? -1 : 1;
      o[0] = 0.16 * e * (x - sx * earRoot[0]);
      o[1] = 0.16 * e * (y - earRoot[1]);
      o[2] = 0.16 * e * (z - earRoot[2]);
    },
    // 13 ear protrusion
    (v, x, y, z, o) => {
      const e = earness[v];
      const sx = x < 0 ? -1 : 1;
      o[0] = sx * 0.22 * e * Math.hypot(x - sx * earRoot[0], y - earRoot[1], z - earRoot[2]);
    },
    // 14 lip thickness
    (_v, x, y, z, o) => {
      o[2] = 0.0022 * bump(x, y, z, 0, MOUTH_Y, 0.06, 0.026);
    },
    // 15 mouth width
    (_v, x, y, z, o) => {
      o[0] = 0.14 * x * bump(x, y, z, 0, MOUTH_Y, 0.05, 0.036);
    },
    // 16 brow ridge
    (v, x, y, z, o) => normalAlong(v, 0.003 * symBump(x, y, z, 0.03, 0.05, 0.058, 0.03), o),
    // 17 neck thickness
    (_v, x, y, z, o) => {
      const w = 1 - smoothstep(-0.115, -0.07, y);
      o[0] = 0.08 * x * w;
      o[2] = 0.08 * (z + 0.03) * w;
    },
    // 18 cheekbone width
    (_v, x, y, z, o) => {
      o[0] = 0.12 * x * symBump(x, y, z, 0.055, 0.008, 0.02, 0.042);
    },
    // 19 nasal bridge height
    (v, x, y, z, o) => normalAlong(v, 0.0025 * bump(x, y, z, 0, 0.02, 0.058, 0.026), o),
    // 20 chin height
    (_v, _x, y, z, o) => {
      o[1] = -0.003 * smoothstep(MOUTH_Y - 0.01, -0.09, y) * front(z) * neckFade(y);
    },
    // 21 fullness under the chin
    (v, x, y, z, o) => normalAlong(v, 0.004 * bump(x, y, z, 0, -0.1, 0.02, 0.046), o),
    // 22 jaw angle
    (v, x, y, z, o) => normalAlong(v, 0.003 * symBump(x, y, z, 0.055, -0.068, -0.025, 0.048), o),
    // 23 occiput
    (v, x, y, z, o) => normalAlong(v, 0.004 * bump(x, y, z, 0, 0.0, -0.15, 0.085), o),
    // 24 temples
    (v, x, y, z, o) => normalAlong(v, 0.003 * symBump(x, y, z, 0.066, 0.045, 0.0, 0.048), o),
    // 25 upper lip length (mouth down relative to the nose)
    (_v, x, y, z, o) => {
      o[1] = -0.002 * bump(x, y, z, 0, MOUTH_Y - 0.01, 0.05, 0.035);
    },
    // 26 nostril flare
    (_v, x, y, z, o) => {
      o[0] = 0.16 * x * symBump(x, y, z, 0.015, -0.02, 0.062, 0.022);
    },
    // 27 lower lip protrusion
    (v, x, y, z, o) => {
      o[2] = 0.002 * bump(x, y, z, 0, MOUTH_Y - 0.008, 0.058, 0.026) * lipSide[v];
    },
    // 28 forehead width
    (_v, x, y, z, o) => {
      o[0] = 0.08 * x * smoothstep(0.035, 0.1, y) * front(z);
    },
    // 29 central face forward
    (_v, x, y, z, o) => {
      o[2] = 0.003 * bump(x, y, z, 0, -0.01, 0.06, 0.07);
    },
  ];
  // Peak displacement (mm at +1) of each designed identity component: global proportions larger, local
  // features smaller, like the leading components of a face PCA.
  const shapePeakMm = [
    5, 4, 4, 5, 3, 3.5, 2.5, 2.5, 1.8, 2.5, 2.5, 2.5, 3.5, 4, 1.5, 1.2, 1.8, 3, 2.5, 1.8,
    2, 2, 2, 3, 2, 1.2, 1.5, 1.2, 2, 2,
  ];
  designedShape.forEach((fn, k) => {
    fill(fn);
    let peak = 0;
    for (let v = 0; v < H; v++) peak = Math.max(peak, Math.hypot(tmp[3 * v], tmp[3 * v + 1], tmp[3 * v + 2]));
    write(k, (shapePeakMm[k] * 0.001) / peak, false);
  });

  // Random identity fields: a few large symmetric bumps each, of decreasing size and magnitude.
  const rng = ctx.rng;
  const randomField = (count: number, rMin: number, rMax: number, centres: number[], asym: number): void => {
    const cs: Array<{ c: Vec3; r: number; a: Vec3; m: number }> = [];
    for (let i = 0; i < count; i++) {
      const v = centres[Math.floor(rng.uniform() * centres.length)];
      const n: Vec3 = [N[3 * v], N[3 * v + 1], N[3 * v + 2]];
      const s = rng.normal();
      const a: Vec3 = [
        0.75 * s * n[0] + 0.35 * rng.normal(),
        0.75 * s * n[1] + 0.35 * rng.normal(),
        0.75 * s * n[2] + 0.35 * rng.normal(),
      ];
      cs.push({ c: [P[3 * v], P[3 * v + 1], P[3 * v + 2]], r: rMin + (rMax - rMin) * rng.uniform(), a, m: 1 - 2 * asym * rng.uniform() });
    }
    tmp.fill(0);
    for (const b of cs) {
      // The bump and its mirror, each added only where it is non-zero.
      const r2 = b.r * b.r;
      for (let side = 0; side < 2; side++) {
        const cx = side === 0 ? b.c[0] : -b.c[0];
        const cy = b.c[1];
        const cz = b.c[2];
        const m = side === 0 ? 1 : b.m;
        const sx = side === 0 ? 1 : -1;
        for (let v = 0; v < H; v++) {
          const dx = P[3 * v] - cx;
          const d2x = dx * dx;
          if (d2x >= r2) continue;
          const dy = P[3 * v + 1] - cy;
          const dz = P[3 * v + 2] - cz;
          const q = (d2x + dy * dy + dz * dz) / r2;
          if (q >= 1) continue;
          const t = 1 - q;
          const w = m * t * t * t;
          tmp[3 * v] += sx * b.a[0] * w;
          tmp[3 * v + 1] += b.a[1] * w;
          tmp[3 * v + 2] += b.a[2] * w;
        }
      }
    }
    let peak = 0;
    for (let v = 0; v < H; v++) {
      const l = tmp[3 * v] * tmp[3 * v] + tmp[3 * v + 1] * tmp[3 * v + 1] + tmp[3 * v + 2] * tmp[3 * v + 2];
      if (l > peak) peak = l;
    }
    peak = Math.sqrt(peak);
    if (peak > 0) for (let i = 0; i < tmp.length; i++) tmp[i] /= peak;
  };
  const allHead: number[] = [];
  for (let v = 0; v < H; v++) if (v !== g.pole) allHead.push(v);
  for (let k = NUM_DESIGNED_SHAPE; k < NUM_SHAPE; k++) {
    const t = (k - NUM_DESIGNED_SHAPE) / (NUM_SHAPE - NUM_DESIGNED_SHAPE);
    randomField(3, 0.05 - 0.008 * t, 0.095 - 0.02 * t, allHead, 0.12);
    const sigma = 0.0008 * Math.exp(-(k - NUM_DESIGNED_SHAPE) / 50) + 0.00006;
    write(k, sigma, false, true);
  }

  // Expression.
  const M = MOUTH_Y;
  const lowerMouth = (v: number, x: number, y: number, z: number): number => lipSide[v] * bump(x, y, z, 0, -0.062, 0.042, 0.075);
  const upperMouth = (v: number, x: number, y: number, z: number): number => (1 - lipSide[v]) * bump(x, y, z, 0, M + 0.008, 0.05, 0.028);
  const designedExpression: FieldFn[] = [
    // 0 mouth open: the lips part, the lower lip and chin drop
    (v, x, y, z, o) => {
      const lo = lowerMouth(v, x, y, z);
      const up = upperMouth(v, x, y, z);
      o[1] = -0.004 * lo + 0.0009 * up;
      o[2] = -0.0008 * lo;
    },
    // 1 smile: mouth corners up, back and out; cheeks lift
    (_v, x, y, z, o) => {
      const c = symBump(x, y, z, 0.026, M, 0.045, 0.022);
      const ch = symBump(x, y, z, 0.036, -0.016, 0.045, 0.026);
      o[0] = 0.0012 * Math.sign(x) * c;
      o[1] = 0.003 * c + 0.0015 * ch;
      o[2] = -0.0018 * c + 0.0005 * ch;
    },
    // 2 pucker: lips forward and together
    (_v, x, y, z, o) => {
      const w = bump(x, y, z, 0, M, 0.06, 0.032);
      o[0] = -0.12 * x * w;
      o[2] = 0.0035 * w;
    },
    // 3 brow raise
    (_v, x, y, z, o) => {
      o[1] = 0.003 * symBump(x, y, z, 0.03, 0.052, 0.055, 0.036);
    },
    // 4 frown: brows down and together
    (_v, x, y, z, o) => {
      const w = symBump(x, y, z, 0.022, 0.048, 0.058, 0.026);
      o[0] = -0.0015 * Math.sign(x) * w;
      o[1] = -0.002 * w;
      o[2] = 0.0005 * w;
    },
    // 5 cheek puff
    (v, x, y, z, o) => normalAlong(v, 0.004 * symBump(x, y, z, 0.04, -0.036, 0.04, 0.03), o),
    // 6 squint: lower lids and the skin below them rise
    (_v, x, y, z, o) => {
      o[1] = 0.0018 * symBump(x, y, z, EX, EY - 0.01, EZ + 0.012, 0.02);
    },
    // 7 jaw forward
    (v, _x, _y, _z, o) => {
      o[2] = 0.003 * jawSide[v];
    },
    // 8 jaw sideways
    (v, _x, _y, _z, o) => {
      o[0] = 0.003 * jawSide[v];
    },
    // 9 lips pressed together
    (v, x, y, z, o) => {
      o[1] = 0.0012 * (2 * lipSide[v] - 1) * bump(x, y, z, 0, M, 0.058, 0.022);
    },
    // 10 upper lip raise
    (v, x, y, z, o) => {
      const w = (1 - lipSide[v]) * bump(x, y, z, 0, M + 0.008, 0.058, 0.021);
      o[1] = 0.0025 * w;
      o[2] = 0.0005 * w;
    },
    // 11 lower lip depress
    (v, x, y, z, o) => {
      const w = lipSide[v] * bump(x, y, z, 0, M - 0.008, 0.058, 0.021);
      o[1] = -0.0025 * w;
      o[2] = 0.0005 * w;
    },
    // 12 lip stretch
    (_v, x, y, z, o) => {
      const w = symBump(x, y, z, 0.025, M, 0.045, 0.021);
      o[0] = 0.0025 * Math.sign(x) * w;
      o[2] = -0.0005 * w;
    },
    // 13 nose wrinkle
    (_v, x, y, z, o) => {
      o[1] = 0.002 * symBump(x, y, z, 0.012, -0.006, 0.06, 0.023);
    },
    // 14 smile, left side only
    (_v, x, y, z, o) => {
      const c = bump(x, y, z, 0.026, M, 0.045, 0.022);
      o[0] = 0.0012 * c;
      o[1] = 0.003 * c;
      o[2] = -0.0018 * c;
    },
    // 15 smile, right side only
    (_v, x, y, z, o) => {
      const c = bump(x, y, z, -0.026, M, 0.045, 0.022);
      o[0] = -0.0012 * c;
      o[1] = 0.003 * c;
      o[2] = -0.0018 * c;
    },
    // 16 inner brow raise
    (_v, x, y, z, o) => {
      o[1] = 0.0025 * symBump(x, y, z, 0.016, 0.05, 0.058, 0.027);
    },
    // 17 outer brow raise
    (_v, x, y, z, o) => {
      o[1] = 0.0025 * symBump(x, y, z, 0.046, 0.046, 0.045, 0.028);
    },
    // 18 chin raise (the chin and lower lip push up)
    (v, x, y, z, o) => {
      const w = lipSide[v] * bump(x, y, z, 0, -0.072, 0.055, 0.028);
      o[1] = 0.002 * w;
      o[2] = 0.001 * w;
    },
    // 19 cheek suck
    (v, x, y, z, o) => normalAlong(v, -0.003 * symBump(x, y, z, 0.046, -0.036, 0.035, 0.025), o),
  ];
  designedExpression.forEach((fn, k) => {
    fill(fn);
    write(NUM_SHAPE + k, 1, true);
  });
  const faceCentres: number[] = [];
  for (let v = 0; v < H; v++) {
    const y = P[3 * v + 1];
    if (Math.abs(g.theta[v]) < (55 * Math.PI) / 180 && y > -0.095 && y < 0.065 && P[3 * v + 2] > 0.0) {
      const r = g.rows[g.row[v]];
      if (!r?.slot && !r?.pocket) faceCentres.push(v);
    }
  }
  for (let k = NUM_DESIGNED_EXPRESSION; k < NUM_EXPRESSION; k++) {
    const t = (k - NUM_DESIGNED_EXPRESSION) / (NUM_EXPRESSION - NUM_DESIGNED_EXPRESSION);
    randomField(2, 0.027 + 0.006 * (1 - t), 0.038 + 0.012 * (1 - t), faceCentres, 0.3);
    const sigma = 0.0016 * Math.exp(-(k - NUM_DESIGNED_EXPRESSION) / 40) + 0.0002;
    write(NUM_SHAPE + k, sigma, true, true);
  }
  if (nextK !== NUM_BLENDSHAPES) throw new Error('synthetic head: missing blendshapes');
  return out;
}

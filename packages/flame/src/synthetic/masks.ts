// Vertex masks of the synthetic head, named as in FLAME_masks.pkl (sorted vertex indices).
import { EYE_CENTER, MOUTH_Y } from './anatomy.js';
import type { HeadGeometry } from './mesh.js';
import { DEG } from './mesh.js';

const [EX, EY] = EYE_CENTER;

export function buildMasks(g: HeadGeometry): Record<string, number[]> {
  const H = g.numHead;
  const P = g.positions;
  const sets: Record<string, number[]> = {
    face: [],
    left_eyeball: [],
    right_eyeball: [],
    eye_region: [],
    left_eye_region: [],
    right_eye_region: [],
    lips: [],
    nose: [],
    forehead: [],
    scalp: [],
    neck: [],
    left_ear: [],
    right_ear: [],
    boundary: [],
  };
  const faceSpan = 62 * DEG;
  for (let v = 0; v < H; v++) {
    const x = P[3 * v];
    const y = P[3 * v + 1];
    const z = P[3 * v + 2];
    const at = Math.abs(g.theta[v]);
    const r = g.rows[g.row[v]];
    const ear = !Number.isNaN(g.earB[v]);
    const isPole = v === g.pole;
    if (r?.isBoundary) sets.boundary.push(v);
    if (ear) (x > 0 ? sets.left_ear : sets.right_ear).push(v);
    const y0 = r?.y0;
    const inFace =
      !isPole &&
      !ear &&
      at <= faceSpan &&
      (((r.region === 'face' || r.region === 'slot' || r.region === 'pocket') && y0 !== undefined && y0 <= EY + 0.061) ||
        (r.region === 'underchin' && r.mix!.f >= 0.55));
    if (inFace) sets.face.push(v);
    if (inFace && y0 !== undefined && y0 >= EY + 0.021 && at <= 55 * DEG) sets.forehead.push(v);
    if (!ear && z > 0 && Math.abs(Math.abs(x) - EX) < 0.026 && Math.abs(y - EY) < 0.02) {
      sets.eye_region.push(v);
      (x > 0 ? sets.left_eye_region : sets.right_eye_region).push(v);
    }
    // Lips: the red of the lips (an outline around the mouth line, with a cupid's bow) and the slit.
    const xi = at / (g.windows.mouthCorner * 1.04);
    if (r?.slot !== undefined) sets.lips.push(v);
    else if (xi < 1 && !ear) {
      const q = Math.sqrt(1 - xi * xi);
      const upper = MOUTH_Y + 0.0004 + 0.0108 * q - 0.0013 * Math.exp(-((xi / 0.12) ** 2));
      const lower = MOUTH_Y - 0.0004 - 0.012 * q;
      if (y <= upper && y >= lower && z > 0.02) sets.lips.push(v);
    }
    const noseHalf = 0.0105 + 0.0085 * Math.min(1, Math.max(0, (EY - y) / (EY + 0.02)));
    if (Math.abs(x) < noseHalf && y > -0.0268 && y < EY + 0.005 && z > 0.04 && !r?.pocket) sets.nose.push(v);
    if (!inFace && !ear && !isPole) {
      const scalp = r?.region === 'scalp' || (at > faceSpan && y > 0.03) || (at > 120 * DEG && y > -0.05);
      const neck = r?.region === 'neck' || (r?.region === 'underchin' && r.mix!.f < 0.55) || (y < -0.075 && at > faceSpan);
      if (scalp) sets.scalp.push(v);
      else if (neck) sets.neck.push(v);
    } else if (isPole) sets.scalp.push(v);
  }
  for (let i = 0; i < g.eyeCount; i++) {
    sets.left_eyeball.push(g.eyeStart[0] + i);
    sets.right_eyeball.push(g.eyeStart[1] + i);
  }
  for (const k of Object.keys(sets)) sets[k].sort((a, b) => a - b);
  return sets;
}

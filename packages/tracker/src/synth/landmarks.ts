// Ground-truth WFLW-98 landmarks of a synthetic frame, as PIPnet_landmarks/*.npy stores them.
//
// Choice (documented for the tracker's tests): they are the posed FLAME landmarks projected with the
// tracker's POINT projection (camera.projectPoints, spec 5) at the tracking size S, stored as (x_s/S, y_s/S).
// The tracker reads lmk98 * S, so at the ground-truth parameters its landmark terms are exactly 0 (up to
// float32), and not off by the half pixel between the point projection and the raster.
//
// From iBUG-68 (FLAME's landmark embedding: 17 contour points chosen by the head's yaw, then 51 static) to
// WFLW-98: the 68 map through WFLW_TO_IBUG68; the 30 other WFLW points are placed in 3D on the posed head,
// then projected like the rest:
//   - contour 1, 3, .., 31: between consecutive iBUG contour points, on the cubic through their neighbours
//     (the 4-point midpoint rule (-a + 9b + 9c - d)/16; at the two ends the parabola through 3 points);
//   - lower brow edges 38-41 and 47-50: midpoints of consecutive upper-edge points moved a quarter of the way
//     towards the eye's centre (a brow about 6 mm thick);
//   - lid midpoints 62, 66, 70, 74: between the two lid landmarks on either side, on the cubic through the
//     lid's four points (corner, lid, lid, corner), so on the lid's arc rather than its chord;
//   - pupils 96 (the subject's right eye, image-left) and 97 (the subject's left): the pupil vertices
//     (`pupilVertices`).
import type { FlameModel } from '@pixel3dmm/flame';
import { WFLW_LANDMARKS, WFLW_PUPILS, WFLW_TO_IBUG68 } from '@pixel3dmm/formats';
import { projectPoints, type Camera } from '@pixel3dmm/render';

/** FLAME's pupil vertices, used by the original's iris terms (spec 6.5): right eye 4597, left eye 4051. */
export const FLAME_PUPIL_VERTICES = { right: 4597, left: 4051 } as const;

/**
 * The pupil vertex of each eye. In the built-in synthetic head each eyeball's first vertex is its front pole
 * (4477 right, 3931 left); a model laid out that way (first eyeball vertex = the most forward one in the
 * template) uses those, any other model FLAME's 4597 / 4051.
 */
export function pupilVertices(model: FlameModel): { right: number; left: number } {
  const front = (name: string): number | null => {
    const ids = model.masks[name];
    if (!ids || ids.length === 0) return null;
    const first = Math.min(...ids);
    const z = (v: number) => model.vTemplate[3 * v + 2];
    for (const v of ids) if (z(v) > z(first)) return null;
    return first;
  };
  const right = front('right_eyeball'), left = front('left_eyeball');
  if (right !== null && left !== null) return { right, left };
  return { ...FLAME_PUPIL_VERTICES };
}

type Vec3 = [number, number, number];

const at = (a: ArrayLike<number>, i: number): Vec3 => [a[3 * i], a[3 * i + 1], a[3 * i + 2]];
const mid = (a: Vec3, b: Vec3): Vec3 => [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2];
/** Midpoint between b and c on the interpolating cubic through a, b, c, d (equally spaced parameters). */
const cubicMid = (a: Vec3, b: Vec3, c: Vec3, d: Vec3): Vec3 => [0, 1, 2].map((k) => (-a[k] + 9 * b[k] + 9 * c[k] - d[k]) / 16) as Vec3;
/** Midpoint between a and b on the parabola through a, b, c (for the ends of an open curve). */
const quadraticMid = (a: Vec3, b: Vec3, c: Vec3): Vec3 => [0, 1, 2].map((k) => (3 * a[k] + 6 * b[k] - c[k]) / 8) as Vec3;
const towards = (a: Vec3, b: Vec3, f: number): Vec3 => [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
const mean = (ps: Vec3[]): Vec3 => {
  const s: Vec3 = [0, 0, 0];
  for (const p of ps) for (let d = 0; d < 3; d++) s[d] += p[d] / ps.length;
  return s;
};

/**
 * WFLW-98 points [98*3] in the space of the inputs, from the 68 FLAME landmarks [68*3] and the vertices [V*3]
 * (both in the same space, e.g. world).
 */
export function wflw98FromIbug68(landmarks68: ArrayLike<number>, vertices: ArrayLike<number>, pupils: { right: number; left: number }): Float32Array {
  if (landmarks68.length !== 68 * 3) throw new RangeError(`wflw98FromIbug68: expected 68 landmarks (204 values), got ${landmarks68.length}`);
  const L = (i: number) => at(landmarks68, i);
  const out = new Float32Array(WFLW_LANDMARKS * 3);
  const put = (w: number, p: Vec3) => out.set(p, 3 * w);
  WFLW_TO_IBUG68.forEach((w, i) => put(w, L(i)));
  put(1, quadraticMid(L(0), L(1), L(2)));
  for (let k = 1; k < 15; k++) put(2 * k + 1, cubicMid(L(k - 1), L(k), L(k + 1), L(k + 2)));
  put(31, quadraticMid(L(16), L(15), L(14)));
  const rightEye = mean([36, 37, 38, 39, 40, 41].map(L));
  const leftEye = mean([42, 43, 44, 45, 46, 47].map(L));
  // Right brow (image-left): upper edge 33..37 = iBUG 17..21 (outer -> inner); lower edge 38..41 runs back out.
  [[20, 21], [19, 20], [18, 19], [17, 18]].forEach(([a, b], j) => put(38 + j, towards(mid(L(a), L(b)), rightEye, 0.25)));
  // Left brow: upper edge 42..46 = iBUG 22..26 (inner -> outer); lower edge 47..50 runs back in.
  [[25, 26], [24, 25], [23, 24], [22, 23]].forEach(([a, b], j) => put(47 + j, towards(mid(L(a), L(b)), leftEye, 0.25)));
  // Each lid runs corner -> lid -> lid -> corner: upper 36-37-38-39, lower 39-40-41-36 (and 42.. for the left).
  put(62, cubicMid(L(36), L(37), L(38), L(39)));
  put(66, cubicMid(L(39), L(40), L(41), L(36)));
  put(70, cubicMid(L(42), L(43), L(44), L(45)));
  put(74, cubicMid(L(45), L(46), L(47), L(42)));
  put(WFLW_PUPILS[0], at(vertices, pupils.right));
  put(WFLW_PUPILS[1], at(vertices, pupils.left));
  return out;
}

/** World points [98*3] -> the stored landmark file's values [98*2]: (x_s/S, y_s/S) of the point projection at S. */
export function normalisedLandmarks(camera: Camera, world98: Float32Array): Float32Array {
  const p = projectPoints(camera, world98);
  const out = new Float32Array(WFLW_LANDMARKS * 2);
  for (let i = 0; i < WFLW_LANDMARKS; i++) {
    out[2 * i] = p[3 * i] / camera.size;
    out[2 * i + 1] = p[3 * i + 1] / camera.size;
  }
  return out;
}

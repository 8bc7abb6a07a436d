// The neutral synthetic head as an implicit surface F(p) = 0 (F < 0 inside, roughly a signed distance in
// metres), in FLAME's frame: x to the subject's left, y up, z forward (the face looks toward +z), metres.
//
// Built from a few smooth primitives: a cranium ellipsoid, a neck cylinder, a jaw ellipsoid and a "face
// slab" (a frontal height field z = Z(x, y) carrying forehead, brows, nose, cheeks, lips and chin), with the
// orbits carved out and the eyelids (spheres slightly larger than the eyeballs) put back in. The mesh
// generator samples it along rays (see mesh.ts); the eye openings, the mouth slit and the ears are shaped
// explicitly there because a closed implicit surface cannot hold them.
import { FastCurve, Pchip } from './spline.js';

export const EYE_RADIUS = 0.0125;
/** Centre of the left eyeball (+x); the right one is its mirror. */
export const EYE_CENTER: readonly [number, number, number] = [0.0315, 0.0285, 0.0275];
export const LID_THICKNESS = 0.0011;
/** Mouth line (stomion) height at the midline. */
export const MOUTH_Y = -0.0435;
export const NECK_BOTTOM_Y = -0.19;

// Ray origin for sampling (see mesh.ts): on the vertical axis x = 0, z = AXIS_Z.
export const AXIS_Z = -0.03;
export const RAY_ORIGIN_Y = 0.0;

// ---------------------------------------------------------------------------------------------------
// Face height field Z(x, y) with its gradient, accumulated into module-level scalars (no allocation).
let zv = 0;
let zx = 0;
let zy = 0;

/** Compact smooth bump amp * (1 - r^2)^3 on an axis-aligned ellipse, accumulated with its gradient. */
function bump(x: number, y: number, cx: number, cy: number, rx: number, ry: number, amp: number): void {
  const u = (x - cx) / rx;
  const v = (y - cy) / ry;
  const r2 = u * u + v * v;
  if (r2 >= 1) return;
  const q = 1 - r2;
  const q2 = q * q;
  zv += amp * q2 * q;
  const dq = -6 * amp * q2; // d/d(r2) of amp*q^3 = -3 amp q^2, times d(r2)/du = 2u
  zx += (dq * u) / rx;
  zy += (dq * v) / ry;
}

/** Bump around a line segment (a ridge or groove of half-width r). */
function segBump(x: number, y: number, ax: number, ay: number, bx: number, by: number, r: number, amp: number): void {
  const dx = bx - ax;
  const dy = by - ay;
  const L2 = dx * dx + dy * dy;
  let t = ((x - ax) * dx + (y - ay) * dy) / L2;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  const px = ax + t * dx;
  const py = ay + t * dy;
  // taper the ends a little so the groove fades out
  const taper = Math.sin(Math.PI * (0.15 + 0.7 * t));
  bump(x, y, px, py, r, r, amp * taper);
}

// Midline profile of the face without nose and lips (z of the face "plane" along x = 0).
const midProfileCurve = new Pchip([
  [-0.14, -0.05],
  [-0.115, -0.012],
  [-0.103, 0.018],
  [-0.095, 0.038],
  [-0.086, 0.0505],
  [-0.075, 0.0555],
  [-0.064, 0.0525],
  [-0.056, 0.0545],
  [-0.044, 0.0575],
  [-0.034, 0.0585],
  [-0.025, 0.0565],
  [-0.01, 0.0515],
  [0.005, 0.0495],
  [0.022, 0.0495],
  [0.034, 0.0525],
  [0.046, 0.0595],
  [0.062, 0.061],
  [0.08, 0.0565],
  [0.1, 0.0445],
  [0.118, 0.022],
  [0.135, -0.012],
]);
// Lateral curvature (1/m) by height: the face wraps around the skull, rounder at the mouth.
const lateralCurvCurve = new Pchip([
  [-0.12, 7],
  [-0.087, 9.5],
  [-0.058, 11.5],
  [-0.039, 11.5],
  [-0.022, 10],
  [0.0, 8.5],
  [0.03, 7.5],
  [0.06, 6.5],
  [0.1, 6],
  [0.14, 6],
]);
const LATERAL_QUARTIC = 1400;
// Nose: ridge height above the face plane and ridge support half-width, by height.
const noseHeightCurve = new Pchip([
  [0.05, 0],
  [0.037, 0.0028],
  [0.022, 0.0085],
  [0.004, 0.0165],
  [-0.006, 0.0222],
  [-0.0115, 0.0238],
  [-0.0165, 0.0212],
  [-0.0205, 0.0125],
  [-0.0245, 0.0032],
  [-0.0275, 0],
  [-0.04, 0],
]);
const noseWidthCurve = new Pchip([
  [0.05, 0.015],
  [0.035, 0.0145],
  [0.015, 0.0155],
  [0.0, 0.018],
  [-0.012, 0.0215],
  [-0.024, 0.023],
  [-0.04, 0.024],
]);

const midProfile = new FastCurve(midProfileCurve, -0.2, 0.2, 2048);
const lateralCurv = new FastCurve(lateralCurvCurve, -0.2, 0.2, 512);
const noseHeight = new FastCurve(noseHeightCurve, -0.05, 0.06, 1024);
const noseWidth = new FastCurve(noseWidthCurve, -0.05, 0.06, 512);

/** Evaluate Z(x, y) into (zv, zx, zy). */
function faceHeight(x: number, y: number): void {
  midProfile.eval(y);
  const zc = midProfile.value;
  const zcp = midProfile.slope;
  lateralCurv.eval(y);
  const c2 = lateralCurv.value;
  const c2p = lateralCurv.slope;
  const x2 = x * x;
  zv = zc - c2 * x2 - LATERAL_QUARTIC * x2 * x2;
  zx = -2 * c2 * x - 4 * LATERAL_QUARTIC * x2 * x;
  zy = zcp - c2p * x2;
  const ax = Math.abs(x);

  // Nose ridge: h(y) * (1 - (x/w)^2)^3.
  if (y < 0.05 && y > -0.045 && ax < 0.025) {
    noseHeight.eval(y);
    const h = noseHeight.value;
    if (h > 0) {
      noseWidth.eval(y);
      const w = noseWidth.value;
      const u = x / w;
      if (u * u < 1) {
        const hp = noseHeight.slope;
        const wp = noseWidth.slope;
        const q = 1 - u * u;
        const B = q * q * q;
        const dB = -6 * u * q * q; // dB/du
        zv += h * B;
        zx += (h * dB) / w;
        zy += hp * B - (h * dB * u * wp) / w;
      }
    }
  }
  // Nose tip bulb and alae (nostril wings).
  bump(x, y, 0, -0.0125, 0.0095, 0.0105, 0.0032);
  bump(ax, y, 0.0148, -0.0195, 0.0085, 0.0075, 0.0068);
  // Brow ridge and glabella.
  bump(ax, y, 0.028, 0.0475, 0.034, 0.0125, 0.0042);
  bump(x, y, 0, 0.046, 0.014, 0.012, 0.0016);
  // Orbits: a soft dent around each eye so the lids (spheres over the eyeballs) sit in a socket.
  bump(ax, y, EX, EY - 0.0005, 0.0225, 0.0175, -0.0085);
  // Cheeks (malar fat) and cheekbones, hollow of the temples, soft under-eye hollow.
  bump(ax, y, 0.043, -0.006, 0.03, 0.027, 0.0085);
  bump(ax, y, 0.053, 0.011, 0.021, 0.015, 0.0048);
  bump(ax, y, 0.064, 0.045, 0.02, 0.026, -0.0045);
  bump(ax, y, 0.028, 0.011, 0.019, 0.0075, -0.0016);
  // Nasolabial fold (groove from the ala to beside the mouth corner).
  segBump(ax, y, 0.0215, -0.022, 0.0345, -0.053, 0.0075, -0.0014);
  // Upper lip: vermilion bulge, philtrum groove and its two ridges.
  bump(x, y, 0, MOUTH_Y + 0.0055, 0.0285, 0.006, 0.0056);
  bump(x, y, 0, MOUTH_Y + 0.0135, 0.0062, 0.0075, -0.0011);
  bump(ax, y, 0.0052, MOUTH_Y + 0.0135, 0.0032, 0.0075, 0.0007);
  // Lower lip and the crease between the lips.
  bump(x, y, 0, MOUTH_Y - 0.0065, 0.0265, 0.007, 0.0068);
  bump(x, y, 0, MOUTH_Y, 0.029, 0.0024, -0.0032);
  // Mouth corners sink in a little.
  bump(ax, y, 0.0255, MOUTH_Y - 0.0005, 0.007, 0.006, -0.0018);
  // Chin (mental protuberance).
  bump(x, y, 0, -0.0765, 0.0185, 0.0135, 0.0058);
}

export function faceHeightAt(x: number, y: number): number {
  faceHeight(x, y);
  return zv;
}

// ---------------------------------------------------------------------------------------------------
// Primitive distance bounds.

/** Inigo Quilez's ellipsoid distance bound (exact on the surface, good near it). */
function ellipsoid(px: number, py: number, pz: number, rx: number, ry: number, rz: number): number {
  const ax = px / rx;
  const ay = py / ry;
  const az = pz / rz;
  const k0 = Math.sqrt(ax * ax + ay * ay + az * az);
  const bx = ax / rx;
  const by = ay / ry;
  const bz = az / rz;
  const k1 = Math.sqrt(bx * bx + by * by + bz * bz);
  if (k1 === 0) return -Math.min(rx, ry, rz);
  return (k0 * (k0 - 1)) / k1;
}

function smin(a: number, b: number, k: number): number {
  const h = Math.max(k - Math.abs(a - b), 0) / k;
  return Math.min(a, b) - h * h * k * 0.25;
}

function smax(a: number, b: number, k: number): number {
  const h = Math.max(k - Math.abs(a - b), 0) / k;
  return Math.max(a, b) + h * h * k * 0.25;
}

const [EX, EY, EZ] = EYE_CENTER;

/** The implicit head: negative inside. */
export function headField(x: number, y: number, z: number): number {
  // Cranium: a main ellipsoid plus a parietal one that squares off the top and back a little.
  let f = ellipsoid(x, y - 0.024, z + 0.054, 0.0745, 0.106, 0.097);
  f = smin(f, ellipsoid(x, y - 0.05, z + 0.062, 0.0735, 0.082, 0.088), 0.025);
  // Midface (cheekbones and cheeks, wrapping back to the ears) and the jaw (mandible and soft tissue),
  // with a little extra bulk at the angles of the jaw.
  f = smin(f, ellipsoid(x, y - 0.002, z + 0.03, 0.0685, 0.052, 0.066), 0.02);
  f = smin(f, ellipsoid(x, y + 0.055, z + 0.012, 0.0575, 0.044, 0.062), 0.022);
  f = smin(f, ellipsoid(Math.abs(x) - 0.044, y + 0.066, z + 0.024, 0.014, 0.02, 0.024), 0.012);
  // Neck: elliptic cylinder leaning slightly forward at the bottom, capped inside the head; it meets the
  // jaw with a tighter blend in front (the jaw line) than behind (the nape).
  const nz = z + 0.044 - 0.1 * (y + 0.1);
  const nq = Math.sqrt((x / 0.0535) ** 2 + (nz / 0.057) ** 2);
  let neck = (nq - 1) * 0.055;
  neck = smax(neck, y - 0.0, 0.02);
  const kNeck = 0.011 + 0.026 * Math.min(1, Math.max(0, (0.0 - z) / 0.06));
  f = smin(f, neck, kNeck);
  // Face slab: the region behind the height field, bounded to the face.
  const bound = ellipsoid(x, y + 0.012, z + 0.02, 0.071, 0.128, 0.125);
  if (bound < f + 0.012) {
    faceHeight(x, y);
    const hz = (z - zv) / Math.sqrt(1 + zx * zx + zy * zy);
    const slab = smax(hz, bound, 0.012);
    f = smin(f, slab, 0.012);
  }
  // Eyelids: spheres just outside the eyeballs, blended into the orbits (a dent of the face height field).
  const ax = Math.abs(x);
  if (ax > 0.005 && ax < 0.06 && y > 0.0 && y < 0.06 && z > -0.01) {
    const dx = ax - EX;
    const dy = y - EY;
    const dz = z - EZ;
    const lid = Math.sqrt(dx * dx + dy * dy + dz * dz) - (EYE_RADIUS + LID_THICKNESS);
    f = smin(f, lid, 0.006);
  }
  return f;
}

/** Outward unit normal of the implicit surface by central differences. */
export function headNormal(x: number, y: number, z: number, out: Float64Array | number[], o = 0): void {
  const h = 2e-4;
  const gx = headField(x + h, y, z) - headField(x - h, y, z);
  const gy = headField(x, y + h, z) - headField(x, y - h, z);
  const gz = headField(x, y, z + h) - headField(x, y, z - h);
  const n = Math.hypot(gx, gy, gz) || 1;
  out[o] = gx / n;
  out[o + 1] = gy / n;
  out[o + 2] = gz / n;
}

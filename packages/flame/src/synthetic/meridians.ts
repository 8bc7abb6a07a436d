// Sampling the implicit head (anatomy.ts) along rays. Every head vertex lies on a ray from the point
// C = (0, RAY_ORIGIN_Y, AXIS_Z) in the vertical half-plane at azimuth theta (theta = 0 looks toward +z,
// theta > 0 turns toward +x), at polar angle psi from straight down (psi = 0) to straight up (psi = pi):
//   d(theta, psi) = (sin psi sin theta, -cos psi, sin psi cos theta).
// The curve of hits for one theta is a "meridian" from the neck's bottom cut (y = NECK_BOTTOM_Y) to the
// crown. A table of meridians at 1 degree steps gives, by interpolation, where a row of the mesh crosses
// any theta: by height y, or by sigma, the meridian's normalised arc length.
import { AXIS_Z, NECK_BOTTOM_Y, RAY_ORIGIN_Y, headField } from './anatomy.js';

const CY = RAY_ORIGIN_Y;
const CZ = AXIS_Z;
const SAMPLE_SPACING = 0.0032;

let rdx = 0;
let rdy = -1;
let rdz = 0;

export function setRay(theta: number, psi: number): void {
  if (psi >= Math.PI) {
    rdx = 0;
    rdy = 1;
    rdz = 0;
    return;
  }
  const sp = Math.sin(psi);
  rdx = sp * Math.sin(theta);
  rdy = -Math.cos(psi);
  rdz = sp * Math.cos(theta);
}

export function rayDirection(out: Float64Array | number[], o = 0): void {
  out[o] = rdx;
  out[o + 1] = rdy;
  out[o + 2] = rdz;
}

export function rayPoint(s: number, out: Float64Array | number[], o = 0): void {
  out[o] = rdx * s;
  out[o + 1] = CY + rdy * s;
  out[o + 2] = CZ + rdz * s;
}

export const RAY_ORIGIN: readonly [number, number, number] = [0, CY, CZ];

function fieldAt(s: number): number {
  return headField(rdx * s, CY + rdy * s, CZ + rdz * s);
}

/** Distance along the current ray to the outermost surface crossing, searched from near `guess`. */
export function castRay(guess: number): number {
  let sOut = Math.max(guess, 0.005) + 0.004;
  let fOut = fieldAt(sOut);
  let guard = 0;
  while (fOut <= 0) {
    sOut += 0.01;
    fOut = fieldAt(sOut);
    if (++guard > 100) throw new Error('synthetic head: ray does not leave the surface');
  }
  let sIn: number;
  let fIn: number;
  guard = 0;
  for (;;) {
    sIn = sOut - Math.max(fOut * 0.75, 5e-5);
    fIn = fieldAt(sIn);
    if (fIn <= 0) break;
    sOut = sIn;
    fOut = fIn;
    if (++guard > 1000 || sIn <= 0) throw new Error('synthetic head: ray does not meet the surface');
  }
  // Illinois regula falsi on [sIn (inside), sOut (outside)].
  let a = sIn;
  let fa = fIn;
  let b = sOut;
  let fb = fOut;
  let side = 0;
  let c = b;
  for (let it = 0; it < 60; it++) {
    c = (a * fb - b * fa) / (fb - fa);
    const fc = fieldAt(c);
    if (fc === 0 || b - a < 1e-11) return c;
    if (fc > 0) {
      b = c;
      fb = fc;
      if (side === 1) fa *= 0.5;
      side = 1;
    } else {
      a = c;
      fa = fc;
      if (side === -1) fb *= 0.5;
      side = -1;
    }
    if (Math.abs(fc) < 1e-12) return c;
  }
  return c;
}

/**
 * castRay for a guess within a few millimetres of the answer: secant steps from the guess, checked to be
 * the outermost crossing nearby; falls back to castRay when that fails.
 */
export function castNear(guess: number): number {
  let s0 = guess;
  let f0 = fieldAt(s0);
  let s1 = guess + (f0 > 0 ? -0.0008 : 0.0008);
  let f1 = fieldAt(s1);
  for (let it = 0; it < 8; it++) {
    if (f1 === f0) break;
    const s2 = s1 - (f1 * (s1 - s0)) / (f1 - f0);
    if (!(Math.abs(s2 - guess) < 0.01)) break;
    const f2 = fieldAt(s2);
    s0 = s1;
    f0 = f1;
    s1 = s2;
    f1 = f2;
    if (Math.abs(f2) < 1e-11 || Math.abs(s1 - s0) < 1e-10) {
      if (fieldAt(s1 + 0.0025) > 0) return s1;
      break;
    }
  }
  return castRay(guess);
}

export interface Meridian {
  theta: number;
  n: number;
  psi: Float64Array;
  s: Float64Array;
  y: Float64Array;
  ell: Float64Array;
  /** Running minimum of y from the crown downward (non-decreasing in the sample index). */
  rmin: Float64Array;
  length: number;
}

function buildMeridian(theta: number): Meridian {
  // Polar angle of the neck's bottom cut (secant on the hit height, which grows with psi).
  const hitY = (p: number, guess: number): [number, number] => {
    setRay(theta, p);
    const s = castRay(guess);
    return [CY + rdy * s, s];
  };
  let pa = 0.25;
  let [ya, sg] = hitY(pa, 0.2);
  let pb = 0.32;
  let yb: number;
  [yb, sg] = hitY(pb, sg);
  for (let it = 0; it < 30 && Math.abs(yb - NECK_BOTTOM_Y) > 1e-10 && yb !== ya; it++) {
    const pc = Math.min(1.2, Math.max(0.02, pb - ((yb - NECK_BOTTOM_Y) * (pb - pa)) / (yb - ya)));
    pa = pb;
    ya = yb;
    pb = pc;
    [yb, sg] = hitY(pb, sg);
  }
  const hi = pb;
  const psi: number[] = [];
  const ss: number[] = [];
  const ys: number[] = [];
  const ell: number[] = [];
  let p = hi;
  setRay(theta, p);
  let s = castRay(sg);
  let px = rdx * s;
  let py = CY + rdy * s;
  let pz = CZ + rdz * s;
  psi.push(p);
  ss.push(s);
  ys.push(py);
  ell.push(0);
  // initial speed |dP/dpsi|
  setRay(theta, p + 1e-3);
  const s1 = castNear(s);
  let speed = Math.hypot(rdx * s1 - px, CY + rdy * s1 - py, CZ + rdz * s1 - pz) / 1e-3;
  let L = 0;
  while (p < Math.PI) {
    const dp = Math.min(0.05, Math.max(1e-4, SAMPLE_SPACING / speed));
    let np = p + dp;
    if (np > Math.PI - 2e-4) np = Math.PI;
    setRay(theta, np);
    const ns = castNear(s + (ss.length > 1 ? ((s - ss[ss.length - 2]) * dp) / (p - psi[psi.length - 2]) : 0));
    const nx = rdx * ns;
    const ny = CY + rdy * ns;
    const nz = CZ + rdz * ns;
    const d = Math.hypot(nx - px, ny - py, nz - pz);
    speed = Math.max(d / (np - p), 1e-3);
    L += d;
    psi.push(np);
    ss.push(ns);
    ys.push(ny);
    ell.push(L);
    p = np;
    s = ns;
    px = nx;
    py = ny;
    pz = nz;
  }
  const n = psi.length;
  const rmin = new Float64Array(n);
  rmin[n - 1] = ys[n - 1];
  for (let i = n - 2; i >= 0; i--) rmin[i] = Math.min(ys[i], rmin[i + 1]);
  return {
    theta,
    n,
    psi: Float64Array.from(psi),
    s: Float64Array.from(ss),
    y: Float64Array.from(ys),
    ell: Float64Array.from(ell),
    rmin,
    length: L,
  };
}

/** sigma (normalised arc length) where the meridian, walked down from the crown, first reaches height y. */
function sigmaAtYOn(m: Meridian, y: number): number {
  const n = m.n;
  if (y >= m.y[n - 1]) return 1;
  if (y <= m.rmin[0]) return 0;
  let lo = 0;
  let hi = n - 1; // rmin[lo] <= y < rmin[hi]
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (m.rmin[mid] <= y) lo = mid;
    else hi = mid;
  }
  const i = lo;
  const y0 = m.y[i];
  const y1 = m.y[i + 1];
  const t = y1 > y0 ? (y - y0) / (y1 - y0) : 0;
  return (m.ell[i] + Math.min(1, Math.max(0, t)) * (m.ell[i + 1] - m.ell[i])) / m.length;
}

/** psi and the ray distance at normalised arc length sigma. */
function psiAtSigmaOn(m: Meridian, sigma: number, out: number[]): void {
  const l = Math.min(1, Math.max(0, sigma)) * m.length;
  let lo = 0;
  let hi = m.n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (m.ell[mid] <= l) lo = mid;
    else hi = mid;
  }
  const d = m.ell[hi] - m.ell[lo];
  const t = d > 0 ? Math.min(1, Math.max(0, (l - m.ell[lo]) / d)) : 0;
  out[0] = m.psi[lo] + t * (m.psi[hi] - m.psi[lo]);
  out[1] = m.s[lo] + t * (m.s[hi] - m.s[lo]);
}

export const MERIDIAN_STEP = Math.PI / 90;
const MERIDIAN_COUNT = 90;

export class MeridianTable {
  readonly merids: Meridian[] = [];
  private readonly tmpA = [0, 0];
  private readonly tmpB = [0, 0];

  constructor() {
    for (let k = 0; k <= MERIDIAN_COUNT; k++) this.merids.push(buildMeridian(k * MERIDIAN_STEP));
  }

  private bracket(theta: number): [number, number] {
    const u = Math.min(MERIDIAN_COUNT, Math.max(0, theta / MERIDIAN_STEP));
    const k = Math.min(MERIDIAN_COUNT - 1, Math.floor(u));
    return [k, u - k];
  }

  sigmaAtY(theta: number, y: number): number {
    const [k, w] = this.bracket(theta);
    const a = sigmaAtYOn(this.merids[k], y);
    if (w === 0) return a;
    return a + w * (sigmaAtYOn(this.merids[k + 1], y) - a);
  }

  /** Surface point at (theta, sigma); also leaves the ray set for rayDirection(). Returns the ray distance. */
  pointAt(theta: number, sigma: number, out: Float64Array | number[], o = 0): number {
    const [k, w] = this.bracket(theta);
    psiAtSigmaOn(this.merids[k], sigma, this.tmpA);
    psiAtSigmaOn(this.merids[k + 1], sigma, this.tmpB);
    const psi = this.tmpA[0] + w * (this.tmpB[0] - this.tmpA[0]);
    const sg = this.tmpA[1] + w * (this.tmpB[1] - this.tmpA[1]);
    setRay(theta, sigma >= 1 ? Math.PI : psi);
    const s = castNear(sg);
    rayPoint(s, out, o);
    return s;
  }

  /** Height of the surface at (theta, sigma). */
  yAt(theta: number, sigma: number): number {
    const p = [0, 0, 0];
    this.pointAt(theta, sigma, p);
    return p[1];
  }
}

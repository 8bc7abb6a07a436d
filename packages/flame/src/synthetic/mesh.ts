// The synthetic head's topology and neutral geometry.
//
// Layout. The head mesh is a stack of "rows" (curves running around the head, bottom to top), each sampled
// at azimuths theta (see meridians.ts). A row is a full ring around the head, a front arc (|theta| <= some
// span, for the dense face), or an interior arc (an eye opening, an ear). Rows are sewn together by an
// advancing front: each new row replaces the part of the front it spans, zipping triangles between the two
// polylines in theta order. Only the left half (theta in [0, pi], x >= 0) is built; the right half is its
// mirror, so the mesh is exactly symmetric (vertices on theta = 0 and theta = pi are shared).
// The neck's bottom ring is the only boundary; a pole vertex closes the crown.
//
// Budget. FLAME's counts: 3931 head vertices, then the left and right eyeballs (546 each, 5023 in all). The
// sample counts of the neck and scalp rings are tuned to hit 3931 exactly; with a single 60-vertex
// boundary loop, Euler's formula then gives 2 * 3931 - 60 - 2 = 7800 head triangles, plus 2 * 1088 for
// the (closed) eyeballs: 9976.
//
// Features a closed implicit surface cannot hold are shaped per row:
//   - the mouth: 4 short front arcs between the lips form a slit that runs 2 cm back into the head, so the
//     lips can part (the jaw joint or the mouth-open expression) without tearing;
//   - the eyes: 3 interior arcs between the lid margins dive behind the eyeball, so the eyeball shows in
//     the opening; the upper lid margin row can be lowered to close the eye (the eyelid blendshapes);
//   - the ears: rows crossing a narrow window of theta behind the cheek are remapped onto a flap
//     (front face, rim, back face) that stands out from the head.
import { EYE_CENTER, EYE_RADIUS, MOUTH_Y, NECK_BOTTOM_Y, headNormal } from './anatomy.js';
import { MeridianTable, RAY_ORIGIN, rayDirection } from './meridians.js';
import { clamp, lerp, smoothstep } from './spline.js';

export const DEG = Math.PI / 180;

const FACE_SPAN = 60 * DEG; // the dense face columns
const SIDE_SPAN = 80 * DEG; // wider face rows reach the cheek's side
const NOSE_SPAN = 12 * DEG;
const EAR_THETA = 97 * DEG;
const EAR_HALF = 5.2 * DEG;
const EAR_SAMPLES = 13; // across the flap, both root edges included
const EAR_Y0 = -0.021; // root extent (heights at the ear's theta)
const EAR_Y1 = 0.019;
const EAR_ROW_SPACING = 0.0031;

const [EX, EY, EZ] = EYE_CENTER;
const Y_EL0 = EY - 0.003; // lid-margin rows before the eye warp
const Y_EU0 = EY + 0.003;
const Y_LL0 = MOUTH_Y - 0.0015; // inner lip rows before the mouth warp
const Y_UL0 = MOUTH_Y + 0.0015;
const SLOT_DEPTH = 0.02;
const MOUTH_HALF_WIDTH = 0.0255;
const POCKET_DEPTH = 0.003;

export type Region = 'neck' | 'underchin' | 'face' | 'scalp' | 'slot' | 'pocket' | 'ear';
export type RowKind = 'full' | 'front' | 'inner';

export interface RowSpec {
  name: string;
  kind: RowKind;
  region: Region;
  thetas: number[];
  /** Height at the front before the eye/mouth warps ('y' rows). */
  y0?: number;
  /** 'mix' rows: sigma interpolated between two rows (b = null: the crown) by f. */
  mix?: { a: RowSpec; b: RowSpec | null; f: number };
  /** 'ear' arcs: sigma interpolated between two full rings. */
  earMix?: { below: RowSpec; above: RowSpec; f: number };
  slot?: { depth: number; lower: boolean };
  pocket?: boolean;
  /** Ear rows: height fraction a in (0, 1) along the ear's root. */
  earA?: number;
  sigmaBack: number;
  isBoundary?: boolean;
}

export interface HeadParams {
  /** Upper-lid closure for the left (+x) and right eye, 0 open .. 1 closed. */
  lidClose: [number, number];
}

export interface HeadGeometry {
  positions: Float64Array; // [V*3], head vertices then the two eyeballs
  faces: Uint32Array; // [F*3]
  numHead: number;
  eyeStart: [number, number]; // first vertex of the left and right eyeball
  eyeCount: number;
  /** Per vertex (head only): signed theta, sigma (normalised meridian position), row index. */
  theta: Float64Array;
  sigma: Float64Array;
  row: Int32Array;
  rows: RowSpec[];
  /** Mirror partner of each vertex (x -> -x), eyeballs included. */
  mirror: Int32Array;
  /** Head vertex index of the crown pole. */
  pole: number;
  /** Head triangles come first, in (left, mirrored right) pairs; then each eyeball's triangles. */
  headFaceCount: number;
  eyeFaceCount: number;
  /** Half-domain bookkeeping, for regenerating positions with other parameters. */
  half: HalfLayout;
  table: MeridianTable;
  windows: FeatureWindows;
  /** Ear flap coordinates per vertex (NaN elsewhere): a along the root, b across (-1 front .. 1 back). */
  earA: Float64Array;
  earB: Float64Array;
}

export interface FeatureWindows {
  eyeInner: number; // theta of the inner canthus (= mouth corner)
  eyeOuter: number;
  mouthCorner: number;
  earTheta: number;
  earHalf: number;
  /** Face columns (half domain, ascending, from 0). */
  faceSet: number[];
}

interface HalfVertex {
  row: number;
  theta: number;
  axis: boolean;
  left: number; // global vertex id of the +x copy (or the axis vertex)
  right: number; // global vertex id of the -x copy (or the axis vertex)
}

export interface HalfLayout {
  verts: HalfVertex[];
  rowVerts: number[][]; // half-vertex ids per row, ascending theta
  poleHalf: number;
}

// ---------------------------------------------------------------------------------------------------
// Feature curves (functions of theta on the left half).

function eyeXi(w: FeatureWindows, theta: number): number {
  const mid = 0.5 * (w.eyeInner + w.eyeOuter);
  const half = 0.5 * (w.eyeOuter - w.eyeInner);
  return (theta - mid) / half;
}

/** Lid-margin heights [lower, upper] at theta for a given upper-lid closure. */
function lidMargins(w: FeatureWindows, theta: number, close: number): [number, number] {
  const xi = eyeXi(w, theta);
  const a = clamp(xi, -1, 1);
  const c = EY + lerp(-0.0007, 0.0011, (a + 1) / 2);
  if (Math.abs(xi) <= 1) {
    const q = 1 - xi * xi;
    const L = c - 0.0005 - 0.0041 * Math.pow(q, 0.85) * (1 + 0.15 * xi);
    const Uo = c + 0.0005 + 0.0057 * Math.pow(q, 0.75) * (1 - 0.12 * xi);
    const Uc = L + 0.001;
    return [L, lerp(Uo, Uc, close)];
  }
  const wgt = 1 - smoothstep(0, 0.9, Math.abs(xi) - 1);
  return [lerp(Y_EL0, c - 0.0005, wgt), lerp(Y_EU0, c + 0.0005, wgt)];
}

/** Mouth line height at theta (inside the mouth; held at the corner value outside). */
function mouthLine(w: FeatureWindows, theta: number): number {
  const xi = Math.min(1, theta / w.mouthCorner);
  return MOUTH_Y + 0.0009 * xi * xi;
}

function lipMargins(w: FeatureWindows, theta: number): [number, number] {
  const yml = mouthLine(w, theta);
  const xi = theta / w.mouthCorner;
  const wgt = xi <= 1 ? 1 : 1 - smoothstep(0, 0.55, xi - 1);
  return [lerp(Y_LL0, yml - 0.0003, wgt), lerp(Y_UL0, yml + 0.0003, wgt)];
}

function piecewise(y: number, k0: number, k1: number, v1: number, k2: number, v2: number, k3: number): number {
  if (y <= k0 || y >= k3) return y;
  if (y < k1) return lerp(k0, v1, (y - k0) / (k1 - k0));
  if (y <= k2) return lerp(v1, v2, (y - k1) / (k2 - k1));
  return lerp(v2, k3, (y - k2) / (k3 - k2));
}

/** Target height at theta of a row whose height at the front is y0, after the eye and mouth warps. */
export function warpedY(w: FeatureWindows, y0: number, theta: number, close: number): number {
  let y = y0;
  if (y0 > EY - 0.016 && y0 < EY + 0.019) {
    const [L, U] = lidMargins(w, theta, close);
    y = piecewise(y0, EY - 0.016, Y_EL0, L, Y_EU0, U, EY + 0.019);
  } else if (y0 > MOUTH_Y - 0.011 && y0 < MOUTH_Y + 0.0105) {
    const [lo, hi] = lipMargins(w, theta);
    y = piecewise(y0, MOUTH_Y - 0.011, Y_LL0, lo, Y_UL0, hi, MOUTH_Y + 0.0105);
  }
  return y;
}

// ---------------------------------------------------------------------------------------------------

function linspace(a: number, b: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i <= n; i++) out.push(a + ((b - a) * i) / n);
  return out;
}

function uniq(xs: number[]): number[] {
  const s = [...xs].sort((a, b) => a - b);
  const out: number[] = [];
  for (const x of s) if (out.length === 0 || x - out[out.length - 1] > 1e-9) out.push(x);
  return out;
}

function findWindows(table: MeridianTable): FeatureWindows {
  const p = [0, 0, 0];
  const xAt = (theta: number): number => {
    table.pointAt(theta, table.sigmaAtY(theta, EY), p);
    return p[0];
  };
  const solve = (xTarget: number): number => {
    let lo = 1 * DEG;
    let hi = 70 * DEG;
    for (let i = 0; i < 40; i++) {
      const mid = 0.5 * (lo + hi);
      if (xAt(mid) < xTarget) lo = mid;
      else hi = mid;
    }
    return 0.5 * (lo + hi);
  };
  const inner = solve(EX - 0.0113);
  const outer = solve(EX + 0.0119);
  // Face columns (half): dense between the midline and the outer eye corner, with the eye corners on
  // columns; the mouth corner is the column nearest to x = MOUTH_HALF_WIDTH on the mouth line.
  const faceSet = uniq([
    ...linspace(0, inner, 8),
    ...linspace(inner, outer, 8),
    ...linspace(outer, FACE_SPAN, 7),
    ...linspace(FACE_SPAN, SIDE_SPAN, 4),
  ]);
  let lo = 1 * DEG;
  let hi = 60 * DEG;
  for (let i = 0; i < 40; i++) {
    const mid = 0.5 * (lo + hi);
    table.pointAt(mid, table.sigmaAtY(mid, MOUTH_Y), p);
    if (p[0] < MOUTH_HALF_WIDTH) lo = mid;
    else hi = mid;
  }
  const target = 0.5 * (lo + hi);
  let mouth = faceSet[1];
  for (const t of faceSet) if (t > 0 && Math.abs(t - target) < Math.abs(mouth - target)) mouth = t;
  return { eyeInner: inner, eyeOuter: outer, mouthCorner: mouth, earTheta: EAR_THETA, earHalf: EAR_HALF, faceSet };
}

interface Layout {
  rows: RowSpec[];
}

function buildRows(w: FeatureWindows, extra: number[], parityFix: boolean): Layout {
  const faceSet = w.faceSet;
  const backSamples = (n: number): number[] => linspace(SIDE_SPAN, Math.PI, n).slice(1);
  const faceRing = (nBack: number): number[] => [...faceSet, ...backSamples(nBack)];
  const narrowSet = faceSet.filter((t) => t <= FACE_SPAN + 1e-9);
  const uniformRing = (n: number): number[] => linspace(0, Math.PI, n);
  const underChinRing = (nBack: number): number[] => [...linspace(0, SIDE_SPAN, 16), ...backSamples(nBack)];

  const rows: RowSpec[] = [];
  const add = (r: Omit<RowSpec, 'sigmaBack'>): RowSpec => {
    const row: RowSpec = { ...r, sigmaBack: NaN };
    rows.push(row);
    return row;
  };

  // Neck.
  add({ name: 'neck0', kind: 'full', region: 'neck', thetas: uniformRing(30), y0: NECK_BOTTOM_Y, isBoundary: true });
  let neckTop: RowSpec | null = null;
  for (const [i, y] of [-0.172, -0.155, -0.139, -0.125].entries()) {
    neckTop = add({ name: `neck${i + 1}`, kind: 'full', region: 'neck', thetas: uniformRing(27 + extra[7 + i]), y0: y });
  }
  // Face rows, bottom to top (heights at the midline; the lid and lip rows follow the eye and mouth).
  const faceY: Array<number | 'LL' | 'UL' | 'EL' | 'EU' | 'slots' | 'pockets' | 'nose0' | 'nose1'> = [
    -0.0805, -0.0775, -0.074, -0.0705, -0.067, -0.0625, -0.058, -0.0545, -0.0515, -0.0488, -0.0466,
    'LL', 'slots', 'UL',
    -0.0395, -0.036, -0.0325, -0.029, -0.0255, 'nose0', -0.022, 'nose1', -0.0185, -0.015, -0.0115, -0.008, -0.0045, -0.001, 0.0025,
    0.006, 0.0095, 0.013, 0.0165, 0.0205,
    'EL', 'pockets', 'EU',
    0.036, 0.0405, 0.045, 0.0495, 0.0545, 0.06, 0.0665, 0.0735, 0.081, 0.0885, 0.096,
  ];
  const faceRows: RowSpec[] = [];
  let alt = 0;
  const chinIndex = rows.length;
  for (const item of faceY) {
    if (item === 'slots') {
      const ys = [0.2, 0.4, 0.6, 0.8].map((f) => lerp(Y_LL0, Y_UL0, f));
      const depth = [0.45, 1, 1, 0.45];
      ys.forEach((y, k) =>
        add({
          name: `slot${k}`,
          kind: 'front',
          region: 'slot',
          thetas: faceSet.filter((t) => t < w.mouthCorner - 1e-9),
          y0: y,
          slot: { depth: depth[k], lower: k < 2 },
        }),
      );
      continue;
    }
    if (item === 'nose0' || item === 'nose1') {
      // Extra short rows under the nose, where the surface runs nearly horizontally.
      add({
        name: item,
        kind: 'front',
        region: 'face',
        thetas: faceSet.filter((t) => t <= NOSE_SPAN + 1e-9),
        y0: item === 'nose0' ? -0.0238 : -0.0203,
      });
      continue;
    }
    if (item === 'pockets') {
      [0.25, 0.5, 0.75].forEach((f, k) =>
        add({
          name: `pocket${k}`,
          kind: 'inner',
          region: 'pocket',
          thetas: faceSet.filter((t) => t > w.eyeInner + 1e-9 && t < w.eyeOuter - 1e-9),
          y0: lerp(Y_EL0, Y_EU0, f),
          pocket: true,
        }),
      );
      continue;
    }
    const y0 = item === 'LL' ? Y_LL0 : item === 'UL' ? Y_UL0 : item === 'EL' ? Y_EL0 : item === 'EU' ? Y_EU0 : item;
    // Rows cycle: a full ring, a row to the cheek's side, a row across the front of the face.
    const phase = alt % 3;
    alt++;
    const full = phase === 0 || (parityFix && item === 0.096);
    const name = typeof item === 'string' ? item : `face${faceRows.length}`;
    faceRows.push(
      add({
        name,
        kind: full ? 'full' : 'front',
        region: 'face',
        thetas: full ? faceRing(9) : phase === 1 ? faceSet : narrowSet,
        y0,
      }),
    );
  }
  const chinRow = faceRows[0];
  const hairRow = faceRows[faceRows.length - 1];
  // Under the chin: rows spread by arc length between the neck's top ring and the chin row.
  const underChin: RowSpec[] = [];
  for (let k = 1; k <= 6; k++) {
    underChin.push({
      name: `underchin${k}`,
      kind: 'full',
      region: 'underchin',
      thetas: underChinRing(10),
      mix: { a: neckTop!, b: chinRow, f: k / 7 },
      sigmaBack: NaN,
    });
  }
  rows.splice(chinIndex, 0, ...underChin);
  // Scalp rings up to the crown.
  const scalpN = [31, 29, 26, 22, 17, 12, 7];
  scalpN.forEach((n, k) =>
    add({ name: `scalp${k}`, kind: 'full', region: 'scalp', thetas: uniformRing(n + extra[k]), mix: { a: hairRow, b: null, f: (k + 1) / 8 } }),
  );

  // sigma at the back of the head: full rings evenly spaced, other rows in between.
  const fullIdx = rows.map((r, i) => (r.kind === 'full' ? i : -1)).filter((i) => i >= 0);
  const K = fullIdx.length;
  fullIdx.forEach((i, k) => (rows[i].sigmaBack = k / K));
  for (let i = 0; i < rows.length; i++) {
    if (rows[i].kind === 'full') continue;
    let a = i - 1;
    while (rows[a].kind !== 'full') a--;
    let b = i + 1;
    while (b < rows.length && rows[b].kind !== 'full') b++;
    const sa = rows[a].sigmaBack;
    const sb = b < rows.length ? rows[b].sigmaBack : 1;
    rows[i].sigmaBack = lerp(sa, sb, (i - a) / (b - a));
  }
  return { rows };
}

// ---------------------------------------------------------------------------------------------------

const BLEND0 = 50 * DEG;
const BLEND1 = 135 * DEG;

class RowPlacer {
  private readonly cache = new Map<RowSpec, number>();
  private cacheTheta = NaN;

  constructor(
    private readonly table: MeridianTable,
    private readonly w: FeatureWindows,
    private readonly close: number,
  ) {}

  /** sigma at theta of a row as seen from the front (before blending toward the back). */
  sigmaFront(row: RowSpec, theta: number): number {
    if (theta !== this.cacheTheta) {
      this.cache.clear();
      this.cacheTheta = theta;
    }
    const hit = this.cache.get(row);
    if (hit !== undefined) return hit;
    let s: number;
    if (row.isBoundary) s = 0;
    else if (row.mix) {
      const a = this.sigmaFront(row.mix.a, theta);
      const b = row.mix.b ? this.sigmaFront(row.mix.b, theta) : 1;
      s = lerp(a, b, row.mix.f);
    } else {
      const y = warpedY(this.w, row.y0!, theta, this.close);
      s = this.table.sigmaAtY(theta, y);
    }
    this.cache.set(row, s);
    return s;
  }

  sigma(row: RowSpec, theta: number): number {
    if (row.earMix) {
      return lerp(this.sigma(row.earMix.below, theta), this.sigma(row.earMix.above, theta), row.earMix.f);
    }
    if (row.isBoundary) return 0;
    const b = smoothstep(BLEND0, BLEND1, theta);
    return lerp(this.sigmaFront(row, theta), row.sigmaBack, b);
  }
}

function insertEarRows(table: MeridianTable, w: FeatureWindows, rows: RowSpec[]): void {
  const placer = new RowPlacer(table, w, 0);
  const yAtEar = (r: RowSpec): number => table.yAt(w.earTheta, placer.sigma(r, w.earTheta));
  const fulls = rows.filter((r) => r.kind === 'full');
  const ys = fulls.map(yAtEar);
  let lo = -1;
  let hi = -1;
  for (let i = 0; i < fulls.length; i++) {
    if (ys[i] < EAR_Y0) lo = i;
    if (hi < 0 && ys[i] > EAR_Y1) hi = i;
  }
  if (lo < 0 || hi < 0 || hi - lo < 2) throw new Error('synthetic head: ear rows');
  const windowThetas = linspace(-1, 1, EAR_SAMPLES - 1).map((b) => w.earTheta + b * w.earHalf);
  const margin = 2.5 * DEG;
  const withWindow = (thetas: number[]): number[] =>
    uniq([...thetas.filter((t) => Math.abs(t - w.earTheta) > w.earHalf + margin), ...windowThetas]);
  const earRows: Array<{ row: RowSpec; y: number }> = [];
  // In the rings just below and above the ear, samples close to the window's edges move onto them, so
  // the flap's edges never meet a ring sample at almost (but not exactly) the same azimuth.
  const edges = [w.earTheta - w.earHalf, w.earTheta + w.earHalf];
  for (const r of [fulls[lo], fulls[hi]]) {
    r.thetas = uniq(r.thetas.map((t) => edges.find((e) => Math.abs(t - e) < 2.6 * DEG) ?? t));
  }
  for (let i = lo; i < hi; i++) {
    const below = fulls[i];
    const above = fulls[i + 1];
    if (i > lo) {
      below.thetas = withWindow(below.thetas);
      earRows.push({ row: below, y: ys[i] });
    }
    const n = Math.max(0, Math.round((ys[i + 1] - ys[i]) / EAR_ROW_SPACING) - 1);
    const at = rows.indexOf(above);
    const inserted: RowSpec[] = [];
    for (let k = 1; k <= n; k++) {
      const f = k / (n + 1);
      const r: RowSpec = {
        name: `ear${i}_${k}`,
        kind: 'inner',
        region: 'ear',
        thetas: windowThetas,
        earMix: { below, above, f },
        sigmaBack: lerp(below.sigmaBack, above.sigmaBack, f),
      };
      inserted.push(r);
      earRows.push({ row: r, y: lerp(ys[i], ys[i + 1], f) });
    }
    // Put the ear arcs right below `above` (after any other rows between the two rings).
    rows.splice(at, 0, ...inserted);
  }
  const y0 = ys[lo];
  const y1 = ys[hi];
  for (const e of earRows) e.row.earA = (e.y - y0) / (y1 - y0);
}

// ---------------------------------------------------------------------------------------------------
// Topology.

function buildTopology(rows: RowSpec[]): { half: HalfLayout; tris: number[]; numHead: number } {
  const verts: HalfVertex[] = [];
  const rowVerts: number[][] = [];
  for (let r = 0; r < rows.length; r++) {
    const ids: number[] = [];
    for (const t of rows[r].thetas) {
      const axis = t === 0 || Math.abs(t - Math.PI) < 1e-12;
      ids.push(verts.length);
      verts.push({ row: r, theta: axis && t !== 0 ? Math.PI : t, axis, left: -1, right: -1 });
    }
    rowVerts.push(ids);
  }
  const poleHalf = verts.length;
  verts.push({ row: rows.length, theta: 0, axis: true, left: -1, right: -1 });

  // Global numbering: row by row in ascending signed theta, theta = pi last; then the pole.
  let next = 0;
  for (let r = 0; r < rows.length; r++) {
    const ids = rowVerts[r];
    for (let i = ids.length - 1; i >= 0; i--) {
      const v = verts[ids[i]];
      if (!v.axis) v.right = next++;
    }
    for (const id of ids) {
      const v = verts[id];
      if (v.axis && v.theta === 0) v.left = v.right = next++;
    }
    for (const id of ids) {
      const v = verts[id];
      if (!v.axis) v.left = next++;
    }
    for (const id of ids) {
      const v = verts[id];
      if (v.axis && v.theta !== 0) v.left = v.right = next++;
    }
  }
  verts[poleHalf].left = verts[poleHalf].right = next++;

  // Advancing front in the half domain.
  const th = (id: number): number => verts[id].theta;
  const tris: number[] = []; // half-domain triangles, CCW in (theta, row)
  const zip = (P: number[], A: number[]): void => {
    let i = 0;
    let j = 0;
    while (i < P.length - 1 || j < A.length - 1) {
      let advP: boolean;
      if (i === P.length - 1) advP = false;
      else if (j === A.length - 1) advP = true;
      else advP = th(P[i + 1]) <= th(A[j + 1]);
      if (advP) {
        tris.push(P[i], P[i + 1], A[j]);
        i++;
      } else {
        tris.push(P[i], A[j + 1], A[j]);
        j++;
      }
    }
  };
  let front = rowVerts[0].slice();
  for (let r = 1; r < rows.length; r++) {
    const A = rowVerts[r];
    const kind = rows[r].kind;
    const tA0 = th(A[0]);
    const tA1 = th(A[A.length - 1]);
    if (kind === 'full') {
      zip(front, A);
      front = A.slice();
    } else if (kind === 'front') {
      let k = 0;
      while (th(front[k]) <= tA1) k++;
      zip(front.slice(0, k + 1), A);
      front = [...A, ...front.slice(k)];
    } else {
      let i0 = 0;
      while (th(front[i0 + 1]) < tA0) i0++;
      let k = i0 + 1;
      while (th(front[k]) <= tA1) k++;
      zip(front.slice(i0, k + 1), A);
      front = [...front.slice(0, i0 + 1), ...A, ...front.slice(k)];
    }
  }
  for (let i = 0; i + 1 < front.length; i++) tris.push(front[i], front[i + 1], poleHalf);
  return { half: { verts, rowVerts, poleHalf }, tris, numHead: next };
}

// ---------------------------------------------------------------------------------------------------
// Positions.

/** Half-domain positions (the +x side) for the given lid closure. */
function placeHalf(
  table: MeridianTable,
  w: FeatureWindows,
  rows: RowSpec[],
  half: HalfLayout,
  close: number,
  sigmaOut?: Float64Array,
): Float64Array {
  const placer = new RowPlacer(table, w, close);
  const nv = half.verts.length;
  const pos = new Float64Array(nv * 3);
  const p = [0, 0, 0];
  const d = [0, 0, 0];
  for (let id = 0; id < nv; id++) {
    const v = half.verts[id];
    if (id === half.poleHalf) {
      table.pointAt(0, 1, p);
      pos.set([0, p[1], p[2]], 3 * id);
      if (sigmaOut) sigmaOut[id] = 1;
      continue;
    }
    const row = rows[v.row];
    const sigma = placer.sigma(row, v.theta);
    if (sigmaOut) sigmaOut[id] = sigma;
    if (row.slot) {
      // Slit between the lips: from the mouth line straight back into the head.
      const yml = mouthLine(w, v.theta);
      table.pointAt(v.theta, table.sigmaAtY(v.theta, yml), p);
      const yT = warpedY(w, row.y0!, v.theta, close);
      const xi = v.theta / w.mouthCorner;
      const depth = row.slot.depth * (SLOT_DEPTH * (1 - xi * xi) + 0.0012);
      p[1] += yT - yml;
      p[2] -= depth;
    } else {
      const s = table.pointAt(v.theta, sigma, p);
      if (row.pocket) {
        // Behind the eyeball: slide along the ray to just inside the eyeball sphere.
        rayDirection(d);
        const ox = RAY_ORIGIN[0] - EX;
        const oy = RAY_ORIGIN[1] - EY;
        const oz = RAY_ORIGIN[2] - EZ;
        const b = ox * d[0] + oy * d[1] + oz * d[2];
        const c = ox * ox + oy * oy + oz * oz - EYE_RADIUS * EYE_RADIUS;
        const disc = b * b - c;
        let sHit = s - 0.004;
        if (disc > 0) sHit = Math.min(sHit, -b + Math.sqrt(disc));
        const sIn = sHit - POCKET_DEPTH;
        p[0] = RAY_ORIGIN[0] + sIn * d[0];
        p[1] = RAY_ORIGIN[1] + sIn * d[1];
        p[2] = RAY_ORIGIN[2] + sIn * d[2];
      }
    }
    if (v.axis) p[0] = 0;
    pos[3 * id] = p[0];
    pos[3 * id + 1] = p[1];
    pos[3 * id + 2] = p[2];
  }
  shapeEars(w, rows, half, pos);
  return pos;
}

/** Remap the ear window of the ear rows onto a flap. */
function shapeEars(w: FeatureWindows, rows: RowSpec[], half: HalfLayout, pos: Float64Array): void {
  const ct = Math.cos(w.earTheta);
  const st = Math.sin(w.earTheta);
  const lateral = [st, 0, ct];
  const back = [ct, 0, -st]; // d/dtheta direction: toward the back of the head
  const alpha = 27 * DEG; // flap angle away from the head
  const out0 = norm([Math.cos(alpha) * back[0] + Math.sin(alpha) * lateral[0], 0, Math.cos(alpha) * back[2] + Math.sin(alpha) * lateral[2]]);
  const up = [0, 1, 0];
  let across = norm(cross(out0, up)); // faces forward and outward: the ear's front side
  if (across[0] * lateral[0] + across[2] * lateral[2] < 0) across = [-across[0], -across[1], -across[2]];
  const E0 = 0.03;
  const n = [0, 0, 0];
  for (let r = 0; r < rows.length; r++) {
    const a = rows[r].earA;
    if (a === undefined) continue;
    const ids = half.rowVerts[r];
    const win = ids.filter((id) => Math.abs(half.verts[id].theta - w.earTheta) <= w.earHalf + 1e-9);
    if (win.length !== EAR_SAMPLES) throw new Error('synthetic head: ear window');
    const f = win[0];
    const b = win[win.length - 1];
    const Pf = [pos[3 * f], pos[3 * f + 1], pos[3 * f + 2]];
    const Pb = [pos[3 * b], pos[3 * b + 1], pos[3 * b + 2]];
    const mid = [(Pf[0] + Pb[0]) / 2, (Pf[1] + Pb[1]) / 2, (Pf[2] + Pb[2]) / 2];
    const halfV = [(Pf[0] - Pb[0]) / 2, (Pf[1] - Pb[1]) / 2, (Pf[2] - Pb[2]) / 2];
    headNormal(mid[0], mid[1], mid[2], n);
    // Fan: the flap points down-back at the lobe, back in the middle, up-back at the top.
    const chi = lerp(-58, 80, a) * DEG;
    const dir = [
      Math.cos(chi) * out0[0] + Math.sin(chi) * up[0],
      Math.cos(chi) * out0[1] + Math.sin(chi) * up[1],
      Math.cos(chi) * out0[2] + Math.sin(chi) * up[2],
    ];
    const E = E0 * Math.pow(Math.sin(Math.PI * a), 0.4) * (0.78 + 0.34 * a);
    for (let k = 1; k < win.length - 1; k++) {
      const bb = -1 + (2 * k) / (win.length - 1);
      const phi = (Math.PI * (bb + 1)) / 2;
      const g = Math.pow(Math.sin(phi), 0.8); // 0 at the root, 1 at the rim
      const c = Math.cos(phi);
      const sa = Math.sin(Math.PI * a);
      const rimHalf = 0.0022 + 0.0008 * sa;
      const cup = 0.26 * E * g * g; // the flap curls forward: its front face is a bowl
      const roll = 0.0032 * Math.sqrt(sa) * Math.max(0, (g - 0.72) / 0.28) ** 2; // the helix rolls forward
      const front = phi < Math.PI / 2;
      const concha = front ? -0.003 * sa * Math.sin(Math.PI * Math.min(1, g / 0.75)) * (1 - g) : 0;
      const antihelix = front ? 0.0016 * Math.exp(-(((g - 0.6) / 0.13) ** 2)) * smoothstep(0.25, 0.6, a) : 0;
      const id = win[k];
      for (let q = 0; q < 3; q++) {
        pos[3 * id + q] =
          mid[q] +
          E * g * dir[q] +
          c * ((1 - g) * halfV[q] + g * rimHalf * across[q]) +
          (cup + roll + concha + antihelix) * across[q] +
          0.0015 * g * (1 - g) * n[q];
      }
    }
  }
}

function norm(v: number[]): number[] {
  const l = Math.hypot(v[0], v[1], v[2]);
  return [v[0] / l, v[1] / l, v[2] / l];
}

function cross(a: number[], b: number[]): number[] {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

// ---------------------------------------------------------------------------------------------------
// Eyeballs: UV spheres (32 segments x 17 rings, 546 vertices, 1088 triangles) with the poles on the
// optical axis (+z); front pole first, back pole last.

export const EYE_SEGMENTS = 32;
export const EYE_RINGS = 17;
export const EYE_VERTS = EYE_SEGMENTS * EYE_RINGS + 2;

function eyeball(cx: number, cy: number, cz: number, pos: Float64Array, start: number, faces: number[]): void {
  let o = 3 * start;
  const put = (x: number, y: number, z: number): void => {
    pos[o++] = x;
    pos[o++] = y;
    pos[o++] = z;
  };
  put(cx, cy, cz + EYE_RADIUS);
  for (let r = 1; r <= EYE_RINGS; r++) {
    const pol = (Math.PI * r) / (EYE_RINGS + 1);
    for (let s = 0; s < EYE_SEGMENTS; s++) {
      const az = (2 * Math.PI * s) / EYE_SEGMENTS;
      put(cx + EYE_RADIUS * Math.sin(pol) * Math.cos(az), cy + EYE_RADIUS * Math.sin(pol) * Math.sin(az), cz + EYE_RADIUS * Math.cos(pol));
    }
  }
  put(cx, cy, cz - EYE_RADIUS);
  const ring = (r: number, s: number): number => start + 1 + (r - 1) * EYE_SEGMENTS + (s % EYE_SEGMENTS);
  const back = start + 1 + EYE_RINGS * EYE_SEGMENTS;
  for (let s = 0; s < EYE_SEGMENTS; s++) faces.push(start, ring(1, s), ring(1, s + 1));
  for (let r = 1; r < EYE_RINGS; r++) {
    for (let s = 0; s < EYE_SEGMENTS; s++) {
      faces.push(ring(r, s), ring(r + 1, s), ring(r + 1, s + 1));
      faces.push(ring(r, s), ring(r + 1, s + 1), ring(r, s + 1));
    }
  }
  for (let s = 0; s < EYE_SEGMENTS; s++) faces.push(ring(EYE_RINGS, s), back, ring(EYE_RINGS, s + 1));
}

// ---------------------------------------------------------------------------------------------------

/** FLAME's vertex budget: 3931 head vertices, then two 546-vertex eyeballs (5023 in all). */
export const HEAD_VERTICES = 3931;

function countVertices(rows: RowSpec[]): number {
  let n = 1; // the pole
  for (const r of rows) {
    const axis = r.thetas.filter((t) => t === 0 || Math.abs(t - Math.PI) < 1e-12).length;
    n += 2 * r.thetas.length - axis;
  }
  return n;
}

/**
 * The rows, with the sample counts of the neck and scalp rings tuned so the head has exactly
 * HEAD_VERTICES vertices (each extra sample on a ring's half adds 2 vertices).
 */
function layoutRows(table: MeridianTable, w: FeatureWindows): RowSpec[] {
  const extra = new Array(11).fill(0);
  let parityFix = false;
  const make = (): RowSpec[] => {
    const { rows } = buildRows(w, extra, parityFix);
    insertEarRows(table, w, rows);
    return rows;
  };
  let rows = make();
  let d = HEAD_VERTICES - countVertices(rows);
  if (d % 2 !== 0) {
    // A front arc has an odd number of vertices, a full ring an even one: make one arc a ring.
    parityFix = true;
    rows = make();
    d = HEAD_VERTICES - countVertices(rows);
  }
  if (d % 2 !== 0) throw new Error('synthetic head: vertex parity');
  // Spread d/2 half-samples over the rings, the larger scalp rings first.
  const order = [0, 1, 2, 7, 8, 9, 10, 3, 4, 5, 6];
  for (let k = 0; k < Math.abs(d / 2); k++) extra[order[k % order.length]] += Math.sign(d);
  rows = make();
  return rows;
}

export function buildHead(): HeadGeometry {
  const table = new MeridianTable();
  const w = findWindows(table);
  const rows = layoutRows(table, w);
  const { half, tris, numHead } = buildTopology(rows);
  if (numHead !== HEAD_VERTICES) throw new Error(`synthetic head: ${numHead} head vertices, expected ${HEAD_VERTICES}`);

  const halfSigma = new Float64Array(half.verts.length);
  const halfPos = placeHalf(table, w, rows, half, 0, halfSigma);

  const V = numHead + 2 * EYE_VERTS;
  const positions = new Float64Array(V * 3);
  const theta = new Float64Array(numHead);
  const sigma = new Float64Array(numHead);
  const row = new Int32Array(numHead);
  const mirror = new Int32Array(V);
  const earA = new Float64Array(numHead).fill(NaN);
  const earB = new Float64Array(numHead).fill(NaN);
  writeHalf(half, halfPos, halfPos, positions);
  for (let id = 0; id < half.verts.length; id++) {
    const v = half.verts[id];
    theta[v.right] = -v.theta;
    theta[v.left] = v.theta; // axis vertices (left === right) keep theta = 0 or +pi
    sigma[v.left] = sigma[v.right] = halfSigma[id];
    row[v.left] = row[v.right] = v.row;
    mirror[v.left] = v.right;
    mirror[v.right] = v.left;
    const r = rows[v.row];
    if (r && r.earA !== undefined && Math.abs(v.theta - w.earTheta) <= w.earHalf + 1e-9) {
      earA[v.left] = earA[v.right] = r.earA;
      earB[v.left] = earB[v.right] = (v.theta - w.earTheta) / w.earHalf;
    }
  }
  const faces: number[] = [];
  for (let t = 0; t < tris.length; t += 3) {
    const a = half.verts[tris[t]];
    const b = half.verts[tris[t + 1]];
    const c = half.verts[tris[t + 2]];
    faces.push(a.left, b.left, c.left);
    faces.push(a.right, c.right, b.right);
  }
  const headFaceCount = faces.length / 3;
  const eyeStart: [number, number] = [numHead, numHead + EYE_VERTS];
  eyeball(EX, EY, EZ, positions, eyeStart[0], faces);
  eyeball(-EX, EY, EZ, positions, eyeStart[1], faces);
  for (let i = 0; i < EYE_VERTS; i++) {
    // The eyeball rings are symmetric under x -> -x with segment s <-> (S/2 - s) mod S.
    let m = i;
    if (i > 0 && i < EYE_VERTS - 1) {
      const r = Math.floor((i - 1) / EYE_SEGMENTS);
      const s = (i - 1) % EYE_SEGMENTS;
      m = 1 + r * EYE_SEGMENTS + ((EYE_SEGMENTS / 2 - s + EYE_SEGMENTS) % EYE_SEGMENTS);
    }
    mirror[eyeStart[0] + i] = eyeStart[1] + m;
    mirror[eyeStart[1] + i] = eyeStart[0] + m;
  }
  return {
    positions,
    faces: Uint32Array.from(faces),
    numHead,
    eyeStart,
    eyeCount: EYE_VERTS,
    theta,
    sigma,
    row,
    rows,
    mirror,
    pole: half.verts[half.poleHalf].left,
    headFaceCount,
    eyeFaceCount: 2 * EYE_SEGMENTS * EYE_RINGS,
    half,
    table,
    windows: w,
    earA,
    earB,
  };
}

/** Write head positions from half-domain positions for the left (+x) and right sides. */
export function writeHalf(half: HalfLayout, leftPos: Float64Array, rightPos: Float64Array, out: Float64Array): void {
  for (let id = 0; id < half.verts.length; id++) {
    const v = half.verts[id];
    out[3 * v.left] = leftPos[3 * id];
    out[3 * v.left + 1] = leftPos[3 * id + 1];
    out[3 * v.left + 2] = leftPos[3 * id + 2];
    if (!v.axis) {
      out[3 * v.right] = -rightPos[3 * id];
      out[3 * v.right + 1] = rightPos[3 * id + 1];
      out[3 * v.right + 2] = rightPos[3 * id + 2];
    }
  }
}

/** Head positions with the given upper-lid closure (the eyelid blendshapes are differences of these). */
export function headPositions(g: HeadGeometry, params: HeadParams): Float64Array {
  const out = g.positions.slice();
  const [l, r] = params.lidClose;
  const left = placeHalf(g.table, g.windows, g.rows, g.half, l);
  const right = r === l ? left : placeHalf(g.table, g.windows, g.rows, g.half, r);
  writeHalf(g.half, left, right, out);
  return out;
}

// Landmark embedding of the synthetic head in DECA's layout: 51 static landmarks (iBUG-68 points 17..67)
// and a 79 x 17 table of yaw-dependent jaw-contour landmarks, each a face index plus barycentric weights.
//
// Static points are placed where the anatomy is: on the brow ridge, down the nose, along the nostrils, on
// the lid margins (the eye rows of the mesh) and on the lips (the vermilion borders and the inner lip rows).
// Points on the subject's right (-x) are exact mirrors of those on the left. Contour points: for each yaw
// bin the head is turned by that yaw and, along 17 directions fanning around the lower face from a point
// between the eyes, the outermost point of the cheek / jaw / chin that still faces the camera is taken.
import { EYE_CENTER, MOUTH_Y } from './anatomy.js';
import { edgeFaces } from './geometry-utils.js';
import type { HeadGeometry } from './mesh.js';
import type { Rig } from './rig.js';

export interface SurfacePoint {
  face: number;
  bary: [number, number, number];
}

export interface LandmarkSet {
  static51: SurfacePoint[]; // iBUG 17..67
  dynamic: SurfacePoint[][]; // [79][17]
}

const [, EY] = EYE_CENTER;
export const YAW_BINS = 79;

/** Yaw in degrees (rotation of the head about +y, positive turning the face toward +x) of a contour bin. */
export function binYaw(bin: number): number {
  return bin <= 39 ? -bin : bin - 39;
}

function mirrorPoint(p: SurfacePoint): SurfacePoint {
  // Head triangles come in (left, mirrored right) pairs: the mirror of (a, b, c) is (m a, m c, m b).
  return { face: p.face ^ 1, bary: [p.bary[0], p.bary[2], p.bary[1]] };
}

export function pointPosition(g: HeadGeometry, p: SurfacePoint, positions: ArrayLike<number> = g.positions): [number, number, number] {
  const out: [number, number, number] = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    const v = g.faces[3 * p.face + c];
    for (let d = 0; d < 3; d++) out[d] += p.bary[c] * positions[3 * v + d];
  }
  return out;
}

export function buildLandmarks(g: HeadGeometry, rig: Rig, normals: Float64Array): LandmarkSet {
  const P = g.positions;
  const F = g.faces;
  const V = P.length / 3;
  const ef = edgeFaces(F, V);
  const headFaces = g.headFaceCount;

  /** A point on edge (a, b) at fraction t from a, expressed on a triangle that uses the edge. */
  const onEdge = (a: number, b: number, t: number, preferLeft = true): SurfacePoint => {
    const fs = ef.get(a < b ? a * V + b : b * V + a);
    if (!fs) throw new Error('synthetic head: landmark edge not in mesh');
    const cands = fs.filter((f) => f < headFaces);
    const f = cands.find((c) => (c % 2 === 0) === preferLeft) ?? cands[0];
    const bary: [number, number, number] = [0, 0, 0];
    for (let c = 0; c < 3; c++) {
      const v = F[3 * f + c];
      if (v === a) bary[c] += 1 - t;
      if (v === b) bary[c] += t;
    }
    return { face: f, bary };
  };

  /** First hit of the ray from (x, y, +inf) toward -z on the head (front-facing triangles). */
  const frontal = (x: number, y: number): SurfacePoint => {
    let best: SurfacePoint | null = null;
    let bestZ = -Infinity;
    for (let f = 0; f < headFaces; f++) {
      const a = F[3 * f];
      const b = F[3 * f + 1];
      const c = F[3 * f + 2];
      const ax = P[3 * a];
      const ay = P[3 * a + 1];
      const bx = P[3 * b];
      const by = P[3 * b + 1];
      const cx = P[3 * c];
      const cy = P[3 * c + 1];
      const area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
      if (area <= 0) continue; // back-facing as seen from +z
      const w0 = ((bx - x) * (cy - y) - (by - y) * (cx - x)) / area;
      const w1 = ((cx - x) * (ay - y) - (cy - y) * (ax - x)) / area;
      const w2 = 1 - w0 - w1;
      if (w0 < 0 || w1 < 0 || w2 < 0) continue;
      const z = w0 * P[3 * a + 2] + w1 * P[3 * b + 2] + w2 * P[3 * c + 2];
      if (z > bestZ) {
        bestZ = z;
        best = { face: f, bary: [w0, w1, w2] };
      }
    }
    if (!best) throw new Error(`synthetic head: no surface at (${x}, ${y})`);
    // Keep the point on the +x side's triangle when it sits on the midline.
    if (x === 0 && best.face % 2 === 1) {
      const m = mirrorPoint(best);
      return m;
    }
    return best;
  };

  // Rows by name; their left-side vertices in ascending theta.
  const rowIndex = (name: string): number => {
    const i = g.rows.findIndex((r) => r.name === name);
    if (i < 0) throw new Error(`synthetic head: no row ${name}`);
    return i;
  };
  const rowLeft = (r: number): number[] => g.half.rowVerts[r].map((id) => g.half.verts[id].left);
  /** Point of a row's polyline at azimuth theta (left half). */
  const onRow = (name: string, theta: number): SurfacePoint => {
    const vs = rowLeft(rowIndex(name));
    for (let i = 0; i + 1 < vs.length; i++) {
      const t0 = g.theta[vs[i]];
      const t1 = g.theta[vs[i + 1]];
      if (theta >= t0 && theta <= t1) return onEdge(vs[i], vs[i + 1], (theta - t0) / (t1 - t0));
    }
    throw new Error('synthetic head: theta outside row');
  };
  const w = g.windows;
  const eyeMid = 0.5 * (w.eyeInner + w.eyeOuter);
  const eyeHalf = 0.5 * (w.eyeOuter - w.eyeInner);
  const M = MOUTH_Y;

  // The nose tip: the most forward midline point between the eyes and the mouth.
  let tipY = 0;
  let tipZ = -Infinity;
  for (let v = 0; v < g.numHead; v++) {
    if (P[3 * v] === 0 && P[3 * v + 1] > M && P[3 * v + 1] < EY && P[3 * v + 2] > tipZ) {
      tipZ = P[3 * v + 2];
      tipY = P[3 * v + 1];
    }
  }
  const nasion = EY + 0.003;
  const left = new Map<number, SurfacePoint>(); // iBUG index -> point (+x side and midline)
  const brow: Array<[number, number, number]> = [
    [22, 0.017, 0.0195],
    [23, 0.027, 0.022],
    [24, 0.037, 0.0228],
    [25, 0.047, 0.0212],
    [26, 0.0565, 0.0172],
  ];
  for (const [i, x, dy] of brow) left.set(i, frontal(x, EY + dy));
  left.set(27, frontal(0, nasion));
  left.set(28, frontal(0, nasion + (tipY - nasion) / 3));
  left.set(29, frontal(0, nasion + (2 * (tipY - nasion)) / 3));
  left.set(30, frontal(0, tipY));
  left.set(33, frontal(0, -0.0232));
  left.set(34, frontal(0.0068, -0.0222));
  left.set(35, frontal(0.0128, -0.0202));
  // Left eye: 42 inner corner, 43/44 upper lid, 45 outer corner, 46/47 lower lid.
  left.set(42, onRow('EL', w.eyeInner));
  left.set(43, onRow('EU', eyeMid - eyeHalf / 3));
  left.set(44, onRow('EU', eyeMid + eyeHalf / 3));
  left.set(45, onRow('EL', w.eyeOuter));
  left.set(46, onRow('EL', eyeMid + eyeHalf / 3));
  left.set(47, onRow('EL', eyeMid - eyeHalf / 3));
  // Outer lips: 51 top centre, 52/53 upper left, 54 left corner, 55/56 lower left, 57 bottom centre.
  left.set(51, frontal(0, M + 0.0102));
  left.set(52, frontal(0.0072, M + 0.0112));
  left.set(53, frontal(0.0165, M + 0.0078));
  left.set(54, onRow('LL', w.mouthCorner));
  left.set(55, frontal(0.0165, M - 0.0078));
  left.set(56, frontal(0.0078, M - 0.0108));
  left.set(57, frontal(0, M - 0.0115));
  // Inner lips: 62 upper centre, 63 upper left, 64 left corner, 65 lower left, 66 lower centre.
  left.set(62, onRow('UL', 0));
  left.set(63, onRow('UL', 0.5 * w.mouthCorner));
  left.set(64, onRow('LL', 0.93 * w.mouthCorner));
  left.set(65, onRow('LL', 0.5 * w.mouthCorner));
  left.set(66, onRow('LL', 0));
  const pairs: Array<[number, number]> = [
    [17, 26], [18, 25], [19, 24], [20, 23], [21, 22],
    [31, 35], [32, 34],
    [36, 45], [37, 44], [38, 43], [39, 42], [40, 47], [41, 46],
    [48, 54], [49, 53], [50, 52], [59, 55], [58, 56],
    [60, 64], [61, 63], [67, 65],
  ];
  for (const [r, l] of pairs) left.set(r, mirrorPoint(left.get(l)!));
  const static51: SurfacePoint[] = [];
  for (let i = 17; i <= 67; i++) {
    const p = left.get(i);
    if (!p) throw new Error(`synthetic head: landmark ${i} missing`);
    static51.push(p);
  }

  // Dynamic contour.
  const cand = new Uint8Array(V);
  for (let v = 0; v < g.numHead; v++) {
    const r = g.rows[g.row[v]];
    if (!r || r.slot || r.pocket || r.region === 'ear' || !Number.isNaN(g.earB[v]) || rig.earness[v] > 0) continue;
    if (r.region === 'neck' || r.region === 'scalp') continue;
    if (r.region === 'underchin' && r.mix!.f < 0.55) continue;
    const y = P[3 * v + 1];
    if (Math.abs(g.theta[v]) > (118 * Math.PI) / 180 || y > EY + 0.004) continue;
    cand[v] = 1;
  }
  const edgeList: number[] = [];
  for (const key of ef.keys()) {
    const a = Math.floor(key / V);
    const b = key - a * V;
    if (cand[a] && cand[b]) edgeList.push(a, b);
  }
  const edges = Int32Array.from(edgeList);
  const candList = Int32Array.from(Array.from(cand.keys()).filter((v) => cand[v]));
  const sv = new Float64Array(V);
  const cx = 0;
  const cy = EY - 0.01;
  const rx = new Float64Array(V);
  const rz = new Float64Array(V);
  const nz = new Float64Array(V);
  const dynamic: SurfacePoint[][] = [];
  // Bins 0..39 (yaw 0, -1, ..., -39) are computed; bins 40..78 (yaw +1..+39) are their mirror images.
  for (let bin = 0; bin <= 39; bin++) {
    const yaw = (binYaw(bin) * Math.PI) / 180;
    const c = Math.cos(yaw);
    const s = Math.sin(yaw);
    for (let i = 0; i < candList.length; i++) {
      const v = candList[i];
      rx[v] = c * P[3 * v] + s * P[3 * v + 2];
      rz[v] = -s * P[3 * v] + c * P[3 * v + 2];
      nz[v] = -s * normals[3 * v] + c * normals[3 * v + 2];
    }
    const row: SurfacePoint[] = [];
    for (let k = 0; k < 17; k++) {
      const phi = Math.PI * (1 + (10 + 160 * (k / 16)) / 180);
      const ux = Math.cos(phi);
      const uy = Math.sin(phi);
      // How squarely the point must face the camera: near the chin the outline is the jaw's lower edge
      // (the skin below it turns under toward the neck), on the sides it is the silhouette itself.
      const tau = 0.1 + 0.35 * Math.min(1, Math.max(0, (7 - Math.abs(k - 8)) / 4));
      let best = -Infinity;
      let bestEdge = -1;
      let bestT = 0;
      for (let i = 0; i < candList.length; i++) {
        const v = candList[i];
        sv[v] = -uy * (rx[v] - cx) + ux * (P[3 * v + 1] - cy);
      }
      for (let e = 0; e < edges.length; e += 2) {
        const a = edges[e];
        const b = edges[e + 1];
        const sa = sv[a];
        const sb = sv[b];
        if ((sa > 0 && sb > 0) || (sa < 0 && sb < 0) || sa === sb) continue;
        const t = sa / (sa - sb);
        const facing = nz[a] + t * (nz[b] - nz[a]);
        if (facing < tau) continue;
        const qx = rx[a] + t * (rx[b] - rx[a]);
        const qy = P[3 * a + 1] + t * (P[3 * b + 1] - P[3 * a + 1]);
        const ext = ux * (qx - cx) + uy * (qy - cy);
        if (ext > best) {
          best = ext;
          bestEdge = e;
          bestT = t;
        }
      }
      if (bestEdge < 0) throw new Error(`synthetic head: no contour point (bin ${bin}, point ${k})`);
      row.push(onEdge(edges[bestEdge], edges[bestEdge + 1], bestT, k >= 8));
    }
    dynamic.push(row);
  }
  for (let bin = 40; bin < YAW_BINS; bin++) {
    const src = dynamic[bin - 39];
    dynamic.push(src.map((_, k) => mirrorPoint(src[16 - k])));
  }
  return { static51, dynamic };
}

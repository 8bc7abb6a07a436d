/**
 * Independent pure-TypeScript float64 reference of the rasterizer ops, written only from
 * /work/shared/docs/kernels-design.md sections 2.1-2.3 (not from nvdiffrast or the C++/CUDA code).
 * It is brute force (every triangle against every pixel of its bounding box) and slow on purpose:
 * it exists to test the native kernels.
 *
 * Conventions (kernels-design.md 2.2):
 * - `pos` [B,V,4] clip space (x, y, z, w), OpenGL convention. Pixel (px, py), py = 0 is the BOTTOM row;
 *   its centre is at NDC ((2px+1)/W - 1, (2py+1)/H - 1).
 * - Coverage is decided in integer fixed point, 1/16 px: X = rint((x/w)*8W + 8W), Y = rint((y/w)*8H + 8H)
 *   with rint = round-half-even, saturated to +-2^28, computed once per (clipped) vertex. The sample of
 *   pixel (px, py) is (16px + 8, 16py + 8).
 * - Orientation A = (X1-X0)(Y2-Y0) - (X2-X0)(Y1-Y0); A == 0 covers nothing; A < 0 swaps v1/v2 for the
 *   coverage test only (no culling).
 * - Edge a->b of the CCW triangle: E(P) = (Xb-Xa)(Py-Ya) - (Yb-Ya)(Px-Xa). Covered iff all E >= 0, where
 *   E == 0 counts only on top-left edges: "left" = Yb < Ya, "top" = Yb == Ya && Xb < Xa.
 *   Edge functions are evaluated exactly: in doubles when all |X|,|Y| <= 2^24 (products < 2^51), else BigInt.
 * - Near plane: vertices with z < -w are "behind". All three behind -> dropped. Otherwise the triangle is
 *   clipped against z = -w only (Sutherland-Hodgman over edges 0->1, 1->2, 2->0, then a fan from the first
 *   polygon vertex: 1 or 2 sub-triangles keeping the parent id). Each intersection point is computed with
 *   the edge's endpoints in canonical order (lower vertex index first): t = da/(da - db), d = z + w,
 *   P = Pa + t (Pb - Pa), so neighbours produce bitwise-identical points.
 * - Reference choice where the spec is silent: a (sub-)triangle with a vertex whose w is not > 0 after
 *   clipping (only possible for non-perspective clip-space input, e.g. z >= -w with w <= 0) is dropped.
 * - Triangles with any non-finite component (NaN/Inf) in any of their vertices are dropped.
 * - Depth: zw = (sum z_i a_i)/(sum w_i a_i) from the homogeneous edge functions of 2.1 evaluated at the
 *   pixel centre on the ORIGINAL (unclipped) triangle; zw > 1 is rejected (far plane); the winner has the
 *   smallest key (orderedBits(zw), triId). This float64 reference orders by the 64-bit ordered bits of the
 *   double (the kernels use the 32-bit bits of the float32); same order, after -0 is made +0 (so a depth tie at 0 goes to the smaller id); +NaN after +Inf.
 * - Output (u, v, zw) recomputed with the 2.1 formula, clamped: u, v to [0, 1] (NaN -> 0), rescaled by
 *   1/(u+v) if u+v > 1, zw to [-1, 1] (NaN -> 0).
 */

export type FloatArray = Float64Array | Float32Array;

/** Fixed-point saturation bound (units of 1/16 px). */
const SAT = 2 ** 28;
/** Below this magnitude, edge functions are exact in doubles. */
const SAFE = 2 ** 24;

/** Round half to even (C `rint` in the default rounding mode). */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Fixed-point coordinate (1/16 px) of an NDC coordinate for an image dimension of `size` pixels. */
export function toFixed(ndc: number, size: number): number {
  const s = 8 * size;
  let v = ndc * s + s;
  if (v > SAT) v = SAT;
  else if (v < -SAT) v = -SAT;
  return roundHalfEven(v) + 0; // + 0 turns -0 into +0
}

/** 64-bit "ordered bits" of a double: unsigned integer order == float order (-0 < +0). */
export function orderedBits64(f: number): bigint {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, f);
  const bits = dv.getBigUint64(0);
  return (bits >> 63n) !== 0n ? bits ^ 0xffffffffffffffffn : bits ^ 0x8000000000000000n;
}

function clampNan(x: number, lo: number, hi: number): number {
  // NaN -> 0 (matches __saturatef for [0,1]; spec 2.4 asks NaN -> 0 for every clamp).
  if (Number.isNaN(x)) return 0;
  return x < lo ? lo : x > hi ? hi : x;
}

/** A clip-space vertex (original or produced by near clipping). */
export interface CVert {
  x: number;
  y: number;
  z: number;
  w: number;
}

/**
 * Intersection of edge (ia, ib) with the near plane z = -w, computed with the endpoints in canonical order
 * (lower vertex index first) so that both triangles sharing the edge get bitwise-identical points:
 * d = z + w, t = d_lo/(d_lo - d_hi), P = P_lo + t (P_hi - P_lo). Returns [x, y, z, w].
 */
export function nearClipPoint(pa: CVert, ia: number, pb: CVert, ib: number): [number, number, number, number] {
  const [lo, hi] = ia < ib ? [pa, pb] : [pb, pa];
  const dlo = lo.z + lo.w;
  const dhi = hi.z + hi.w;
  const t = dlo / (dlo - dhi);
  return [lo.x + t * (hi.x - lo.x), lo.y + t * (hi.y - lo.y), lo.z + t * (hi.z - lo.z), lo.w + t * (hi.w - lo.w)];
}

/** Raw (unclamped) homogeneous barycentrics and depth of 2.1 at NDC point (fx, fy). */
export function baryAt(
  p0: ArrayLike<number>,
  p1: ArrayLike<number>,
  p2: ArrayLike<number>,
  fx: number,
  fy: number,
): { a0: number; a1: number; a2: number; s: number; u: number; v: number; zw: number } {
  // p = [x, y, z, w]
  const q0x = p0[0] - fx * p0[3];
  const q0y = p0[1] - fy * p0[3];
  const q1x = p1[0] - fx * p1[3];
  const q1y = p1[1] - fy * p1[3];
  const q2x = p2[0] - fx * p2[3];
  const q2y = p2[1] - fy * p2[3];
  const a0 = q1x * q2y - q1y * q2x;
  const a1 = q2x * q0y - q2y * q0x;
  const a2 = q0x * q1y - q0y * q1x;
  const s = a0 + a1 + a2;
  const zw = (p0[2] * a0 + p1[2] * a1 + p2[2] * a2) / (p0[3] * a0 + p1[3] * a1 + p2[3] * a2);
  return { a0, a1, a2, s, u: a0 / s, v: a1 / s, zw };
}

/** Forward clamps of 2.1 applied to raw (u, v, zw). */
export function clampBary(u: number, v: number, zw: number): [number, number, number] {
  let cu = clampNan(u, 0, 1);
  let cv = clampNan(v, 0, 1);
  const sum = cu + cv;
  if (sum > 1) {
    cu = cu / sum;
    cv = cv / sum;
  }
  return [cu, cv, clampNan(zw, -1, 1)];
}

function checkPos(tri: Int32Array, H: number, W: number): void {
  if (!Number.isInteger(H) || !Number.isInteger(W) || H <= 0 || W <= 0) throw new Error('bad H/W');
  if (tri.length % 3 !== 0) throw new Error('tri length must be a multiple of 3');
}

/**
 * Visit every (frame, triangle, pixel) whose fixed-point coverage test passes (per sub-triangle after
 * near clipping; the sub-triangles of one parent partition its coverage).
 */
function forEachCovered(
  pos: FloatArray,
  B: number,
  V: number,
  tri: Int32Array,
  H: number,
  W: number,
  visit: (b: number, t: number, px: number, py: number) => void,
): void {
  const T = tri.length / 3;
  for (let b = 0; b < B; b++) {
    const base = b * V * 4;
    const vert = (i: number): CVert => ({
      x: pos[base + 4 * i],
      y: pos[base + 4 * i + 1],
      z: pos[base + 4 * i + 2],
      w: pos[base + 4 * i + 3],
    });
    const finite: boolean[] = new Array<boolean>(V);
    const behind: boolean[] = new Array<boolean>(V);
    for (let i = 0; i < V; i++) {
      const p = vert(i);
      finite[i] = Number.isFinite(p.x) && Number.isFinite(p.y) && Number.isFinite(p.z) && Number.isFinite(p.w);
      behind[i] = p.z < -p.w;
    }
    // Fixed point of original vertices, computed once per vertex.
    const fixedCache = new Map<number, [number, number]>();
    const fixedOfVertex = (i: number): [number, number] => {
      let f = fixedCache.get(i);
      if (!f) {
        const p = vert(i);
        f = [toFixed(p.x / p.w, W), toFixed(p.y / p.w, H)];
        fixedCache.set(i, f);
      }
      return f;
    };
    for (let t = 0; t < T; t++) {
      const idx = [tri[3 * t], tri[3 * t + 1], tri[3 * t + 2]];
      for (const i of idx) if (i < 0 || i >= V) throw new Error(`triangle ${t} index ${i} out of range`);
      if (!finite[idx[0]] || !finite[idx[1]] || !finite[idx[2]]) continue;
      const nb = (behind[idx[0]] ? 1 : 0) + (behind[idx[1]] ? 1 : 0) + (behind[idx[2]] ? 1 : 0);
      if (nb === 3) continue;
      // Polygon of (vertex, fixed point) after clipping against z = -w.
      const poly: { p: CVert; X: number; Y: number }[] = [];
      for (let k = 0; k < 3; k++) {
        const ia = idx[k];
        const ib = idx[(k + 1) % 3];
        if (!behind[ia]) {
          const f = fixedOfVertex(ia);
          poly.push({ p: vert(ia), X: f[0], Y: f[1] });
        }
        if (behind[ia] !== behind[ib]) {
          const c = nearClipPoint(vert(ia), ia, vert(ib), ib);
          const p: CVert = { x: c[0], y: c[1], z: c[2], w: c[3] };
          poly.push({ p, X: toFixed(p.x / p.w, W), Y: toFixed(p.y / p.w, H) });
        }
      }
      for (let k = 1; k + 1 < poly.length; k++) {
        const s0 = poly[0];
        let s1 = poly[k];
        let s2 = poly[k + 1];
        if (!(s0.p.w > 0 && s1.p.w > 0 && s2.p.w > 0)) continue;
        const big =
          Math.max(Math.abs(s0.X), Math.abs(s0.Y), Math.abs(s1.X), Math.abs(s1.Y), Math.abs(s2.X), Math.abs(s2.Y)) >
          SAFE;
        const A = big
          ? Number(
              (BigInt(s1.X) - BigInt(s0.X)) * (BigInt(s2.Y) - BigInt(s0.Y)) -
                (BigInt(s2.X) - BigInt(s0.X)) * (BigInt(s1.Y) - BigInt(s0.Y)),
            )
          : (s1.X - s0.X) * (s2.Y - s0.Y) - (s2.X - s0.X) * (s1.Y - s0.Y);
        if (A === 0) continue;
        if (A < 0) {
          const tmp = s1;
          s1 = s2;
          s2 = tmp;
        }
        const vs = [s0, s1, s2];
        const edges = [0, 1, 2].map((e) => {
          const a = vs[e];
          const c = vs[(e + 1) % 3];
          const incl = c.Y < a.Y || (c.Y === a.Y && c.X < a.X);
          return { Xa: a.X, Ya: a.Y, dX: c.X - a.X, dY: c.Y - a.Y, incl };
        });
        const minX = Math.min(s0.X, s1.X, s2.X);
        const maxX = Math.max(s0.X, s1.X, s2.X);
        const minY = Math.min(s0.Y, s1.Y, s2.Y);
        const maxY = Math.max(s0.Y, s1.Y, s2.Y);
        const px0 = Math.max(0, Math.ceil((minX - 8) / 16));
        const px1 = Math.min(W - 1, Math.floor((maxX - 8) / 16));
        const py0 = Math.max(0, Math.ceil((minY - 8) / 16));
        const py1 = Math.min(H - 1, Math.floor((maxY - 8) / 16));
        for (let py = py0; py <= py1; py++) {
          const Py = 16 * py + 8;
          for (let px = px0; px <= px1; px++) {
            const Px = 16 * px + 8;
            let inside = true;
            for (const e of edges) {
              let sign: number;
              if (big) {
                const E =
                  BigInt(e.dX) * (BigInt(Py) - BigInt(e.Ya)) - BigInt(e.dY) * (BigInt(Px) - BigInt(e.Xa));
                sign = E > 0n ? 1 : E < 0n ? -1 : 0;
              } else {
                const E = e.dX * (Py - e.Ya) - e.dY * (Px - e.Xa);
                sign = E > 0 ? 1 : E < 0 ? -1 : 0;
              }
              if (sign < 0 || (sign === 0 && !e.incl)) {
                inside = false;
                break;
              }
            }
            if (inside) visit(b, t, px, py);
          }
        }
      }
    }
  }
}

function batchOf(pos: FloatArray, V: number): number {
  if (V <= 0 || pos.length % (4 * V) !== 0) throw new Error('pos length must be B*V*4');
  return pos.length / (4 * V);
}

/**
 * Coverage-count mode (for watertightness tests): per pixel, how many (sub-)triangles pass the fixed-point
 * coverage test, before any depth test or far-plane reject. Returns Int32Array [B,H,W].
 */
export function referenceCoverageCount(pos: FloatArray, V: number, tri: Int32Array, H: number, W: number): Int32Array {
  checkPos(tri, H, W);
  const B = batchOf(pos, V);
  const out = new Int32Array(B * H * W);
  forEachCovered(pos, B, V, tri, H, W, (b, _t, px, py) => {
    out[(b * H + py) * W + px]++;
  });
  return out;
}

/**
 * Forward rasterize: pos [B,V,4] (V given explicitly), tri [T,3] -> rast Float64Array [B,H,W,4] =
 * (u, v, z/w, triId+1), zeros for background, row 0 = bottom.
 */
export function referenceRasterize(pos: FloatArray, V: number, tri: Int32Array, H: number, W: number): Float64Array {
  checkPos(tri, H, W);
  const B = batchOf(pos, V);
  const N = B * H * W;
  const bestZw = new Float64Array(N);
  const bestKey: (bigint | null)[] = new Array<bigint | null>(N).fill(null);
  const bestT = new Int32Array(N).fill(-1);
  const vtx = (b: number, i: number): ArrayLike<number> => pos.subarray((b * V + i) * 4, (b * V + i) * 4 + 4);
  forEachCovered(pos, B, V, tri, H, W, (b, t, px, py) => {
    const fx = (2 * px + 1) / W - 1;
    const fy = (2 * py + 1) / H - 1;
    const r = baryAt(vtx(b, tri[3 * t]), vtx(b, tri[3 * t + 1]), vtx(b, tri[3 * t + 2]), fx, fy);
    if (r.zw > 1) return;
    const key = orderedBits64(r.zw + 0); // + 0: -0 and +0 are the same depth (ties go to the smaller id)
    const p = (b * H + py) * W + px;
    const old = bestKey[p];
    if (old === null || key < old || (key === old && t < bestT[p])) {
      bestKey[p] = key;
      bestT[p] = t;
      bestZw[p] = r.zw;
    }
  });
  const rast = new Float64Array(N * 4);
  for (let b = 0; b < B; b++) {
    for (let py = 0; py < H; py++) {
      for (let px = 0; px < W; px++) {
        const p = (b * H + py) * W + px;
        const t = bestT[p];
        if (t < 0) continue;
        const fx = (2 * px + 1) / W - 1;
        const fy = (2 * py + 1) / H - 1;
        const r = baryAt(vtx(b, tri[3 * t]), vtx(b, tri[3 * t + 1]), vtx(b, tri[3 * t + 2]), fx, fy);
        const [u, v, zw] = clampBary(r.u, r.v, r.zw);
        rast[4 * p] = u;
        rast[4 * p + 1] = v;
        rast[4 * p + 2] = zw;
        rast[4 * p + 3] = t + 1;
      }
    }
  }
  return rast;
}

/**
 * Interpolate: attr [Ba,Va,C] with Ba = 1 (broadcast) or B; rast [B,H,W,4]; attrTri [T,3] indexes attr.
 * out[b,y,x] = u*attr[i0] + v*attr[i1] + (1-u-v)*attr[i2] for the triangle in rast; background 0.
 */
export function referenceInterpolate(
  attr: FloatArray,
  Ba: number,
  C: number,
  rast: FloatArray,
  B: number,
  H: number,
  W: number,
  attrTri: Int32Array,
): Float64Array {
  if (rast.length !== B * H * W * 4) throw new Error('rast length must be B*H*W*4');
  if (Ba !== 1 && Ba !== B) throw new Error('attr batch must be 1 or B');
  if (attr.length % (Ba * C) !== 0) throw new Error('attr length must be Ba*V*C');
  const Va = attr.length / (Ba * C);
  const T = attrTri.length / 3;
  const out = new Float64Array(B * H * W * C);
  for (let b = 0; b < B; b++) {
    const ab = Ba === 1 ? 0 : b;
    for (let p = b * H * W; p < (b + 1) * H * W; p++) {
      const id = rast[4 * p + 3];
      if (id <= 0) continue;
      const t = id - 1;
      if (!Number.isInteger(t) || t >= T) throw new Error(`bad triangle id ${id}`);
      const u = rast[4 * p];
      const v = rast[4 * p + 1];
      const w2 = 1 - u - v;
      const i0 = attrTri[3 * t];
      const i1 = attrTri[3 * t + 1];
      const i2 = attrTri[3 * t + 2];
      for (const i of [i0, i1, i2]) if (i < 0 || i >= Va) throw new Error(`attrTri index ${i} out of range`);
      for (let c = 0; c < C; c++) {
        out[p * C + c] =
          u * attr[(ab * Va + i0) * C + c] + v * attr[(ab * Va + i1) * C + c] + w2 * attr[(ab * Va + i2) * C + c];
      }
    }
  }
  return out;
}

export type WrapMode = 'wrap' | 'clamp';

/**
 * Bilinear texture lookup (no mipmaps). tex [Ht,Wt,C], uv [N,2] (any leading shape, e.g. [B,H,W,2]) ->
 * [N,C].
 *
 * Convention (nvdiffrast's texel-centre convention): uv = (0,0) is the CORNER of the texture and (1,1) the
 * opposite corner; u runs along the width (column index i, the last spatial dimension of tex) and v along
 * the height (row index j, the first spatial dimension; v = 0 at row 0). Texel (i, j) has its centre at
 * uv = ((i+0.5)/Wt, (j+0.5)/Ht). So s = u*Wt - 0.5, t = v*Ht - 0.5, i0 = floor(s), j0 = floor(t),
 * fs = s - i0, ft = t - j0, and
 *   out = (1-fs)(1-ft) T[j0][i0] + fs(1-ft) T[j0][i0+1] + (1-fs)ft T[j0+1][i0] + fs ft T[j0+1][i0+1].
 * Out-of-range texel indices: 'wrap' takes them modulo Wt/Ht (repeat), 'clamp' clamps them to the edge
 * (so outside the texel-centre range the border texel value is reproduced).
 * Reference choice: a non-finite uv gives 0.
 */
export function referenceTexture(
  tex: FloatArray,
  Ht: number,
  Wt: number,
  C: number,
  uv: FloatArray,
  mode: WrapMode,
): Float64Array {
  if (tex.length !== Ht * Wt * C) throw new Error('tex length must be Ht*Wt*C');
  if (uv.length % 2 !== 0) throw new Error('uv length must be even');
  const N = uv.length / 2;
  const out = new Float64Array(N * C);
  const wrapIdx = (i: number, n: number): number => (mode === 'wrap' ? ((i % n) + n) % n : Math.min(n - 1, Math.max(0, i)));
  for (let p = 0; p < N; p++) {
    const u = uv[2 * p];
    const v = uv[2 * p + 1];
    if (!Number.isFinite(u) || !Number.isFinite(v)) continue;
    const s = u * Wt - 0.5;
    const t = v * Ht - 0.5;
    const i0 = Math.floor(s);
    const j0 = Math.floor(t);
    const fs = s - i0;
    const ft = t - j0;
    const ia = wrapIdx(i0, Wt);
    const ib = wrapIdx(i0 + 1, Wt);
    const ja = wrapIdx(j0, Ht);
    const jb = wrapIdx(j0 + 1, Ht);
    for (let c = 0; c < C; c++) {
      const t00 = tex[(ja * Wt + ia) * C + c];
      const t10 = tex[(ja * Wt + ib) * C + c];
      const t01 = tex[(jb * Wt + ia) * C + c];
      const t11 = tex[(jb * Wt + ib) * C + c];
      out[p * C + c] = (1 - fs) * (1 - ft) * t00 + fs * (1 - ft) * t10 + (1 - fs) * ft * t01 + fs * ft * t11;
    }
  }
  return out;
}

/**
 * Antialias topology (kernels-design.md 2.6): for triangle t and edge k = (tri[t][k], tri[t][(k+1)%3]),
 * opp[t*3+k] = the vertex opposite that edge in the OTHER triangle sharing the undirected edge, or -1 when
 * the edge is a boundary edge. Edges shared by more than 2 triangles (non-manifold) count as boundary.
 * Degenerate triangles (repeated indices) are skipped: they get -1 everywhere and are not neighbours.
 */
export function referenceAntialiasTopology(tri: Int32Array): Int32Array {
  const T = tri.length / 3;
  const opp = new Int32Array(3 * T).fill(-1);
  const edgeMap = new Map<string, { t: number; k: number }[]>();
  for (let t = 0; t < T; t++) {
    const a = tri[3 * t];
    const b = tri[3 * t + 1];
    const c = tri[3 * t + 2];
    if (a === b || b === c || a === c) continue;
    for (let k = 0; k < 3; k++) {
      const va = tri[3 * t + k];
      const vb = tri[3 * t + ((k + 1) % 3)];
      const key = `${Math.min(va, vb)},${Math.max(va, vb)}`;
      const list = edgeMap.get(key);
      if (list) list.push({ t, k });
      else edgeMap.set(key, [{ t, k }]);
    }
  }
  for (const list of edgeMap.values()) {
    if (list.length !== 2) continue;
    const [e0, e1] = list;
    opp[3 * e0.t + e0.k] = tri[3 * e1.t + ((e1.k + 2) % 3)];
    opp[3 * e1.t + e1.k] = tri[3 * e0.t + ((e0.k + 2) % 3)];
  }
  return opp;
}

/** Pair records of antialias pass A (2.6): index r = 2*pixel0 + dir (dir 0 = horizontal, 1 = vertical). */
export interface AntialiasPairs {
  /** Target pixel of the correction (flat index into [B,H,W]), or -1 when the record is inactive. */
  target: Int32Array;
  /** Front triangle id (0-based) whose edge is used, or -1. */
  tri: Int32Array;
  /** Edge k of that triangle, or -1. */
  edge: Int8Array;
  /** Clamped crossing distance dF from the front pixel's centre, in [0, 1] (NaN when inactive). */
  dF: Float64Array;
  /** Front pixel pf and other pixel po of the pair (-1 when inactive). */
  pf: Int32Array;
  po: Int32Array;
}

/**
 * Antialias pass A: per pixel pair, the silhouette-edge analysis described at referenceAntialias.
 * Records with dF == 0.5 are kept (tri/edge/dF set) but have target -1 (they change nothing).
 */
export function referenceAntialiasPairs(
  rast: FloatArray,
  B: number,
  H: number,
  W: number,
  pos: FloatArray,
  V: number,
  tri: Int32Array,
  opp: Int32Array = referenceAntialiasTopology(tri),
): AntialiasPairs {
  if (rast.length !== B * H * W * 4) throw new Error('rast length must be B*H*W*4');
  if (pos.length !== B * V * 4) throw new Error('pos length must be B*V*4');
  const N = B * H * W;
  const rec: AntialiasPairs = {
    target: new Int32Array(2 * N).fill(-1),
    tri: new Int32Array(2 * N).fill(-1),
    edge: new Int8Array(2 * N).fill(-1),
    dF: new Float64Array(2 * N).fill(NaN),
    pf: new Int32Array(2 * N).fill(-1),
    po: new Int32Array(2 * N).fill(-1),
  };
  for (let b = 0; b < B; b++) {
    const sx = (i: number): number => ((pos[(b * V + i) * 4] / pos[(b * V + i) * 4 + 3] + 1) * W) / 2 - 0.5;
    const sy = (i: number): number => ((pos[(b * V + i) * 4 + 1] / pos[(b * V + i) * 4 + 3] + 1) * H) / 2 - 0.5;
    const wOk = (i: number): boolean => pos[(b * V + i) * 4 + 3] > 0;
    for (let py = 0; py < H; py++) {
      for (let px = 0; px < W; px++) {
        const p0 = (b * H + py) * W + px;
        for (let dir = 0; dir < 2; dir++) {
          const horiz = dir === 0;
          if (horiz ? px + 1 >= W : py + 1 >= H) continue;
          const p1 = horiz ? p0 + 1 : p0 + W;
          const id0 = rast[4 * p0 + 3];
          const id1 = rast[4 * p1 + 3];
          if (id0 === id1) continue;
          const f1 = id0 === 0 || (id1 !== 0 && rast[4 * p1 + 2] < rast[4 * p0 + 2]);
          const pf = f1 ? p1 : p0;
          const po = f1 ? p0 : p1;
          const t = (f1 ? id1 : id0) - 1;
          // pixel coordinates of pf's centre and the unit step from pf towards po
          const cx = f1 ? (horiz ? px + 1 : px) : px;
          const cy = f1 ? (horiz ? py : py + 1) : py;
          const step = f1 ? -1 : 1;
          for (let k = 0; k < 3; k++) {
            const ia = tri[3 * t + k];
            const ib = tri[3 * t + ((k + 1) % 3)];
            const ic = tri[3 * t + ((k + 2) % 3)];
            if (!wOk(ia) || !wOk(ib) || !wOk(ic)) continue;
            const ax = sx(ia);
            const ay = sy(ia);
            const dx = sx(ib) - ax;
            const dy = sy(ib) - ay;
            if (horiz ? !(Math.abs(dy) >= Math.abs(dx)) : !(Math.abs(dx) > Math.abs(dy))) continue;
            const io = opp[3 * t + k];
            if (io >= 0) {
              if (!wOk(io)) continue;
              const sideC = dx * (sy(ic) - ay) - dy * (sx(ic) - ax);
              const sideO = dx * (sy(io) - ay) - dy * (sx(io) - ax);
              if (!(sideC * sideO > 0)) continue;
            }
            let dF: number;
            if (horiz) {
              if (cy < Math.min(ay, ay + dy) || cy > Math.max(ay, ay + dy)) continue;
              const xc = ax + (dx * (cy - ay)) / dy;
              dF = (xc - cx) * step;
            } else {
              if (cx < Math.min(ax, ax + dx) || cx > Math.max(ax, ax + dx)) continue;
              const yc = ay + (dy * (cx - ax)) / dx;
              dF = (yc - cy) * step;
            }
            if (!(dF >= -1 / 16 && dF <= 1 + 1 / 16)) continue;
            dF = Math.min(1, Math.max(0, dF));
            const r = 2 * p0 + dir;
            rec.tri[r] = t;
            rec.edge[r] = k;
            rec.dF[r] = dF;
            rec.pf[r] = pf;
            rec.po[r] = po;
            if (dF !== 0.5) rec.target[r] = dF > 0.5 ? po : pf;
            break;
          }
        }
      }
    }
  }
  return rec;
}

/**
 * Antialias forward (kernels-design.md 2.1 "Antialias" + 2.6), float64, deterministic.
 *
 * color [B,H,W,C], rast [B,H,W,4] (from referenceRasterize), pos [B,V,4], tri [T,3] -> [B,H,W,C].
 * Interpretation written down here (the spec is terse; these are the reference's definitions):
 * - Pixel pairs: (px,py)-(px+1,py) ("horizontal") and (px,py)-(px,py+1) ("vertical", next row in memory).
 *   A pair is analysed only if the two triangle ids differ (background = id 0 counts).
 * - Front triangle F: pixel1's triangle if pixel0 is background, or if both are triangles and
 *   zw1 < zw0 (rast channel 2); otherwise pixel0's triangle. pf = the pixel showing F, po = the other one.
 * - Screen positions in pixel units, centres at integers: sx = (x/w + 1)*W/2 - 0.5, sy = (y/w + 1)*H/2 - 0.5.
 *   Edges with an endpoint at w <= 0 are never used (and a neighbour's opposite vertex at w <= 0 makes the
 *   edge non-silhouette).
 * - Candidate edges of F, in order k = 0, 1, 2 (the first accepted one is used):
 *   silhouette only: boundary (opp = -1) or the neighbour's opposite vertex lies on the same side of the edge
 *   line as F's own third vertex (strictly: the product of the two 2D cross products is > 0);
 *   orientation partition: horizontal pairs take |dy| >= |dx|, vertical pairs |dx| > |dy| (dx, dy = edge
 *   vector), so an exact 45-degree edge is used by horizontal pairs only;
 *   the edge must span the pair's row (column): min(ya,yb) <= y <= max(ya,yb) for horizontal pairs;
 *   the crossing's distance dF from pf's centre, along the pair axis and towards po, must lie in
 *   [-1/16, 1 + 1/16]; it is then clamped to [0, 1].
 * - Coverage correction: the target pixel is the one whose half of the segment holds the crossing
 *   (po if dF > 0.5, else pf; dF == 0.5 changes nothing) and out[target] += (dF - 0.5) * (c_pf - c_po).
 *   (Equivalently, with dc measured from pf and ds = +1 when pf is pixel0: alpha = ds*(0.5 - dc) and
 *   out += alpha*(c1 - c0).) Colours c are taken from the INPUT colour buffer.
 * - Accumulation order per target pixel: own horizontal record, own vertical record, left neighbour's
 *   horizontal record, lower neighbour's vertical record.
 */
export function referenceAntialias(
  color: FloatArray,
  C: number,
  rast: FloatArray,
  B: number,
  H: number,
  W: number,
  pos: FloatArray,
  V: number,
  tri: Int32Array,
  opp: Int32Array = referenceAntialiasTopology(tri),
): Float64Array {
  if (color.length !== B * H * W * C) throw new Error('color length must be B*H*W*C');
  const rec = referenceAntialiasPairs(rast, B, H, W, pos, V, tri, opp);
  const out = Float64Array.from(color);
  for (let b = 0; b < B; b++) {
    for (let py = 0; py < H; py++) {
      for (let px = 0; px < W; px++) {
        const p = (b * H + py) * W + px;
        const recs = [2 * p, 2 * p + 1, px > 0 ? 2 * (p - 1) : -1, py > 0 ? 2 * (p - W) + 1 : -1];
        for (const r of recs) {
          if (r < 0 || rec.target[r] !== p) continue;
          const pf = rec.pf[r];
          const po = rec.po[r];
          for (let c = 0; c < C; c++) out[p * C + c] += (rec.dF[r] - 0.5) * (color[pf * C + c] - color[po * C + c]);
        }
      }
    }
  }
  return out;
}

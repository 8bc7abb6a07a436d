// Parameter regularisers (pixel3dmm-spec.md 6.6) and temporal smoothness (6.7). Per-frame terms are sums over
// the parameter dimension, averaged over the batch; the gradient of the weighted term is added into `grad`.
import type { FlameModel } from '@pixel3dmm/flame';
import { pixelTerms } from '../pixel-terms-native.js';

export const IDENTITY_6D = [1, 0, 0, 0, 1, 0] as const;

/** weight · mean_b Σ_i (x_b[i] - c[i])² over the frames' vectors (c = null: 0). */
export function squaredNormPerFrame(
  values: readonly Float64Array[],
  centre: readonly number[] | Float64Array | null,
  weight: number,
  grads: readonly Float64Array[],
  from = 0,
  to?: number,
): number {
  const B = values.length;
  let sum = 0;
  for (let b = 0; b < B; b++) {
    const x = values[b], g = grads[b];
    const end = to ?? x.length;
    for (let i = from; i < end; i++) {
      const d = x[i] - (centre ? centre[i - from] : 0);
      sum += d * d;
      g[i] += (2 * weight * d) / B;
    }
  }
  return (weight * sum) / B;
}

/** weight · mean_b Σ_k (eyes_b[k] - eyes_b[6+k])² (left/right eye rotations alike). */
export function eyeSymmetry(eyes: readonly Float64Array[], weight: number, grads: readonly Float64Array[]): number {
  const B = eyes.length;
  let sum = 0;
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < 6; k++) {
      const d = eyes[b][k] - eyes[b][6 + k];
      sum += d * d;
      grads[b][k] += (2 * weight * d) / B;
      grads[b][6 + k] -= (2 * weight * d) / B;
    }
  }
  return (weight * sum) / B;
}

/**
 * Temporal smoothness: weight · mean over (B-1)·dim of (X_{i+1} - X_i)², frames in time order.
 */
export function smoothness(values: readonly Float64Array[], weight: number, grads: readonly Float64Array[]): number {
  const B = values.length;
  if (B < 2) return 0;
  const dim = values[0].length, count = (B - 1) * dim;
  let sum = 0;
  for (let b = 0; b + 1 < B; b++) {
    const x0 = values[b], x1 = values[b + 1];
    for (let i = 0; i < dim; i++) {
      const d = x1[i] - x0[i];
      sum += d * d;
      const g = (2 * weight * d) / count;
      grads[b + 1][i] += g;
      grads[b][i] -= g;
    }
  }
  return (weight * sum) / count;
}

/**
 * The mirror regulariser mean_{b,v} |M(v_s[m(v)]) - v_s[v]|² · weight, with v_s = T + Σβ_k S_k + Σψ_k E_k the
 * canonical vertices, m the mirror index and M(x, y, z) = (-x, y, z). The residual r = D(v_s) is affine in
 * x = (β, ψ): r = r0 + A x with r0 = D(T) and A's columns D(S_k), D(E_k). So |r|² = c + 2 bᵀx + xᵀQx with
 * c = r0ᵀr0, b = Aᵀr0 and the Gram matrix Q = AᵀA, precomputed once per model and mirror index (O(K² V), about
 * 0.12 s for K = 400, the Gram matrix natively) so that an evaluation costs O(K²) instead of a pass over the 400 bases.
 *
 * The precomputation halves its work with the mirror's symmetry: for a pair v ≠ w = m(v) with m(w) = v,
 * r_w = -M r_v, so r_w has the same products as r_v and the pair counts once, twice. A vertex on the symmetry
 * plane (m(v) = v) has r_v = (-2x_v, 0, 0): only its x row counts. Vertices of an imperfect mirror (m(m(v)) ≠ v)
 * count on their own.
 */
export class MirrorQuadratic {
  readonly numShape: number;
  readonly numExpression: number;
  readonly numVertices: number;
  /** [K,K] row-major, K = numShape + numExpression. */
  readonly Q: Float64Array;
  readonly b: Float64Array;
  readonly c: number;
  private readonly qShape: Float64Array; // scratch: (Q x_β) for every row
  private readonly psiSum: Float64Array; // scratch: Σ_b ψ_b
  private readonly rowDots: Float64Array; // scratch: a block of Q's rows times a vector
  private readonly lastShape: Float64Array;
  private lastShapeLength = -1;
  private betaQbeta = 0;
  private bBeta = 0;

  constructor(model: FlameModel, mirror: Int32Array) {
    const V = model.numVertices, nS = model.numShape, nE = model.numExpression, K = nS + nE;
    if (mirror.length !== V) throw new Error(`MirrorQuadratic: the mirror index has ${mirror.length} entries, the model ${V} vertices`);
    this.numShape = nS;
    this.numExpression = nE;
    this.numVertices = V;
    // Residual rows: `rows` lists (vertex, coordinate) elements, the first n2 of them standing for two
    // identical elements each (one per pair), the rest for one.
    const twice: number[] = [], once: number[] = [];
    for (let v = 0; v < V; v++) {
      const w = mirror[v];
      if (w === v) once.push(3 * v);
      else if (mirror[w] !== v) once.push(3 * v, 3 * v + 1, 3 * v + 2);
      else if (v < w) twice.push(3 * v, 3 * v + 1, 3 * v + 2);
    }
    const rows = Int32Array.from([...twice, ...once]);
    const n = rows.length, n2 = twice.length;
    // The residual element of row i of a basis at `off`: (-x_m - x_v, y_m - y_v, z_m - z_v) for vertex v.
    const apply = (src: Float32Array, off: number, out: Float32Array | Float64Array, outOff: number) => {
      for (let i = 0; i < n; i++) {
        const e = rows[i], c = e % 3, s0 = off + e, m = off + 3 * mirror[(e - c) / 3] + c;
        out[outOff + i] = c === 0 ? -src[m] - src[s0] : src[m] - src[s0];
      }
    };
    const A = new Float32Array(K * n);
    for (let k = 0; k < nS; k++) apply(model.shapeBasis, k * 3 * V, A, k * n);
    for (let k = 0; k < nE; k++) apply(model.exprBasis, k * 3 * V, A, (nS + k) * n);
    const r0 = new Float64Array(n);
    apply(model.vTemplate, 0, r0, 0);
    // Σ over the rows with the pair weights: 2 Σ_{i < n2} + Σ_{i >= n2} (float64, index order).
    let c2 = 0, c1 = 0;
    for (let i = 0; i < n2; i++) c2 += r0[i] * r0[i];
    for (let i = n2; i < n; i++) c1 += r0[i] * r0[i];
    this.c = 2 * c2 + c1;
    this.b = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      let b2 = 0, b1 = 0;
      const ko = k * n;
      for (let i = 0; i < n2; i++) b2 += A[ko + i] * r0[i];
      for (let i = n2; i < n; i++) b1 += A[ko + i] * r0[i];
      this.b[k] = 2 * b2 + b1;
    }
    // Q = AᵀA (weighted): natively, 6x faster than the loop of mirror-gram-reference.ts (45 against 260 ms at K = 400,
    // same bits).
    this.Q = new Float64Array(K * K);
    pixelTerms().mirrorGram({ A, K, n, n2, Q: this.Q });
    this.qShape = new Float64Array(K);
    this.psiSum = new Float64Array(nE);
    this.rowDots = new Float64Array(K);
    this.lastShape = new Float64Array(nS);
  }

  /**
   * weight · mean_{b,v} |r_b|² for shape β (shared) and the frames' expressions ψ_b; adds the gradients into
   * gradShape and gradExpression[b]. Shapes/expressions shorter than the model's count as zero-padded.
   * gradShape null: no shape gradient (shape frozen, as in stage 1 of a video): its pass over Q_se, the larger
   * part of an evaluation, is skipped.
   */
  evaluate(
    shape: Float64Array,
    expressions: readonly Float64Array[],
    weight: number,
    gradShape: Float64Array | null,
    gradExpression: readonly Float64Array[],
  ): number {
    const nS = this.numShape, nE = this.numExpression, K = nS + nE, Q = this.Q, B = expressions.length;
    const ls = Math.min(shape.length, nS);
    // Shared part: qs = Q_ss β + b_s (length nS) and the cross terms Q_es β (stored after it), and s = βᵀQ_ssβ.
    const qs = this.qShape;
    // The shape-only products are reused while β is unchanged (all of stage 1 of a video).
    let same = ls === this.lastShapeLength;
    for (let k = 0; k < ls && same; k++) same = shape[k] === this.lastShape[k];
    // The row products run natively (mirror_gram.h: the same sums in the same order, so the same bits as the loops
    // they replaced; 120 thousand products per call when β changes, 0.3 ms of a single-image iteration in JS).
    const native = pixelTerms();
    if (!same) {
      // (Q x_β)[k] for every k: the shape columns only
      native.mirrorRowDots({ Q, K, row0: 0, rows: K, col0: 0, length: ls, x: shape, out: qs });
      let bq = 0, bb = 0;
      for (let k = 0; k < ls; k++) {
        bq += shape[k] * qs[k];
        bb += this.b[k] * shape[k];
      }
      this.betaQbeta = bq;
      this.bBeta = bb;
      this.lastShape.set(shape.subarray(0, ls));
      this.lastShapeLength = ls;
    }
    const betaQbeta = this.betaQbeta, bBeta = this.bBeta;
    const scale = weight / (B * this.numVertices);
    const psiSum = this.psiSum;
    psiSum.fill(0);
    let total = 0;
    for (let b = 0; b < B; b++) {
      const psi = expressions[b], le = Math.min(psi.length, nE), ge = gradExpression[b];
      // xᵀQx = βQβ + 2 ψᵀ(Q_es β) + ψᵀQ_ee ψ; bᵀx = b_sβ + b_eψ.
      let cross = 0, psiQpsi = 0, bPsi = 0;
      const qee = this.rowDots; // (Q_ee ψ)[e]
      native.mirrorRowDots({ Q, K, row0: nS, rows: le, col0: nS, length: le, x: psi, out: qee });
      for (let e = 0; e < le; e++) {
        const s = qee[e];
        psiQpsi += psi[e] * s;
        cross += psi[e] * qs[nS + e];
        bPsi += this.b[nS + e] * psi[e];
        // d/dψ_e = 2 b_e + 2 (Q_es β)_e + 2 (Q_ee ψ)_e
        ge[e] += 2 * scale * (this.b[nS + e] + qs[nS + e] + s);
      }
      total += this.c + 2 * (bBeta + bPsi) + betaQbeta + 2 * cross + psiQpsi;
      for (let e = 0; e < le; e++) psiSum[e] += psi[e];
    }
    if (!gradShape) return scale * total;
    // d/dβ_k summed over the frames = 2 Σ_b (b_k + (Q_ss β)_k + (Q_se ψ_b)_k) = 2 (B (b_k + (Q_ss β)_k) + (Q_se Σ_b ψ_b)_k).
    const qse = this.rowDots; // (Q_se Σ_b ψ_b)[k]
    native.mirrorRowDots({ Q, K, row0: 0, rows: ls, col0: nS, length: nE, x: psiSum, out: qse });
    for (let k = 0; k < ls; k++) gradShape[k] += 2 * scale * (B * (this.b[k] + qs[k]) + qse[k]);
    return scale * total;
  }
}

/** Direct evaluation of the mirror term (tests, and the reference for MirrorQuadratic). */
export function mirrorLossDirect(model: FlameModel, mirror: Int32Array, shape: Float64Array, expression: Float64Array, weight: number): number {
  const V = model.numVertices, n = 3 * V;
  const vs = new Float64Array(n);
  for (let i = 0; i < n; i++) vs[i] = model.vTemplate[i];
  for (let k = 0; k < shape.length; k++) for (let i = 0; i < n; i++) vs[i] += shape[k] * model.shapeBasis[k * n + i];
  for (let k = 0; k < expression.length; k++) for (let i = 0; i < n; i++) vs[i] += expression[k] * model.exprBasis[k * n + i];
  let sum = 0;
  for (let v = 0; v < V; v++) {
    const m = 3 * mirror[v];
    const dx = -vs[m] - vs[3 * v], dy = vs[m + 1] - vs[3 * v + 1], dz = vs[m + 2] - vs[3 * v + 2];
    sum += dx * dx + dy * dy + dz * dz;
  }
  return (weight * sum) / V;
}

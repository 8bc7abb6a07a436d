// The per-pixel terms of pixel3dmm-spec.md 6.2-6.4 as plain loops, written from the spec: the reference that the
// native passes behind dense.ts (native/src/tracker/pixel_terms.cc) must match bit for bit (test support, not
// exported from the package). Same contracts as the functions of dense.ts.
import { strided, type StridedImage } from '../strided-image.js';
import type { DenseImages } from './dense.js';

/** sign(x) with sign(0) = 0 (torch.sign, the subgradient of |x| used by autograd). */
function sign(x: number): number {
  return x > 0 ? 1 : x < 0 ? -1 : 0;
}

/** 6.2 dense UV: dense.ts's uvPixelLoss (the same arguments and contract). */
export function uvPixelLossReference(
  d: DenseImages,
  targets: readonly Float32Array[],
  masks: readonly Uint8Array[],
  rendered: Float32Array,
  l2: boolean,
  weight: number,
  grad: Float32Array | StridedImage,
): number {
  const { size: S, batch: B } = d;
  const P = S * S, count = B * P * 2;
  const scale = l2 ? 100 * weight : weight;
  const k2 = (-2 * scale) / count, k1 = -scale / count;
  const { data: g, stride, offset } = strided(grad, 2);
  let sum = 0;
  for (let b = 0; b < B; b++) {
    const t = targets[b], m = masks[b], o = b * P;
    let frameSum = 0; // each frame's sum from 0, the frames' sums added in frame order
    for (let i = 0; i < P; i++) {
      const k = 2 * (o + i), q = (o + i) * stride + offset;
      if (!m[i]) {
        g[q] = g[q + 1] = 0;
        continue;
      }
      const e0 = t[2 * i] - rendered[k], e1 = t[2 * i + 1] - rendered[k + 1];
      if (l2) {
        frameSum += e0 * e0 + e1 * e1;
        g[q] = k2 * e0;
        g[q + 1] = k2 * e1;
      } else {
        frameSum += Math.abs(e0) + Math.abs(e1);
        g[q] = k1 * sign(e0);
        g[q + 1] = k1 * sign(e1);
      }
    }
    sum += frameSum;
  }
  return (scale * sum) / count;
}

/** 6.3 normals: dense.ts's normalLoss (the same arguments and contract). */
export function normalLossReference(
  d: DenseImages,
  targets: readonly Float32Array[],
  masks: readonly Uint8Array[],
  exclusion: Uint8Array,
  rendered: Float32Array,
  stride: number,
  offset: number,
  deltaN: number,
  l2: boolean,
  weight: number,
  grad: Float32Array | StridedImage,
): number {
  const { size: S, batch: B } = d;
  const P = S * S, count = B * P * 3;
  const k2 = (-2 * weight) / count, k1 = -weight / count;
  const { data: g, stride: gs, offset: go } = strided(grad, 3);
  let sum = 0;
  for (let b = 0; b < B; b++) {
    const t = targets[b], m = masks[b], o = b * P;
    let frameSum = 0;
    for (let i = 0; i < P; i++) {
      let g0 = 0, g1 = 0, g2 = 0;
      if (m[i] && exclusion[o + i]) {
        const r = (o + i) * stride + offset;
        const e0 = t[3 * i] - rendered[r], e1 = t[3 * i + 1] - rendered[r + 1], e2 = t[3 * i + 2] - rendered[r + 2];
        if ((Math.abs(e0) + Math.abs(e1) + Math.abs(e2)) / 3 < deltaN) {
          if (l2) {
            frameSum += e0 * e0 + e1 * e1 + e2 * e2;
            g0 = k2 * e0;
            g1 = k2 * e1;
            g2 = k2 * e2;
          } else {
            frameSum += Math.abs(e0) + Math.abs(e1) + Math.abs(e2);
            g0 = k1 * sign(e0);
            g1 = k1 * sign(e1);
            g2 = k1 * sign(e2);
          }
        }
      }
      const q = (o + i) * gs + go;
      g[q] = g0;
      g[q + 1] = g1;
      g[q + 2] = g2;
    }
    sum += frameSum;
  }
  return (weight * sum) / count;
}

/** 6.4 one-sided silhouette: dense.ts's silhouetteLoss (the same arguments and contract). */
export function silhouetteLossReference(
  d: DenseImages,
  foreground: readonly Uint8Array[],
  validBackground: readonly Uint8Array[],
  rendered: Float32Array,
  weight: number,
  grad: Float32Array,
): number {
  const { size: S, batch: B } = d;
  const P = S * S, count = B * P;
  const k1 = -weight / count;
  let sum = 0;
  grad.fill(0, 0, B * P);
  for (let b = 0; b < B; b++) {
    const f = foreground[b], vb = validBackground[b], o = b * P;
    let frameSum = 0;
    for (let i = 0; i < P; i++) {
      if (!vb[i]) continue;
      const e = f[i] - rendered[o + i];
      if (e === 0) continue;
      frameSum += Math.abs(e);
      grad[o + i] = k1 * sign(e);
    }
    sum += frameSum;
  }
  return (weight * sum) / count;
}

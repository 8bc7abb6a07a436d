// The UV correspondence term of pixel3dmm-spec.md 6.1 as a plain loop, written from the spec: the reference that the
// native pass behind uv-correspondence.ts (native/src/tracker/pixel_terms.cc) must match bit for bit (test support,
// not exported from the package).
import { VISIBILITY_MARGIN, type UvCorrespondenceArgs } from './uv-correspondence.js';

/** uv-correspondence.ts's uvCorrespondenceLoss (the same arguments and contract). */
export function uvCorrespondenceLossReference(a: UvCorrespondenceArgs): number {
  const { size: S, batch: B, valid, projected: p, depth } = a;
  const V = a.numVertices, J = valid.length;
  const count = B * J * 2;
  const [ox, oy] = a.targetOffset ?? [0, 0];
  let sum = 0;
  for (let b = 0; b < B; b++) {
    const corr = a.correspondences[b];
    if (corr.pixels.length !== 2 * J || corr.dist2.length !== J) {
      throw new Error(`uvCorrespondenceLoss: the correspondences of batch frame ${b} have ${corr.dist2.length} entries, expected ${J} (the valid vertex set)`);
    }
    for (let j = 0; j < J; j++) {
      if (!(corr.dist2[j] < a.deltaUv)) continue;
      const o = 3 * (b * V + valid[j]);
      const px = p[o], py = p[o + 1];
      const dx = corr.pixels[2 * j] + ox - px, dy = corr.pixels[2 * j + 1] + oy - py;
      if (!(Math.abs(dx) + Math.abs(dy) < a.distUv)) continue;
      if (depth) {
        // Truncation toward zero, then clamping, as the original's int() indexing.
        let col = Math.trunc(px), row = Math.trunc(py);
        col = col < 0 ? 0 : col > S - 1 ? S - 1 : col;
        row = row < 0 ? 0 : row > S - 1 ? S - 1 : row;
        const z = depth.data[(b * S * S + row * S + col) * depth.stride + depth.offset];
        if (!(z < p[o + 2] + VISIBILITY_MARGIN)) continue;
      }
      if (a.l2) {
        sum += (dx * dx + dy * dy) / (S * S);
        const g = (-2 * 100 * a.weight) / (S * S * count);
        a.gradProjected[o] += g * dx;
        a.gradProjected[o + 1] += g * dy;
      } else {
        sum += (Math.abs(dx) + Math.abs(dy)) / S;
        const g = -a.weight / (S * count);
        a.gradProjected[o] += g * Math.sign(dx);
        a.gradProjected[o + 1] += g * Math.sign(dy);
      }
    }
  }
  return ((a.l2 ? 100 : 1) * a.weight * sum) / count;
}

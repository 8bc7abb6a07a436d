// The default face parsing: MediaPipe Selfie's person mask combined with regions of the 468-point mesh into
// the 19 class ids of spec 2.4 (FaRL celebm order, SEG_CLASS). No face-parsing network ships on npm, so the
// classes come from geometry:
//   - skin (2): inside the convex hull of the 468 mesh points; painted over by, in order, nose (10), brows (6, 7),
//     eyes (8, 9), upper lip (13), lower lip (12) and inner mouth (11), each a mesh polygon;
//   - person pixels outside the hull (Selfie mask >= 0.5): neck (1) below the jaw line and between the lower
//     jaw points 136 and 365 down to 0.6 face heights below the chin; cloth (3) below the chin outside that column or
//     further down; hair (14) everywhere else (above the chin: hair, and the ears, which the mesh does
//     not cover, see below);
//   - everything else is background (0).
// Not produced: ears (4, 5; the mesh stops short of them, so they fall into hair, which the tracker treats
// as neither face nor background), glasses, hat, earrings, necklace (15..18) and the "outside" id 20
// (no warp is involved here).
// "r-"/"l-" classes follow CelebAMask: r-brow / r-eye are the subject's right = image-left.
import { SEG_CLASS } from '@pixel3dmm/formats';
import { convexHull, fillPolygon } from './raster.js';

export const FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109];
export const REGIONS: { cls: number; poly: number[] }[] = [
  { cls: SEG_CLASS.nose, poly: [168, 417, 351, 419, 248, 456, 420, 429, 358, 327, 326, 2, 97, 98, 129, 209, 198, 236, 3, 196, 122, 193] },
  { cls: SEG_CLASS.rightBrow, poly: [70, 63, 105, 66, 107, 55, 65, 52, 53, 46] },
  { cls: SEG_CLASS.leftBrow, poly: [300, 293, 334, 296, 336, 285, 295, 282, 283, 276] },
  { cls: SEG_CLASS.rightEye, poly: [33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7] },
  { cls: SEG_CLASS.leftEye, poly: [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249] },
  { cls: SEG_CLASS.upperLip, poly: [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191, 78] },
  { cls: SEG_CLASS.lowerLip, poly: [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95, 78] },
  { cls: SEG_CLASS.innerMouth, poly: [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95] },
];
/** Jaw line from the image-left jaw angle round the chin to the image-right one (neck's upper border). */
const JAW = [132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361];

function polygon(points: ArrayLike<number>, idx: readonly number[], stride: number): Float64Array {
  const out = new Float64Array(idx.length * 2);
  idx.forEach((i, k) => {
    out[2 * k] = points[i * stride];
    out[2 * k + 1] = points[i * stride + 1];
  });
  return out;
}

/**
 * Class map (size x size) from the mesh (478 or 468 points, `stride` values per point, in the map's
 * pixel coordinates) and a person probability map of the same size (or null: then only the face regions
 * and background).
 */
export function meshParsing(points: ArrayLike<number>, stride: number, person: Float32Array | null, size: number): Uint8Array {
  const seg = new Uint8Array(size * size);
  const oval = new Uint8Array(size * size);
  // The face is the hull of the whole mesh, not just its oval: on a turned head the nose and lips stick
  // out past the oval's outline.
  fillPolygon(oval, size, size, convexHull(polygon(points, Array.from({ length: 468 }, (_, i) => i), stride)), 1);
  if (person) {
    const jaw = polygon(points, JAW, stride);
    const chinY = points[152 * stride + 1];
    const topY = points[10 * stride + 1];
    const neckBottom = chinY + 0.6 * (chinY - topY);
    // The neck is narrower than the jaw: its column runs between the lower jaw points 136 and 365.
    const jawLeft = points[136 * stride];
    const jawRight = points[365 * stride];
    // The jaw's y at each column between its ends (linear between polyline points), for the neck test.
    const jawY = new Float64Array(size).fill(Infinity);
    for (let k = 0; k + 1 < JAW.length; k++) {
      const xa = jaw[2 * k], ya = jaw[2 * k + 1], xb = jaw[2 * k + 2], yb = jaw[2 * k + 3];
      const lo = Math.max(0, Math.ceil(Math.min(xa, xb) - 0.5));
      const hi = Math.min(size - 1, Math.floor(Math.max(xa, xb) - 0.5));
      for (let x = lo; x <= hi; x++) {
        const t = xb !== xa ? (x + 0.5 - xa) / (xb - xa) : 0;
        jawY[x] = Math.min(jawY[x], ya + (yb - ya) * t);
      }
    }
    // Columns of the neck (between the lower jaw points) and, per column, the jaw's y.
    const x0 = Math.max(0, Math.ceil(jawLeft - 0.5));
    const x1 = Math.min(size - 1, Math.floor(jawRight - 0.5));
    for (let y = 0; y < size; y++) {
      const cy = y + 0.5;
      const below = cy > chinY ? SEG_CLASS.cloth : SEG_CLASS.hair;
      const row = y * size;
      for (let x = 0; x < size; x++) {
        const i = row + x;
        if (person[i] < 0.5 || oval[i]) continue;
        seg[i] = x >= x0 && x <= x1 && cy > jawY[x] && cy <= neckBottom ? SEG_CLASS.neck : below;
      }
    }
  }
  for (let i = 0; i < seg.length; i++) if (oval[i]) seg[i] = SEG_CLASS.skin;
  for (const r of REGIONS) fillPolygon(seg, size, size, polygon(points, r.poly, stride), r.cls);
  return seg;
}

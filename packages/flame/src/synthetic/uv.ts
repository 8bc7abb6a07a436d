// UV atlas of the synthetic head (OBJ convention: v points up). The head is unwrapped cylindrically around
// the vertical axis: u from the azimuth theta (the face at u = 0.5, widened; the seam runs down the back of
// the head at theta = +-pi), v from the meridian position sigma (neck bottom at the bottom, crown at the top).
// Vertices on the seam get two UVs, the crown pole one per triangle. Each eyeball is its own disc island
// (front pole at the centre) in a top corner; its back pole gets one UV per triangle.
import type { HeadGeometry } from './mesh.js';
import { EYE_RINGS, EYE_SEGMENTS } from './mesh.js';

export interface UvAtlas {
  uvs: Float64Array; // [VT * 2]
  faceUvs: Uint32Array; // [F * 3]
}

const U_MARGIN = 0.03;
const V_BOTTOM = 0.025;
const V_TOP = 0.76;
const EYE_ISLAND_RADIUS = 0.095;

/** Odd, increasing map of [-1, 1] onto itself that gives the face (small |s|) more room. */
function widen(s: number): number {
  const k = 1.2;
  return (s * (1 + k)) / (1 + k * Math.abs(s));
}

export function headU(theta: number): number {
  return 0.5 + (0.5 - U_MARGIN) * widen(theta / Math.PI);
}

export function headV(sigma: number): number {
  return V_BOTTOM + (V_TOP - V_BOTTOM) * sigma;
}

export function buildUvAtlas(g: HeadGeometry): UvAtlas {
  const uvs: number[] = [];
  const H = g.numHead;
  // One UV per head vertex (theta = pi as +pi), in vertex order.
  for (let v = 0; v < H; v++) uvs.push(headU(g.theta[v]), headV(g.sigma[v]));
  const seam = new Map<number, number>(); // vertex on theta = pi -> its second UV (theta = -pi)
  for (let v = 0; v < H; v++) {
    if (v !== g.pole && Math.abs(g.theta[v] - Math.PI) < 1e-12) {
      seam.set(v, uvs.length / 2);
      uvs.push(headU(-Math.PI), headV(g.sigma[v]));
    }
  }
  const F = g.faces.length / 3;
  const faceUvs = new Uint32Array(F * 3);
  const headFaces = g.headFaceCount;
  for (let f = 0; f < headFaces; f++) {
    const right = f % 2 === 1; // faces come in (left, mirrored right) pairs
    const corners = [g.faces[3 * f], g.faces[3 * f + 1], g.faces[3 * f + 2]];
    for (let c = 0; c < 3; c++) {
      const v = corners[c];
      if (v === g.pole) {
        const o1 = corners[(c + 1) % 3];
        const o2 = corners[(c + 2) % 3];
        const u1 = seam.has(o1) && right ? headU(-Math.PI) : headU(g.theta[o1]);
        const u2 = seam.has(o2) && right ? headU(-Math.PI) : headU(g.theta[o2]);
        faceUvs[3 * f + c] = uvs.length / 2;
        uvs.push(0.5 * (u1 + u2), V_TOP);
      } else if (right && seam.has(v)) {
        faceUvs[3 * f + c] = seam.get(v)!;
      } else {
        faceUvs[3 * f + c] = v;
      }
    }
  }
  // Eyeballs: the left one (+x) in the top-right corner, the right one in the top-left.
  const centres: Array<[number, number]> = [
    [1 - U_MARGIN - EYE_ISLAND_RADIUS, 1 - U_MARGIN - EYE_ISLAND_RADIUS],
    [U_MARGIN + EYE_ISLAND_RADIUS, 1 - U_MARGIN - EYE_ISLAND_RADIUS],
  ];
  for (let e = 0; e < 2; e++) {
    const [cu, cv] = centres[e];
    const start = g.eyeStart[e];
    const base = uvs.length / 2;
    const polar = (r: number): number => (EYE_ISLAND_RADIUS * r) / (EYE_RINGS + 1);
    uvs.push(cu, cv); // front pole
    for (let r = 1; r <= EYE_RINGS; r++) {
      for (let s = 0; s < EYE_SEGMENTS; s++) {
        const az = (2 * Math.PI * s) / EYE_SEGMENTS;
        uvs.push(cu + polar(r) * Math.cos(az), cv + polar(r) * Math.sin(az));
      }
    }
    const backStart = uvs.length / 2;
    for (let s = 0; s < EYE_SEGMENTS; s++) {
      const az = (2 * Math.PI * (s + 0.5)) / EYE_SEGMENTS;
      uvs.push(cu + EYE_ISLAND_RADIUS * Math.cos(az), cv + EYE_ISLAND_RADIUS * Math.sin(az));
    }
    const backVertex = start + 1 + EYE_RINGS * EYE_SEGMENTS;
    const firstFace = headFaces + e * g.eyeFaceCount;
    for (let f = firstFace; f < firstFace + g.eyeFaceCount; f++) {
      // the back-pole triangles are (ring(R, s), back, ring(R, s + 1)), the last ones of each eyeball
      const k = f - firstFace;
      for (let c = 0; c < 3; c++) {
        const v = g.faces[3 * f + c];
        if (v === backVertex) faceUvs[3 * f + c] = backStart + (k - (g.eyeFaceCount - EYE_SEGMENTS));
        else faceUvs[3 * f + c] = base + (v - start);
      }
    }
  }
  return { uvs: Float64Array.from(uvs), faceUvs };
}

// The images `pixel3dmm render` makes: one world-space triangle mesh seen by the tracking camera
// (@pixel3dmm/render camera.ts, pixel3dmm-spec.md section 5), rasterized by the differentiable renderer's
// kernels, then one channel read out of the result. No file I/O here (render.ts does that).
//
// Row order: the tracking camera's projection negates y, so the rasterizer's row 0 is the image TOP and
// every buffer below is already an upright image, rows top-down, as written to PNG / .npy.
import {
  antialias,
  interpolate,
  makeCamera,
  rasterize,
  worldToClip,
} from '@pixel3dmm/render';

export const CHANNELS = ['triangle-id', 'uv', 'normal', 'depth', 'mask'] as const;
export type Channel = (typeof CHANNELS)[number];

/** Values per pixel of each float channel ([S,S,C] in the .npy); triangle-id is int32 [S,S]. */
export const CHANNEL_WIDTH: Record<Channel, number> = { 'triangle-id': 1, uv: 2, normal: 3, depth: 1, mask: 1 };

/** A triangle mesh in world space (metres; the camera sits at (0,0,1) looking down -z). */
export interface WorldMesh {
  /** [V,3] world positions. */
  positions: Float32Array;
  /** [T,3] vertex indices. */
  faces: Int32Array;
  /** Texture coordinates with their own corner indices (UV seams), when the mesh has them. */
  uv: { uvs: Float32Array; faceUvs: Int32Array } | null;
}

/** One rendered channel: the triangle ids always (they say which pixels are covered), values for float channels. */
export interface ChannelImage {
  /** [S,S] triangle index + 1, 0 = background. */
  ids: Int32Array;
  /** [S,S,C] for uv, normal, depth, mask; null for triangle-id. */
  values: Float32Array | null;
  channels: number;
  /** mask only: whether the coverage was antialiased. */
  antialiased?: boolean;
}

/**
 * Area-weighted vertex normals in the convention of the tracker (kernels-design.md 2.5, PyTorch3D):
 * n_f = (v2 - v1) x (v0 - v1) summed over the faces of each vertex, m / max(|m|, 1e-6). Computed in float64.
 */
export function areaWeightedVertexNormals(positions: Float32Array, faces: Int32Array): Float32Array {
  const V = positions.length / 3;
  const m = new Float64Array(3 * V);
  for (let t = 0; t < faces.length; t += 3) {
    const i0 = faces[t], i1 = faces[t + 1], i2 = faces[t + 2];
    const ax = positions[3 * i2] - positions[3 * i1], ay = positions[3 * i2 + 1] - positions[3 * i1 + 1], az = positions[3 * i2 + 2] - positions[3 * i1 + 2];
    const bx = positions[3 * i0] - positions[3 * i1], by = positions[3 * i0 + 1] - positions[3 * i1 + 1], bz = positions[3 * i0 + 2] - positions[3 * i1 + 2];
    const nx = ay * bz - az * by, ny = az * bx - ax * bz, nz = ax * by - ay * bx;
    for (const i of [i0, i1, i2]) {
      m[3 * i] += nx;
      m[3 * i + 1] += ny;
      m[3 * i + 2] += nz;
    }
  }
  const n = new Float32Array(3 * V);
  for (let i = 0; i < V; i++) {
    const len = Math.max(Math.hypot(m[3 * i], m[3 * i + 1], m[3 * i + 2]), 1e-6);
    for (let c = 0; c < 3; c++) n[3 * i + c] = m[3 * i + c] / len;
  }
  return n;
}

/**
 * Render one channel of `mesh` at size S x S with the tracking camera (focal 2000/512 S, principal point at the
 * centre, near 0.1, far 5). Background pixels are 0 in every channel.
 * - triangle-id: triangle index + 1.
 * - uv: the mesh's texture coordinates (u, v) as stored in the file, perspective-correct.
 * - normal: area-weighted unit vertex normals (world = camera axes), interpolated and not renormalised.
 * - depth: camera-space depth d = -z_c (metres in front of the camera; interpolating clip w, which is d).
 * - mask: coverage; antialiased with the analytic silhouette AA (the tracker's fg mask) unless `antialiasMask`
 *   is false (then exactly 0/1).
 */
export function renderChannel(mesh: WorldMesh, size: number, channel: Channel, antialiasMask = true): ChannelImage {
  const V = mesh.positions.length / 3;
  const camera = makeCamera(size);
  const clip = worldToClip(camera, mesh.positions);
  const rastShape = { batch: 1, height: size, width: size };
  const rast = rasterize(clip, V, mesh.faces, 1, size, size);
  const pixels = size * size;
  const ids = new Int32Array(pixels);
  for (let p = 0; p < pixels; p++) ids[p] = rast[4 * p + 3];
  const perVertex = (attr: Float32Array, channels: number, count: number, attrTri: Int32Array): ChannelImage => ({
    ids,
    values: interpolate(attr, { batch: 1, vertices: count, channels }, rast, rastShape, attrTri),
    channels,
  });
  switch (channel) {
    case 'triangle-id':
      return { ids, values: null, channels: 1 };
    case 'uv':
      if (!mesh.uv) throw new Error('the mesh has no texture coordinates');
      return perVertex(mesh.uv.uvs, 2, mesh.uv.uvs.length / 2, mesh.uv.faceUvs);
    case 'normal':
      return perVertex(areaWeightedVertexNormals(mesh.positions, mesh.faces), 3, V, mesh.faces);
    case 'depth': {
      const w = new Float32Array(V);
      for (let i = 0; i < V; i++) w[i] = clip[4 * i + 3];
      return perVertex(w, 1, V, mesh.faces);
    }
    case 'mask': {
      const coverage = new Float32Array(pixels);
      for (let p = 0; p < pixels; p++) coverage[p] = ids[p] > 0 ? 1 : 0;
      if (!antialiasMask) return { ids, values: coverage, channels: 1, antialiased: false };
      return { ids, values: antialias(coverage, 1, rast, rastShape, clip, V, mesh.faces), channels: 1, antialiased: true };
    }
  }
}

/**
 * A readable false colour for triangle id `id` (> 0): hue from the golden-ratio sequence of a scrambled id, so
 * neighbouring triangles get clearly different colours, never black (black is the background).
 */
export function idColour(id: number): [number, number, number] {
  let h = Math.imul(id, 0x9e3779b1) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  const hue = ((h & 0xffff) / 0x10000) * 6;
  const sat = 0.55 + 0.45 * (((h >>> 16) & 0xff) / 255);
  const val = 0.6 + 0.4 * (((h >>> 24) & 0xff) / 255);
  const k = (n: number): number => {
    const x = (n + hue) % 6;
    return val * (1 - sat * Math.max(0, Math.min(1, Math.min(x, 4 - x))));
  };
  return [Math.round(255 * k(5)), Math.round(255 * k(3)), Math.round(255 * k(1))];
}

/**
 * 8-bit RGB for looking at a channel: ids in false colour; uv as (u, v, 0); normals as (n+1)/2; depth as grey,
 * nearest covered pixel white and farthest dark grey (the range of this image); mask as grey. Background black.
 */
export function channelToRgb(image: ChannelImage, channel: Channel, size: number): Uint8Array {
  const pixels = size * size;
  const rgb = new Uint8Array(3 * pixels);
  const byte = (x: number): number => Math.round(255 * Math.min(1, Math.max(0, x)));
  const { ids, values: d } = image;
  if (d === null) {
    for (let p = 0; p < pixels; p++) if (ids[p] > 0) rgb.set(idColour(ids[p]), 3 * p);
    return rgb;
  }
  if (channel === 'mask') {
    // antialiasing also lightens background pixels next to the silhouette: show the values everywhere
    for (let p = 0; p < pixels; p++) rgb.fill(byte(d[p]), 3 * p, 3 * p + 3);
    return rgb;
  }
  let lo = Infinity, hi = -Infinity;
  if (channel === 'depth') for (let p = 0; p < pixels; p++) if (ids[p] > 0) { lo = Math.min(lo, d[p]); hi = Math.max(hi, d[p]); }
  const span = hi > lo ? hi - lo : 1;
  for (let p = 0; p < pixels; p++) {
    if (ids[p] === 0) continue;
    if (channel === 'uv') rgb.set([byte(d[2 * p]), byte(d[2 * p + 1]), 0], 3 * p);
    else if (channel === 'normal') rgb.set([0, 1, 2].map((c) => byte((d[3 * p + c] + 1) / 2)), 3 * p);
    else rgb.fill(byte(1 - (0.8 * (d[p] - lo)) / span), 3 * p, 3 * p + 3);
  }
  return rgb;
}

// The rasterizer workload of one tracker iteration, for `pixel3dmm bench raster` (and the kernels' regression
// checks): a head mesh at a tracking pose that fills most of an S x S image, in clip space through the Pixel3DMM
// camera (spec §5), with the tracker's attribute layout: 2 UV channels through the UV index buffer plus 15
// per-vertex channels through the vertex index buffer (17 in all), and a 2048² one-channel UV mask texture.

import { CAMERA_POSITION, DEFAULT_FOCAL, makeCamera, projectionMatrix } from '@pixel3dmm/render';

/** Camera space = world - CAMERA_POSITION (the tracking camera of @pixel3dmm/render camera.ts). */
const CAMERA_Z = CAMERA_POSITION[2];

/** Clip-space position of a camera-space point, with the tracking camera's projection P (row-major 4x4). */
export function clipFromCamera(xc: number, yc: number, zc: number, P: Float64Array, out: Float32Array, o: number): void {
  out[o] = P[0] * xc + P[2] * zc;
  out[o + 1] = P[5] * yc + P[6] * zc;
  out[o + 2] = P[10] * zc + P[11];
  out[o + 3] = -zc;
}

/** Pixel extent covered by a width `extent` (m) at camera depth `depth` (m) for an S px image. */
function pixelsFor(extent: number, depth: number, S: number): number {
  return (DEFAULT_FOCAL * S * extent) / depth;
}

export interface RasterMesh {
  /** [V,3] positions (any units; the scene rescales nothing, only translates). */
  positions: Float32Array;
  /** [T,3] vertex indices. */
  faces: Uint32Array;
  /** Optional UVs: [Vuv,2] and [T,3] UV indices. */
  uv?: { uvs: Float32Array; faceUvs: Uint32Array };
  source: string;
}

export interface RasterScene {
  source: string;
  size: number;
  batch: number;
  V: number;
  T: number;
  tri: Int32Array;
  /** [B,V,4] clip space. */
  pos: Float32Array;
  /** [Vuv,2] UVs (broadcast over frames) and their index buffer [T,3]. */
  uv: Float32Array;
  uvTri: Int32Array;
  uvVertices: number;
  /** [B,V,15] per-vertex attributes: normal 3, camera-space position 3, canonical position 3, masks 3, depth 1, spare 2. */
  attr: Float32Array;
  attrChannels: number;
  /** Fraction of the image width / height spanned by the head's projected bounding box (frame 0). */
  fill: { x: number; y: number };
}

export const ATTR_CHANNELS = 15;
export const UV_CHANNELS = 2;

/**
 * Builds the scene: the mesh is centred, turned by a small per-frame head rotation (frame b: yaw 0.15 sin(b+1),
 * pitch 0.1 cos(b+1) rad) and pushed to the depth at which its larger side spans `fill` (default 0.9) of the image.
 */
export function buildRasterScene(mesh: RasterMesh, size: number, batch: number, fill = 0.9): RasterScene {
  const P = mesh.positions;
  const V = P.length / 3;
  const T = mesh.faces.length / 3;
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < V; i++) {
    for (let d = 0; d < 3; d++) {
      lo[d] = Math.min(lo[d], P[3 * i + d]);
      hi[d] = Math.max(hi[d], P[3 * i + d]);
    }
  }
  const centre = [0, 1, 2].map((d) => (lo[d] + hi[d]) / 2);
  const ext = Math.max(hi[0] - lo[0], hi[1] - lo[1]);
  // The front of the head (z = hi) nearer to the camera: depth of the centre so that ext spans fill * S at the front.
  const depthFront = pixelsFor(ext, 1, size) / (fill * size);
  const depth = depthFront + (hi[2] - lo[2]) / 2;
  const projection = projectionMatrix(makeCamera(size));
  const tri = Int32Array.from(mesh.faces);
  const pos = new Float32Array(batch * V * 4);
  const attr = new Float32Array(batch * V * ATTR_CHANNELS);
  const cam = new Float64Array(V * 3);
  const normal = new Float64Array(V * 3);
  for (let b = 0; b < batch; b++) {
    const yaw = 0.15 * Math.sin(b + 1);
    const pitch = 0.1 * Math.cos(b + 1);
    const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
    for (let i = 0; i < V; i++) {
      const x = P[3 * i] - centre[0], y = P[3 * i + 1] - centre[1], z = P[3 * i + 2] - centre[2];
      // yaw about y, then pitch about x
      const x1 = cy * x + sy * z, z1 = -sy * x + cy * z;
      const y2 = cp * y - sp * z1, z2 = sp * y + cp * z1;
      cam[3 * i] = x1;
      cam[3 * i + 1] = y2;
      cam[3 * i + 2] = z2 - depth; // world (0,0,CAMERA_Z - depth) -> camera space
      clipFromCamera(cam[3 * i], cam[3 * i + 1], cam[3 * i + 2], projection, pos, (b * V + i) * 4);
    }
    // Area-weighted vertex normals ((v2 - v1) x (v0 - v1), summed, normalised with eps 1e-6).
    normal.fill(0);
    for (let t = 0; t < T; t++) {
      const [i0, i1, i2] = [tri[3 * t], tri[3 * t + 1], tri[3 * t + 2]];
      const ax = cam[3 * i2] - cam[3 * i1], ay = cam[3 * i2 + 1] - cam[3 * i1 + 1], az = cam[3 * i2 + 2] - cam[3 * i1 + 2];
      const bx = cam[3 * i0] - cam[3 * i1], by = cam[3 * i0 + 1] - cam[3 * i1 + 1], bz = cam[3 * i0 + 2] - cam[3 * i1 + 2];
      const n = [ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx];
      for (const i of [i0, i1, i2]) for (let d = 0; d < 3; d++) normal[3 * i + d] += n[d];
    }
    for (let i = 0; i < V; i++) {
      const n = Math.max(1e-6, Math.hypot(normal[3 * i], normal[3 * i + 1], normal[3 * i + 2]));
      const a = attr.subarray((b * V + i) * ATTR_CHANNELS, (b * V + i + 1) * ATTR_CHANNELS);
      for (let d = 0; d < 3; d++) {
        a[d] = normal[3 * i + d] / n;
        a[3 + d] = cam[3 * i + d];
        a[6 + d] = P[3 * i + d];
      }
      a[9] = (i * 7) % 3 === 0 ? 1 : 0; // "face"
      a[10] = i % 5 === 0 ? 0 : 1; // "face and eyes"
      a[11] = i % 11 === 0 ? 1 : 0; // "eyes"
      a[12] = cam[3 * i + 2]; // depth z_s
      a[13] = Math.sin(i);
      a[14] = Math.cos(i);
    }
  }
  let uv: Float32Array;
  let uvTri: Int32Array;
  if (mesh.uv) {
    // Pixel3DMM samples the mask at (1 - u, 1 - v).
    uv = Float32Array.from(mesh.uv.uvs, (x) => 1 - x);
    uvTri = Int32Array.from(mesh.uv.faceUvs);
  } else {
    // No UVs: a planar projection of the canonical positions.
    uv = new Float32Array(V * 2);
    for (let i = 0; i < V; i++) {
      uv[2 * i] = (P[3 * i] - lo[0]) / Math.max(1e-12, hi[0] - lo[0]);
      uv[2 * i + 1] = (P[3 * i + 1] - lo[1]) / Math.max(1e-12, hi[1] - lo[1]);
    }
    uvTri = Int32Array.from(tri);
  }
  // Projected extent of frame 0.
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (let i = 0; i < V; i++) {
    const w = pos[4 * i + 3];
    const x = pos[4 * i] / w, y = pos[4 * i + 1] / w;
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  return {
    source: mesh.source,
    size,
    batch,
    V,
    T,
    tri,
    pos,
    uv,
    uvTri,
    uvVertices: uv.length / 2,
    attr,
    attrChannels: ATTR_CHANNELS,
    fill: { x: (maxX - minX) / 2, y: (maxY - minY) / 2 },
  };
}

/**
 * A 2048² one-channel {0,1} UV mask like Pixel3DMM's uv_mask_eyes: a central disk (face) and two small disks
 * (eyeballs) near the top corners.
 */
export function uvMaskTexture(side = 2048): Float32Array {
  const tex = new Float32Array(side * side);
  const disks: [number, number, number][] = [
    [0.5, 0.5, 0.33],
    [0.12, 0.88, 0.08],
    [0.88, 0.88, 0.08],
  ];
  for (let j = 0; j < side; j++) {
    const v = (j + 0.5) / side;
    for (let i = 0; i < side; i++) {
      const u = (i + 0.5) / side;
      tex[j * side + i] = disks.some(([cu, cv, r]) => (u - cu) ** 2 + (v - cv) ** 2 <= r * r) ? 1 : 0;
    }
  }
  return tex;
}

export { CAMERA_Z };

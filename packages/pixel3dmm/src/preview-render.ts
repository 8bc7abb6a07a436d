// A tiny software rasteriser for looking at meshes (a preview tool only, not part of the pipeline):
// orthographic views, z-buffer, flat Lambert shading, optional per-vertex colours and wireframe. Back faces
// are drawn in a distinct blue so wrong winding shows at a glance. Writes a PNG with sharp.
import sharp from 'sharp';

export type PreviewView = 'front' | 'side' | 'right' | 'back' | 'top' | 'bottom' | { yaw: number; pitch: number };

export interface PreviewOptions {
  /** Size of each view tile in pixels (default 400). */
  size?: number;
  /** Views left to right (default front and side). */
  views?: PreviewView[];
  /** Per-vertex RGB in [0, 1] ([V*3]); default a skin tone. */
  colors?: ArrayLike<number>;
  /** Draw triangle edges. */
  wireframe?: boolean;
  /** Interpolate vertex normals (Gouraud-like per-pixel Lambert) instead of flat shading. */
  smooth?: boolean;
  /** Restrict the framing to these vertices (default: all vertices). */
  frameVertices?: ArrayLike<number>;
  /** Extra margin around the framed box, as a fraction (default 0.06). */
  margin?: number;
  background?: [number, number, number];
}

/** The rotation applied to the mesh, in degrees: yaw about +y (positive turns the face toward +x), then pitch
 * about +x (positive tilts the top of the head toward the viewer). 'side' shows the subject's left (+x). */
function viewAngles(v: PreviewView): [number, number] {
  if (typeof v === 'object') return [v.yaw, v.pitch];
  switch (v) {
    case 'front':
      return [0, 0];
    case 'side':
      return [-90, 0];
    case 'right':
      return [90, 0];
    case 'back':
      return [180, 0];
    case 'top':
      return [0, 90];
    case 'bottom':
      return [0, -90];
  }
}

function rotation(yawDeg: number, pitchDeg: number): number[] {
  const y = (yawDeg * Math.PI) / 180;
  const p = (pitchDeg * Math.PI) / 180;
  const cy = Math.cos(y);
  const sy = Math.sin(y);
  const cp = Math.cos(p);
  const sp = Math.sin(p);
  // R = Rx(p) * Ry(y)
  const Ry = [cy, 0, sy, 0, 1, 0, -sy, 0, cy];
  const Rx = [1, 0, 0, 0, cp, -sp, 0, sp, cp];
  const R = new Array(9).fill(0);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) R[3 * r + c] += Rx[3 * r + k] * Ry[3 * k + c];
  return R;
}

/** Render the views side by side into an RGB buffer (width = size * views, height = size). */
export function renderPreview(
  positions: ArrayLike<number>,
  faces: ArrayLike<number>,
  options: PreviewOptions = {},
): { width: number; height: number; rgb: Uint8Array } {
  const size = options.size ?? 400;
  const views = options.views ?? ['front', 'side'];
  const W = size * views.length;
  const H = size;
  const rgb = new Uint8Array(W * H * 3);
  const bg = options.background ?? [38, 40, 56];
  for (let i = 0; i < W * H; i++) {
    rgb[3 * i] = bg[0];
    rgb[3 * i + 1] = bg[1];
    rgb[3 * i + 2] = bg[2];
  }
  const V = Math.floor(positions.length / 3);
  const frame = options.frameVertices ?? null;
  const margin = options.margin ?? 0.06;
  const zbuf = new Float64Array(size * size);
  const px = new Float64Array(V);
  const py = new Float64Array(V);
  const pz = new Float64Array(V);
  const light = normalize([0.35, 0.45, 1]);
  const vn = options.smooth ? vertexNormalsOf(positions, faces, V) : null;
  const nx = new Float64Array(V);
  const ny = new Float64Array(V);
  const nz = new Float64Array(V);
  views.forEach((view, vi) => {
    const [yaw, pitch] = viewAngles(view);
    const R = rotation(yaw, pitch);
    for (let i = 0; i < V; i++) {
      const x = positions[3 * i];
      const y = positions[3 * i + 1];
      const z = positions[3 * i + 2];
      px[i] = R[0] * x + R[1] * y + R[2] * z;
      py[i] = R[3] * x + R[4] * y + R[5] * z;
      pz[i] = R[6] * x + R[7] * y + R[8] * z;
      if (vn) {
        const a = vn[3 * i];
        const b = vn[3 * i + 1];
        const c = vn[3 * i + 2];
        nx[i] = R[0] * a + R[1] * b + R[2] * c;
        ny[i] = R[3] * a + R[4] * b + R[5] * c;
        nz[i] = R[6] * a + R[7] * b + R[8] * c;
      }
    }
    // Framing: a square around the (selected) vertices' projected box.
    let x0 = Infinity;
    let x1 = -Infinity;
    let y0 = Infinity;
    let y1 = -Infinity;
    const n = frame ? frame.length : V;
    for (let k = 0; k < n; k++) {
      const i = frame ? frame[k] : k;
      x0 = Math.min(x0, px[i]);
      x1 = Math.max(x1, px[i]);
      y0 = Math.min(y0, py[i]);
      y1 = Math.max(y1, py[i]);
    }
    const ext = Math.max(x1 - x0, y1 - y0) * (1 + 2 * margin);
    const cx = 0.5 * (x0 + x1);
    const cyy = 0.5 * (y0 + y1);
    const scale = size / ext;
    const toCol = (x: number): number => (x - cx) * scale + size / 2;
    const toRow = (y: number): number => size / 2 - (y - cyy) * scale;
    zbuf.fill(-Infinity);
    const F = Math.floor(faces.length / 3);
    for (let f = 0; f < F; f++) {
      const a = faces[3 * f];
      const b = faces[3 * f + 1];
      const c = faces[3 * f + 2];
      const ax = toCol(px[a]);
      const ay = toRow(py[a]);
      const bx = toCol(px[b]);
      const by = toRow(py[b]);
      const cx2 = toCol(px[c]);
      const cy2 = toRow(py[c]);
      // Face normal in view space (y up, z toward the viewer).
      const e1 = [px[b] - px[a], py[b] - py[a], pz[b] - pz[a]];
      const e2 = [px[c] - px[a], py[c] - py[a], pz[c] - pz[a]];
      const nrm = normalize([e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]]);
      const front = nrm[2] >= 0;
      const lam = Math.abs(nrm[0] * light[0] + nrm[1] * light[1] + nrm[2] * light[2]);
      const shade = 0.22 + 0.78 * lam;
      const area = (bx - ax) * (cy2 - ay) - (by - ay) * (cx2 - ax);
      if (area === 0) continue;
      const minX = Math.max(0, Math.floor(Math.min(ax, bx, cx2)));
      const maxX = Math.min(size - 1, Math.ceil(Math.max(ax, bx, cx2)));
      const minY = Math.max(0, Math.floor(Math.min(ay, by, cy2)));
      const maxY = Math.min(size - 1, Math.ceil(Math.max(ay, by, cy2)));
      const la = Math.hypot(cx2 - bx, cy2 - by);
      const lb = Math.hypot(ax - cx2, ay - cy2);
      const lc = Math.hypot(bx - ax, by - ay);
      for (let yy = minY; yy <= maxY; yy++) {
        for (let xx = minX; xx <= maxX; xx++) {
          const sx = xx + 0.5;
          const sy = yy + 0.5;
          const w0 = ((bx - sx) * (cy2 - sy) - (by - sy) * (cx2 - sx)) / area;
          const w1 = ((cx2 - sx) * (ay - sy) - (cy2 - sy) * (ax - sx)) / area;
          const w2 = 1 - w0 - w1;
          if (w0 < -1e-9 || w1 < -1e-9 || w2 < -1e-9) continue;
          const z = w0 * pz[a] + w1 * pz[b] + w2 * pz[c];
          const zi = yy * size + xx;
          if (z <= zbuf[zi]) continue;
          zbuf[zi] = z;
          let r: number;
          let g: number;
          let bl: number;
          if (options.colors) {
            const C = options.colors;
            r = w0 * C[3 * a] + w1 * C[3 * b] + w2 * C[3 * c];
            g = w0 * C[3 * a + 1] + w1 * C[3 * b + 1] + w2 * C[3 * c + 1];
            bl = w0 * C[3 * a + 2] + w1 * C[3 * b + 2] + w2 * C[3 * c + 2];
          } else {
            r = 0.9;
            g = 0.74;
            bl = 0.66;
          }
          if (!front) {
            r = 0.25;
            g = 0.35;
            bl = 0.95;
          }
          let k = shade;
          if (vn && front) {
            const sx0 = w0 * nx[a] + w1 * nx[b] + w2 * nx[c];
            const sy0 = w0 * ny[a] + w1 * ny[b] + w2 * ny[c];
            const sz0 = w0 * nz[a] + w1 * nz[b] + w2 * nz[c];
            const l = Math.hypot(sx0, sy0, sz0) || 1;
            k = 0.22 + 0.78 * Math.max(0, (sx0 * light[0] + sy0 * light[1] + sz0 * light[2]) / l);
          }
          if (options.wireframe) {
            // distance to the nearest edge, in pixels
            const d = Math.min(w0 * (2 * Math.abs(area)) / (la || 1), w1 * (2 * Math.abs(area)) / (lb || 1), w2 * (2 * Math.abs(area)) / (lc || 1)) / 2;
            if (d < 0.55) k *= 0.55;
          }
          const o = 3 * (yy * W + vi * size + xx);
          rgb[o] = Math.min(255, Math.round(255 * r * k));
          rgb[o + 1] = Math.min(255, Math.round(255 * g * k));
          rgb[o + 2] = Math.min(255, Math.round(255 * bl * k));
        }
      }
    }
  });
  return { width: W, height: H, rgb };
}

/** Render the views and write them as one PNG. */
export async function renderPreviewPng(
  positions: ArrayLike<number>,
  faces: ArrayLike<number>,
  outPath: string,
  options: PreviewOptions = {},
): Promise<void> {
  const { width, height, rgb } = renderPreview(positions, faces, options);
  await sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width, height, channels: 3 } })
    .png()
    .toFile(outPath);
}

function vertexNormalsOf(p: ArrayLike<number>, f: ArrayLike<number>, V: number): Float64Array {
  const n = new Float64Array(V * 3);
  for (let t = 0; t + 2 < f.length; t += 3) {
    const a = f[t];
    const b = f[t + 1];
    const c = f[t + 2];
    const e1 = [p[3 * b] - p[3 * a], p[3 * b + 1] - p[3 * a + 1], p[3 * b + 2] - p[3 * a + 2]];
    const e2 = [p[3 * c] - p[3 * a], p[3 * c + 1] - p[3 * a + 1], p[3 * c + 2] - p[3 * a + 2]];
    const m = [e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]];
    for (const v of [a, b, c]) for (let d = 0; d < 3; d++) n[3 * v + d] += m[d];
  }
  return n;
}

function normalize(v: number[]): number[] {
  const l = Math.hypot(v[0], v[1], v[2]) || 1;
  return [v[0] / l, v[1] / l, v[2] / l];
}

// One frame of result.mp4 (spec 8, draw_uv_corresp=False): S x 3S = [ image | blend | FLAME-space normals ].
// - normals panel: (n_F + 1)/2 over the whole image, so the background (n_F = 0) is grey 0.5;
// - blend: 0.3 rgb + 0.7 (n_F + 1)/2 inside m, rgb outside, with m = (the rendered normal faces the camera)
//   and (the rendered FLAME "face" mask > 0). "Faces the camera" is cos(view, normal) > 0 with the view vector
//   from the surface to the camera centre; the surface point lies on the pixel's ray, so that vector is the
//   reversed ray direction, computed from the camera's raster convention (render/camera.ts).
import { intrinsics, type Camera } from '@pixel3dmm/render';

export interface OverlayRender {
  /** [S,S,3] FLAME-space normals n_F (0 on the background). */
  normals: Float32Array;
  /** [S,S] 1 where the rendered FLAME face mask is > 0. */
  faceMask: Uint8Array;
}

const toByte = (c: number) => Math.min(255, Math.max(0, Math.floor(255 * c)));

/**
 * `rgb` [S,S,3] in [0,1]; `R` the head rotation (row-major 3x3): world normal = R n_F. Returns [S, 3S, 3] RGB8.
 */
export function overlayFrame(camera: Camera, rgb: Float32Array, render: OverlayRender, R: ArrayLike<number>): Uint8Array {
  const S = camera.size;
  const W = 3 * S;
  const out = new Uint8Array(S * W * 3);
  const { fx, fy, cx, cy } = intrinsics(camera);
  for (let row = 0; row < S; row++) {
    // Raster: col = fx x/d + cx - 0.5, row = cy - 0.5 - fy y/d, so the ray through the pixel centre is
    // (x/d, y/d, -1) and the view vector (towards the camera) its negation.
    const vy = -(cy - 0.5 - row) / fy;
    for (let col = 0; col < S; col++) {
      const vx = -(col + 0.5 - cx) / fx;
      const i = row * S + col;
      const nx = render.normals[3 * i], ny = render.normals[3 * i + 1], nz = render.normals[3 * i + 2];
      const wx = R[0] * nx + R[1] * ny + R[2] * nz;
      const wy = R[3] * nx + R[4] * ny + R[5] * nz;
      const wz = R[6] * nx + R[7] * ny + R[8] * nz;
      const facing = wx * vx + wy * vy + wz > 0;
      const inside = facing && render.faceMask[i] > 0;
      const o = (row * W + col) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const c = rgb[3 * i + ch];
        const n = (render.normals[3 * i + ch] + 1) / 2;
        out[o + ch] = toByte(c);
        out[o + 3 * S + ch] = toByte(inside ? 0.3 * c + 0.7 * n : c);
        out[o + 6 * S + ch] = toByte(n);
      }
    }
  }
  return out;
}

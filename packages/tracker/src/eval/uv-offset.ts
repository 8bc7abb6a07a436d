// Where a frame's UV map puts each vertex, against where the tracker's point projection puts it: the bias of
// the UV-correspondence term (spec 6.1) at the true parameters. A diagnostic of the data and the objective,
// used to find why the 24-frame noise-free video drifts in a long stage 2 (README, Accuracy).
//
// For every vertex of the UV-correspondence set that projects inside the frame's UV mask, the map (read as the
// tracker reads it: masked, pixel centres at integer indices, the raster's convention) is sampled bilinearly at
// the vertex's point projection p = (x_s, y_s); the UV residual q - uv(p) is turned into pixels through the
// map's local Jacobian (central differences). The result is the mean of (position the map gives - p).
//
// Two known causes, both the original's (and both faithfully kept by the tracker):
// - the point projection sits (-1/2, +1/2) px from the raster (spec 5), so a map rendered with the raster is
//   offset by (+1/2, -1/2) px from the projection;
// - the PNGs truncate (byte = floor(255 c)) and are decoded as png/255 (spec 3.4), so the map reads 0.5/255
//   low in u and in 1-v, which moves it by 0.5/255 divided by the map's slope (about 1 px at 256 here).
import { Flame, type FlameModel, type FlameParams } from '@pixel3dmm/flame';
import { makeCamera, projectPoints } from '@pixel3dmm/render';
import type { TrackingAssets } from '../objective/assets.js';
import { correspondenceQueries } from '../objective/losses/uv-correspondence.js';
import type { FrameData } from '../types.js';

export interface UvOffsetReport {
  /** Mean (map position - point projection), pixels of the frame. */
  meanPx: [number, number];
  /** Vertices measured. */
  count: number;
}

/** The mean offset of `frame`'s UV map from the point projection of the mesh at `params` (camera: focal, pp). */
export function uvMapOffset(
  model: FlameModel,
  assets: TrackingAssets,
  frame: FrameData,
  params: FlameParams,
  camera: { focal: number; pp: readonly [number, number] },
): UvOffsetReport {
  const uv = frame.uv;
  if (!uv) throw new RangeError('uvMapOffset: the frame has no UV map');
  const S = frame.size, V = model.numVertices;
  const valid = assets.uvValidVertices;
  const queries = correspondenceQueries(assets.vertexUvs, valid);
  const world = Float32Array.from(new Flame(model).evaluate([params], { world: true }).vertices.subarray(0, 3 * V));
  const proj = projectPoints(makeCamera(S, camera.focal, camera.pp), world);
  const at = (x: number, y: number, ch: number) => {
    const x0 = Math.floor(x), y0 = Math.floor(y), ax = x - x0, ay = y - y0;
    const g = (xx: number, yy: number) => uv[2 * (yy * S + xx) + ch];
    return (1 - ay) * ((1 - ax) * g(x0, y0) + ax * g(x0 + 1, y0)) + ay * ((1 - ax) * g(x0, y0 + 1) + ax * g(x0 + 1, y0 + 1));
  };
  const h = 2;
  let sx = 0, sy = 0, n = 0;
  for (let j = 0; j < valid.length; j++) {
    const v = valid[j], px = proj[3 * v], py = proj[3 * v + 1];
    if (!(px > h + 1 && py > h + 1 && px < S - h - 2 && py < S - h - 2)) continue;
    // Only where the whole stencil lies inside the mask (no masked zeros in the differences).
    let inside = true;
    for (let dy = -h - 1; dy <= h + 1 && inside; dy++) for (let dx = -h - 1; dx <= h + 1; dx++) if (!frame.masks.uv[(Math.floor(py) + dy) * S + Math.floor(px) + dx]) inside = false;
    if (!inside) continue;
    const a = (at(px + h, py, 0) - at(px - h, py, 0)) / (2 * h), b = (at(px, py + h, 0) - at(px, py - h, 0)) / (2 * h);
    const c = (at(px + h, py, 1) - at(px - h, py, 1)) / (2 * h), d = (at(px, py + h, 1) - at(px, py - h, 1)) / (2 * h);
    const det = a * d - b * c;
    if (!(Math.abs(det) > 1e-9)) continue;
    const r0 = queries[2 * j] - at(px, py, 0), r1 = queries[2 * j + 1] - at(px, py, 1);
    const ox = (d * r0 - b * r1) / det, oy = (-c * r0 + a * r1) / det;
    if (!(Math.hypot(ox, oy) < 3)) continue; // a UV seam or fold: not a local offset
    sx += ox;
    sy += oy;
    n++;
  }
  if (n === 0) throw new RangeError('uvMapOffset: no vertex could be measured');
  return { meanPx: [sx / n, sy / n], count: n };
}

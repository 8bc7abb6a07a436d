// Test support: ideal frames rendered from known variables with the objective's own scene (network outputs
// replaced by the exact rendered maps, masks by the rendered coverage, landmarks by projected FLAME landmarks),
// so that the data terms vanish at the ground truth. Not exported from the package index.
import { FLAME_JOINTS } from '@pixel3dmm/kernels';
import { WFLW_TO_IBUG68 } from '@pixel3dmm/formats';
import { CAMERA_POSITION, makeCamera, projectPoints } from '@pixel3dmm/render';
import type { FrameData, FrameVariables, SharedVariables } from '../types.js';
import { AUX_CHANNELS, AUX_DEPTH, AUX_EYES, AUX_FACE, CH_NORMAL, CH_TEXC, GRAD_CHANNELS, renderScene, SceneWorkspace, type SceneTopology } from './scene.js';
import type { StridedImage } from './strided-image.js';
import type { TrackingObjective } from './objective.js';
import { rotationMatrices } from '@pixel3dmm/kernels';

export function identityFrame(numExpression: number): FrameVariables {
  return {
    expression: new Float64Array(numExpression),
    jaw: Float64Array.of(1, 0, 0, 0, 1, 0),
    neck: Float64Array.of(1, 0, 0, 0, 1, 0),
    eyes: Float64Array.of(1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0),
    eyelids: new Float64Array(2),
    rotation: Float64Array.of(1, 0, 0, 0, 1, 0),
    translation: new Float64Array(3),
  };
}

/** 6D (first two rows) of the rotation about the axis (unit) by angle (radians). */
export function rotation6d(axis: [number, number, number], angle: number): Float64Array {
  const [x, y, z] = axis;
  const c = Math.cos(angle), s = Math.sin(angle), C = 1 - c;
  return Float64Array.of(c + x * x * C, x * y * C - z * s, x * z * C + y * s, y * x * C + z * s, c + y * y * C, y * z * C - x * s);
}

/**
 * Renders the frame seen with `vars` and `shared`: uv = rendered (u, 1-v) on covered non-eye pixels (0
 * elsewhere, like the masked network map), normals = n_F, masks from coverage, landmarks from the projected
 * FLAME landmarks (and the iris vertices for WFLW 96/97).
 */
export function idealFrame(objective: TrackingObjective, vars: FrameVariables, shared: SharedVariables, size: number, index = 0): FrameData {
  const model = objective.model, V = model.numVertices;
  const pose = new Float64Array(FLAME_JOINTS * 6);
  pose.set([1, 0, 0, 0, 1, 0], 0);
  pose.set(vars.neck, 6);
  pose.set(objective.config.use_flame2023 ? [1, 0, 0, 0, 1, 0] : vars.jaw, 12);
  pose.set(vars.eyes, 18);
  const R = rotationMatrices(vars.rotation);
  const Rt = Float64Array.of(R[0], R[3], R[6], R[1], R[4], R[7], R[2], R[5], R[8]);
  const fl = objective.kernel.forward({
    batch: 1,
    shape: shared.shape,
    expression: vars.expression,
    pose,
    eyelids: vars.eyelids,
    landmarkRotation: Rt,
    withNoNeck: true,
    landmarks: true,
  });
  const toWorld = (p: Float32Array) => {
    const out = new Float32Array(p.length);
    for (let i = 0; i < p.length; i += 3) {
      for (let r = 0; r < 3; r++) out[i + r] = R[3 * r] * p[i] + R[3 * r + 1] * p[i + 1] + R[3 * r + 2] * p[i + 2] + vars.translation[r];
    }
    return out;
  };
  const world = toWorld(fl.vertices);
  const camera = makeCamera(size, shared.focal, shared.pp);
  const ws = new SceneWorkspace(objective.topology, 1, size);
  renderScene(ws, camera, world, fl.verticesNoNeck!, { normals: true, silhouette: true });
  const P = size * size;
  const uv = new Float32Array(2 * P), normals = new Float32Array(3 * P);
  const mUv = new Uint8Array(P), mN = new Uint8Array(P), fgMask = new Uint8Array(P), vbg = new Uint8Array(P);
  for (let i = 0; i < P; i++) {
    const covered = ws.rast[4 * i + 3] > 0;
    const eyes = ws.aux[i * AUX_CHANNELS + AUX_EYES] > 0;
    const face = ws.aux[i * AUX_CHANNELS + AUX_FACE] > 0;
    if (covered && !eyes) {
      mUv[i] = 1;
      uv[2 * i] = ws.uvImages[2 * i];
      uv[2 * i + 1] = ws.uvImages[2 * i + 1];
    }
    if (covered) {
      mN[i] = 1;
      for (let c = 0; c < 3; c++) normals[3 * i + c] = ws.aux[i * AUX_CHANNELS + CH_NORMAL + c];
    }
    fgMask[i] = covered && face ? 1 : 0;
    vbg[i] = covered ? 0 : 1;
  }
  const lmk = projectPoints(camera, toWorld(fl.landmarks!));
  const proj = projectPoints(camera, world);
  const landmarks98 = new Float32Array(196), landmarkValid = new Uint8Array(98);
  for (let k = 0; k < 68; k++) {
    const w = WFLW_TO_IBUG68[k];
    landmarks98[2 * w] = lmk[3 * k];
    landmarks98[2 * w + 1] = lmk[3 * k + 1];
    landmarkValid[w] = 1;
  }
  for (const [w, v] of [[96, objective.assets.iris.wflw96], [97, objective.assets.iris.wflw97]]) {
    landmarks98[2 * w] = proj[3 * v];
    landmarks98[2 * w + 1] = proj[3 * v + 1];
    landmarkValid[w] = 1;
  }
  void V;
  return {
    index,
    size,
    rgb: new Float32Array(3 * P),
    uv,
    normals,
    segmentation: new Uint8Array(P),
    masks: { uv: mUv, normal: mN, foreground: fgMask, validBackground: vbg },
    landmarks98,
    landmarkValid,
  };
}

/**
 * The scene's coverage pass (scene.ts, coveragePass) as the plain loop it was written as: the reference the native
 * pass must match bit for bit. Reads and writes the same workspace fields.
 */
export function coveragePassReference(ws: SceneWorkspace, silhouette: boolean): void {
  const { rast, aux, covered, uvImages, eyeBoxes: boxes, texColor: color, sampled, texcSampled: texc } = ws;
  const eyeTriangle = ws.topology.eyeTriangle, uniform = ws.topology.silhouetteUniform;
  const S = ws.size, P = S * S, B = ws.batch;
  resetUvImages(covered, ws.numCovered, uvImages);
  if (silhouette) color.fill(0);
  let n = 0, m = 0;
  for (let b = 0; b < B; b++) {
    let x0 = S, x1 = -1, y0 = S, y1 = -1;
    for (let y = 0; y < S; y++) {
      for (let x = 0, p = b * P + y * S; x < S; x++, p++) {
        const id = rast[4 * p + 3];
        if (id === 0) continue;
        covered[n] = p;
        const t = id - 1;
        if (eyeTriangle[t] !== 0) {
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
          if (y < y0) y0 = y;
          y1 = y;
        }
        const a = p * AUX_CHANNELS + CH_TEXC, tu = aux[a], tv = aux[a + 1];
        uvImages[2 * p] = 1 - tu;
        uvImages[2 * p + 1] = tv;
        if (silhouette) {
          const c = uniform[t];
          if (c === c && tu - tu === 0 && tv - tv === 0) color[p] = c;
          else {
            sampled[m] = n;
            texc[2 * m] = tu;
            texc[2 * m + 1] = tv;
            m++;
          }
        }
        n++;
      }
    }
    boxes[4 * b] = x0;
    boxes[4 * b + 1] = x1;
    boxes[4 * b + 2] = y0;
    boxes[4 * b + 3] = y1;
  }
  ws.numCovered = n;
  ws.numSampled = m;
}

/** uvImages of the pixels in `pixels` (the previous render's covered ones) back to the background's (1, 0). */
function resetUvImages(pixels: Int32Array, n: number, uvImages: Float32Array): void {
  for (let j = 0; j < n; j++) {
    const p = pixels[j];
    uvImages[2 * p] = 1;
    uvImages[2 * p + 1] = 0;
  }
}

/** scene.ts's writeTexcGradient (the same arguments and contract) as the plain loop it was written as. */
export function writeTexcGradientReference(g: Float32Array, covered: Int32Array, n: number, gu: StridedImage | null, plusZero: boolean): void {
  if (gu) {
    const u = gu.data, us = gu.stride, uo = gu.offset;
    for (let j = 0; j < n; j++) {
      const p = covered[j], o = p * GRAD_CHANNELS + CH_TEXC, q = p * us + uo;
      const du = -u[q], dv = u[q + 1];
      g[o] = plusZero ? du + 0 : du;
      g[o + 1] = plusZero ? dv + 0 : dv;
    }
  } else {
    for (let j = 0; j < n; j++) {
      const o = covered[j] * GRAD_CHANNELS + CH_TEXC;
      g[o] = g[o + 1] = 0;
    }
  }
}

/** scene.ts's writeCornerChannels as the plain loop (the same arguments and contract). */
export function writeCornerChannelsReference(top: SceneTopology, B: number, world: Float32Array, normals: Float32Array | null, attr: Float32Array, gattr: Float32Array): void {
  const V = top.numVertices, NC = top.numCorners, cv = top.cornerVertex;
  const cz = CAMERA_POSITION[2];
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < NC; c++) {
      const v = 3 * (b * V + cv[c]), o = (b * NC + c) * AUX_CHANNELS;
      attr[o + AUX_DEPTH] = world[v + 2] - cz;
      if (normals) {
        const og = (b * NC + c) * GRAD_CHANNELS;
        attr[o + CH_NORMAL] = gattr[og + CH_NORMAL] = normals[v];
        attr[o + CH_NORMAL + 1] = gattr[og + CH_NORMAL + 1] = normals[v + 1];
        attr[o + CH_NORMAL + 2] = gattr[og + CH_NORMAL + 2] = normals[v + 2];
      }
    }
  }
}

/** scene.ts's gatherCornerNormals as the plain loop (the same arguments and contract). */
export function gatherCornerNormalsReference(top: SceneTopology, B: number, ga: Float32Array, gv: Float64Array): void {
  const V = top.numVertices, NC = top.numCorners, cv = top.cornerVertex;
  gv.fill(0);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < NC; c++) {
      const o = (b * NC + c) * GRAD_CHANNELS + CH_NORMAL, v = 3 * (b * V + cv[c]);
      gv[v] += ga[o];
      gv[v + 1] += ga[o + 1];
      gv[v + 2] += ga[o + 2];
    }
  }
}

// Renders one synthetic frame at the crop size: what an ideal preprocessing pipeline and ideal networks
// would produce for a head with known FLAME parameters. Uses the render ops directly (an independent path
// from the tracker's objective, so the two check each other).
//
// Per pixel (rasterizing the posed world-space mesh, neck and eyelids included):
//   uv        = (u, 1-v) of the model's UVs, interpolated per triangle corner with the UV index buffer: what the
//               tracker renders as uv_images and reads back from the UV PNG (spec 5, 9.1);
//   normals   = n_F: the area-weighted vertex normals (the objective's vertexNormals) of the NECK-FREE pass (vertices_noneck, FLAME space, no
//               head rotation, no eyelids; spec 4.2 step 7 and 6.3), interpolated, then normalised;
//   class     = argmax of the interpolated one-hot vertex classes (regions.ts), from the barycentrics;
//   rgb       = a Lambert-shaded albedo (only for looking at and the overlay video).
// Background: uv 0, normals 0 (the PNG encoders write 0 / 127), class 0, rgb a grey-blue gradient.
//
// The crop camera. The crop is rendered at 512 while the tracker renders at S = 256 with the same focal
// fraction; the original's principal point c = (S/2 + 0.5)(1 + pp) does not scale with S by pixel area, so the
// camera of spec 5 at 512 would put the image 0.5 crop pixels (0.25 tracker pixels) left of and above the
// tracker's view after a 2x downsample. `cropCamera` shifts pp so that the 512 render, downsampled by pixel
// area (crop pixel p <-> tracker coordinate (p + 0.5)/2 - 0.5), is exactly the tracker's view at the ground truth.
import { Flame, applyRigid, type FlameModel, type FlameParams } from '@pixel3dmm/flame';
import { SEG_CLASS } from '@pixel3dmm/formats';
import { rotationMatrices } from '@pixel3dmm/kernels';
import { interpolate, intrinsics, makeCamera, rasterize, worldToClip, type Camera } from '@pixel3dmm/render';
import { vertexNormals } from '../objective/vertex-normals.js';
import { normalisedLandmarks, pupilVertices, wflw98FromIbug68 } from './landmarks.js';
import { SYNTH_CLASSES, vertexClasses } from './regions.js';

/** The camera at `cropSize` that sees what `tracking` sees at its size (same focal fraction, see above). */
export function cropCamera(tracking: Camera, cropSize: number): Camera {
  const k = cropSize / tracking.size;
  const { cx, cy } = intrinsics(tracking);
  // Tracker pixel centre q sits at crop coordinate k q + (k - 1)/2, so c_crop - 1/2 = k (c - 1/2) + (k - 1)/2.
  const c = (v: number) => k * (v - 0.5) + (k - 1) / 2 + 0.5;
  const half = cropSize / 2 + 0.5;
  return makeCamera(cropSize, tracking.focal, [c(cx) / half - 1, c(cy) / half - 1]);
}

/** Float maps of one frame at the crop size, row-major [H, W, C], row 0 = image top. */
export interface SyntheticMaps {
  size: number;
  /** [H,W,3] bytes. */
  rgb: Uint8Array;
  /** [H,W,2] (u, 1-v) where the mesh covers the pixel, else 0. */
  uv: Float32Array;
  /** [H,W,3] unit FLAME-space normals n_F where the mesh covers the pixel, else 0. */
  normals: Float32Array;
  /** [H,W] SEG_CLASS ids. */
  segmentation: Uint8Array;
  /** [H,W] 1 where a triangle covers the pixel. */
  coverage: Uint8Array;
}

export interface SyntheticFrame {
  maps: SyntheticMaps;
  /** [98,2] landmarks as stored: point projection at the tracking size, divided by it. */
  landmarks: Float32Array;
  /** [V,3] posed world-space vertices (camera space = world - (0,0,1)). */
  worldVertices: Float32Array;
}

const BACKGROUND_TOP = [0.36, 0.4, 0.46];
const BACKGROUND_BOTTOM = [0.2, 0.22, 0.27];
/** Light direction (world, towards the light): above, left of and in front of the face. */
const LIGHT = (() => {
  const l = [-0.35, 0.5, 1];
  const n = Math.hypot(...l);
  return l.map((x) => x / n);
})();
const AMBIENT = 0.3;

const ALBEDO: Record<number, [number, number, number]> = {
  [SEG_CLASS.neck]: [0.82, 0.63, 0.53],
  [SEG_CLASS.skin]: [0.87, 0.68, 0.58],
  [SEG_CLASS.rightEar]: [0.86, 0.64, 0.55],
  [SEG_CLASS.leftEar]: [0.86, 0.64, 0.55],
  [SEG_CLASS.nose]: [0.88, 0.66, 0.57],
  [SEG_CLASS.innerMouth]: [0.35, 0.08, 0.1],
  [SEG_CLASS.lowerLip]: [0.78, 0.42, 0.42],
  [SEG_CLASS.upperLip]: [0.74, 0.4, 0.4],
  [SEG_CLASS.hair]: [0.2, 0.14, 0.1],
};
const SCLERA: [number, number, number] = [0.95, 0.94, 0.92];
const IRIS: [number, number, number] = [0.25, 0.36, 0.5];
const PUPIL: [number, number, number] = [0.03, 0.03, 0.03];
const IRIS_RADIUS = 0.0058;
const PUPIL_RADIUS = 0.0024;

/** Renders frames of one model; holds the per-model attributes. Not thread-safe (reuses scratch buffers). */
export class SyntheticRenderer {
  readonly flame: Flame;
  readonly pupils: { right: number; left: number };
  private readonly faces: Int32Array;
  private readonly uvFaces: Int32Array;
  private readonly uvAttr: Float32Array;
  private readonly numUvs: number;
  /** Per vertex: linear albedo [V,3] and the channel of its class in SYNTH_CLASSES [V]. */
  private readonly albedo: Float32Array;
  private readonly classChannel: Uint8Array;
  private readonly K = SYNTH_CLASSES.length;

  constructor(readonly model: FlameModel) {
    if (!model.uv) throw new Error(`${model.source}: the model has no UV layout (head_template.obj), needed for synthetic UV maps`);
    if (!model.landmarks) throw new Error(`${model.source}: the model has no landmark embedding, needed for synthetic landmarks`);
    this.flame = new Flame(model);
    this.pupils = pupilVertices(model);
    this.faces = Int32Array.from(model.faces);
    this.uvFaces = Int32Array.from(model.uv.faceUvs);
    this.numUvs = model.uv.uvs.length / 2;
    // The tracker's UV image is (u, 1-v) of the OBJ UVs (spec 5).
    this.uvAttr = new Float32Array(2 * this.numUvs);
    for (let i = 0; i < this.numUvs; i++) {
      this.uvAttr[2 * i] = model.uv.uvs[2 * i];
      this.uvAttr[2 * i + 1] = 1 - model.uv.uvs[2 * i + 1];
    }
    const classes = vertexClasses(model);
    const channel = new Map(SYNTH_CLASSES.map((c, k) => [c, k]));
    const V = model.numVertices;
    this.classChannel = Uint8Array.from(classes, (c) => channel.get(c)!);
    this.albedo = new Float32Array(V * 3);
    const T = model.vTemplate;
    const poles = [this.pupils.right, this.pupils.left];
    for (let v = 0; v < V; v++) {
      let albedo = ALBEDO[classes[v]] ?? SCLERA;
      if (classes[v] === SEG_CLASS.rightEye || classes[v] === SEG_CLASS.leftEye) {
        const p = poles[classes[v] === SEG_CLASS.rightEye ? 0 : 1];
        const d = Math.hypot(T[3 * v] - T[3 * p], T[3 * v + 1] - T[3 * p + 1], T[3 * v + 2] - T[3 * p + 2]);
        albedo = d < PUPIL_RADIUS ? PUPIL : d < IRIS_RADIUS ? IRIS : SCLERA;
      }
      this.albedo.set(albedo, 3 * v);
    }
  }

  /** One frame: `tracking` is the tracker's camera (size S), the maps are rendered at `cropSize`. */
  render(params: FlameParams, tracking: Camera, cropSize: number): SyntheticFrame {
    const model = this.model;
    const V = model.numVertices;
    const R = rotationMatrices(Float64Array.from(params.rotation));
    const fwd = this.flame.kernel.forward({
      batch: 1,
      shape: Float64Array.from(params.shape),
      expression: Float64Array.from(params.expression),
      pose: Flame.poseOf([params]),
      eyelids: Float64Array.from(params.eyelids),
      // The contour landmarks follow the head's true yaw (the detector sees the true silhouette).
      landmarkRotation: R,
      withNoNeck: true,
      landmarks: true,
    });
    const world = fwd.vertices.slice();
    applyRigid(R, params.translation, world);
    const lm = fwd.landmarks!.slice();
    applyRigid(R, params.translation, lm);
    const world98 = wflw98FromIbug68(lm, world, this.pupils);
    const landmarks = normalisedLandmarks(tracking, world98);

    const cam = cropCamera(tracking, cropSize);
    const H = cropSize, W = cropSize, P = H * W;
    const clip = worldToClip(cam, world);
    const rast = rasterize(clip, V, this.faces, 1, H, W);
    const rastShape = { batch: 1, height: H, width: W };
    const uvImg = interpolate(this.uvAttr, { batch: 1, vertices: this.numUvs, channels: 2 }, rast, rastShape, this.uvFaces);

    // Interpolated per-vertex attributes: n_F (neck-free, FLAME space) and the world-space shading normal.
    // Albedo and class come from the triangle's corners and the barycentrics below (no interpolation pass).
    const nF = new Float32Array(3 * V), nW = new Float32Array(3 * V), sums = new Float64Array(3 * V);
    vertexNormals(fwd.verticesNoNeck!, 1, V, this.faces, sums, nF);
    vertexNormals(world, 1, V, this.faces, sums, nW);
    const C = 6;
    const attr = new Float32Array(V * C);
    for (let v = 0; v < V; v++) {
      for (let c = 0; c < 3; c++) {
        attr[v * C + c] = nF[3 * v + c];
        attr[v * C + 3 + c] = nW[3 * v + c];
      }
    }
    const img = interpolate(attr, { batch: 1, vertices: V, channels: C }, rast, rastShape, this.faces);

    const maps: SyntheticMaps = {
      size: H,
      rgb: new Uint8Array(P * 3),
      uv: new Float32Array(P * 2),
      normals: new Float32Array(P * 3),
      segmentation: new Uint8Array(P),
      coverage: new Uint8Array(P),
    };
    const bgRow = Array.from({ length: H }, (_, row) => {
      const f = row / (H - 1);
      return [0, 1, 2].map((c) => toByte(BACKGROUND_TOP[c] * (1 - f) + BACKGROUND_BOTTOM[c] * f));
    });
    const K = this.K;
    const classWeight = new Float64Array(K);
    for (let p = 0; p < P; p++) {
      if (rast[4 * p + 3] === 0) {
        maps.rgb.set(bgRow[Math.floor(p / W)], 3 * p);
        continue;
      }
      maps.coverage[p] = 1;
      maps.uv[2 * p] = uvImg[2 * p];
      maps.uv[2 * p + 1] = uvImg[2 * p + 1];
      const o = p * C;
      const nx = img[o], ny = img[o + 1], nz = img[o + 2];
      const len = Math.sqrt(nx * nx + ny * ny + nz * nz);
      if (len > 0) {
        maps.normals[3 * p] = nx / len;
        maps.normals[3 * p + 1] = ny / len;
        maps.normals[3 * p + 2] = nz / len;
      }
      const wx = img[o + 3], wy = img[o + 4], wz = img[o + 5];
      const wl = Math.sqrt(wx * wx + wy * wy + wz * wz) || 1;
      const lambert = Math.max(0, (wx * LIGHT[0] + wy * LIGHT[1] + wz * LIGHT[2]) / wl);
      const shade = AMBIENT + (1 - AMBIENT) * lambert;
      // Barycentrics of the corners (rast = (u, v, z/w, id + 1); interpolation is u a0 + v a1 + (1-u-v) a2).
      const t = rast[4 * p + 3] - 1;
      const b0 = rast[4 * p], b1 = rast[4 * p + 1], b2 = 1 - b0 - b1;
      const v0 = this.faces[3 * t], v1 = this.faces[3 * t + 1], v2 = this.faces[3 * t + 2];
      for (let c = 0; c < 3; c++) {
        const albedo = b0 * this.albedo[3 * v0 + c] + b1 * this.albedo[3 * v1 + c] + b2 * this.albedo[3 * v2 + c];
        maps.rgb[3 * p + c] = toByte(albedo * shade);
      }
      // The class: argmax over classes of the summed corner weights (= argmax of the interpolated one-hot).
      classWeight.fill(0);
      classWeight[this.classChannel[v0]] += b0;
      classWeight[this.classChannel[v1]] += b1;
      classWeight[this.classChannel[v2]] += b2;
      let best = 1, bestW = -Infinity;
      for (let k = 1; k < K; k++) {
        if (classWeight[k] > bestW) {
          bestW = classWeight[k];
          best = k;
        }
      }
      maps.segmentation[p] = SYNTH_CLASSES[best];
    }
    return { maps, landmarks, worldVertices: world };
  }
}

const GAMMA_STEPS = 4096;
const GAMMA_LUT = Uint8Array.from({ length: GAMMA_STEPS + 1 }, (_, i) => Math.round(255 * (i / GAMMA_STEPS) ** (1 / 2.2)));

/** [0,1] -> byte with gamma 1/2.2 (the albedos above are linear), through a table. */
function toByte(linear: number): number {
  return GAMMA_LUT[Math.round(GAMMA_STEPS * Math.min(1, Math.max(0, linear)))];
}

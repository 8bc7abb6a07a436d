// Optional FaRL face parsing (farl/celebm/448) as an ONNX model the user exports, with the alignment of
// spec 2.4. ONNX contract: input float32 [1,3,448,448] RGB in [0,1]; output float32 [1,19,448,448] logits
// in the CelebAMask class order of SEG_CLASS.
//
// Alignment: from 5 points (eyes, nose, mouth corners) an FFHQ-style quad, scaled x1.5 about its mean, is
// mapped by a similarity onto a square of side 448/f (f = 1.25 + clamp((500 - diag)/150, 0, 1)) centred in
// the 448 input; the logits are warped back (bilinear, zeros outside) and argmax'd; pixels whose 19 logits
// are all exactly zero (outside the warped region) get class 20, like the original. Our points are already
// in continuous pixel coordinates, so the original's +0.5 (pixel index -> centre) is not added.
import ort from 'onnxruntime-node';
import { SEG_CLASS } from '@pixel3dmm/formats';
import { PreprocessError } from '../errors.js';
import { warpToTensor, type Affine, type RgbImage } from '../image.js';
import { similarityTransform } from '../mica/mica.js';

export const FARL_SIZE = 448;
const CLASSES = 19;

type P = [number, number];

/** The affine from FaRL input pixels (continuous) to image pixels, from 5 keypoints [eyeL, eyeR, nose, mouthL, mouthR]. */
export function farlAlignment(kps: readonly P[]): { toImage: Affine; quad: P[] } {
  const [e1, e2, , m1, m2] = kps;
  const e: P = [(e1[0] + e2[0]) / 2, (e1[1] + e2[1]) / 2];
  const m: P = [(m1[0] + m2[0]) / 2, (m1[1] + m2[1]) / 2];
  const ee: P = [e2[0] - e1[0], e2[1] - e1[1]];
  const em: P = [m[0] - e[0], m[1] - e[1]];
  const rot90 = (v: P): P => [-v[1], v[0]];
  const r = rot90(em);
  let x: P = [ee[0] - r[0], ee[1] - r[1]];
  const xl = Math.hypot(...x);
  const s = Math.max(2 * Math.hypot(...ee), 1.8 * Math.hypot(...em));
  x = [(x[0] / xl) * s, (x[1] / xl) * s];
  const y = rot90(x);
  const c: P = [e[0] + 0.1 * em[0], e[1] + 0.1 * em[1]];
  let quad: P[] = [
    [c[0] - x[0] - y[0], c[1] - x[1] - y[1]],
    [c[0] + x[0] - y[0], c[1] + x[1] - y[1]],
    [c[0] + x[0] + y[0], c[1] + x[1] + y[1]],
    [c[0] - x[0] + y[0], c[1] - x[1] + y[1]],
  ];
  const mean: P = [quad.reduce((a, q) => a + q[0], 0) / 4, quad.reduce((a, q) => a + q[1], 0) / 4];
  quad = quad.map((q) => [mean[0] + 1.5 * (q[0] - mean[0]), mean[1] + 1.5 * (q[1] - mean[1])] as P);
  const diag = Math.hypot(quad[0][0] - quad[2][0], quad[0][1] - quad[2][1]);
  const f = 1.25 + Math.min(1, Math.max(0, (500 - diag) / 150));
  const T = FARL_SIZE / f;
  const o = Math.trunc((FARL_SIZE - T) / 2);
  const square: P[] = [[o, o], [o + T, o], [o + T, o + T], [o, o + T]];
  const t = similarityTransform(square, quad);
  return { toImage: { a: t.a, b: -t.b, c: t.b, d: t.a, e: t.tx, f: t.ty }, quad };
}

/** Warp [19, 448, 448] logits back to a size x size image through `toImage` and take the argmax (20 outside). */
export function logitsToClasses(logits: Float32Array, toImage: Affine, size: number): Uint8Array {
  const S = FARL_SIZE;
  const plane = S * S;
  // image -> FaRL input: invert the similarity.
  const det = toImage.a * toImage.d - toImage.b * toImage.c;
  const ia = toImage.d / det, ib = -toImage.b / det, ic = -toImage.c / det, id = toImage.a / det;
  const out = new Uint8Array(size * size);
  const v = new Float64Array(CLASSES);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const px = x + 0.5 - toImage.e;
      const py = y + 0.5 - toImage.f;
      const u = ia * px + ib * py - 0.5;
      const w = ic * px + id * py - 0.5;
      const x0 = Math.floor(u);
      const y0 = Math.floor(w);
      const fx = u - x0;
      const fy = w - y0;
      v.fill(0);
      for (let k = 0; k < 4; k++) {
        const xx = x0 + (k & 1);
        const yy = y0 + (k >> 1);
        if (xx < 0 || yy < 0 || xx >= S || yy >= S) continue;
        const wt = ((k & 1) ? fx : 1 - fx) * ((k >> 1) ? fy : 1 - fy);
        if (wt === 0) continue;
        const i = yy * S + xx;
        for (let c = 0; c < CLASSES; c++) v[c] += wt * logits[c * plane + i];
      }
      let best = 0;
      let allZero = v[0] === 0;
      for (let c = 1; c < CLASSES; c++) {
        if (v[c] !== 0) allZero = false;
        if (v[c] > v[best]) best = c;
      }
      out[y * size + x] = allZero ? SEG_CLASS.outside : best;
    }
  }
  return out;
}

export class FarlModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly file: string,
  ) {}

  static async load(file: string): Promise<FarlModel> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], logSeverityLevel: 3 });
    } catch (e) {
      throw new PreprocessError(file, `cannot load the FaRL ONNX model (${(e as Error).message})`, { cause: e });
    }
    const i = session.inputMetadata[0];
    const o = session.outputMetadata[0];
    const ish = i?.isTensor ? i.shape : [];
    const osh = o?.isTensor ? o.shape : [];
    if (ish.length !== 4 || ish[1] !== 3 || ish[2] !== FARL_SIZE || ish[3] !== FARL_SIZE || osh.length !== 4 || osh[1] !== CLASSES || osh[2] !== FARL_SIZE || osh[3] !== FARL_SIZE) {
      await session.release();
      throw new PreprocessError(file, `wrong signature for FaRL parsing: expected input float32 [1,3,448,448] and output [1,19,448,448], got ${JSON.stringify(ish)} -> ${JSON.stringify(osh)}`);
    }
    return new FarlModel(session, file);
  }

  /** Class map (img.width x img.width) of the square crop `img` from 5 keypoints in its pixels. */
  async parse(img: RgbImage, kps: readonly P[]): Promise<Uint8Array> {
    const { toImage } = farlAlignment(kps);
    const hwc = warpToTensor(img, toImage, FARL_SIZE, FARL_SIZE, 1 / 255, 0);
    const plane = FARL_SIZE * FARL_SIZE;
    const chw = new Float32Array(3 * plane);
    for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) chw[c * plane + i] = hwc[i * 3 + c];
    const out = await this.session.run({ [this.session.inputNames[0]]: new ort.Tensor('float32', chw, [1, 3, FARL_SIZE, FARL_SIZE]) });
    return logitsToClasses(out[this.session.outputNames[0]].data as Float32Array, toImage, img.width);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

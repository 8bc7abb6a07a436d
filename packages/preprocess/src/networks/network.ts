// One Pixel3DMM network on onnxruntime-node (CPU), with mirror TTA and batching: `batch` images go in one
// session run as 2 * batch tensors (each image followed by its mirror).
import ort from 'onnxruntime-node';
import { PreprocessError } from '../errors.js';
import type { RgbImage } from '../image.js';
import { checkSignature, NETWORK_CHANNELS, NETWORK_SIZE, type NetworkKind, type NetworkSignature } from './contract.js';
import { mergeMirrored } from './tta.js';

export class Pixel3dmmNetwork {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly file: string,
    readonly signature: NetworkSignature,
  ) {}

  get kind(): NetworkKind {
    return this.signature.kind;
  }

  static async load(file: string, want?: NetworkKind, threads?: number): Promise<Pixel3dmmNetwork> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], logSeverityLevel: 3, ...(threads ? { intraOpNumThreads: threads } : {}) });
    } catch (e) {
      throw new PreprocessError(file, `cannot load the ONNX model (${(e as Error).message})`, { cause: e });
    }
    try {
      return new Pixel3dmmNetwork(session, file, checkSignature(session, file, want));
    } catch (e) {
      await session.release();
      throw e;
    }
  }

  /** Images per session run: the requested batch, or what a fixed-batch graph allows. */
  imagesPerRun(requested: number): number {
    return this.signature.fixedBatch !== null ? this.signature.fixedBatch / 2 : Math.max(1, requested);
  }

  /**
   * TTA-averaged raw predictions ([C, 512, 512] each) for up to imagesPerRun() 512x512 images. `labels`
   * name the images in error messages.
   */
  async predict(images: RgbImage[], labels: string[]): Promise<Float32Array[]> {
    const S = NETWORK_SIZE;
    const plane = S * S;
    const per = this.signature.fixedBatch !== null ? this.signature.fixedBatch / 2 : images.length;
    if (images.length > per) throw new RangeError(`predict: ${images.length} images, the graph takes ${per}`);
    const B = 2 * per;
    const input = new Float32Array(B * 3 * plane);
    images.forEach((img, k) => {
      if (img.width !== S || img.height !== S) throw new PreprocessError(labels[k], `expected a ${S}x${S} crop, got ${img.width}x${img.height}`);
      const a = input.subarray(2 * k * 3 * plane, (2 * k + 1) * 3 * plane);
      const m = input.subarray((2 * k + 1) * 3 * plane, (2 * k + 2) * 3 * plane);
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          const s = (y * S + x) * 3;
          const d = y * S + x;
          const dm = y * S + (S - 1 - x);
          for (let c = 0; c < 3; c++) {
            const v = img.data[s + c] / 255;
            a[c * plane + d] = v;
            m[c * plane + dm] = v;
          }
        }
      }
    });
    // Unused slots of a fixed batch stay zero; their outputs are ignored.
    const out = await this.session.run({ [this.signature.inputName]: new ort.Tensor('float32', input, [B, 3, S, S]) });
    const t = out[this.signature.outputName];
    const C = NETWORK_CHANNELS[this.kind];
    const data = t.data as Float32Array;
    if (data.length !== B * C * plane) throw new PreprocessError(this.file, `output has ${data.length} values, expected ${B}x${C}x${S}x${S}`);
    const results: Float32Array[] = [];
    for (let k = 0; k < images.length; k++) {
      const p = data.subarray(2 * k * C * plane, (2 * k + 1) * C * plane);
      const q = data.subarray((2 * k + 1) * C * plane, (2 * k + 2) * C * plane);
      for (let i = 0; i < p.length; i += 4096) {
        if (!Number.isFinite(p[i]) || !Number.isFinite(q[i])) throw new PreprocessError(labels[k], `the ${this.kind} network (${this.file}) returned non-finite values`);
      }
      results.push(mergeMirrored(this.kind, p, q, S, S));
    }
    return results;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

// Optional PIPNet (WFLW-98, ResNet-18, 8x8 grid) as an ONNX model the user exports, decoded as in spec 2.2.
// ONNX contract: input float32 [1,3,256,256] RGB in [0,1] (ImageNet normalisation in the graph); outputs
// `cls` [1,98,8,8], `off_x`, `off_y` [1,98,8,8], `nb_x`, `nb_y` [1,980,8,8], and `meanface` [98,2] (the
// constant from PIPNet's meanface.txt, baked into the graph so the neighbour table travels with the model).
//
// Kept from the original: the box g(w) = int(w*(1.2-1)/2) in float64, the top moved DOWN by g(h) (PIPNet's
// demo, which the network was used with), clamping, end-exclusive crop, cv2-style resize to 256, the
// neighbour merge with reverse lists padded by repetition, X = x*w_box + xmin with w_box = xmax-xmin+1.
// Not kept: the red rectangle the original paints into the image before cropping (a demo artefact), and
// the FaceBoxesV2 box and its 0.99 gate: the box is the mesh's extent on the crop.
import ort from 'onnxruntime-node';
import { PreprocessError } from '../errors.js';
import { cropImage, resizeBilinear, type RgbImage } from '../image.js';
import type { IntBox } from '../crop.js';

export const PIPNET_SIZE = 256;
const NUM_NB = 10;
const OUTPUTS = ['cls', 'off_x', 'off_y', 'nb_x', 'nb_y', 'meanface'] as const;

/**
 * PIPNet's neighbour tables from the mean face: for each landmark its `numNb` nearest others (stable
 * order by distance), and for each landmark the (landmark, slot) pairs that predict it, padded by
 * repetition to the longest list.
 */
export function pipnetNeighbours(meanface: ArrayLike<number>, L: number, numNb: number): { nb: number[][]; reverse: [number, number][][] } {
  const nb: number[][] = [];
  for (let i = 0; i < L; i++) {
    const d = Array.from({ length: L }, (_, j) => [(meanface[2 * i] - meanface[2 * j]) ** 2 + (meanface[2 * i + 1] - meanface[2 * j + 1]) ** 2, j]);
    d.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    // argsort puts i itself (distance 0) first; PIPNet takes indices[1 : 1 + num_nb].
    nb.push(d.slice(1, 1 + numNb).map((e) => e[1]));
  }
  const rev: [number, number][][] = Array.from({ length: L }, () => []);
  for (let i = 0; i < L; i++) for (let j = 0; j < numNb; j++) rev[nb[i][j]].push([i, j]);
  const maxLen = Math.max(...rev.map((r) => r.length));
  // tmp += tmp * 10; tmp = tmp[:max_len]  (padding by repetition)
  const reverse = rev.map((r) => {
    if (r.length === 0) return [];
    const out = [...r];
    for (let k = 0; out.length < maxLen; k++) out.push(r[k % r.length]);
    return out.slice(0, maxLen);
  });
  return { nb, reverse };
}

export interface PipnetHeads {
  cls: Float32Array; // [L, G, G]
  offX: Float32Array;
  offY: Float32Array;
  nbX: Float32Array; // [L * numNb, G, G]
  nbY: Float32Array;
}

/** Spec 2.2 decoding -> L x (x, y) in [0,1] of the PIPNet input. */
export function decodePipnet(h: PipnetHeads, L: number, G: number, numNb: number, reverse: [number, number][][]): Float64Array {
  const cells = G * G;
  const own = new Float64Array(2 * L);
  const nbEst = new Float64Array(2 * L * numNb);
  for (let l = 0; l < L; l++) {
    let k = 0;
    for (let c = 1; c < cells; c++) if (h.cls[l * cells + c] > h.cls[l * cells + k]) k = c;
    const col = k % G;
    const row = Math.floor(k / G);
    own[2 * l] = (col + h.offX[l * cells + k]) / G;
    own[2 * l + 1] = (row + h.offY[l * cells + k]) / G;
    for (let j = 0; j < numNb; j++) {
      nbEst[2 * (l * numNb + j)] = (col + h.nbX[(l * numNb + j) * cells + k]) / G;
      nbEst[2 * (l * numNb + j) + 1] = (row + h.nbY[(l * numNb + j) * cells + k]) / G;
    }
  }
  const out = new Float64Array(2 * L);
  for (let l = 0; l < L; l++) {
    let sx = own[2 * l];
    let sy = own[2 * l + 1];
    for (const [i, j] of reverse[l]) {
      sx += nbEst[2 * (i * numNb + j)];
      sy += nbEst[2 * (i * numNb + j) + 1];
    }
    out[2 * l] = sx / (1 + reverse[l].length);
    out[2 * l + 1] = sy / (1 + reverse[l].length);
  }
  return out;
}

/** The PIPNet box from a face box (spec 2.2), inclusive, clamped to a W x H image. */
export function pipnetBox(box: IntBox, W: number, H: number): { xmin: number; ymin: number; xmax: number; ymax: number } {
  const g = (v: number) => Math.trunc((v * (1.2 - 1)) / 2);
  let xmin = box.x - g(box.w);
  let ymin = box.y + g(box.h);
  let xmax = box.x + box.w - 1 + g(box.w);
  let ymax = box.y + box.h - 1 + g(box.h);
  xmin = Math.max(0, xmin);
  ymin = Math.max(0, ymin);
  xmax = Math.min(W - 1, xmax);
  ymax = Math.min(H - 1, ymax);
  return { xmin, ymin, xmax, ymax };
}

export class PipnetModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly file: string,
    private readonly reverse: [number, number][][],
  ) {}

  static async load(file: string): Promise<PipnetModel> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], logSeverityLevel: 3 });
    } catch (e) {
      throw new PreprocessError(file, `cannot load the PIPNet ONNX model (${(e as Error).message})`, { cause: e });
    }
    const inp = session.inputMetadata[0];
    const shape = inp?.isTensor ? inp.shape : [];
    const missing = OUTPUTS.filter((o) => !session.outputNames.includes(o));
    if (session.inputNames.length !== 1 || shape.length !== 4 || shape[1] !== 3 || shape[2] !== PIPNET_SIZE || shape[3] !== PIPNET_SIZE || missing.length) {
      await session.release();
      throw new PreprocessError(file, `wrong signature for PIPNet: expected input float32 [1,3,256,256] and outputs ${OUTPUTS.join(', ')}; got input ${JSON.stringify(shape)}, outputs ${session.outputNames.join(', ')}`);
    }
    // The mean face is a constant output; one run with zeros reads it.
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', new Float32Array(3 * PIPNET_SIZE * PIPNET_SIZE), [1, 3, PIPNET_SIZE, PIPNET_SIZE]) });
    const mf = out.meanface.data as Float32Array;
    if (mf.length !== 98 * 2 || (out.cls.data as Float32Array).length !== 98 * 64 || (out.nb_x.data as Float32Array).length !== 980 * 64) {
      await session.release();
      throw new PreprocessError(file, `PIPNet outputs have the wrong sizes (expected cls 98x8x8, nb_x 980x8x8, meanface 98x2)`);
    }
    return new PipnetModel(session, file, pipnetNeighbours(mf, 98, NUM_NB).reverse);
  }

  /** 98 landmarks in pixels of `img` (the 512 crop) for the face box `box` (pixels of img). */
  async landmarks(img: RgbImage, box: IntBox): Promise<Float64Array> {
    const b = pipnetBox(box, img.width, img.height);
    // End-exclusive crop as the original (crop = image[ymin:ymax, xmin:xmax]).
    const patch = resizeBilinear(cropImage(img, b.xmin, b.ymin, b.xmax, b.ymax), PIPNET_SIZE, PIPNET_SIZE);
    const plane = PIPNET_SIZE * PIPNET_SIZE;
    const x = new Float32Array(3 * plane);
    for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) x[c * plane + i] = patch.data[i * 3 + c] / 255;
    const out = await this.session.run({ [this.session.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, PIPNET_SIZE, PIPNET_SIZE]) });
    const heads: PipnetHeads = {
      cls: out.cls.data as Float32Array,
      offX: out.off_x.data as Float32Array,
      offY: out.off_y.data as Float32Array,
      nbX: out.nb_x.data as Float32Array,
      nbY: out.nb_y.data as Float32Array,
    };
    const rel = decodePipnet(heads, 98, 8, NUM_NB, this.reverse);
    const wBox = b.xmax - b.xmin + 1;
    const hBox = b.ymax - b.ymin + 1;
    const res = new Float64Array(196);
    for (let l = 0; l < 98; l++) {
      res[2 * l] = rel[2 * l] * wBox + b.xmin;
      res[2 * l + 1] = rel[2 * l + 1] * hBox + b.ymin;
    }
    return res;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

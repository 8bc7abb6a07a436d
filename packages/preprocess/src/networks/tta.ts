// Mirror test-time augmentation (spec 3.2) and the PNG encodings (spec 3.4), on raw network outputs.
// The network sees each image and its horizontal mirror; the mirrored prediction is flipped back along W,
// then u -> -u + 2 * 0.0075 (uv) or n_x -> -n_x (normals), and the two predictions are averaged.
import { encodeNetworkNormalPixel, encodeUvPixel } from '@pixel3dmm/formats';
import type { NetworkKind } from './contract.js';

/** The original's uv mirror constant (net units; spec 9.1 discusses its sign). */
export const UV_MIRROR_OFFSET = 0.0075;

/**
 * Average a prediction and its mirrored twin. Both are [C, H, W] planes (channel-major) of one image;
 * returns a new [C, H, W] array.
 */
export function mergeMirrored(kind: NetworkKind, plain: Float32Array, mirrored: Float32Array, H: number, W: number): Float32Array {
  const C = kind === 'uv' ? 2 : 3;
  const out = new Float32Array(C * H * W);
  for (let c = 0; c < C; c++) {
    const negate = c === 0; // u for uv, n_x for normals
    const add = kind === 'uv' && c === 0 ? 2 * UV_MIRROR_OFFSET : 0;
    for (let y = 0; y < H; y++) {
      const row = c * H * W + y * W;
      for (let x = 0; x < W; x++) {
        const m = mirrored[row + (W - 1 - x)];
        const back = negate ? -m + add : m;
        out[row + x] = (plain[row + x] + back) / 2;
      }
    }
  }
  return out;
}

/** [C, H, W] raw prediction -> interleaved RGB8 as the original saves it (uv or normal encoding). */
export function encodePrediction(kind: NetworkKind, pred: Float32Array, H: number, W: number): Uint8Array {
  const out = new Uint8Array(H * W * 3);
  const plane = H * W;
  if (kind === 'uv') {
    for (let i = 0; i < plane; i++) encodeUvPixel(pred[i], pred[plane + i], out, i * 3);
  } else {
    for (let i = 0; i < plane; i++) encodeNetworkNormalPixel(pred[i], pred[plane + i], pred[2 * plane + i], out, i * 3);
  }
  return out;
}

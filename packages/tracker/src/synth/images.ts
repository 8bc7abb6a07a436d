// Byte images of a synthetic frame: the network-output PNG encodings (spec 3.4, through the encoders of
// @pixel3dmm/formats), the segmentation colour map and the landmark overlay (for looking at).
import { SEG_CLASS, encodeFlameNormalPixel, encodeUvPixel } from '@pixel3dmm/formats';
import sharp from 'sharp';

/** (u, 1-v) in png units [H*W*2] -> RGB8 as the UV network's PNG (R = u, G = 1-v, B = 0); 0 on uncovered pixels. */
export function encodeUvMap(uv: Float32Array, coverage: Uint8Array): Uint8Array {
  const out = new Uint8Array(coverage.length * 3);
  for (let p = 0; p < coverage.length; p++) {
    // The PNG stores (net + 1)/2, so the raw network output for a png value c is 2c - 1.
    if (coverage[p]) encodeUvPixel(2 * uv[2 * p] - 1, 2 * uv[2 * p + 1] - 1, out, 3 * p);
  }
  return out;
}

/** FLAME-space normals [H*W*3] -> RGB8 as the normal network's PNG ((n_F+1)/2); a zero normal gives 127. */
export function encodeNormalMap(normals: Float32Array): Uint8Array {
  const P = normals.length / 3;
  const out = new Uint8Array(P * 3);
  const zero = new Uint8Array(3);
  encodeFlameNormalPixel(0, 0, 0, zero, 0);
  for (let p = 0; p < P; p++) {
    const x = normals[3 * p], y = normals[3 * p + 1], z = normals[3 * p + 2];
    if (x === 0 && y === 0 && z === 0) out.set(zero, 3 * p);
    else encodeFlameNormalPixel(x, y, z, out, 3 * p);
  }
  return out;
}

/** Colours of the segmentation classes for seg_non_crop_annotations (any distinct colours; index = class id). */
const SEG_COLOURS: Record<number, [number, number, number]> = {
  [SEG_CLASS.background]: [0, 0, 0],
  [SEG_CLASS.neck]: [120, 90, 60],
  [SEG_CLASS.skin]: [230, 180, 150],
  [SEG_CLASS.cloth]: [60, 60, 160],
  [SEG_CLASS.rightEar]: [250, 120, 40],
  [SEG_CLASS.leftEar]: [40, 200, 120],
  [SEG_CLASS.rightBrow]: [120, 60, 20],
  [SEG_CLASS.leftBrow]: [20, 120, 60],
  [SEG_CLASS.rightEye]: [255, 0, 255],
  [SEG_CLASS.leftEye]: [0, 255, 255],
  [SEG_CLASS.nose]: [255, 230, 0],
  [SEG_CLASS.innerMouth]: [90, 0, 30],
  [SEG_CLASS.lowerLip]: [220, 30, 60],
  [SEG_CLASS.upperLip]: [255, 110, 140],
  [SEG_CLASS.hair]: [70, 50, 40],
  [SEG_CLASS.outside]: [255, 255, 255],
};

const SEG_LUT = (() => {
  const lut = new Uint8Array(256 * 3).fill(128);
  for (const [c, rgb] of Object.entries(SEG_COLOURS)) lut.set(rgb, 3 * Number(c));
  return lut;
})();

export function segmentationColours(seg: Uint8Array): Uint8Array {
  const out = new Uint8Array(seg.length * 3);
  for (let p = 0; p < seg.length; p++) {
    const c = 3 * seg[p];
    out[3 * p] = SEG_LUT[c];
    out[3 * p + 1] = SEG_LUT[c + 1];
    out[3 * p + 2] = SEG_LUT[c + 2];
  }
  return out;
}

/** WFLW-98 groups, for colouring the overlay. */
function landmarkColour(i: number): [number, number, number] {
  if (i <= 32) return [60, 220, 60]; // contour
  if (i <= 50) return [250, 220, 0]; // brows
  if (i <= 59) return [0, 220, 255]; // nose
  if (i <= 75) return [255, 0, 255]; // eyes
  if (i <= 95) return [255, 40, 40]; // mouth
  return i === 96 ? [40, 90, 255] : [255, 255, 255]; // pupils: 96 the subject's right (image-left), 97 the left
}

/**
 * The crop with the landmarks drawn as dots. `landmarks` [98,2] are normalised tracker coordinates (x_s/S):
 * tracker coordinate q is crop coordinate (q + 0.5) k - 0.5 with k = size/S, i.e. x * size - 0.5 + k/2.
 */
export function drawLandmarks(rgb: Uint8Array, size: number, landmarks: Float32Array, trackingSize: number): Uint8Array {
  const out = rgb.slice();
  const k = size / trackingSize;
  const r = Math.max(1, Math.round(size / 256));
  for (let i = 0; i < landmarks.length / 2; i++) {
    const x = landmarks[2 * i] * size - 0.5 + k / 2, y = landmarks[2 * i + 1] * size - 0.5 + k / 2;
    if (landmarks[2 * i] + landmarks[2 * i + 1] === 0) continue;
    const colour = landmarkColour(i);
    for (let dy = -r; dy <= r; dy++) {
      for (let dx = -r; dx <= r; dx++) {
        const px = Math.round(x) + dx, py = Math.round(y) + dy;
        if (dx * dx + dy * dy > r * r || px < 0 || py < 0 || px >= size || py >= size) continue;
        out.set(colour, 3 * (py * size + px));
      }
    }
  }
  return out;
}

/** 8-bit PNG; one channel is written as a grey PNG (sharp would otherwise expand it to sRGB). */
export async function pngBytes(pixels: Uint8Array, size: number, channels: 1 | 3): Promise<Uint8Array> {
  let img = sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), { raw: { width: size, height: size, channels } });
  if (channels === 1) img = img.toColourspace('b-w');
  const buf = await img.png({ compressionLevel: 3 }).toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

export async function jpegBytes(pixels: Uint8Array, size: number): Promise<Uint8Array> {
  const buf = await sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), { raw: { width: size, height: size, channels: 3 } })
    .jpeg({ quality: 95 })
    .toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

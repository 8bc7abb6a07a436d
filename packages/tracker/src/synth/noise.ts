// Noise levels of the synthetic subjects, mimicking the errors of the networks and detectors that produce the
// preprocessed data. 'none' is exact. Every perturbation is drawn from its own stream (random.ts) keyed by the
// seed and the frame, so a level changes only the files it is about:
//
// | level     | landmarks (px at S, per axis) | UV (png units [0,1])        | normals (angle)            | segmentation (crop px) | MICA identity (sigma) |
// |-----------|-------------------------------|-----------------------------|----------------------------|------------------------|-----------------------|
// | none      | 0                             | 0                           | 0                          | 0                      | 0                     |
// | realistic | sigma 1.0                     | pixel sigma 0.002 + LF 0.004| pixel 3 deg + LF 2 deg     | erode or dilate 2      | 0.3 + 0.1 per image   |
// | heavy     | sigma 3.0                     | pixel sigma 0.006 + LF 0.012| pixel 8 deg + LF 6 deg     | erode or dilate 6      | 0.6 + 0.2 per image   |
//
// "pixel" noise is i.i.d. Gaussian per pixel and channel; "LF" (low frequency) is a smooth field per channel:
// Gaussian values on a 6x6 grid over the crop, bilinearly interpolated, with that sigma. UV noise is added
// to (u, 1-v) where the mesh covers the pixel (a 0.004 UV error is about 2 tracker pixels on the face).
// Normal noise adds Gaussian vectors with per-axis sigma angle/sqrt(2) (so the RMS tilt is about the angle)
// to the unit normal, then renormalises. Segmentation noise moves the head's outline: each frame either
// dilates (background pixels next to the head take a neighbour's class) or erodes (head pixels next to the
// background become background), by the given number of 4-neighbour steps. Class boundaries inside the head
// are not moved. Landmark noise is Gaussian on the stored coordinates, all 98 points (pupils included).
// MICA identity noise (mica/*/identity.npy, the tracker's shape prior): the first 50 shape coefficients (the
// ones the identity uses) get one error per subject with the first sigma (MICA's systematic error for a
// person) plus one per MICA image with the second; on the built-in head a sigma of 0.3 on 50 coefficients is
// about 0.86 mm mean face-vertex error of the neutral head (MICA reports about 1.1 mm mean on NoW, against
// scans), 0.6 about 1.7 mm.
import { SEG_CLASS } from '@pixel3dmm/formats';
import { Rng, STREAM } from './random.js';
import type { SyntheticMaps } from './render.js';

export type NoiseLevel = 'none' | 'realistic' | 'heavy';
export const NOISE_LEVELS: readonly NoiseLevel[] = ['none', 'realistic', 'heavy'];

export interface NoiseSpec {
  /** Landmark jitter, pixels at the tracking size S, per axis. */
  landmarkPx: number;
  /** UV noise in png units: per-pixel sigma and low-frequency sigma. */
  uvPixel: number;
  uvLowFrequency: number;
  /** Normal noise, degrees: per-pixel and low-frequency. */
  normalPixelDeg: number;
  normalLowFrequencyDeg: number;
  /** Segmentation outline shift, crop pixels (erode or dilate, chosen per frame). */
  segmentationPx: number;
  /** MICA identity error (shape coefficients): per subject, and per MICA image on top. */
  micaSubject: number;
  micaImage: number;
}

export const NOISE_SPECS: Readonly<Record<NoiseLevel, Readonly<NoiseSpec>>> = {
  none: { landmarkPx: 0, uvPixel: 0, uvLowFrequency: 0, normalPixelDeg: 0, normalLowFrequencyDeg: 0, segmentationPx: 0, micaSubject: 0, micaImage: 0 },
  realistic: { landmarkPx: 1, uvPixel: 0.002, uvLowFrequency: 0.004, normalPixelDeg: 3, normalLowFrequencyDeg: 2, segmentationPx: 2, micaSubject: 0.3, micaImage: 0.1 },
  heavy: { landmarkPx: 3, uvPixel: 0.006, uvLowFrequency: 0.012, normalPixelDeg: 8, normalLowFrequencyDeg: 6, segmentationPx: 6, micaSubject: 0.6, micaImage: 0.2 },
};

export function parseNoiseLevel(value: string): NoiseLevel {
  if ((NOISE_LEVELS as readonly string[]).includes(value)) return value as NoiseLevel;
  throw new RangeError(`noise level must be one of ${NOISE_LEVELS.join(', ')}, got '${value}'`);
}

const LF_GRID = 6;

/** A smooth random field over a size x size image: a LF_GRID^2 Gaussian grid, bilinear in between. */
function lowFrequencyField(rng: Rng, size: number, sigma: number): Float32Array {
  const g = Float64Array.from({ length: LF_GRID * LF_GRID }, () => sigma * rng.normal());
  const out = new Float32Array(size * size);
  const scale = (LF_GRID - 1) / (size - 1);
  for (let y = 0; y < size; y++) {
    const gy = y * scale, y0 = Math.min(Math.floor(gy), LF_GRID - 2), fy = gy - y0;
    for (let x = 0; x < size; x++) {
      const gx = x * scale, x0 = Math.min(Math.floor(gx), LF_GRID - 2), fx = gx - x0;
      const a = g[y0 * LF_GRID + x0], b = g[y0 * LF_GRID + x0 + 1];
      const c = g[(y0 + 1) * LF_GRID + x0], d = g[(y0 + 1) * LF_GRID + x0 + 1];
      out[y * size + x] = (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
    }
  }
  return out;
}

/** Landmarks [98,2] (normalised by S) with jitter; a copy. */
export function noisyLandmarks(landmarks: Float32Array, spec: NoiseSpec, trackingSize: number, seed: number, frame: number): Float32Array {
  const out = landmarks.slice();
  if (spec.landmarkPx === 0) return out;
  const rng = new Rng(seed, STREAM.landmarkNoise, frame);
  for (let i = 0; i < out.length; i++) out[i] += (spec.landmarkPx * rng.normal()) / trackingSize;
  return out;
}

/** Coefficients of the identity that MICA noise perturbs (sampleIdentity uses the first 50). */
export const MICA_NOISY_COEFFICIENTS = 50;

/**
 * MICA's identity code [length] for the MICA image `image` (0, 1, ..): the true shape plus the subject's error
 * (the same for every image) and the image's own error, on the first MICA_NOISY_COEFFICIENTS coefficients.
 */
export function noisyMicaIdentity(shape: ArrayLike<number>, length: number, spec: NoiseSpec, seed: number, image: number): Float32Array {
  const out = new Float32Array(length);
  for (let k = 0; k < Math.min(length, shape.length); k++) out[k] = shape[k];
  if (spec.micaSubject === 0 && spec.micaImage === 0) return out;
  const subject = new Rng(seed, STREAM.micaNoise, 0);
  const own = new Rng(seed, STREAM.micaNoise, 1 + image);
  for (let k = 0; k < Math.min(length, MICA_NOISY_COEFFICIENTS); k++) out[k] += spec.micaSubject * subject.normal() + spec.micaImage * own.normal();
  return out;
}

/** UV map with noise on covered pixels; a copy. */
export function noisyUv(maps: SyntheticMaps, spec: NoiseSpec, seed: number, frame: number): Float32Array {
  const out = maps.uv.slice();
  if (spec.uvPixel === 0 && spec.uvLowFrequency === 0) return out;
  const rng = new Rng(seed, STREAM.uvNoise, frame);
  const N = maps.size;
  const lf = [lowFrequencyField(rng, N, spec.uvLowFrequency), lowFrequencyField(rng, N, spec.uvLowFrequency)];
  for (let p = 0; p < N * N; p++) {
    if (!maps.coverage[p]) continue;
    for (let c = 0; c < 2; c++) out[2 * p + c] += lf[c][p] + spec.uvPixel * rng.normal();
  }
  return out;
}

/** Normal map with angular noise on covered pixels (unit normals again); a copy. */
export function noisyNormals(maps: SyntheticMaps, spec: NoiseSpec, seed: number, frame: number): Float32Array {
  const out = maps.normals.slice();
  if (spec.normalPixelDeg === 0 && spec.normalLowFrequencyDeg === 0) return out;
  const rng = new Rng(seed, STREAM.normalNoise, frame);
  const N = maps.size;
  const perAxis = (deg: number) => (deg * Math.PI) / 180 / Math.SQRT2;
  const lf = [0, 1, 2].map(() => lowFrequencyField(rng, N, perAxis(spec.normalLowFrequencyDeg)));
  const s = perAxis(spec.normalPixelDeg);
  for (let p = 0; p < N * N; p++) {
    if (!maps.coverage[p]) continue;
    const n = [0, 1, 2].map((c) => out[3 * p + c] + lf[c][p] + s * rng.normal());
    const len = Math.hypot(n[0], n[1], n[2]);
    for (let c = 0; c < 3; c++) out[3 * p + c] = n[c] / len;
  }
  return out;
}

/** Segmentation with the head's outline eroded or dilated; a copy. */
export function noisySegmentation(seg: Uint8Array, size: number, spec: NoiseSpec, seed: number, frame: number): Uint8Array {
  let cur = seg.slice();
  if (spec.segmentationPx === 0) return cur;
  const rng = new Rng(seed, STREAM.segNoise, frame);
  const dilate = rng.uniform() < 0.5;
  const bg = SEG_CLASS.background;
  for (let step = 0; step < spec.segmentationPx; step++) {
    const next = cur.slice();
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const p = y * size + x;
        if ((cur[p] === bg) !== dilate) continue; // dilate grows into background, erode eats the head
        for (const [dx, dy] of [[1, 0], [-1, 0], [0, 1], [0, -1]]) {
          const qx = x + dx, qy = y + dy;
          if (qx < 0 || qy < 0 || qx >= size || qy >= size) continue;
          const q = qy * size + qx;
          if ((cur[q] === bg) !== dilate) {
            next[p] = dilate ? cur[q] : bg;
            break;
          }
        }
      }
    }
    cur = next;
  }
  return cur;
}

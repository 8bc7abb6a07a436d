// The preprocessed-data layout of Pixel3DMM (pixel3dmm-spec.md section 1), its segmentation classes (2.4) and
// the PNG encodings of the network outputs (3.4). Written by preprocessing (`@pixel3dmm/preprocess`) and by
// the synthetic-subject generator, read by the tracker, so data preprocessed by the original Python
// pipeline tracks as it is. Every path and encoding of that layout is defined here and nowhere else.
import { join } from 'node:path';

/** Frames are named by their index, zero-padded to five digits ("00000"), and must be contiguous. */
export function frameStem(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 99999) {
    throw new RangeError(`frame index must be an integer in [0, 99999], got ${index}`);
  }
  return String(index).padStart(5, '0');
}

/** Folders and files of `PREPROCESSED_DATA/VID/`, relative to that folder. */
export const PREPROCESSED_PATHS = {
  rgb: 'rgb',
  cropped: 'cropped',
  cropBox: 'crop_ymin_ymax_xmin_xmax.npy',
  landmarks: 'PIPnet_landmarks',
  annotated: 'PIPnet_annotated_images',
  mica: 'mica',
  segmentation: 'seg_og',
  segmentationColour: 'seg_non_crop_annotations',
  uvMap: join('p3dmm', 'uv_map'),
  normals: join('p3dmm', 'normals'),
  /** [input | prediction] side by side, 512x1024 JPEG per frame and network type. */
  networkPreview: 'p3dmm_wGT',
  /** All landmarks stacked, (N, 98, 2). */
  landmarkStack: join('pipnet', 'test.npy'),
  /** Not in the original layout: written last by each TS stage, so a rerun can skip finished work. */
  preprocessDone: 'preprocess.json',
  inferDone: join('p3dmm', 'infer.json'),
} as const;

/** Side of the square crop every later stage uses. */
export const CROP_SIZE = 512;
/** Number of WFLW landmarks in `PIPnet_landmarks/*.npy` (stored as [98, 2], normalised x/W, y/H of the crop). */
export const WFLW_LANDMARKS = 98;
/** WFLW indices of the pupils: 96 = the image-left eye (the subject's right), 97 = the image-right eye. */
export const WFLW_PUPILS = [96, 97] as const;
/** WFLW-98 -> iBUG-68 (spec 2.2), used for the camera warm-up and the eye / eyelid landmark terms. */
export const WFLW_TO_IBUG68: readonly number[] = [
  0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 33, 34, 35, 36, 37, 42, 43, 44, 45, 46, 51, 52, 53,
  54, 55, 56, 57, 58, 59, 60, 61, 63, 64, 65, 67, 68, 69, 71, 72, 73, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86,
  87, 88, 89, 90, 91, 92, 93, 94, 95,
];

/** Paths of one preprocessed subject (`PREPROCESSED_DATA/VID`). */
export class PreprocessedLayout {
  constructor(readonly root: string) {}

  /** VID: the folder's name. */
  get name(): string {
    return this.root.split(/[\\/]/).filter(Boolean).pop() ?? this.root;
  }

  dir(key: keyof typeof PREPROCESSED_PATHS): string {
    return join(this.root, PREPROCESSED_PATHS[key]);
  }

  rgb(i: number): string {
    return join(this.dir('rgb'), `${frameStem(i)}.jpg`);
  }

  /** The 512x512 crop; the tracker opens `.jpg` and falls back to `.png`. */
  cropped(i: number, ext: 'jpg' | 'png' = 'jpg'): string {
    return join(this.dir('cropped'), `${frameStem(i)}.${ext}`);
  }

  get cropBox(): string {
    return join(this.root, PREPROCESSED_PATHS.cropBox);
  }

  landmarks(i: number): string {
    return join(this.dir('landmarks'), `${frameStem(i)}.npy`);
  }

  annotated(i: number): string {
    return join(this.dir('annotated'), `${frameStem(i)}.jpg`);
  }

  /** `mica/{name}/identity.npy`: one 300-d FLAME2020 shape code per sampled image. */
  micaIdentity(name: string): string {
    return join(this.dir('mica'), name, 'identity.npy');
  }

  segmentation(i: number): string {
    return join(this.dir('segmentation'), `${frameStem(i)}.png`);
  }

  /** `seg_non_crop_annotations/color_{i:05d}.png`: colour picture of the class map. */
  segmentationColour(i: number): string {
    return join(this.dir('segmentationColour'), `color_${frameStem(i)}.png`);
  }

  /** `p3dmm_wGT/{type}/{i:05d}.jpg`, type 'uv_map' or 'normals'. */
  networkPreview(type: 'uv_map' | 'normals', i: number): string {
    return join(this.dir('networkPreview'), type, `${frameStem(i)}.jpg`);
  }

  file(key: 'landmarkStack' | 'preprocessDone' | 'inferDone'): string {
    return join(this.root, PREPROCESSED_PATHS[key]);
  }

  uvMap(i: number): string {
    return join(this.dir('uvMap'), `${frameStem(i)}.png`);
  }

  normals(i: number): string {
    return join(this.dir('normals'), `${frameStem(i)}.png`);
  }
}

/** Segmentation class ids of `seg_og/*.png` (CelebAMask / FaRL celebm order, spec 2.4). */
export const SEG_CLASS = {
  background: 0,
  neck: 1,
  skin: 2,
  cloth: 3,
  rightEar: 4,
  leftEar: 5,
  rightBrow: 6,
  leftBrow: 7,
  rightEye: 8,
  leftEye: 9,
  nose: 10,
  innerMouth: 11,
  lowerLip: 12,
  upperLip: 13,
  hair: 14,
  glasses: 15,
  hat: 16,
  earring: 17,
  necklace: 18,
  /** Outside the warped parsing region (all 19 logits exactly 0); NOT valid background. */
  outside: 20,
} as const;

/** The class sets the tracker builds its masks from (spec 2.4). */
export const SEG_MASKS = {
  uv: [1, 2, 4, 5, 6, 7, 10, 12, 13],
  normal: [2, 6, 7, 10, 11, 12, 13],
  bigNormal: [1, 2, 4, 5, 6, 7, 10, 11, 12, 13],
  foreground: [2, 6, 7, 8, 9, 10, 12, 13],
  validBackground: [0, 1],
} as const satisfies Record<string, readonly number[]>;

// ---- PNG encodings of the network outputs (spec 3.4). Both store byte = floor(255 c), truncation. ----

function byteOf(c: number): number {
  return Math.floor(255 * Math.min(1, Math.max(0, c)));
}

/**
 * UV map from the network's raw output (u_net, v_net ~ [-1, 1]) -> RGB8: R = (u+1)/2, G = (v+1)/2, B = 0.
 * The tracker reads it as (u, 1-v) of head_template.obj's UVs (spec 9.1).
 */
export function encodeUvPixel(uNet: number, vNet: number, out: Uint8Array, offset: number): void {
  out[offset] = byteOf((uNet + 1) / 2);
  out[offset + 1] = byteOf((vNet + 1) / 2);
  out[offset + 2] = 0;
}

/**
 * Normal map from a FLAME-space normal n_F (x = the subject's left, y up, z out of the face) -> RGB8 (n_F+1)/2
 * after normalising. This is what the original writes from the network's normal n as (e_x, 1-e_z, 1-e_y),
 * e = (n/|n|+1)/2, since n_F = (n_x, -n_z, -n_y); see `networkNormalToFlame`. A zero normal encodes as
 * 127 in every channel.
 */
export function encodeFlameNormalPixel(nx: number, ny: number, nz: number, out: Uint8Array, offset: number): void {
  const len = Math.hypot(nx, ny, nz);
  const s = len > 0 ? 1 / len : 0;
  out[offset] = byteOf((nx * s + 1) / 2);
  out[offset + 1] = byteOf((ny * s + 1) / 2);
  out[offset + 2] = byteOf((nz * s + 1) / 2);
}

/**
 * Normal map from the normal network's raw output n (one pixel), exactly as the original writes it:
 * n̂ = n/|n|, e = clamp((n̂+1)/2), channels (e_x, 1-e_z, 1-e_y). Same picture as encodeFlameNormalPixel of
 * networkNormalToFlame(n), but in the original's order of operations, so bytes match at rounding boundaries.
 */
export function encodeNetworkNormalPixel(nx: number, ny: number, nz: number, out: Uint8Array, offset: number): void {
  const len = Math.hypot(nx, ny, nz);
  const e = (c: number) => Math.min(1, Math.max(0, ((len > 0 ? c / len : 0) + 1) / 2));
  out[offset] = byteOf(e(nx));
  out[offset + 1] = byteOf(1 - e(nz));
  out[offset + 2] = byteOf(1 - e(ny));
}

/** The normal network's output frame -> FLAME space: n_F = (n_x, -n_z, -n_y) (spec 3.4). */
export function networkNormalToFlame(n: readonly [number, number, number]): [number, number, number] {
  return [n[0], -n[2], -n[1]];
}

/** The tracker's decoding of either PNG: 2 byte / 255 - 1 for normals, byte / 255 for UVs (spec 6). */
export function decodeNormalByte(byte: number): number {
  return (2 * byte) / 255 - 1;
}

export function decodeUvByte(byte: number): number {
  return byte / 255;
}

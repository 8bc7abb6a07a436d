// Reads a preprocessed subject (spec 1, the layout of @pixel3dmm/formats PreprocessedLayout) as the original
// Python pipeline writes it, so real preprocessed data tracks as it is, and as `pixel3dmm synth` writes it.
//
// Opening checks the whole layout once (names only, no image decoded): the frames are cropped/{i}.jpg, or
// .png where no .jpg exists (the tracker's fallback), named 00000.. and contiguous; every seg_og,
// p3dmm/uv_map, p3dmm/normals and PIPnet_landmarks file must belong to a crop; seg_og must be complete, and
// so must uv_map and normals when their folders exist; landmark files may be missing (a failed detection:
// all 98 invalid, spec 2.2). Then `frame(i)` reads one frame on demand (a long video is never all in memory):
//   rgb      = crop / 255, resized bicubic to S;
//   normals  = 2 png/255 - 1 of the normal PNG resized bicubic (Pillow, 8-bit) to S;
//   uv       = png/255 (R, G) of the UV PNG resized bicubic to S, set to 0 where masks.uv is 0 (spec 6);
//   with `png_bin_centres` (on in the tracker's defaults, a deviation from the original; off when a caller's
//   config leaves it out) both decode at the centre of
//   the byte's bin, (png + 0.5)/255: the networks' PNGs truncate (byte = floor(255 c), spec 3.4), so png/255
//   is low by half a step on average (-0.5/255 in UV, -1/255 in the normals);
//   seg      = seg_og resized NEAREST to S, and the masks of SEG_MASKS from it;
//   landmarks = lmk98 * S, valid where x + y != 0.
// uv / normals are null when their folder is absent (landmark-and-silhouette tracking).
// The shape prior is the mean of mica/*/identity.npy (zeros when there is none, or with ignore_mica).
// Every image must be CROP_SIZE x CROP_SIZE (512).
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { CROP_SIZE, PreprocessedLayout, SEG_MASKS, WFLW_LANDMARKS, readNpy, type NdArray } from '@pixel3dmm/formats';
import sharp, { type OutputInfo } from 'sharp';
import type { TrackerConfig } from '../config.js';
import type { FrameData } from '../types.js';
import { resizeBicubicPil, resizeNearestPil } from './pil-resize.js';

/** The original tracks at most this many frames (MAX_STEPS = min(#cropped - start_frame, 1000), spec 1). */
export const MAX_TRACKED_FRAMES = 1000;
/** Length of a MICA identity code (FLAME2020 shape). */
export const MICA_SHAPE_LENGTH = 300;

export class PreprocessedDataError extends Error {
  override name = 'PreprocessedDataError';
}

export interface PreprocessedSequence {
  readonly dir: string;
  readonly layout: PreprocessedLayout;
  /** Frames to track: min(#crops, maxFrames). */
  readonly numFrames: number;
  /** Same as numFrames (the runner's FrameSource). */
  readonly count: number;
  /** Crops found (may exceed numFrames). */
  readonly numCrops: number;
  /** Render size S of the FrameData. */
  readonly size: number;
  readonly hasUv: boolean;
  readonly hasNormals: boolean;
  /** Mean MICA identity [300], or zeros. */
  readonly shapePrior: Float64Array;
  /** The mica/*\/identity.npy files averaged into shapePrior. */
  readonly micaFiles: string[];
  /** One frame's tracking inputs, read from disk now. */
  frame(index: number): Promise<FrameData>;
}

export interface OpenOptions {
  /** Cap on the frames (default MAX_TRACKED_FRAMES, as the original). */
  maxFrames?: number;
}

const STEM = /^(\d{5})\.(\w+)$/;

/** Stems (frame numbers) of the files with one of `exts` in a folder; other names are an error. */
function listFrames(dir: string, exts: string[], what: string): Map<number, string> {
  const found = new Map<number, string>();
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) continue;
    const m = STEM.exec(name);
    if (!m || !exts.includes(m[2].toLowerCase())) {
      // Editor backups, .DS_Store and the like are ignored; another extension of a frame name is not.
      if (/^\d+\./.test(name)) throw new PreprocessedDataError(`${full}: unexpected ${what} file name (expected NNNNN.${exts.join(' or NNNNN.')})`);
      continue;
    }
    const i = Number(m[1]);
    const prev = found.get(i);
    // The tracker opens .jpg first and falls back to .png.
    if (prev === undefined || exts.indexOf(m[2].toLowerCase()) < exts.indexOf(prev.split('.').pop()!.toLowerCase())) found.set(i, full);
  }
  return found;
}

function checkContiguous(frames: Map<number, string>, dir: string): void {
  const ids = [...frames.keys()].sort((a, b) => a - b);
  ids.forEach((id, k) => {
    if (id !== k) {
      const expected = String(k).padStart(5, '0');
      throw new PreprocessedDataError(`${dir}: frames must be named 00000.. and contiguous, but ${expected} is missing (next is ${frames.get(id)})`);
    }
  });
}

/** A per-frame folder next to the crops: every file must belong to a crop; `complete` requires one per crop. */
function checkCompanion(dir: string, exts: string[], what: string, numCrops: number, complete: boolean): Map<number, string> {
  const files = listFrames(dir, exts, what);
  for (const [i, file] of files) {
    if (i >= numCrops) throw new PreprocessedDataError(`${file}: a ${what} for frame ${i}, but there is no crop cropped/${String(i).padStart(5, '0')}.jpg or .png`);
  }
  if (complete) {
    for (let i = 0; i < numCrops; i++) {
      if (!files.has(i)) throw new PreprocessedDataError(`${join(dir, String(i).padStart(5, '0'))}.${exts[0]}: missing ${what} for frame ${i}`);
    }
  }
  return files;
}

function readNpyFile(file: string): NdArray {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (e) {
    throw new PreprocessedDataError(`${file}: cannot read (${(e as Error).message})`);
  }
  return readNpy(bytes, file);
}

function floatValues(a: NdArray, file: string, shape: number[]): Float64Array {
  if (a.shape.length !== shape.length || a.shape.some((s, i) => s !== shape[i])) {
    throw new PreprocessedDataError(`${file}: has shape (${a.shape.join(', ')}), expected (${shape.join(', ')})`);
  }
  if (a.dtype !== '<f4' && a.dtype !== '<f8') throw new PreprocessedDataError(`${file}: has dtype ${a.dtype}, expected float32 or float64`);
  const out = Float64Array.from(a.data as Float32Array | Float64Array);
  for (let i = 0; i < out.length; i++) if (!Number.isFinite(out[i])) throw new PreprocessedDataError(`${file}: non-finite value at flat index ${i}`);
  return out;
}

function meanMicaIdentity(layout: PreprocessedLayout): { prior: Float64Array; files: string[] } {
  const prior = new Float64Array(MICA_SHAPE_LENGTH);
  const dir = layout.dir('mica');
  if (!existsSync(dir)) return { prior, files: [] };
  const files = readdirSync(dir)
    .sort()
    .map((name) => layout.micaIdentity(name))
    .filter((f) => existsSync(f));
  for (const f of files) {
    const v = floatValues(readNpyFile(f), f, [MICA_SHAPE_LENGTH]);
    for (let k = 0; k < MICA_SHAPE_LENGTH; k++) prior[k] += v[k] / files.length;
  }
  return { prior, files };
}

/**
 * Decoded 8-bit image [size, size, channels], as PIL's np.array(Image.open(file)) gives it: no colour
 * management (an embedded ICC profile is ignored), no EXIF rotation, alpha dropped; a grey image read for
 * RGB is replicated to three channels; a class map must be a one-channel image.
 */
async function decodeImage(file: string, channels: 1 | 3): Promise<Uint8Array> {
  let data: Buffer, info: OutputInfo;
  try {
    const img = sharp(file, { failOn: 'error', ignoreIcc: true });
    const meta = await img.metadata();
    const grey = (meta.channels ?? 3) <= 2; // grey, or grey + alpha
    if (channels === 1 && !grey) throw new PreprocessedDataError(`${file}: has ${meta.channels} channels, expected a one-channel class map`);
    // sharp writes every image as sRGB unless told otherwise (a grey image is then replicated, as PIL's RGB).
    const pipeline = channels === 1 ? img.extractChannel(0) : img.removeAlpha();
    ({ data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
  } catch (e) {
    if (e instanceof PreprocessedDataError) throw e;
    throw new PreprocessedDataError(`${file}: cannot decode the image (${(e as Error).message})`);
  }
  if (info.width !== CROP_SIZE || info.height !== CROP_SIZE) {
    throw new PreprocessedDataError(`${file}: is ${info.width}x${info.height}, expected ${CROP_SIZE}x${CROP_SIZE}`);
  }
  if (info.channels !== channels) throw new PreprocessedDataError(`${file}: decoded to ${info.channels} channels, expected ${channels}`);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Opens PREPROCESSED_DATA/VID for tracking at config.size. Throws PreprocessedDataError (naming the file or
 * folder) for a layout the tracker cannot use.
 */
export async function openPreprocessed(dir: string, config: Pick<TrackerConfig, 'size' | 'ignore_mica'> & Partial<Pick<TrackerConfig, 'png_bin_centres'>>, options: OpenOptions = {}): Promise<PreprocessedSequence> {
  const layout = new PreprocessedLayout(dir);
  const S = config.size;
  if (!Number.isInteger(S) || S < 1 || S > 4096) throw new PreprocessedDataError(`size: expected an integer render size in [1, 4096], got ${S}`);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new PreprocessedDataError(`${dir}: no such preprocessed-data folder`);
  const croppedDir = layout.dir('cropped');
  if (!existsSync(croppedDir)) throw new PreprocessedDataError(`${croppedDir}: missing (the 512x512 face crops, spec 1): nothing to track`);
  const crops = listFrames(croppedDir, ['jpg', 'png'], 'crop');
  if (crops.size === 0) throw new PreprocessedDataError(`${croppedDir}: no crops named 00000.jpg or 00000.png: nothing to track`);
  checkContiguous(crops, croppedDir);
  const numCrops = crops.size;

  const segDir = layout.dir('segmentation');
  if (!existsSync(segDir)) throw new PreprocessedDataError(`${segDir}: missing (the segmentation class maps, spec 2.4), needed for the tracker's masks`);
  const segs = checkCompanion(segDir, ['png'], 'segmentation', numCrops, true);
  const uvDir = layout.dir('uvMap');
  const normalDir = layout.dir('normals');
  const uvs = existsSync(uvDir) ? checkCompanion(uvDir, ['png'], 'UV map', numCrops, true) : null;
  const normals = existsSync(normalDir) ? checkCompanion(normalDir, ['png'], 'normal map', numCrops, true) : null;
  const lmkDir = layout.dir('landmarks');
  const lmks = existsSync(lmkDir) ? checkCompanion(lmkDir, ['npy'], 'landmark file', numCrops, false) : new Map<number, string>();
  const mica = config.ignore_mica ? { prior: new Float64Array(MICA_SHAPE_LENGTH), files: [] } : meanMicaIdentity(layout);
  const maxFrames = options.maxFrames ?? MAX_TRACKED_FRAMES;
  const numFrames = Math.min(numCrops, maxFrames);

  // png/255 (the original) or the bin centre (png + 0.5)/255 of the truncating encoder.
  const binOffset = config.png_bin_centres ? 0.5 : 0;
  const frame = async (index: number): Promise<FrameData> => {
    if (!Number.isInteger(index) || index < 0 || index >= numFrames) {
      throw new RangeError(`${dir}: frame ${index} out of range [0, ${numFrames})`);
    }
    const toSize = (img: Uint8Array, ch: number) => (S === CROP_SIZE ? img : resizeBicubicPil(img, CROP_SIZE, CROP_SIZE, ch, S, S));
    const [rgb8, seg8, uv8, n8] = await Promise.all([
      decodeImage(crops.get(index)!, 3).then((b) => toSize(b, 3)),
      decodeImage(segs.get(index)!, 1).then((b) => resizeNearestPil(b, CROP_SIZE, CROP_SIZE, 1, S, S)),
      uvs ? decodeImage(uvs.get(index)!, 3).then((b) => toSize(b, 3)) : null,
      normals ? decodeImage(normals.get(index)!, 3).then((b) => toSize(b, 3)) : null,
    ]);
    const P = S * S;
    const rgb = new Float32Array(P * 3);
    for (let i = 0; i < P * 3; i++) rgb[i] = rgb8[i] / 255;
    const mask = (classes: readonly number[]) => {
      const lut = new Uint8Array(256);
      for (const c of classes) lut[c] = 1;
      return seg8.map((c) => lut[c]);
    };
    const masks = {
      uv: mask(SEG_MASKS.uv),
      normal: mask(SEG_MASKS.normal),
      foreground: mask(SEG_MASKS.foreground),
      validBackground: mask(SEG_MASKS.validBackground),
    };
    let uv: Float32Array | null = null;
    if (uv8) {
      uv = new Float32Array(P * 2);
      for (let p = 0; p < P; p++) {
        if (!masks.uv[p]) continue;
        uv[2 * p] = (uv8[3 * p] + binOffset) / 255;
        uv[2 * p + 1] = (uv8[3 * p + 1] + binOffset) / 255;
      }
    }
    let nrm: Float32Array | null = null;
    if (n8) {
      nrm = new Float32Array(P * 3);
      for (let i = 0; i < P * 3; i++) nrm[i] = (2 * (n8[i] + binOffset)) / 255 - 1;
    }
    const landmarks98 = new Float32Array(WFLW_LANDMARKS * 2);
    const landmarkValid = new Uint8Array(WFLW_LANDMARKS);
    const lmkFile = lmks.get(index);
    if (lmkFile) {
      const v = floatValues(readNpyFile(lmkFile), lmkFile, [WFLW_LANDMARKS, 2]);
      for (let l = 0; l < WFLW_LANDMARKS; l++) {
        landmarks98[2 * l] = v[2 * l] * S;
        landmarks98[2 * l + 1] = v[2 * l + 1] * S;
        landmarkValid[l] = v[2 * l] + v[2 * l + 1] !== 0 ? 1 : 0;
      }
    }
    return { index, size: S, rgb, uv, normals: nrm, segmentation: seg8, masks, landmarks98, landmarkValid };
  };

  return {
    dir,
    layout,
    numFrames,
    count: numFrames,
    numCrops,
    size: S,
    hasUv: uvs !== null,
    hasNormals: normals !== null,
    shapePrior: mica.prior,
    micaFiles: mica.files,
    frame,
  };
}


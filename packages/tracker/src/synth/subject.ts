// A synthetic subject written in the preprocessed layout (spec 1, @pixel3dmm/formats PreprocessedLayout),
// with its ground truth: what `pixel3dmm synth` produces and what the tracker's tests and the demo track.
//
// Files (i = frame stem 00000..): cropped/{i}.png (the shaded render; the tracker falls back to .png),
// rgb/{i}.jpg (the same picture, JPEG q95: the "raw frame" is the crop itself), crop_ymin_ymax_xmin_xmax.npy
// (int64 [0, 511, 0, 511]: the whole 512 frame), PIPnet_landmarks/{i}.npy (float32 [98,2]), seg_og/{i}.png
// (grey 8-bit class ids), seg_non_crop_annotations/color_{i}.png, PIPnet_annotated_images/{i}.jpg (the crop
// with its landmarks), p3dmm/uv_map/{i}.png, p3dmm/normals/{i}.png, mica/{i}/identity.npy (float32 [300]: MICA's
// identity code for every max(1, floor(N/10))-th frame, as the original's MICA step samples them (spec 2.3):
// the true shape, with the noise level's MICA error; `mica: false` leaves the folder out, so the tracker's
// shape prior is 0), and ground_truth.json (written last: a folder without it is incomplete). Every file is
// written atomically.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlameParams, type FlameModel, type FlameParams } from '@pixel3dmm/flame';
import { CROP_SIZE, NdArray, PREPROCESSED_PATHS, PreprocessedLayout, frameStem, writeFileAtomic, writeNpy } from '@pixel3dmm/formats';
import { DEFAULT_FOCAL, makeCamera } from '@pixel3dmm/render';
import { drawLandmarks, encodeNormalMap, encodeUvMap, jpegBytes, pngBytes, segmentationColours } from './images.js';
import { FRAME_RATE, sampleMotion } from './motion.js';
import { NOISE_SPECS, noisyLandmarks, noisyMicaIdentity, noisyNormals, noisySegmentation, noisyUv, type NoiseLevel, type NoiseSpec } from './noise.js';
import { SyntheticRenderer, cropCamera } from './render.js';
import { extendBeyondCoverage } from './extend.js';

export const GROUND_TRUTH_FILE = 'ground_truth.json';

export interface SyntheticSubjectOptions {
  /** PREPROCESSED_DATA/VID: created; must be empty or absent unless `overwrite`. */
  out: string;
  frames: number;
  model: FlameModel;
  /** Explicit ground truth per frame instead of the random identity and motion (their count must be `frames`). */
  frameParams?: FlameParams[];
  /** Seed of the identity, motion and noise (default 0). */
  seed?: number;
  noise?: NoiseLevel;
  /** The tracker's render size S (landmarks are projected at S; default 256). */
  trackingSize?: number;
  /** Focal length as a fraction of S (default 2000/512, the tracker's initial value). */
  focal?: number;
  /** Remove the layout's folders and files of a previous subject in `out` first. */
  overwrite?: boolean;
  /** Write the MICA identity files (mica/{i}/identity.npy; default true). */
  mica?: boolean;
  /** Where the model came from, for ground_truth.json (e.g. "built-in synthetic head (seed 0)" or a path). */
  modelDescription?: string;
}

/** One frame of ground_truth.json: a FLAME parameter file (params.ts) plus its camera. */
export interface GroundTruthFrame extends FlameParams {
  frame: number;
  focal_length: number;
  principal_point: [number, number];
  image_size: [number, number];
}

export interface GroundTruth {
  generator: 'pixel3dmm synth';
  model: string;
  seed: number;
  noise: NoiseLevel;
  noiseSpec: NoiseSpec;
  frameRate: number;
  cropSize: number;
  /** The crop render's camera: the tracker's, with pp shifted by half a crop pixel (render.ts). */
  cropPrincipalPoint: [number, number];
  pupilVertices: { right: number; left: number };
  frames: GroundTruthFrame[];
}

export interface SyntheticSubject {
  dir: string;
  groundTruth: GroundTruth;
  seconds: number;
}

/** The names this writer creates at the top of the folder (removed by `overwrite`). */
const WRITTEN = [
  PREPROCESSED_PATHS.cropped,
  PREPROCESSED_PATHS.rgb,
  PREPROCESSED_PATHS.landmarks,
  PREPROCESSED_PATHS.annotated,
  PREPROCESSED_PATHS.segmentation,
  PREPROCESSED_PATHS.segmentationColour,
  'p3dmm',
  PREPROCESSED_PATHS.cropBox,
  PREPROCESSED_PATHS.mica,
  GROUND_TRUTH_FILE,
];

/** Crop pixels by which the UV and normal maps continue past the mesh's outline (extend.ts). */
export const EXTEND_PX = 8;

/** Length of a MICA identity code (FLAME2020 shape). */
const MICA_LENGTH = 300;

export async function writeSyntheticSubject(options: SyntheticSubjectOptions): Promise<SyntheticSubject> {
  const t0 = performance.now();
  const { out, frames, model } = options;
  const seed = options.seed ?? 0;
  const noise = options.noise ?? 'none';
  const S = options.trackingSize ?? 256;
  if (!Number.isInteger(frames) || frames < 1 || frames > 99999) throw new RangeError(`frames must be an integer in [1, 99999], got ${frames}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`seed must be an integer in [0, 2^32), got ${seed}`);
  const spec = NOISE_SPECS[noise];
  if (!spec) throw new RangeError(`noise must be one of ${Object.keys(NOISE_SPECS).join(', ')}, got '${noise}'`);
  const tracking = makeCamera(S, options.focal ?? DEFAULT_FOCAL);
  const params = options.frameParams ?? sampleMotion(model, frames, seed);
  if (params.length !== frames) throw new RangeError(`frameParams has ${params.length} entries, expected frames = ${frames}`);
  const renderer = new SyntheticRenderer(model);
  prepareFolder(out, !!options.overwrite);

  const layout = new PreprocessedLayout(out);
  for (const key of ['cropped', 'rgb', 'landmarks', 'annotated', 'segmentation', 'segmentationColour', 'uvMap', 'normals'] as const) {
    mkdirSync(layout.dir(key), { recursive: true });
  }
  await writeFileAtomic(layout.cropBox, writeNpy(new NdArray('<i8', [4], BigInt64Array.from([0n, 511n, 0n, 511n]))));

  const N = CROP_SIZE;
  // Frame i's files are encoded and written (sharp and the file system work off the main thread) while
  // frame i + 1 renders; at most one frame's writes are in flight.
  let pending: Promise<unknown> = Promise.resolve();
  for (let i = 0; i < frames; i++) {
    const { maps, landmarks } = renderer.render(params[i], tracking, N);
    const lmk = noisyLandmarks(landmarks, spec, S, seed, i);
    const seg = noisySegmentation(maps.segmentation, N, spec, seed, i);
    // The maps continue past the outline for EXTEND_PX crop pixels, as a network's would (extend.ts).
    const uvValues = noisyUv(maps, spec, seed, i);
    const uvFilled = extendBeyondCoverage(uvValues, 2, maps.coverage, N, EXTEND_PX);
    const uv = encodeUvMap(uvValues, uvFilled);
    const normalValues = noisyNormals(maps, spec, seed, i);
    const normalFilled = extendBeyondCoverage(normalValues, 3, maps.coverage, N, EXTEND_PX);
    for (let p = 0; p < N * N; p++) {
      if (!normalFilled[p] || maps.coverage[p]) continue;
      const o = 3 * p, len = Math.hypot(normalValues[o], normalValues[o + 1], normalValues[o + 2]);
      for (let c = 0; c < 3; c++) normalValues[o + c] = len > 0 ? normalValues[o + c] / len : 0;
    }
    const normals = encodeNormalMap(normalValues);
    const stem = frameStem(i);
    await pending;
    pending = Promise.all([
      pngBytes(maps.rgb, N, 3).then((b) => writeFileAtomic(layout.cropped(i, 'png'), b)),
      jpegBytes(maps.rgb, N).then((b) => writeFileAtomic(layout.rgb(i), b)),
      writeFileAtomic(layout.landmarks(i), writeNpy(new NdArray('<f4', [98, 2], lmk))),
      jpegBytes(drawLandmarks(maps.rgb, N, lmk, S), N).then((b) => writeFileAtomic(layout.annotated(i), b)),
      pngBytes(seg, N, 1).then((b) => writeFileAtomic(layout.segmentation(i), b)),
      pngBytes(segmentationColours(seg), N, 3).then((b) => writeFileAtomic(join(layout.dir('segmentationColour'), `color_${stem}.png`), b)),
      pngBytes(uv, N, 3).then((b) => writeFileAtomic(layout.uvMap(i), b)),
      pngBytes(normals, N, 3).then((b) => writeFileAtomic(layout.normals(i), b)),
    ]);
    // Keep a failure from being reported as unhandled before it is awaited.
    pending.catch(() => undefined);
  }
  await pending;

  if (options.mica !== false) {
    // The original's MICA step runs on every max(1, N // 10)-th crop; the tracker averages the codes.
    const step = Math.max(1, Math.floor(frames / 10));
    for (let i = 0, image = 0; i < frames; i += step, image++) {
      const code = noisyMicaIdentity(params[i].shape, MICA_LENGTH, spec, seed, image);
      const file = layout.micaIdentity(frameStem(i));
      mkdirSync(join(file, '..'), { recursive: true });
      await writeFileAtomic(file, writeNpy(new NdArray('<f4', [MICA_LENGTH], code)));
    }
  }

  const crop = cropCamera(tracking, N);
  const groundTruth: GroundTruth = {
    generator: 'pixel3dmm synth',
    model: options.modelDescription ?? model.source,
    seed,
    noise,
    noiseSpec: { ...spec },
    frameRate: FRAME_RATE,
    cropSize: N,
    cropPrincipalPoint: [crop.pp[0], crop.pp[1]],
    pupilVertices: renderer.pupils,
    frames: params.map((p, i) => ({
      frame: i,
      ...p,
      focal_length: tracking.focal,
      principal_point: [tracking.pp[0], tracking.pp[1]],
      image_size: [S, S],
    })),
  };
  await writeFileAtomic(join(out, GROUND_TRUTH_FILE), JSON.stringify(groundTruth, null, 1) + '\n');
  return { dir: out, groundTruth, seconds: (performance.now() - t0) / 1000 };
}

/** Throws unless `out` is absent, empty, or `overwrite` is set (checked before any work, and again before writing). */
export function checkOutputFolder(out: string, overwrite: boolean): void {
  if (!overwrite && existsSync(out) && readdirSync(out).length > 0) {
    throw new Error(`${out}: the output folder is not empty (use --force to replace a previous synthetic subject)`);
  }
}

function prepareFolder(out: string, overwrite: boolean): void {
  checkOutputFolder(out, overwrite);
  if (overwrite && existsSync(out)) for (const name of WRITTEN) rmSync(join(out, name), { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
}

/**
 * Reads and checks `ground_truth.json` of a synthetic subject folder; every frame's parameters are validated
 * against the model's component counts (parseFlameParams).
 */
export function readGroundTruth(dir: string, limits: { numShape: number; numExpression: number }): GroundTruth {
  const file = join(dir, GROUND_TRUTH_FILE);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: cannot read the ground truth (${(e as Error).message})`);
  }
  const gt = json as GroundTruth;
  if (typeof json !== 'object' || json === null || gt.generator !== 'pixel3dmm synth' || !Array.isArray(gt.frames)) {
    throw new Error(`${file}: not a ground truth written by pixel3dmm synth (expected "generator" and "frames")`);
  }
  gt.frames = gt.frames.map((f, i) => {
    if (typeof f !== 'object' || f === null || f.frame !== i) throw new Error(`${file}: frames[${i}] must be an object with "frame": ${i}`);
    const { frame, focal_length, principal_point, image_size, ...params } = f;
    const parsed = parseFlameParams(params, `${file} frames[${i}]`, limits);
    if (typeof focal_length !== 'number' || !Array.isArray(principal_point) || !Array.isArray(image_size)) {
      throw new Error(`${file}: frames[${i}] must have focal_length, principal_point and image_size`);
    }
    return { frame, ...parsed, focal_length, principal_point, image_size };
  });
  return gt;
}

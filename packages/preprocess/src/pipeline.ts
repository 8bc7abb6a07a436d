// `preprocess`: from a photo, folder or video to PREPROCESSED_DATA/VID (spec 1, 2) in two passes over the
// frames, so memory stays at one frame plus a few kilobytes of landmarks per frame:
//   pass 1 (analysis, writes nothing): faces and landmarks in every frame -> the static crop box. A frame
//          without a face stops here with its file and frame number, before any output exists.
//   pass 2 (writing): rgb/, cropped/, PIPnet_landmarks/, seg_og/ (+ colour pictures), pipnet/test.npy,
//          crop box, optional MICA identities, then the checks, then preprocess.json last.
// Every file is written to a temporary name and renamed. A rerun skips a subject whose preprocess.json
// exists and whose files check out.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { NdArray, PreprocessedLayout, writeFileAtomic, writeNpy, CROP_SIZE } from '@pixel3dmm/formats';
import { BlazeFaceDetector } from './detect/blazeface.js';
import { PreprocessError } from './errors.js';
import { cropBoxArray, cropBoxFor, cropFrame, frameToCrop, staticBox, type CropBox, type CropMode, type IntBox } from './crop.js';
import type { FrameSource } from './inputs/source.js';
import { encodeJpeg, encodePng } from './inputs/image-file.js';
import { FaceMeshLandmarker, MESH_POINTS, REFINED_POINTS } from './landmarks/facemesh.js';
import { FaceTracker } from './landmarks/tracker.js';
import { mediapipeToWflw } from './landmarks/wflw.js';
import { meshParsing } from './segmentation/mesh-parsing.js';
import { SelfieSegmenter } from './segmentation/selfie.js';
import { MicaModel, micaKeypoints, micaSampleIndices } from './mica/mica.js';
import { PipnetModel } from './landmarks/pipnet.js';
import { FarlModel } from './segmentation/farl.js';
import { defaultModelFiles } from './models.js';
import { drawWflw, segColourImage } from './viz.js';
import type { RgbImage } from './image.js';

export interface PreprocessModelPaths {
  blazeface?: string;
  facemesh?: string;
  iris?: string;
  selfie?: string;
  /** Optional MICA identity network exported to ONNX (spec 2.3); without it the shape prior is zero. */
  mica?: string;
  /** Optional PIPNet (WFLW-98) ONNX replacing the mesh-derived landmarks (spec 2.2). */
  pipnet?: string;
  /** Optional FaRL face-parsing ONNX replacing the Selfie + mesh segmentation (spec 2.4). */
  farl?: string;
}

/** Every model preprocessing uses, loaded once and shared by all subjects of a `run`. */
export class PreprocessModels {
  private constructor(
    readonly detector: BlazeFaceDetector,
    readonly landmarker: FaceMeshLandmarker,
    readonly segmenter: SelfieSegmenter,
    readonly mica: MicaModel | null,
    readonly pipnet: PipnetModel | null,
    readonly farl: FarlModel | null,
    readonly files: Required<Omit<PreprocessModelPaths, 'mica' | 'pipnet' | 'farl'>> & { mica: string | null; pipnet: string | null; farl: string | null },
  ) {}

  static async load(paths: PreprocessModelPaths = {}): Promise<PreprocessModels> {
    const d = defaultModelFiles();
    const files = {
      blazeface: paths.blazeface ?? d.blazeface,
      facemesh: paths.facemesh ?? d.facemesh,
      iris: paths.iris ?? d.iris,
      selfie: paths.selfie ?? d.selfie,
      mica: paths.mica ?? null,
      pipnet: paths.pipnet ?? null,
      farl: paths.farl ?? null,
    };
    const detector = await BlazeFaceDetector.load(files.blazeface);
    const landmarker = await FaceMeshLandmarker.load(files.facemesh, files.iris);
    const segmenter = await SelfieSegmenter.load(files.selfie);
    const mica = files.mica ? await MicaModel.load(files.mica) : null;
    const pipnet = files.pipnet ? await PipnetModel.load(files.pipnet) : null;
    const farl = files.farl ? await FarlModel.load(files.farl) : null;
    return new PreprocessModels(detector, landmarker, segmenter, mica, pipnet, farl, files);
  }

  async release(): Promise<void> {
    await this.detector.release();
    this.landmarker.dispose();
    this.segmenter.dispose();
    await this.mica?.release();
    await this.pipnet?.release();
    await this.farl?.release();
  }
}

export interface PreprocessOptions {
  cropMode?: CropMode;
  /** Also write PIPnet_annotated_images (landmarks drawn on the crop). */
  annotate?: boolean;
  /** Redo a subject even if preprocess.json says it is finished. */
  force?: boolean;
  /** Stop after this many frames (tests, previews). */
  maxFrames?: number;
  /** Follow the face from frame to frame; default: on for videos, off for folders and single images. */
  track?: boolean;
  onProgress?: (stage: 'analyse' | 'write', done: number, total: number) => void;
}

export interface PreprocessSummary {
  name: string;
  input: string;
  kind: FrameSource['kind'];
  frames: number;
  frameSize: [number, number];
  crop: CropBox & { rule: 'mean' | 'union'; scale: number; mode: CropMode };
  detectorCalls: number;
  mica: number;
  models: Record<string, string | null>;
  /** Mean milliseconds per frame in pass 1 (detection, landmarks) and pass 2 (segmentation). */
  msPerFrame: { detection: number; landmarks: number; segmentation: number };
  /** The --max-frames limit the subject was made with (null: all frames). */
  maxFrames: number | null;
  skipped?: boolean;
}

interface FrameAnalysis {
  /** WFLW-98 in frame pixels. */
  wflw: Float64Array;
  /** The 478 points (x, y) in frame pixels, for the mesh-based segmentation. */
  mesh: Float32Array;
  box: IntBox;
}

/** The per-frame face box the static crop is built from: the mesh's extent (forehead to chin, cheek to cheek). */
function meshBox(points: Float32Array): IntBox {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < MESH_POINTS; i++) {
    x0 = Math.min(x0, points[i * 3]);
    x1 = Math.max(x1, points[i * 3]);
    y0 = Math.min(y0, points[i * 3 + 1]);
    y1 = Math.max(y1, points[i * 3 + 1]);
  }
  return { x: Math.trunc(x0), y: Math.trunc(y0), w: Math.trunc(x1 - x0), h: Math.trunc(y1 - y0) };
}

/** The mesh's integer face box from 2-stride crop points. */
function meshBoxCrop(points: Float32Array): IntBox {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < MESH_POINTS; i++) {
    x0 = Math.min(x0, points[2 * i]);
    x1 = Math.max(x1, points[2 * i]);
    y0 = Math.min(y0, points[2 * i + 1]);
    y1 = Math.max(y1, points[2 * i + 1]);
  }
  return { x: Math.trunc(x0), y: Math.trunc(y0), w: Math.trunc(x1 - x0), h: Math.trunc(y1 - y0) };
}

/** Read a finished subject's summary, or null when it is missing or its files do not check out. */
export function finishedPreprocess(layout: PreprocessedLayout): PreprocessSummary | null {
  const f = layout.file('preprocessDone');
  if (!existsSync(f)) return null;
  try {
    const s = JSON.parse(readFileSync(f, 'utf8')) as PreprocessSummary;
    return checkPreprocessed(layout, s.frames).length === 0 ? s : null;
  } catch {
    return null;
  }
}

/** What is missing from a preprocessed subject of `frames` frames (empty when complete). */
export function checkPreprocessed(layout: PreprocessedLayout, frames: number): string[] {
  const problems: string[] = [];
  if (!existsSync(layout.cropBox)) problems.push(`${layout.cropBox} is missing`);
  for (let i = 0; i < frames; i++) {
    for (const p of [layout.rgb(i), layout.cropped(i), layout.landmarks(i), layout.segmentation(i)]) {
      if (!existsSync(p)) {
        problems.push(`${p} is missing`);
        if (problems.length > 10) return problems;
      }
    }
  }
  return problems;
}

const FRAME_FILE = /^(color_)?\d{5}\.(jpg|png|npy)$/;

/** Remove frame files left by an unfinished earlier run, so a shorter input cannot inherit stale frames. */
function clearFrames(layout: PreprocessedLayout): void {
  for (const key of ['rgb', 'cropped', 'landmarks', 'annotated', 'segmentation', 'segmentationColour'] as const) {
    const dir = layout.dir(key);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (FRAME_FILE.test(f)) rmSync(join(dir, f));
  }
  rmSync(layout.file('preprocessDone'), { force: true });
  rmSync(layout.dir('mica'), { recursive: true, force: true });
}

export async function preprocess(source: FrameSource, outRoot: string, models: PreprocessModels, opts: PreprocessOptions = {}): Promise<PreprocessSummary> {
  const layout = new PreprocessedLayout(join(outRoot, source.name));
  const mode = opts.cropMode ?? 'square';
  const limit = opts.maxFrames ?? Infinity;
  if (!opts.force) {
    // Skip only work done with the same settings; other settings redo the subject.
    const done = finishedPreprocess(layout);
    if (done && done.crop.mode === mode && (done.maxFrames ?? null) === (opts.maxFrames ?? null) && JSON.stringify(done.models) === JSON.stringify(models.files)) {
      return { ...done, skipped: true };
    }
  }
  const tracker = new FaceTracker(models.detector, models.landmarker, { track: opts.track ?? source.kind === 'video' });

  // ---- pass 1: analysis ----
  const frames: FrameAnalysis[] = [];
  let size: [number, number] | null = null;
  for await (const { index, image } of source.frames()) {
    if (index >= limit) break;
    if (!size) size = [image.width, image.height];
    else if (image.width !== size[0] || image.height !== size[1]) {
      throw new PreprocessError(source.fileOf(index), `frame size ${image.width}x${image.height} differs from the first frame's ${size[0]}x${size[1]}; one subject needs one frame size (one static crop)`, { frame: index });
    }
    const face = await tracker.next(image, source.fileOf(index), index);
    const mesh = new Float32Array(REFINED_POINTS * 2);
    for (let i = 0; i < REFINED_POINTS; i++) {
      mesh[2 * i] = face.points[3 * i];
      mesh[2 * i + 1] = face.points[3 * i + 1];
    }
    frames.push({ wflw: mediapipeToWflw(face.points), mesh, box: meshBox(face.points) });
    opts.onProgress?.('analyse', frames.length, source.exactCount ? Math.min(source.frameCount, limit) : Math.max(frames.length, Math.min(source.frameCount, limit)));
  }
  if (!size || frames.length === 0) throw new PreprocessError(source.path, 'no frames');
  const n = frames.length;
  const { box, scale, rule } = staticBox(frames.map((f) => f.box));
  const crop = cropBoxFor(box, scale, size[0], size[1], mode);
  const toCrop = frameToCrop(crop, mode, CROP_SIZE, size[0], size[1]);

  // ---- pass 2: writing ----
  clearFrames(layout);
  for (const key of ['rgb', 'cropped', 'landmarks', 'segmentation', 'segmentationColour'] as const) mkdirSync(layout.dir(key), { recursive: true });
  if (opts.annotate) mkdirSync(layout.dir('annotated'), { recursive: true });
  mkdirSync(join(layout.root, 'pipnet'), { recursive: true });
  await writeFileAtomic(layout.cropBox, writeNpy(cropBoxArray(crop)));
  const stack = new Float64Array(n * 98 * 2);
  const micaAt = new Set(models.mica ? micaSampleIndices(n) : []);
  const micaCrops: { index: number; crop: RgbImage; kps: [number, number][] }[] = [];
  let segMs = 0;
  let written = 0;
  for await (const { index, image } of source.frames()) {
    if (index >= n) break;
    const a = frames[index];
    const cropped = cropFrame(image, crop, mode, CROP_SIZE);
    const meshCrop = new Float32Array(a.mesh.length);
    for (let k = 0; k < REFINED_POINTS; k++) {
      const [x, y] = toCrop(a.mesh[2 * k], a.mesh[2 * k + 1]);
      meshCrop[2 * k] = x;
      meshCrop[2 * k + 1] = y;
    }
    const lmk = new Float64Array(98 * 2);
    if (models.pipnet) {
      // PIPNet on the crop, in the mesh's face box (the original runs FaceBoxesV2 on the crop here).
      const px = await models.pipnet.landmarks(cropped, meshBoxCrop(meshCrop));
      for (let k = 0; k < 196; k++) lmk[k] = px[k] / CROP_SIZE;
    } else {
      for (let k = 0; k < 98; k++) {
        const [x, y] = toCrop(a.wflw[2 * k], a.wflw[2 * k + 1]);
        lmk[2 * k] = x / CROP_SIZE;
        lmk[2 * k + 1] = y / CROP_SIZE;
      }
    }
    stack.set(lmk, index * 196);
    const t = performance.now();
    const seg = models.farl
      ? await models.farl.parse(cropped, micaKeypoints(meshCrop, 2))
      : meshParsing(meshCrop, 2, await models.segmenter.person(cropped), CROP_SIZE);
    segMs += performance.now() - t;
    await Promise.all([
      encodeJpeg(image).then((b) => writeFileAtomic(layout.rgb(index), b)),
      encodeJpeg(cropped).then((b) => writeFileAtomic(layout.cropped(index), b)),
      writeFileAtomic(layout.landmarks(index), writeNpy(new NdArray('<f8', [98, 2], lmk))),
      encodePng(seg, CROP_SIZE, CROP_SIZE, 1).then((b) => writeFileAtomic(layout.segmentation(index), b)),
      encodePng(segColourImage(seg, CROP_SIZE, CROP_SIZE).data, CROP_SIZE, CROP_SIZE, 3).then((b) => writeFileAtomic(layout.segmentationColour(index), b)),
      opts.annotate
        ? drawWflw(cropped, lmk.map((v) => v * CROP_SIZE), false).jpeg({ quality: 90 }).toBuffer().then((b) => writeFileAtomic(layout.annotated(index), b))
        : Promise.resolve(),
    ]);
    if (micaAt.has(index)) micaCrops.push({ index, crop: cropped, kps: micaKeypoints(meshCrop, 2) });
    written++;
    opts.onProgress?.('write', written, n);
  }
  if (written !== n) throw new PreprocessError(source.path, `the second decoding pass gave ${written} frames, the first ${n}; the input changed while it was read`);
  await writeFileAtomic(layout.file('landmarkStack'), writeNpy(new NdArray('<f8', [n, 98, 2], stack)));
  let micaCount = 0;
  if (models.mica) {
    for (const m of micaCrops) {
      const id = await models.mica.identity(m.crop, m.kps, layout.cropped(m.index));
      mkdirSync(join(layout.dir('mica'), m.index.toString().padStart(5, '0')), { recursive: true });
      await writeFileAtomic(layout.micaIdentity(m.index.toString().padStart(5, '0')), writeNpy(new NdArray('<f4', [300], id)));
      micaCount++;
    }
  }
  const problems = checkPreprocessed(layout, n);
  if (problems.length) throw new PreprocessError(layout.root, `the written subject is incomplete: ${problems.join('; ')}`);
  const summary: PreprocessSummary = {
    name: source.name,
    input: source.path,
    kind: source.kind,
    frames: n,
    frameSize: size,
    crop: { ...crop, rule, scale, mode },
    detectorCalls: tracker.detectorCalls,
    mica: micaCount,
    models: { ...models.files },
    msPerFrame: { detection: tracker.detectMs / n, landmarks: tracker.landmarkMs / n, segmentation: segMs / n },
    maxFrames: opts.maxFrames ?? null,
  };
  await writeFileAtomic(layout.file('preprocessDone'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

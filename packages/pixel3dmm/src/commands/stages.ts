// What `preprocess`, `infer` and `run` share: resolving settings into model files, loading the models
// once, running one subject's stages with progress bars, and printing errors the same way.
import { resolve } from 'node:path';
import { PreprocessedLayout } from '@pixel3dmm/formats';
import {
  PreprocessError,
  PreprocessModels,
  Pixel3dmmNetwork,
  infer,
  openInput,
  preprocess,
  type CropMode,
  type InferSummary,
  type PreprocessSummary,
} from '@pixel3dmm/preprocess';
import { setting } from '../config.js';
import { Progress } from '../progress.js';

export interface StageFlags {
  data?: string;
  uv?: string;
  normals?: string;
  mica?: string;
  cropMode?: string;
  annotate?: boolean;
  preview?: boolean;
  force?: boolean;
  maxFrames?: number;
  batch?: number;
  json?: boolean;
  quiet?: boolean;
}

export function cropModeOf(v: string | undefined): CropMode {
  if (v === undefined || v === 'square' || v === 'original') return v ?? 'square';
  throw new PreprocessError('--crop-mode', `expected 'square' or 'original', got '${v}'`);
}

export function dataRoot(flags: StageFlags): string {
  return resolve(setting('preprocessed', flags.data)!);
}

export async function loadPreprocessModels(flags: StageFlags): Promise<PreprocessModels> {
  if (flags.mica === undefined) flags.mica = setting('micaModel');
  return PreprocessModels.load({
    blazeface: setting('blazefaceModel'),
    facemesh: setting('facemeshModel'),
    iris: setting('irisModel'),
    selfie: setting('selfieModel'),
    mica: flags.mica,
    pipnet: setting('pipnetModel'),
    farl: setting('farlModel'),
  });
}

/** The configured Pixel3DMM networks (none, one or both). */
export async function loadNetworks(flags: StageFlags): Promise<Pixel3dmmNetwork[]> {
  const nets: Pixel3dmmNetwork[] = [];
  const uv = setting('uvModel', flags.uv);
  const normals = setting('normalsModel', flags.normals);
  if (uv) nets.push(await Pixel3dmmNetwork.load(resolve(uv), 'uv'));
  if (normals) nets.push(await Pixel3dmmNetwork.load(resolve(normals), 'normals'));
  return nets;
}

export const NO_NETWORKS_NOTE =
  'no Pixel3DMM networks configured (--uv/--normals or PIXEL3DMM_UV_MODEL/PIXEL3DMM_NORMALS_MODEL): no p3dmm/ maps are written, and tracking runs in landmark-and-silhouette mode (UV and normal weights 0)';

export async function runPreprocess(input: string, models: PreprocessModels, flags: StageFlags): Promise<PreprocessSummary> {
  if (process.env.PIXEL3DMM_FFMPEG === undefined) {
    const ff = setting('ffmpeg');
    if (ff) process.env.PIXEL3DMM_FFMPEG = ff;
  }
  const source = openInput(input);
  const bars = { analyse: new Progress(`${source.name}: faces + landmarks`, flags.quiet), write: new Progress(`${source.name}: crop + segmentation`, flags.quiet) };
  const s = await preprocess(source, dataRoot(flags), models, {
    cropMode: cropModeOf(flags.cropMode),
    annotate: flags.annotate,
    force: flags.force,
    maxFrames: flags.maxFrames,
    onProgress: (stage, done, total) => bars[stage].update(done, total),
  });
  if (!flags.quiet) {
    if (s.skipped) process.stderr.write(`${source.name}: already preprocessed (${s.frames} frames), skipped; --force redoes it\n`);
    else bars.write.done(`${s.frames} frames -> ${resolve(dataRoot(flags), s.name)} (crop ${s.crop.mode}, ${s.crop.rule} box; ${s.detectorCalls} detector call${s.detectorCalls === 1 ? '' : 's'}; MICA: ${s.mica ? `${s.mica} identities` : 'off, zero shape prior'})`);
  }
  return s;
}

export async function runInfer(name: string, nets: Pixel3dmmNetwork[], flags: StageFlags): Promise<InferSummary | null> {
  if (nets.length === 0) {
    if (!flags.quiet) process.stderr.write(`${name}: ${NO_NETWORKS_NOTE}\n`);
    return null;
  }
  const layout = new PreprocessedLayout(name.includes('/') ? resolve(name) : resolve(dataRoot(flags), name));
  const bar = new Progress(`${layout.name}: ${nets.map((n) => n.kind).join(' + ')} networks`, flags.quiet);
  const s = await infer(layout, nets, { batch: flags.batch, preview: flags.preview, force: flags.force, onProgress: (d, t) => bar.update(d, t) });
  if (!flags.quiet) {
    if (s.skipped) process.stderr.write(`${layout.name}: network maps already written (${s.frames} frames), skipped\n`);
    else bar.done(`${s.frames} frames, ${s.msPerFrame.toFixed(0)} ms/frame -> ${layout.dir('uvMap').replace(/uv_map$/, '')}`);
  }
  return s;
}

/** Print a PreprocessError as one line and set a failing exit code; rethrow anything else. */
export function reportError(e: unknown): void {
  if (e instanceof PreprocessError || (e instanceof Error && e.name === 'FormatError')) {
    process.stderr.write(`error: ${e.message}\n`);
    process.exitCode = 1;
    return;
  }
  throw e;
}

// The tracker's programmatic API: fitImage (one image), fitImages (unrelated images of one person, the
// original's is_discontinuous mode) and trackVideo (a sequence). Each returns a TrackingJob:
//
//   const job = trackVideo('/data/preprocessed/clip', { outDir: '/data/tracking', config: ['global_iters=500'] });
//   job.on('progress', (p) => ...);      // phase, step, total, frame position
//   job.on('frame', (f) => ...);         // one frame's stage-1 result as soon as it is done (provisional:
//                                        // stage 2 revises every frame)
//   const result = await job;            // the final TrackingResult (the job is a thenable); always await it
//
// Events are those of an EventEmitter: 'phase', 'progress', 'frame', 'warning'. Cancel with an AbortSignal:
// the run stops at the next optimisation step, nothing partial is written (see outputs/writer.ts), and the job
// rejects with an Error named 'AbortError'.
//
// Input: a preprocessed folder (PREPROCESSED_DATA/VID, read lazily frame by frame) or in-memory FrameData.
// Model: a FlameModel, a path to FLAME files (with `assets`, Pixel3DMM's assets folder), or nothing for the
// built-in synthetic head.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { builtInFlameModel, findFlameFiles, loadFlameModel, type FlameModel, type FlameParams } from '@pixel3dmm/flame';
import { defaultTrackerConfig, withOverrides, type TrackerConfig } from './config.js';
import { openPreprocessed } from './data/index.js';
import { TrackingObjective, builtInTrackingAssets, loadTrackingAssets, renderFrame, type TrackingAssets } from './objective/index.js';
import { OUTPUT_FILES, frameParamsPath } from './outputs/folder.js';
import { finishedRun, outputFolder, writeTrackingOutputs, type Manifest } from './outputs/writer.js';
import { flameLandmarks } from './run/camera-lm.js';
import { flameParamsOf } from './run/variables.js';
import { framesFromArray, type FrameSource } from './run/frames.js';
import { TrackingError, runTracking, type FrameTelemetry, type RunResult, type Stage2Telemetry, type TrackingEvent, type TrackingMode } from './run/tracker.js';
import type { FrameData, FrameVariables } from './types.js';

export interface TrackOptions {
  /** Configuration overrides: `key=value` strings (as on the command line) or an object. */
  config?: readonly string[] | Record<string, unknown>;
  /** A FlameModel, a FLAME .pkl or folder of FLAME files, or undefined for the built-in synthetic head. */
  model?: FlameModel | string;
  /**
   * Tracking assets: Pixel3DMM's assets folder, loaded assets, or 'synthetic' (derived from the built-in head's
   * model, also when it was written as FLAME files). Default: derived for the built-in head, else an error.
   */
  assets?: string | TrackingAssets;
  /** Where FLAME runs: only 'cpu' (the renderer is CPU-only). */
  device?: 'cpu';
  /** TRACKING_OUTPUT: when given, the outputs of spec 8 are written to outDir/{VID}_nV1... */
  outDir?: string;
  /** VID (the output folder's stem). Default: the preprocessed folder's name; required for in-memory input. */
  name?: string;
  /** Redo a finished run (otherwise a finished run with the same configuration is returned as is). */
  force?: boolean;
  /** Write result.mp4 (default true when writing outputs). */
  video?: boolean;
  /** Shape prior for in-memory input (default zeros; a preprocessed folder brings its MICA mean). */
  shapePrior?: Float64Array;
  signal?: AbortSignal;
  /** Frames kept in memory for stage 2 (default 128). */
  frameCacheSize?: number;
}

/** The final result of one frame. */
export interface FrameResult {
  /** Frame index (file stem number). */
  index: number;
  /** Parameters in the FLAME parameter schema (packages/flame params.ts). */
  params: FlameParams;
  /** Focal length as a fraction of the image size (f_px = focal_length * size). */
  focal_length: number;
  principal_point: [number, number];
  image_size: [number, number];
  /** What stage 1 did on this frame. */
  telemetry: FrameTelemetry;
}

export interface TrackingResult {
  mode: TrackingMode;
  name: string;
  frames: FrameResult[];
  stage2: Stage2Telemetry | null;
  warnings: string[];
  seconds: number;
  config: TrackerConfig;
  /** The output folder, when outputs were written (or found finished). */
  outputDir?: string;
  /** True when a finished run was found in outDir and returned without tracking again. */
  reused: boolean;
}

export interface FrameEvent {
  position: number;
  /** This frame's stage-1 parameters (provisional until stage 2 has run). */
  params: FlameParams;
  telemetry: FrameTelemetry;
}

export type ProgressEvent = Extract<TrackingEvent, { type: 'progress' }>;

/** A running fit: an EventEmitter ('phase', 'progress', 'frame', 'warning') that is also awaitable. */
export class TrackingJob extends EventEmitter implements PromiseLike<TrackingResult> {
  readonly result: Promise<TrackingResult>;

  constructor(start: (job: TrackingJob) => Promise<TrackingResult>) {
    super();
    // Start on the next turn so that listeners attached right after the call see every event.
    this.result = new Promise<void>((r) => setImmediate(r)).then(() => start(this));
  }

  then<A = TrackingResult, B = never>(onfulfilled?: ((value: TrackingResult) => A | PromiseLike<A>) | null, onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.result.then(onfulfilled, onrejected);
  }

  catch<B = never>(onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<TrackingResult | B> {
    return this.result.catch(onrejected);
  }
}

type Input = string | FrameData | readonly FrameData[] | FrameSource;

/** Fits one image (single-image mode: shape optimised, no stage 2, no early stopping). */
export function fitImage(input: string | FrameData, options: TrackOptions = {}): TrackingJob {
  return new TrackingJob((job) => track(input, options, job, 'single'));
}

/** Fits unrelated images of one person together (is_discontinuous: per-image poses, one shape). */
export function fitImages(input: string | readonly FrameData[], options: TrackOptions = {}): TrackingJob {
  return new TrackingJob((job) => track(input, { ...options, config: mergeOverrides(options.config, { is_discontinuous: true }) }, job, 'multi'));
}

/** Tracks a video (camera warm-up, stage 1 online, stage 2 joint). */
export function trackVideo(input: string | readonly FrameData[] | FrameSource, options: TrackOptions = {}): TrackingJob {
  return new TrackingJob((job) => track(input, options, job, 'video'));
}

function mergeOverrides(base: TrackOptions['config'], extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (Array.isArray(base)) {
    for (const s of base as readonly string[]) {
      const eq = s.indexOf('=');
      if (eq <= 0) throw new TrackingError(`config override '${s}': expected key=value`);
      out[s.slice(0, eq).trim()] = s.slice(eq + 1).trim();
    }
  } else Object.assign(out, base ?? {});
  return { ...out, ...extra };
}

/** `assets: 'synthetic'`: derive the built-in head's assets (for the synthetic head written as FLAME files). */
export const SYNTHETIC_ASSETS = 'synthetic';

/**
 * Resolves the options' model and assets. The built-in head's assets are derived from it; a FLAME model from
 * files needs Pixel3DMM's assets folder (or 'synthetic' when the files are the synthetic head's), since the
 * derived assets would silently be wrong for real FLAME (same vertex count, different UVs and masks).
 */
export async function resolveModel(options: Pick<TrackOptions, 'model' | 'assets'>): Promise<{ model: FlameModel; assets: TrackingAssets }> {
  const model = typeof options.model === 'string' ? loadFlameModel(findFlameFiles(options.model)) : (options.model ?? builtInFlameModel(0));
  if (typeof options.assets === 'object') return { model, assets: options.assets };
  if (typeof options.assets === 'string' && options.assets !== SYNTHETIC_ASSETS) return { model, assets: await loadTrackingAssets(options.assets, model) };
  const builtIn = model.source.startsWith('built-in synthetic head');
  if (!builtIn && options.assets !== SYNTHETIC_ASSETS) {
    throw new TrackingError(`${model.source}: tracking with this FLAME model needs Pixel3DMM's tracking assets folder (assets / --assets DIR), ` +
      `or assets '${SYNTHETIC_ASSETS}' if these files are the built-in synthetic head's`);
  }
  return { model, assets: builtInTrackingAssets(model) };
}

function isFrameSource(x: unknown): x is FrameSource {
  return typeof x === 'object' && x !== null && typeof (x as FrameSource).frame === 'function' && typeof (x as FrameSource).count === 'number';
}

async function track(input: Input, options: TrackOptions, job: TrackingJob, kind: 'single' | 'multi' | 'video'): Promise<TrackingResult> {
  const signal = options.signal;
  if (signal?.aborted) throw new DOMException('tracking was cancelled before it started', 'AbortError');
  if (options.device !== undefined && options.device !== 'cpu') throw new TrackingError(`device: only 'cpu' is supported, got '${String(options.device)}'`);
  const config = withOverrides(defaultTrackerConfig(), options.config ?? [], 'config');

  // The frames, the shape prior, and the name.
  let frames: FrameSource;
  let shapePrior: Float64Array;
  let name: string | undefined = options.name;
  let source: string;
  if (typeof input === 'string') {
    const seq = await openPreprocessed(input, config, { maxFrames: Number.POSITIVE_INFINITY });
    frames = seq;
    shapePrior = seq.shapePrior;
    name ??= basename(resolve(input));
    source = resolve(input);
  } else {
    frames = isFrameSource(input) ? input : framesFromArray(Array.isArray(input) ? (input as FrameData[]) : [input as FrameData]);
    shapePrior = config.ignore_mica ? new Float64Array(0) : (options.shapePrior ?? new Float64Array(0));
    source = `memory:${name ?? 'frames'}`;
  }
  if (kind === 'single' && frames.count !== 1) throw new TrackingError(`fitImage: expected one image, got ${frames.count} frames (use fitImages or trackVideo)`);
  if (kind === 'video' && frames.count < 1) throw new TrackingError('trackVideo: the sequence has no frames');
  if (options.outDir && !name) throw new TrackingError('outDir needs a name for in-memory input (options.name)');

  const { model, assets } = await resolveModel(options);
  if (options.outDir) {
    const dir = outputFolder(options.outDir, name!, config);
    const done = finishedRun(dir, config, source, frames.count, !!options.force, model.source, options.video !== false);
    if (done) return resultFromManifest(done, dir, config);
  }

  if (shapePrior.length > model.numShape) {
    throw new TrackingError(`the shape prior has ${shapePrior.length} coefficients but ${model.source} has ${model.numShape}`);
  }
  const prior = new Float64Array(model.numShape);
  prior.set(shapePrior);
  const objective = new TrackingObjective(model, assets, config, { shapePrior: prior });

  const run = await runTracking({
    objective,
    frames,
    config,
    shapePrior: prior,
    numExpression: model.numExpression,
    signal,
    frameCacheSize: options.frameCacheSize,
    landmarks: flameLandmarks(objective.kernel, config),
    onEvent: (e) => {
      if (e.type === 'frame') {
        const event: FrameEvent = { position: e.telemetry.position, params: flameParamsOf(e.shape, e.variables), telemetry: e.telemetry };
        job.emit('frame', event);
      } else job.emit(e.type, e);
    },
  });
  let outputDir: string | undefined;
  if (options.outDir) {
    job.emit('phase', { type: 'phase', phase: 'outputs' });
    const written = await writeTrackingOutputs(run, {
      outRoot: options.outDir,
      vid: name!,
      config,
      model,
      frames,
      render: options.video === false ? undefined : (camera, world, noNeck) => renderFrame(objective.topology, camera, world, noNeck),
      source,
      signal,
      onProgress: (done, total) => job.emit('progress', { type: 'progress', phase: 'outputs', step: done, total, position: done - 1, frames: total } satisfies ProgressEvent),
    });
    outputDir = written.dir;
  }
  return resultFromRun(run, name ?? 'frames', config, outputDir);
}

function resultFromRun(run: RunResult, name: string, config: TrackerConfig, outputDir?: string): TrackingResult {
  const v = run.variables;
  return {
    mode: run.mode,
    name,
    frames: v.frames.map((f, pos) => ({
      index: run.frameIndices[pos],
      params: flameParamsOf(v.shape, f),
      focal_length: v.focal[0],
      principal_point: [v.pp[0], v.pp[1]],
      image_size: [config.size, config.size],
      telemetry: run.telemetry[pos],
    })),
    stage2: run.stage2,
    warnings: run.warnings,
    seconds: run.seconds,
    config,
    ...(outputDir ? { outputDir } : {}),
    reused: false,
  };
}

/** A finished run read back from its output folder (checkpoint/*.json and telemetry.jsonl). */
function resultFromManifest(m: Manifest, dir: string, config: TrackerConfig): TrackingResult {
  const lines = readFileSync(join(dir, OUTPUT_FILES.telemetry), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const telemetry = lines.filter((l) => !('stage2' in l)) as unknown as FrameTelemetry[];
  const frames: FrameResult[] = m.frame_indices.map((index, pos) => {
    const json = JSON.parse(readFileSync(join(dir, frameParamsPath(index)), 'utf8')) as FlameParams & Omit<FrameResult, 'params' | 'index' | 'telemetry'>;
    const { focal_length, principal_point, image_size, ...params } = json;
    return { index, params, focal_length, principal_point, image_size, telemetry: telemetry[pos] };
  });
  return { mode: m.mode, name: m.vid, frames, stage2: m.stage2, warnings: m.warnings, seconds: m.seconds, config, outputDir: dir, reused: true };
}

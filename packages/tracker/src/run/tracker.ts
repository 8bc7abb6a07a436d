// The tracker's optimisation schedule (spec 7): camera warm-up on the first frame, stage 1 online frame by
// frame with early stopping, stage 2 jointly over the sequence. The objective (losses and gradients) is
// behind TrackingObjectiveApi; this module decides what is optimised when, at which learning rate, on which
// frames, and when to stop.
//
// Modes (7.3): one frame = single image (shape optimised in stage 1, silhouette /10 throughout, no early stop,
// no stage 2); config.is_discontinuous = multi-image (per-image pose reset, random stage-2 batches, no
// smoothness); otherwise video.
//
// Robustness: every evaluation is checked. A non-finite loss or gradient restores the variables of the last
// finite evaluation and ends that phase (camera warm-up, the frame's stage 1, or stage 2) with a warning in
// the telemetry; if the very first evaluation of a frame is non-finite there is nothing to fall back to and
// the run fails with a TrackingError naming the frame. Cancellation (AbortSignal) is checked at every step;
// the runner yields to the event loop between steps so that a signal can arrive.
import type { TrackerConfig } from '../config.js';
import type { Correspondences, FrameData, FrameGroup, FrameVariables, ObjectiveOptions, ObjectiveResult, TrackingObjectiveApi } from '../types.js';
import { Adam, StepLR } from '../optim/adam.js';
import { SparseAdam } from '../optim/sparse-adam.js';
import { Stage2Sampler } from './batch-sampler.js';
import { solveCameraLandmarks, type CameraSolveResult, type LandmarkFunction } from './camera-lm.js';
import { EarlyStopping } from './early-stopping.js';
import { FrameCache, type FrameSource } from './frames.js';
import { cameraGroups, cameraPhase, cameraStepSize, stage1Groups, stage2Groups, stage2LearningRateSteps, type PhaseGroups } from './schedule.js';
import { FRAME_GROUPS, VariableStore, assignFrameVariables, copyFrameVariables, initialFrameVariables, nonFiniteGradient, sharedGradient } from './variables.js';

export type TrackingMode = 'single' | 'video' | 'multi';

/** Phases reported by events; 'outputs' is the writing of the output folder (api.ts). */
export type TrackingPhase = 'camera' | 'stage1' | 'stage2' | 'outputs';

export class TrackingError extends Error {
  override name = 'TrackingError';
}

export interface CameraTelemetry {
  /** Adam steps run (with camera_solver=lm: the UV half only). */
  steps: number;
  /** camera_solver=lm: Levenberg-Marquardt iterations of the landmark half and its cost before and after. */
  lm?: CameraSolveResult;
  seconds: number;
  /** Total of the last evaluated step. */
  total: number;
  diverged?: string;
}

/** What stage 1 did on one frame (one JSONL line of telemetry.jsonl). */
export interface FrameTelemetry {
  /** Frame index (file stem number). */
  frame: number;
  /** Position in the sequence. */
  position: number;
  camera?: CameraTelemetry;
  /** Stage-1 steps run. */
  iterations: number;
  earlyStopped: boolean;
  /** Set when the fit produced a non-finite value and was rolled back (what and where). */
  diverged?: string;
  /** Total and weighted terms of the last evaluated step. */
  total: number;
  terms: Record<string, number>;
  seconds: number;
  /** Valid landmarks in this frame (of 98). */
  landmarks: number;
}

export interface Stage2Telemetry {
  iterations: number;
  plannedIterations: number;
  batchSize: number;
  seconds: number;
  /** Total and terms of the last iteration. */
  total: number;
  terms: Record<string, number>;
  diverged?: string;
}

export type TrackingEvent =
  | { type: 'phase'; phase: TrackingPhase }
  | { type: 'progress'; phase: TrackingPhase; step: number; total: number; position?: number; frames: number }
  | { type: 'frame'; telemetry: FrameTelemetry; variables: FrameVariables; shape: Float64Array }
  | { type: 'warning'; message: string };

export interface RunInput {
  objective: TrackingObjectiveApi;
  frames: FrameSource;
  config: TrackerConfig;
  /** Shape prior (MICA mean, or zeros with ignore_mica); also the initial shape. */
  shapePrior: Float64Array;
  numExpression: number;
  signal?: AbortSignal;
  onEvent?: (event: TrackingEvent) => void;
  /** Frames kept in memory for stage 2 (default 128). */
  frameCacheSize?: number;
  /** FLAME landmarks for camera_solver=lm (flameLandmarks(objective.kernel, config)). */
  landmarks?: LandmarkFunction;
}

export interface RunResult {
  mode: TrackingMode;
  /** Frame indices in sequence order. */
  frameIndices: number[];
  variables: VariableStore;
  telemetry: FrameTelemetry[];
  stage2: Stage2Telemetry | null;
  warnings: string[];
  seconds: number;
}

export function trackingMode(numFrames: number, config: TrackerConfig): TrackingMode {
  if (numFrames === 1) return 'single';
  return config.is_discontinuous ? 'multi' : 'video';
}

/** Checks the configuration keys the schedule depends on (a clear error naming the key). */
export function checkScheduleConfig(c: TrackerConfig): void {
  const int = (k: keyof TrackerConfig, min: number) => {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < min) throw new TrackingError(`configuration: '${k}' must be an integer >= ${min}, got ${v}`);
  };
  int('size', 8);
  int('iters', 1);
  int('global_iters', 0);
  int('batch_size', 1);
  int('camera_steps', 0);
  int('seed', 0);
  if (!c.global_camera) {
    throw new TrackingError("configuration: 'global_camera=false' is not supported (per-frame intrinsics; the original crashes on it too, spec 9.5)");
  }
  if (!(c.early_stopping_delta >= 0)) throw new TrackingError(`configuration: 'early_stopping_delta' must be >= 0, got ${c.early_stopping_delta}`);
  if (c.camera_solver !== 'adam' && c.camera_solver !== 'lm') throw new TrackingError(`configuration: 'camera_solver' must be adam or lm, got '${c.camera_solver}'`);
}

const abortError = (signal: AbortSignal) => new DOMException(`tracking was cancelled${signal.reason instanceof Error ? `: ${signal.reason.message}` : ''}`, 'AbortError');

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function isFiniteResult(r: ObjectiveResult): string | null {
  if (!Number.isFinite(r.total)) return `total loss ${r.total}`;
  for (const [k, v] of Object.entries(r.terms)) if (!Number.isFinite(v)) return `term '${k}' = ${v}`;
  const g = nonFiniteGradient(r.gradient);
  return g ? `gradient of ${g}` : null;
}

function countLandmarks(f: FrameData): number {
  let n = 0;
  for (const v of f.landmarkValid) n += v ? 1 : 0;
  return n;
}

function checkFrame(f: FrameData, position: number, size: number): void {
  const where = `frame ${f?.index ?? '?'} (position ${position})`;
  if (!f || typeof f !== 'object') throw new TrackingError(`${where}: no frame data`);
  if (f.size !== size) throw new TrackingError(`${where}: frame data is ${f.size}x${f.size} but the tracker renders at size=${size}`);
  const S2 = size * size;
  if (f.rgb.length !== 3 * S2) throw new TrackingError(`${where}: rgb has ${f.rgb.length} values, expected ${3 * S2}`);
  if (f.landmarks98.length !== 196 || f.landmarkValid.length !== 98) throw new TrackingError(`${where}: expected 98 landmarks`);
}

/**
 * Copies of the arrays an optimiser updates, to roll back to after a non-finite evaluation. Saved at every
 * step: the copies are reused while the arrays are the same ones (a frame's stage 1, the camera warm-up).
 */
class Rollback {
  private targets: Float64Array[] = [];
  private copies: Float64Array[] = [];
  save(arrays: Float64Array[]): void {
    const same = arrays.length === this.targets.length && arrays.every((a, i) => a === this.targets[i]);
    if (same) for (let i = 0; i < arrays.length; i++) this.copies[i].set(arrays[i]);
    else {
      this.targets = arrays;
      this.copies = arrays.map((a) => Float64Array.from(a));
    }
  }
  restore(): void {
    for (let i = 0; i < this.targets.length; i++) this.targets[i].set(this.copies[i]);
  }
}

export class TrackingRunner {
  readonly config: TrackerConfig;
  readonly mode: TrackingMode;
  readonly store: VariableStore;
  private readonly cache: FrameCache;
  private readonly correspondences: Correspondences[] = [];
  private readonly frameIndices: number[] = [];
  private readonly warnings: string[] = [];

  constructor(private readonly input: RunInput) {
    checkScheduleConfig(input.config);
    const N = input.frames.count;
    if (!Number.isInteger(N) || N < 1) throw new TrackingError(`nothing to track: the sequence has ${N} frames`);
    if (input.shapePrior.length < 1) throw new TrackingError('the shape prior is empty');
    this.config = input.config;
    this.mode = trackingMode(N, input.config);
    this.store = new VariableStore({ shape: input.shapePrior, focal: input.config.focal_init, numFrames: N, numExpression: input.numExpression });
    this.cache = new FrameCache(input.frames, input.frameCacheSize ?? 128);
    if (input.config.camera_solver === 'lm' && !input.landmarks) throw new TrackingError("configuration: camera_solver=lm needs the FLAME landmarks (RunInput.landmarks)");
  }

  private emit(e: TrackingEvent): void {
    if (e.type === 'warning') this.warnings.push(e.message);
    this.input.onEvent?.(e);
  }

  private async checkpoint(): Promise<void> {
    const signal = this.input.signal;
    if (signal?.aborted) throw abortError(signal);
    await yieldToEventLoop();
    if (signal?.aborted) throw abortError(signal);
  }

  private evaluate(batch: number[], frames: FrameData[], options: ObjectiveOptions): ObjectiveResult {
    return this.input.objective.evaluate({
      variables: this.store.view(),
      batch,
      frames,
      correspondences: batch.map((p) => this.correspondences[p]),
      options,
    });
  }

  async run(): Promise<RunResult> {
    const t0 = performance.now();
    const N = this.input.frames.count;
    const telemetry: FrameTelemetry[] = [];
    this.emit({ type: 'phase', phase: 'stage1' });
    for (let pos = 0; pos < N; pos++) {
      await this.checkpoint();
      telemetry.push(await this.trackFrame(pos));
      this.emit({ type: 'frame', telemetry: telemetry[pos], variables: copyFrameVariables(this.store.frames[pos]), shape: Float64Array.from(this.store.shape) });
    }
    let stage2: Stage2Telemetry | null = null;
    if (N > 1 && this.config.global_iters > 0) {
      this.emit({ type: 'phase', phase: 'stage2' });
      stage2 = await this.jointStage();
    }
    return {
      mode: this.mode,
      frameIndices: [...this.frameIndices],
      variables: this.store,
      telemetry,
      stage2,
      warnings: [...this.warnings],
      seconds: (performance.now() - t0) / 1000,
    };
  }

  /** Camera warm-up, then stage 1, on the frame at `pos`. */
  private async trackFrame(pos: number): Promise<FrameTelemetry> {
    const t0 = performance.now();
    const c = this.config;
    const frame = await this.cache.get(pos);
    checkFrame(frame, pos, c.size);
    this.frameIndices[pos] = frame.index;
    const landmarks = countLandmarks(frame);
    if (landmarks === 0 && !c.no_lm) this.emit({ type: 'warning', message: `frame ${frame.index}: no valid landmarks; the landmark terms are masked out for it` });

    const vars = this.store.frames[pos];
    // Parameters carry over from the previous frame (video); multi-image mode starts every image from the inits.
    if (pos > 0) assignFrameVariables(vars, this.mode === 'multi' ? initialFrameVariables(this.input.numExpression) : this.store.frames[pos - 1]);

    // Correspondences once per frame (spec 6.1); the camera warm-up computes them at its k = 0 from the same
    // inputs, and stage 1 and 2 reuse them.
    this.correspondences[pos] = this.input.objective.correspondences(frame, this.store.view(), pos);

    const first = pos === 0;
    let camera: CameraTelemetry | undefined;
    if (first && c.camera_steps > 0) camera = await this.cameraWarmup(pos, frame, c.camera_steps, true);
    else if (!first && c.extra_cam_steps) camera = await this.cameraWarmup(pos, frame, 10, false);

    // Stage 1: a new Adam per frame; the first frame runs all `iters` steps with the silhouette weight / 10.
    const groups = stage1Groups(c, this.mode === 'single');
    const adam = this.makeAdam(groups, pos);
    const stopper = new EarlyStopping(c.early_stopping_delta);
    const rollback = new Rollback();
    // The shape gradient is only needed where shape is optimised (a single image); skipping it saves a pass.
    const options: ObjectiveOptions = { phase: 'track', silhouetteScale: first ? 0.1 : 1, smoothness: false, wantShape: this.mode === 'single' };
    let last: ObjectiveResult | null = null;
    let iterations = 0;
    let earlyStopped = false;
    let diverged: string | undefined;
    for (let p = 0; p < c.iters; p++) {
      await this.checkpoint();
      const r = this.evaluate([pos], [frame], options);
      const bad = isFiniteResult(r);
      if (bad) {
        if (!last) throw new TrackingError(`frame ${frame.index}: the first stage-1 evaluation is not finite (${bad}); check the frame's inputs`);
        rollback.restore();
        diverged = `stage 1 step ${p}: ${bad}; rolled back to step ${p - 1}`;
        this.emit({ type: 'warning', message: `frame ${frame.index}: ${diverged}` });
        break;
      }
      last = r;
      rollback.save(adam.groups.map((g) => g.params));
      adam.step((name) => this.gradientOf(r, name, 0));
      iterations = p + 1;
      this.emit({ type: 'progress', phase: 'stage1', step: p + 1, total: c.iters, position: pos, frames: this.input.frames.count });
      // Early stopping: never on the first frame (hence never for a single image), never in stage 2.
      if (!first && stopper.record(p, r.total)) {
        earlyStopped = true;
        break;
      }
    }
    return {
      frame: frame.index,
      position: pos,
      ...(camera ? { camera } : {}),
      iterations,
      earlyStopped,
      ...(diverged ? { diverged } : {}),
      total: last!.total,
      terms: { ...last!.terms },
      seconds: (performance.now() - t0) / 1000,
      landmarks,
    };
  }

  private async cameraWarmup(pos: number, frame: FrameData, steps: number, first: boolean): Promise<CameraTelemetry> {
    const t0 = performance.now();
    this.emit({ type: 'phase', phase: 'camera' });
    const adam = this.makeAdam(cameraGroups(this.config, first), pos);
    const scheduler = new StepLR(adam, cameraStepSize(steps), 0.1);
    let k = 0;
    let lm: CameraSolveResult | undefined;
    if (this.config.camera_solver === 'lm') {
      // The landmark half (k <= steps/2) by Levenberg-Marquardt; Adam then runs the UV half at the learning
      // rates the schedule has there (the scheduler is advanced past the landmark half).
      lm = solveCameraLandmarks(this.input.landmarks!, frame, this.store.frames[pos], this.store, this.config, { fitIntrinsics: first });
      if (!Number.isFinite(lm.cost)) throw new TrackingError(`frame ${frame.index}: the camera warm-up's landmark solve is not finite`);
      for (; k <= Math.floor(steps / 2) && k < steps; k++) scheduler.step();
    }
    const adamStart = k;
    const rollback = new Rollback();
    let total = NaN;
    let diverged: string | undefined;
    for (; k < steps; k++) {
      await this.checkpoint();
      const r = this.evaluate([pos], [frame], { phase: cameraPhase(k, steps), silhouetteScale: 1, smoothness: false, wantShape: false });
      const bad = isFiniteResult(r);
      if (bad) {
        if (k === adamStart) throw new TrackingError(`frame ${frame.index}: the first camera warm-up evaluation is not finite (${bad}); check the frame's inputs`);
        rollback.restore();
        diverged = `camera step ${k}: ${bad}; rolled back to step ${k - 1}`;
        this.emit({ type: 'warning', message: `frame ${frame.index}: ${diverged}` });
        break;
      }
      total = r.total;
      rollback.save(adam.groups.map((g) => g.params));
      adam.step((name) => this.gradientOf(r, name, 0));
      scheduler.step();
      this.emit({ type: 'progress', phase: 'camera', step: k + 1, total: steps, position: pos, frames: this.input.frames.count });
    }
    this.emit({ type: 'phase', phase: 'stage1' });
    return { steps: k - adamStart, ...(lm ? { lm } : {}), seconds: (performance.now() - t0) / 1000, total, ...(diverged ? { diverged } : {}) };
  }

  private async jointStage(): Promise<Stage2Telemetry> {
    const t0 = performance.now();
    const c = this.config;
    const N = this.input.frames.count;
    const groups = stage2Groups(c);
    const sparse = new SparseAdam(
      N,
      groups.frame.map(({ group, lr }) => ({ name: group, dim: this.store.frames[0][group].length, row: (r: number) => this.store.frames[r][group], lr })),
    );
    const adam = new Adam(groups.shared.map(({ group, lr }) => ({ name: group, params: this.store.shared(group), lr })));
    const sampler = new Stage2Sampler({ numFrames: N, batchSize: c.batch_size, iterations: c.global_iters, smooth: c.smooth, discontinuous: c.is_discontinuous }, c.seed);
    const lrSteps = stage2LearningRateSteps(c.global_iters);
    const rollback = new Rollback();
    let last: ObjectiveResult | null = null;
    let iterations = 0;
    let diverged: string | undefined;
    for (let p = 0; p < c.global_iters; p++) {
      await this.checkpoint();
      for (const s of lrSteps) if (s.at === p) for (const g of sparse.groups) g.lr = g.lr / s.divisor(g.name as FrameGroup);
      const batch = sampler.next(p);
      const frames = await Promise.all(batch.frames.map((i) => this.cache.get(i)));
      const r = this.evaluate(batch.frames, frames, { phase: 'track', silhouetteScale: 1, smoothness: batch.smoothness, wantShape: true });
      const bad = isFiniteResult(r);
      if (bad) {
        if (!last) throw new TrackingError(`stage 2: the first joint evaluation is not finite (${bad})`);
        rollback.restore();
        diverged = `stage 2 iteration ${p}: ${bad}; rolled back to iteration ${p - 1} and stopped`;
        this.emit({ type: 'warning', message: diverged });
        break;
      }
      last = r;
      rollback.save([...adam.groups.map((g) => g.params), ...batch.frames.flatMap((f) => FRAME_GROUPS.map((g) => this.store.frames[f][g]))]);
      sparse.step(batch.frames, (name, k) => r.gradient.frames[k][name as FrameGroup]);
      adam.step((name) => sharedGradient(r.gradient, name as 'shape' | 'focal' | 'pp'));
      iterations = p + 1;
      this.emit({ type: 'progress', phase: 'stage2', step: p + 1, total: c.global_iters, frames: N });
    }
    return {
      iterations,
      plannedIterations: c.global_iters,
      batchSize: sampler.batchSize,
      seconds: (performance.now() - t0) / 1000,
      total: last?.total ?? NaN,
      terms: { ...(last?.terms ?? {}) },
      ...(diverged ? { diverged } : {}),
    };
  }

  private makeAdam(groups: PhaseGroups, pos: number): Adam {
    return new Adam([
      ...groups.frame.map(({ group, lr }) => ({ name: group, params: this.store.frames[pos][group], lr })),
      ...groups.shared.map(({ group, lr }) => ({ name: group, params: this.store.shared(group), lr })),
    ]);
  }

  /** Gradient of group `name` for batch entry k (shared groups ignore k). */
  private gradientOf(r: ObjectiveResult, name: string, k: number): ArrayLike<number> {
    if (name === 'shape' || name === 'focal' || name === 'pp') return sharedGradient(r.gradient, name);
    return r.gradient.frames[k][name as FrameGroup];
  }
}

/** Runs the whole schedule (see TrackingRunner). */
export async function runTracking(input: RunInput): Promise<RunResult> {
  return new TrackingRunner(input).run();
}

// `pixel3dmm bench track`: what the tracker's loop costs at 256x256 on the built-in synthetic head, each
// figure the median of repeated runs of exactly what the schedule does per step:
// - one camera warm-up step (landmark half and UV half): FLAME, projection, loss, gradient, Adam;
// - one stage-1 iteration: FLAME (+ neck-free pass), rendering, every loss, gradients, Adam;
// - one iteration of a single-image fit: the same with shape optimised (what makes fitImage's steps dearer);
// - one stage-2 iteration at batch 16: the same for 16 frames plus smoothness, SparseAdam and Adam;
// - stage-1 frames per second with early stopping on a synthetic video (frames after the first; the first
//   frame's camera warm-up and its fixed 200 steps are reported separately);
// - a single-image fit end to end (fitImage: 500 camera steps, 800 iterations), timed first so that it pays
//   what a fresh process pays (the mirror regulariser's precomputation, the first JIT compilations).
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtInFlameModel } from '@pixel3dmm/flame';
import { kernelInfo } from '@pixel3dmm/kernels';
import {
  Adam,
  SparseAdam,
  TrackingObjective,
  VariableStore,
  builtInTrackingAssets,
  cameraGroups,
  defaultTrackerConfig,
  fitImage,
  openPreprocessed,
  runTracking,
  stage1Groups,
  stage2Groups,
  withOverrides,
  writeSyntheticSubject,
  type FrameData,
  type FrameGroup,
  type ObjectiveOptions,
  type PhaseGroups,
} from '@pixel3dmm/tracker';
import { medianMs } from '../timing.js';

const SHARED = new Set(['shape', 'focal', 'pp']);

export async function benchTrackCommand(opts: { json?: boolean; frames: number }): Promise<void> {
  const S = 256;
  const B = 16;
  const N = Math.max(opts.frames, B);
  const model = builtInFlameModel(0);
  const config = withOverrides(defaultTrackerConfig(), { size: S });
  const tmp = mkdtempSync(join(tmpdir(), 'pixel3dmm-bench-track-'));
  try {
    const log = (s: string) => {
      if (!opts.json) process.stderr.write(`${s}\n`);
    };
    log(`synthesising ${N} frames at ${S}x${S} ...`);
    await writeSyntheticSubject({ out: tmp, frames: N, model, seed: 0, noise: 'realistic' });
    const seq = await openPreprocessed(tmp, config, { maxFrames: N });
    const frames: FrameData[] = [];
    for (let i = 0; i < N; i++) frames.push(await seq.frame(i));
    log('fitting one image (500 camera steps, 800 iterations) ...');
    const fitStart = performance.now();
    const fit = await fitImage(frames[0], { model, config: { size: S, camera_steps: 500, iters: 800 } });
    const singleImageFitSeconds = (performance.now() - fitStart) / 1000;

    const objective = new TrackingObjective(model, builtInTrackingAssets(model), config);
    const corr = frames.map((f) => objective.correspondences(f));
    const store = new VariableStore({ shape: new Float64Array(model.numShape), focal: config.focal_init, numFrames: N, numExpression: model.numExpression });
    const adamFor = (g: PhaseGroups, pos: number) =>
      new Adam([...g.frame.map(({ group, lr }) => ({ name: group, params: store.frames[pos][group], lr })), ...g.shared.map(({ group, lr }) => ({ name: group, params: store.shared(group), lr }))]);
    const step = (batch: number[], options: ObjectiveOptions, adam: Adam) => {
      const r = objective.evaluate({ variables: store.view(), batch, frames: batch.map((i) => frames[i]), correspondences: batch.map((i) => corr[i]), options });
      adam.step((name) => (SHARED.has(name) ? (name === 'shape' ? r.gradient.shared.shape : name === 'focal' ? [r.gradient.shared.focal] : r.gradient.shared.pp) : r.gradient.frames[0][name as FrameGroup]));
    };

    log('timing single steps ...');
    const camAdam = adamFor(cameraGroups(config, true), 0);
    const cameraLandmarksMs = medianMs(() => step([0], { phase: 'camera-landmarks', silhouetteScale: 1, smoothness: false, wantShape: false }, camAdam), { warmup: 1, minRuns: 20, minMs: 1000 });
    const cameraUvMs = medianMs(() => step([0], { phase: 'camera-uv', silhouetteScale: 1, smoothness: false, wantShape: false }, camAdam), { warmup: 1, minRuns: 20, minMs: 1000 });
    const s1Adam = adamFor(stage1Groups(config, false), 1);
    const stage1Ms = medianMs(() => step([1], { phase: 'track', silhouetteScale: 1, smoothness: false, wantShape: false }, s1Adam), { warmup: 1, minRuns: 10, minMs: 2000 });
    // Where a stage-1 iteration goes: the objective's own stage timers, median of 21 further iterations per stage.
    const samples: Record<string, number>[] = [];
    for (let k = 0; k < 21; k++) {
      step([1], { phase: 'track', silhouetteScale: 1, smoothness: false, wantShape: false }, s1Adam);
      samples.push({ ...objective.lastTimings });
    }
    const breakdown = (runs: Record<string, number>[]) =>
      Object.fromEntries(Object.keys(runs[0]).map((key) => [key, runs.map((t) => t[key]).sort((a, b) => a - b)[runs.length >> 1]]));
    const stage1BreakdownMs = breakdown(samples);
    // A single-image fit's iteration (what fitImage repeats 800 times): shape optimised too (its 300 identity
    // components re-blended every step, and their gradient), silhouette weight / 10.
    const singleOptions: ObjectiveOptions = { phase: 'track', silhouetteScale: 0.1, smoothness: false, wantShape: true };
    const singleAdam = adamFor(stage1Groups(config, true), 2);
    const singleMs = medianMs(() => step([2], singleOptions, singleAdam), { warmup: 1, minRuns: 10, minMs: 2000 });
    const singleSamples: Record<string, number>[] = [];
    for (let k = 0; k < 21; k++) {
      step([2], singleOptions, singleAdam);
      singleSamples.push({ ...objective.lastTimings });
    }
    const singleBreakdownMs = breakdown(singleSamples);
    const g2 = stage2Groups(config);
    const sparse = new SparseAdam(N, g2.frame.map(({ group, lr }) => ({ name: group, dim: store.frames[0][group].length, row: (r: number) => store.frames[r][group], lr })));
    const shared = new Adam(g2.shared.map(({ group, lr }) => ({ name: group, params: store.shared(group), lr })));
    const window = Array.from({ length: B }, (_, i) => i);
    const stage2Ms = medianMs(() => {
      const r = objective.evaluate({ variables: store.view(), batch: window, frames: window.map((i) => frames[i]), correspondences: window.map((i) => corr[i]), options: { phase: 'track', silhouetteScale: 1, smoothness: true, wantShape: true } });
      sparse.step(window, (name, k) => r.gradient.frames[k][name as FrameGroup]);
      shared.step((name) => (name === 'shape' ? r.gradient.shared.shape : name === 'focal' ? [r.gradient.shared.focal] : r.gradient.shared.pp));
    }, { warmup: 1, minRuns: 3, minMs: 3000 });

    log(`tracking stage 1 over ${N} frames (default schedule, early stopping) ...`);
    const run = await runTracking({
      objective: new TrackingObjective(model, builtInTrackingAssets(model), config),
      frames: seq,
      config: withOverrides(config, { global_iters: 0 }),
      shapePrior: new Float64Array(model.numShape),
      numExpression: model.numExpression,
    });
    const later = run.telemetry.slice(1);
    const laterSeconds = later.reduce((a, t) => a + t.seconds, 0);
    const first = run.telemetry[0];
    const result = {
      size: S,
      model: model.source,
      cpus: cpus().length,
      threads: kernelInfo().threads,
      cameraStepMs: { landmarks: cameraLandmarksMs, uv: cameraUvMs },
      stage1IterationMs: stage1Ms,
      stage1BreakdownMs,
      singleImageIterationMs: singleMs,
      singleImageBreakdownMs: singleBreakdownMs,
      stage2IterationMs: { batch: B, ms: stage2Ms, perFrameMs: stage2Ms / B },
      singleImageFit: { seconds: singleImageFitSeconds, cameraSteps: fit.frames[0].telemetry.camera?.steps ?? 0, iterations: fit.frames[0].telemetry.iterations },
      stage1: {
        frames: later.length,
        framesPerSecond: later.length / laterSeconds,
        meanIterations: later.reduce((a, t) => a + t.iterations, 0) / later.length,
        earlyStopped: later.filter((t) => t.earlyStopped).length,
        firstFrame: { cameraSteps: first.camera?.steps ?? 0, cameraSeconds: first.camera?.seconds ?? 0, iterations: first.iterations, seconds: first.seconds },
      },
      estimates: {
        defaultStage2Seconds: (config.global_iters * stage2Ms) / 1000,
        note: `stage 2 at the defaults (global_iters=${config.global_iters}, batch ${B}) would take about this long, whatever the video length`,
      },
    };
    if (opts.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(`tracker at ${S}x${S}, ${model.source}, ${result.threads} threads on ${result.cpus} CPUs (medians)`);
      console.log(`  camera warm-up step:       ${cameraLandmarksMs.toFixed(1)} ms (landmark half), ${cameraUvMs.toFixed(1)} ms (UV half)`);
      console.log(`  stage-1 iteration:         ${stage1Ms.toFixed(1)} ms (FLAME, render, all losses, gradients, Adam)`);
      const ofWhich = (b: Record<string, number>) =>
        `    of which: ${Object.entries(b).filter(([k]) => k !== 'total').map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')} ms (objective total ${b.total.toFixed(2)} ms)`;
      console.log(ofWhich(stage1BreakdownMs));
      console.log(`  single-image iteration:    ${singleMs.toFixed(1)} ms (the same with shape optimised, silhouette / 10)`);
      console.log(ofWhich(singleBreakdownMs));
      console.log(`  stage-2 iteration (B=${B}):  ${stage2Ms.toFixed(1)} ms (${(stage2Ms / B).toFixed(1)} ms per frame)`);
      console.log(`  single-image fit:          ${singleImageFitSeconds.toFixed(2)} s (${result.singleImageFit.cameraSteps} camera steps, ${result.singleImageFit.iterations} iterations)`);
      console.log(`  stage 1 with early stopping: ${result.stage1.framesPerSecond.toFixed(2)} frames/s over ${later.length} frames ` +
        `(${result.stage1.meanIterations.toFixed(1)} steps per frame, ${result.stage1.earlyStopped} stopped early)`);
      console.log(`  first frame: ${result.stage1.firstFrame.cameraSteps} camera steps (${result.stage1.firstFrame.cameraSeconds.toFixed(1)} s) + ` +
        `${first.iterations} steps, ${first.seconds.toFixed(1)} s in all`);
      console.log(`  stage 2 at the defaults (${config.global_iters} iterations): about ${(result.estimates.defaultStage2Seconds / 60).toFixed(1)} min`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

import { describe, expect, it } from 'vitest';
import { defaultTrackerConfig, withOverrides, type TrackerConfig } from '../config.js';
import { Stage2Sampler } from './batch-sampler.js';
import { EarlyStopping } from './early-stopping.js';
import { framesFromArray } from './frames.js';
import { cameraPhase, stage2LearningRateSteps } from './schedule.js';
import { LinearObjective, QuadraticObjective, ScriptedObjective, TEST_NUM_EXPRESSION, TEST_NUM_SHAPE, fakeFrame, targetVariables, type RecordingObjective } from './testing.js';
import { TrackingError, runTracking, type TrackingEvent } from './tracker.js';

function config(overrides: Record<string, unknown>): TrackerConfig {
  return withOverrides(defaultTrackerConfig(), { size: 8, ...overrides });
}

function run(objective: RecordingObjective, numFrames: number, overrides: Record<string, unknown>, extra: { signal?: AbortSignal; onEvent?: (e: TrackingEvent) => void; frames?: ReturnType<typeof fakeFrame>[] } = {}) {
  const frames = extra.frames ?? Array.from({ length: numFrames }, (_, i) => fakeFrame(i));
  return runTracking({
    objective,
    frames: framesFromArray(frames),
    config: config(overrides),
    shapePrior: Float64Array.from({ length: TEST_NUM_SHAPE }, (_, i) => 0.1 * i),
    numExpression: TEST_NUM_EXPRESSION,
    signal: extra.signal,
    onEvent: extra.onEvent,
  });
}

const quadratic = () =>
  new QuadraticObjective(targetVariables, { shape: Float64Array.of(1, -1, 0.5, 0), focal: 4.2, pp: [0.01, -0.02] });

describe('early stopping (spec 7.1)', () => {
  it('stops after the step where the ring buffer of |L_p - L_{p-1}| first averages below delta', () => {
    // Differences of 6 up to p = 14, then 0: at p = 15 the mean is (9*6 + 0)/10 = 5.4, at p = 16 it is 4.8 < 5.
    const es = new EarlyStopping(5);
    let L = 1000;
    let stoppedAt = -1;
    for (let p = 0; p < 100 && stoppedAt < 0; p++) {
      if (p > 0 && p <= 14) L -= 6;
      if (es.record(p, L)) stoppedAt = p;
    }
    expect(stoppedAt).toBe(16);
  });

  it('cannot stop before p = 11 even with a constant loss (the buffer starts at 100)', () => {
    const es = new EarlyStopping(5);
    const stops = Array.from({ length: 13 }, (_, p) => es.record(p, 7));
    expect(stops.indexOf(true)).toBe(11);
  });
});

describe('camera warm-up and stage 1 (spec 7.0, 7.1)', () => {
  it('runs exactly camera_steps + iters steps on the first frame: landmarks, then UV, then stage 1 at sil/10', async () => {
    const obj = new LinearObjective();
    const result = await run(obj, 1, { camera_steps: 20, iters: 7 });
    expect(result.mode).toBe('single');
    expect(obj.calls).toHaveLength(27);
    const phases = obj.calls.map((c) => c.options.phase);
    expect(phases.slice(0, 11)).toEqual(Array(11).fill('camera-landmarks')); // k <= 20/2
    expect(phases.slice(11, 20)).toEqual(Array(9).fill('camera-uv'));
    expect(phases.slice(20)).toEqual(Array(7).fill('track'));
    expect(obj.calls.slice(20).every((c) => c.options.silhouetteScale === 0.1 && !c.options.smoothness)).toBe(true);
    // The shape gradient is asked for only where shape moves: a single image's stage 1, not the warm-up.
    expect(obj.calls.map((c) => c.options.wantShape)).toEqual([...Array(20).fill(false), ...Array(7).fill(true)]);
    expect(result.telemetry[0]).toMatchObject({ iterations: 7, earlyStopped: false, camera: { steps: 20 } });
    expect(result.stage2).toBeNull();
    expect(cameraPhase(250, 500)).toBe('camera-landmarks');
    expect(cameraPhase(251, 500)).toBe('camera-uv');
  });

  it('with camera_solver=lm solves the landmark half and runs Adam on the UV half only', async () => {
    const obj = new LinearObjective();
    const frames = [fakeFrame(0)];
    const result = await runTracking({
      objective: obj,
      frames: framesFromArray(frames),
      config: config({ camera_steps: 20, iters: 3, camera_solver: 'lm' }),
      shapePrior: new Float64Array(TEST_NUM_SHAPE),
      numExpression: TEST_NUM_EXPRESSION,
      // A stand-in head: 68 points on a small grid in front of the camera.
      landmarks: () => Float32Array.from({ length: 204 }, (_, i) => (i % 3 === 2 ? 0 : 0.01 * ((i % 7) - 3))),
    });
    expect(obj.calls.map((c) => c.options.phase)).toEqual([...Array(9).fill('camera-uv'), ...Array(3).fill('track')]);
    expect(result.telemetry[0].camera).toMatchObject({ steps: 9 });
    expect(result.telemetry[0].camera!.lm!.iterations).toBeGreaterThan(0);
    await expect(run(new LinearObjective(), 1, { camera_solver: 'lm' })).rejects.toThrow(/camera_solver=lm needs the FLAME landmarks/);
    await expect(run(new LinearObjective(), 1, { camera_solver: 'bfgs' })).rejects.toThrow(/'camera_solver' must be adam or lm/);
  });

  it('moves only t, R, focal and pp during the warm-up, with StepLR at 0.75 steps', async () => {
    const obj = new LinearObjective();
    await run(obj, 1, { camera_steps: 8, iters: 1 });
    const [first, afterCamera] = [obj.calls[0], obj.calls[8]];
    expect([...afterCamera.frames[0].expression]).toEqual([...first.frames[0].expression]);
    expect([...afterCamera.frames[0].jaw]).toEqual([...first.frames[0].jaw]);
    expect([...afterCamera.shape]).toEqual([...first.shape]);
    // Constant gradient 1: Adam moves each value by ~lr per step; StepLR(6, 0.1): 6 steps at lr, 2 at lr/10.
    const c = defaultTrackerConfig();
    expect(afterCamera.frames[0].translation[0] - first.frames[0].translation[0]).toBeCloseTo(-c.lr_cam_t * (6 + 0.2), 9);
    expect(afterCamera.focal - first.focal).toBeCloseTo(-c.lr_cam_f * 6.2, 8);
    expect(afterCamera.pp[0] - first.pp[0]).toBeCloseTo(-c.lr_cam_pp * 6.2, 10);
  });

  it('optimises shape in stage 1 only for a single image; carries parameters over and starts a new Adam per frame', async () => {
    const single = new LinearObjective();
    await run(single, 1, { camera_steps: 0, iters: 3 });
    expect(single.calls[2].shape[1]).not.toBe(single.calls[0].shape[1]);

    const video = new LinearObjective();
    await run(video, 3, { camera_steps: 0, iters: 3, global_iters: 0 });
    expect(video.calls.every((c) => c.shape[1] === video.calls[0].shape[1])).toBe(true);
    expect(video.calls.every((c) => c.options.wantShape === false)).toBe(true);
    // Frame 1 starts where frame 0 ended (carry-over) ...
    const c = defaultTrackerConfig();
    const f0end = video.calls[2].frames[0].expression[0] - c.lr_exp; // frame 0's last evaluation, then one more step
    expect(video.calls[3].frames[0].expression[0]).toBeCloseTo(f0end, 9);
    // ... and its first step is a fresh Adam's first step: exactly lr * g / (|g| + eps).
    expect(video.calls[4].frames[0].expression[0] - video.calls[3].frames[0].expression[0]).toBeCloseTo(-c.lr_exp / (1 + 1e-8), 15);
    expect(video.calls[3].options.silhouetteScale).toBe(1);
    // Stage 1 optimises neither focal nor pp (global camera).
    expect(video.calls.every((x) => x.focal === video.calls[0].focal)).toBe(true);
  });

  it('stops later frames early, never the first, exactly at the ring-buffer rule', async () => {
    // Constant loss: a later frame stops after 12 steps; the first frame runs all iters.
    const obj = new ScriptedObjective(() => 42);
    const result = await run(obj, 3, { camera_steps: 0, iters: 50, global_iters: 0 });
    expect(result.telemetry.map((t) => [t.iterations, t.earlyStopped])).toEqual([
      [50, false],
      [12, true],
      [12, true],
    ]);
    // A loss falling by 10 per step never stops.
    let n = 0;
    const falling = new ScriptedObjective(() => 1e6 - 10 * n++);
    const r2 = await run(falling, 2, { camera_steps: 0, iters: 30, global_iters: 0 });
    expect(r2.telemetry[1]).toMatchObject({ iterations: 30, earlyStopped: false });
  });

  it('multi-image mode resets the poses of every image to the initial values', async () => {
    const obj = quadratic();
    await run(obj, 3, { camera_steps: 0, iters: 5, global_iters: 0, is_discontinuous: true });
    for (const start of [5, 10]) {
      // Early stopping may end a frame sooner; find the first call of each later frame by its batch.
      const call = obj.calls.find((c, i) => c.batch[0] === start / 5 && (i === 0 || obj.calls[i - 1].batch[0] !== start / 5))!;
      expect([...call.frames[0].rotation]).toEqual([1, 0, 0, 0, 1, 0]);
      expect([...call.frames[0].expression]).toEqual([0, 0, 0]);
    }
  });

  it('finds each frame\u2019s correspondences once and passes them with every evaluation', async () => {
    const obj = new LinearObjective();
    await run(obj, 3, { camera_steps: 4, iters: 2, global_iters: 4, batch_size: 2 });
    expect(obj.correspondenceCalls).toEqual([0, 1, 2]);
  });
});

describe('stage 2 (spec 7.2)', () => {
  it('draws random sorted batches, then windows with smoothness on odd iterations after 15%', () => {
    const s = new Stage2Sampler({ numFrames: 40, batchSize: 16, iterations: 100, smooth: true, discontinuous: false }, 42);
    for (let p = 0; p < 100; p++) {
      const b = s.next(p);
      expect(b.frames).toHaveLength(16);
      expect(new Set(b.frames).size).toBe(16);
      expect([...b.frames].sort((x, y) => x - y)).toEqual(b.frames);
      expect(b.frames.every((f) => f >= 0 && f < 40)).toBe(true);
      const expectRandom = p < 15 && p % 2 === 0;
      expect(b.window).toBe(!expectRandom);
      if (b.window) expect(b.frames[15] - b.frames[0]).toBe(15);
      expect(b.smoothness).toBe(p >= 15 && p % 2 === 1);
    }
  });

  it('handles odd frame counts below the batch size and reaches every window start', () => {
    const odd = new Stage2Sampler({ numFrames: 7, batchSize: 16, iterations: 50, smooth: true, discontinuous: false }, 1);
    for (let p = 0; p < 50; p++) expect(odd.next(p).frames).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const s = new Stage2Sampler({ numFrames: 11, batchSize: 3, iterations: 4000, smooth: true, discontinuous: false }, 3);
    const starts = new Set<number>();
    for (let p = 600; p < 4000; p++) starts.add(s.next(p).frames[0]);
    expect([...starts].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('multi-image mode and smooth=false draw random batches only, never smoothness', () => {
    for (const plan of [{ discontinuous: true, smooth: true }, { discontinuous: false, smooth: false }]) {
      const s = new Stage2Sampler({ numFrames: 30, batchSize: 4, iterations: 40, ...plan }, 42);
      for (let p = 0; p < 40; p++) expect(s.next(p)).toMatchObject({ window: false, smoothness: false });
    }
  });

  it('steps the per-frame learning rates at 50/75/90% as intended, and never the shared ones', async () => {
    expect(stage2LearningRateSteps(5000).map((s) => [s.at, s.divisor('translation'), s.divisor('expression'), s.divisor('neck')])).toEqual([
      [2500, 10, 2, 2],
      [3750, 5, 2, 2],
      [4500, 2, 5, 5],
    ]);
    // End to end: a constant gradient of 1 moves every value by ~lr per iteration (N = B, so every row is in
    // every batch). Over 100 iterations: t, R, jaw 50 + 25/10 + 15/50 + 10/100 = 52.9 lr;
    // the others 50 + 25/2 + 15/4 + 10/20 = 66.75 lr; shape 100 lr (no decay).
    const base = new LinearObjective();
    const before = await run(base, 4, { camera_steps: 0, iters: 1, global_iters: 0 });
    const joint = new LinearObjective();
    const after = await run(joint, 4, { camera_steps: 0, iters: 1, global_iters: 100, batch_size: 4 });
    const c = defaultTrackerConfig();
    const moved = (g: 'translation' | 'expression' | 'jaw' | 'neck', f: number) => before.variables.frames[f][g][0] - after.variables.frames[f][g][0];
    for (let f = 0; f < 4; f++) {
      // (SparseAdam's eps is not bias-corrected: a relative effect of ~1e-7 here.)
      expect(moved('translation', f)).toBeCloseTo(52.9 * c.lr_t, 7);
      expect(moved('jaw', f)).toBeCloseTo(52.9 * c.lr_jaw, 7);
      expect(moved('expression', f)).toBeCloseTo(66.75 * c.lr_exp, 7);
      expect(moved('neck', f)).toBeCloseTo(66.75 * c.lr_neck, 7);
    }
    expect(before.variables.shape[0] - after.variables.shape[0]).toBeCloseTo(100 * c.lr_id, 8);
    expect(before.variables.focal[0] - after.variables.focal[0]).toBeCloseTo(100 * c.lr_f_global, 6);
    expect(after.stage2).toMatchObject({ iterations: 100, batchSize: 4 });
    const joint2 = joint.calls.filter((c) => c.batch.length === 4);
    expect(joint2).toHaveLength(100);
    expect(joint2.every((c) => c.options.wantShape === true && c.options.silhouetteScale === 1)).toBe(true);
  });

  it('converges a quadratic to its known minimum and is bit-for-bit deterministic', async () => {
    const o = { camera_steps: 10, iters: 40, global_iters: 600, batch_size: 2, lr_t: 0.01, lr_exp: 0.01, lr_id: 0.02 };
    const a = await run(quadratic(), 5, o);
    const b = await run(quadratic(), 5, o);
    for (let f = 0; f < 5; f++) {
      expect(Buffer.from(a.variables.frames[f].expression.buffer).equals(Buffer.from(b.variables.frames[f].expression.buffer))).toBe(true);
      const target = targetVariables(f);
      for (let i = 0; i < 3; i++) expect(a.variables.frames[f].translation[i]).toBeCloseTo(target.translation[i], 3);
      for (let i = 0; i < 3; i++) expect(a.variables.frames[f].expression[i]).toBeCloseTo(target.expression[i], 3);
    }
    expect(a.variables.shape[0]).toBeCloseTo(1, 2);
  });
});

describe('bad input, divergence and cancellation', () => {
  it('rolls back a diverging frame, reports it, and keeps going', async () => {
    const obj = new ScriptedObjective((call) => (call === 35 ? NaN : 1000 - call));
    const events: TrackingEvent[] = [];
    const result = await run(obj, 2, { camera_steps: 0, iters: 30, global_iters: 0, early_stopping_delta: 0 }, { onEvent: (e) => events.push(e) });
    expect(result.telemetry[1].diverged).toMatch(/stage 1 step 5: total loss NaN/);
    expect(result.telemetry[1].iterations).toBe(5);
    // The values are those of the last finite evaluation (call 34).
    expect(result.variables.frames[1].expression[0]).toBe(obj.calls[34].frames[0].expression[0]);
    expect(events.some((e) => e.type === 'warning' && /frame 1: stage 1 step 5/.test(e.message))).toBe(true);
  });

  it('fails with a clear error when a frame cannot be evaluated at all', async () => {
    await expect(run(new ScriptedObjective(() => NaN), 1, { camera_steps: 0, iters: 3 })).rejects.toThrow(/frame 0: the first stage-1 evaluation is not finite/);
    await expect(run(new LinearObjective(), 2, { camera_steps: 0, global_camera: false })).rejects.toThrow(/global_camera=false/);
    await expect(run(new LinearObjective(), 0, {})).rejects.toThrow(TrackingError);
    const wrongSize = [fakeFrame(0, 16)];
    await expect(run(new LinearObjective(), 1, { camera_steps: 0 }, { frames: wrongSize })).rejects.toThrow(/frame 0 \(position 0\): frame data is 16x16 but the tracker renders at size=8/);
  });

  it('warns about frames without landmarks instead of failing', async () => {
    const frames = [fakeFrame(0), fakeFrame(1, 8, false)];
    const result = await run(new LinearObjective(), 2, { camera_steps: 0, iters: 2, global_iters: 2 }, { frames });
    expect(result.warnings).toContain('frame 1: no valid landmarks; the landmark terms are masked out for it');
    expect(result.telemetry[1].landmarks).toBe(0);
  });

  it('rejects with an AbortError when cancelled', async () => {
    const ac = new AbortController();
    const obj = new LinearObjective();
    const p = run(obj, 3, { camera_steps: 0, iters: 5, global_iters: 1000 }, {
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'progress' && e.phase === 'stage2' && e.step === 10) ac.abort();
      },
    });
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(obj.calls.filter((c) => c.batch.length > 1).length).toBe(10);
  });
});

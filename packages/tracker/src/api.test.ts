// The API end to end with the real objective on a small synthetic subject (64 px, few steps: the schedule
// itself is tested with fake objectives in run/).
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtInFlameModel } from '@pixel3dmm/flame';
import { setThreads } from '@pixel3dmm/kernels';
import { fitImage, fitImages, trackVideo, type FrameEvent, type ProgressEvent } from './api.js';
import { openPreprocessed } from './data/index.js';
import { writeSyntheticSubject } from './synth/index.js';
import type { FrameData } from './types.js';

const tmp = mkdtempSync(join(tmpdir(), 'p3d-api-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const data = join(tmp, 'clip');
const model = builtInFlameModel(0);
const FAST = { size: 64, camera_steps: 20, iters: 12, global_iters: 4, batch_size: 2 };

beforeAll(async () => {
  await writeSyntheticSubject({ out: data, frames: 3, model, seed: 2 });
});

describe('trackVideo', () => {
  it('reports progress and each frame as it comes, writes the outputs, and reuses a finished run', async () => {
    const outDir = join(tmp, 'out');
    const job = trackVideo(data, { config: FAST, outDir });
    const frames: FrameEvent[] = [];
    const phases: string[] = [];
    let progress = 0;
    job.on('frame', (f: FrameEvent) => frames.push(f));
    job.on('phase', (p: { phase: string }) => phases.push(p.phase));
    job.on('progress', (_p: ProgressEvent) => progress++);
    const result = await job;
    expect(frames.map((f) => f.position)).toEqual([0, 1, 2]);
    expect(frames[0].params.expression).toHaveLength(model.numExpression);
    expect(phases[0]).toBe('stage1');
    expect(phases).toContain('camera');
    expect(phases.slice(-2)).toEqual(['stage2', 'outputs']);
    // One progress event per camera step, stage-1 step and stage-2 iteration, and per frame written.
    expect(progress).toBe(20 + frames.reduce((a, f) => a + f.telemetry.iterations, 0) + 4 + 3);
    expect(result).toMatchObject({ mode: 'video', name: 'clip', reused: false });
    expect(result.frames.map((f) => f.index)).toEqual([0, 1, 2]);
    expect(result.frames[0].image_size).toEqual([64, 64]);
    expect(existsSync(join(result.outputDir!, 'result.mp4'))).toBe(true);

    const again = await trackVideo(data, { config: FAST, outDir });
    expect(again.reused).toBe(true);
    expect(again.frames.map((f) => f.params)).toEqual(result.frames.map((f) => f.params));
    expect(again.frames[1].telemetry).toEqual(result.frames[1].telemetry);
  });

  it('is deterministic: the same input and seed give the same bits, whatever the kernels\' thread count', async () => {
    setThreads(1);
    try {
      const a = await trackVideo(data, { config: FAST });
      setThreads(3);
      const b = await trackVideo(data, { config: FAST });
      expect(a.frames.map((f) => f.params)).toEqual(b.frames.map((f) => f.params));
      expect(a.frames.map((f) => f.telemetry.terms)).toEqual(b.frames.map((f) => f.telemetry.terms));
      expect(a.frames[2].params.translation[2]).not.toBe(0);
    } finally {
      setThreads(0); // back to one thread per core
    }
  });

  it('cancels cleanly: rejects with an AbortError and writes nothing', async () => {
    const ac = new AbortController();
    const outDir = join(tmp, 'cancelled');
    const job = trackVideo(data, { config: FAST, outDir, signal: ac.signal });
    job.on('frame', (f: FrameEvent) => {
      if (f.position === 1) ac.abort();
    });
    await expect(job).rejects.toMatchObject({ name: 'AbortError' });
    expect(existsSync(outDir) ? readdirSync(outDir) : []).toEqual([]);
  });
});

describe('fitImage and fitImages', () => {
  it('fits one in-memory image in single-image mode, and refuses several', async () => {
    const seq = await openPreprocessed(data, { size: 64, ignore_mica: false });
    const frame: FrameData = await seq.frame(0);
    const r = await fitImage(frame, { config: { ...FAST, iters: 5 } });
    expect(r.mode).toBe('single');
    expect(r.frames[0].telemetry.iterations).toBe(5);
    expect(r.stage2).toBeNull();
    await expect(fitImage(data, { config: FAST })).rejects.toThrow(/fitImage: expected one image, got 3 frames/);
  });

  it('fits unrelated images with per-image poses (is_discontinuous)', async () => {
    const r = await fitImages(data, { config: FAST });
    expect(r.mode).toBe('multi');
    expect(r.config.is_discontinuous).toBe(true);
    expect(r.stage2?.iterations).toBe(4);
  });

  it('names what is wrong with the input', async () => {
    await expect(trackVideo(join(tmp, 'missing'), { config: FAST })).rejects.toThrow(/missing: no such preprocessed-data folder/);
    await expect(trackVideo([], { config: FAST })).rejects.toThrow(/nothing to track|no frames/);
    await expect(trackVideo(data, { config: ['iters=x'] })).rejects.toThrow(/'iters' must be a number/);
    await expect(trackVideo(data, { model: '/nonexistent/flame', config: FAST })).rejects.toThrow(/nonexistent/);
  });
});

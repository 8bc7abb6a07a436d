// For the accuracy acceptance tests (accuracy*.test.ts): one synthetic subject of the built-in head written
// in the preprocessed layout, tracked from that folder by the public API, and compared with its ground truth.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtInFlameModel } from '@pixel3dmm/flame';
import { fitImage, trackVideo, type TrackingResult } from '../api.js';
import { writeSyntheticSubject, type NoiseLevel } from '../synth/index.js';
import { parameterVertexError, type VertexErrorReport } from './vertex-error.js';

export const accuracyModel = builtInFlameModel(0);

export interface AccuracyRun {
  error: VertexErrorReport;
  result: TrackingResult;
  seconds: number;
}

/**
 * Synthesises `frames` frames (seed 0) at `noise`, tracks them (one frame: fitImage, more: trackVideo) with
 * the configuration overrides, and measures the posed-vertex error over the face. The folder is removed after.
 */
export async function trackSynthetic(frames: number, noise: NoiseLevel, config: Record<string, unknown>): Promise<AccuracyRun> {
  const tmp = mkdtempSync(join(tmpdir(), 'p3d-accuracy-'));
  try {
    const dir = join(tmp, 'subject');
    const model = accuracyModel;
    const subject = await writeSyntheticSubject({ out: dir, frames, model, noise, seed: 0 });
    const t0 = performance.now();
    const result = await (frames === 1 ? fitImage : trackVideo)(dir, { model, config });
    const seconds = (performance.now() - t0) / 1000;
    const error = parameterVertexError(model, result.frames.map((f) => f.params), subject.groundTruth.frames);
    console.log(
      `accuracy: ${frames} frame(s), noise ${noise}, ${JSON.stringify(config)}: mean ${error.meanMm.toFixed(3)} mm, ` +
        `max ${error.maxMm.toFixed(2)} mm over ${error.numVertices} face vertices; tracking ${seconds.toFixed(1)} s`,
    );
    return { error, result, seconds };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

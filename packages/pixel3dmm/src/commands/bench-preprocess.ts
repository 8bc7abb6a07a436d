// `pixel3dmm bench preprocess [INPUT]`: ms per frame for detection, landmarks and segmentation.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { benchPreprocess, openInput } from '@pixel3dmm/preprocess';
import { loadPreprocessModels, reportError, type StageFlags } from './stages.js';

/** The team's example video when no input is given (ex1.mp4 of ../shared/data), if it is there. */
function defaultBenchVideo(): string | undefined {
  const candidates = [process.env.PIXEL3DMM_BENCH_VIDEO, resolve('..', 'shared', 'data', 'videos', 'ex1.mp4'), resolve('shared', 'data', 'videos', 'ex1.mp4')];
  return candidates.find((c): c is string => !!c && existsSync(c));
}

export async function benchPreprocessCommand(input: string | undefined, flags: StageFlags & { frames?: number }): Promise<void> {
  let models;
  try {
    const file = input ?? defaultBenchVideo();
    if (!file) {
      process.stderr.write('error: no input video: give one (pixel3dmm bench preprocess VIDEO) or set PIXEL3DMM_BENCH_VIDEO\n');
      process.exitCode = 1;
      return;
    }
    models = await loadPreprocessModels(flags);
    // A warm-up frame, so model initialisation is not billed to the first frame.
    await benchPreprocess(openInput(file), models, 1);
    const r = await benchPreprocess(openInput(file), models, flags.frames);
    if (flags.json) {
      console.log(JSON.stringify(r, null, 2));
      return;
    }
    const f = (t: { mean: number; median: number }) => `${t.mean.toFixed(1).padStart(6)} mean ${t.median.toFixed(1).padStart(6)} median`;
    console.log(`${r.input}: ${r.frames} frames, ${r.detectorCalls} detector call${r.detectorCalls === 1 ? '' : 's'} (tracking across frames)`);
    console.log(`ms/frame  detection    ${f(r.detection)}`);
    console.log(`ms/frame  landmarks    ${f(r.landmarks)}`);
    console.log(`ms/frame  segmentation ${f(r.segmentation)}`);
    console.log(`ms/frame  total        ${f(r.total)}   (target: <= 60)`);
    console.log(`CPU ms/frame (what an idle machine's clock would show): detection+landmarks ${f(r.cpu.faceAndLandmarks)}, segmentation ${f(r.cpu.segmentation)}, total ${f(r.cpu.total)}`);
  } catch (e) {
    reportError(e);
  } finally {
    await models?.release();
  }
}

// `pixel3dmm synth`: a synthetic subject with known FLAME parameters, written in the preprocessed-data layout
// (PREPROCESSED_DATA/VID) as ideal or noisy network outputs, plus ground_truth.json (@pixel3dmm/tracker synth).
import { resolve } from 'node:path';
import { checkOutputFolder, parseNoiseLevel, writeSyntheticSubject } from '@pixel3dmm/tracker';
import { flameModelSetting } from '../config.js';
import { chooseFlameModel } from '../model-choice.js';

export interface SynthOptions {
  frames: number;
  out: string;
  model?: string;
  seed: number;
  noise: string;
  force?: boolean;
}

export async function synthCommand(opts: SynthOptions): Promise<void> {
  const noise = parseNoiseLevel(opts.noise);
  checkOutputFolder(opts.out, !!opts.force); // before the (slow) model
  const model = chooseFlameModel(opts.model);
  const path = flameModelSetting(opts.model);
  const r = await writeSyntheticSubject({
    out: opts.out,
    frames: opts.frames,
    model,
    seed: opts.seed,
    noise,
    overwrite: !!opts.force,
    modelDescription: path ? resolve(path) : undefined,
  });
  console.log(`${r.dir}: ${opts.frames} synthetic frame(s) of ${r.groundTruth.model}, seed ${opts.seed}, noise ${noise} ` +
    `(${r.seconds.toFixed(1)} s); ground truth in ground_truth.json`);
}

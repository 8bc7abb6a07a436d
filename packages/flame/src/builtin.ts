// The built-in synthetic head as a FlameModel: generated in memory (deterministic from the seed) and
// validated by the same code as a licensed FLAME file.
import { flameModelFromRaw, type FlameModel } from './model.js';
import type { RawFlameFiles } from './raw-files.js';
import { generateSyntheticHead } from './synthetic/index.js';

const cache = new Map<number, { raw: RawFlameFiles; model: FlameModel }>();

export function builtInFlameFiles(seed = 0): RawFlameFiles {
  return builtIn(seed).raw;
}

export function builtInFlameModel(seed = 0): FlameModel {
  return builtIn(seed).model;
}

function builtIn(seed: number) {
  let entry = cache.get(seed);
  if (!entry) {
    const raw = generateSyntheticHead({ seed });
    const source = `built-in synthetic head (seed ${seed})`;
    const model = flameModelFromRaw(raw, { model: source, masks: source, landmarkEmbedding: source, leftEyelid: source, rightEyelid: source, template: source }, { source });
    entry = { raw, model };
    cache.set(seed, entry);
  }
  return entry;
}

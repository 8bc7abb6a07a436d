// Synthetic subjects with ground truth (issue #4 section 4): random identity and motion, rendered into the
// preprocessed layout as ideal (or noisy) network outputs.
export { Rng, STREAM } from './random.js';
export { FRAME_RATE, eulerTo6d, sampleIdentity, sampleMotion } from './motion.js';
export { SYNTH_CLASSES, vertexClasses } from './regions.js';
export { FLAME_PUPIL_VERTICES, normalisedLandmarks, pupilVertices, wflw98FromIbug68 } from './landmarks.js';
export { SyntheticRenderer, cropCamera, type SyntheticFrame, type SyntheticMaps } from './render.js';
export { NOISE_LEVELS, NOISE_SPECS, parseNoiseLevel, type NoiseLevel, type NoiseSpec } from './noise.js';
export { encodeNormalMap, encodeUvMap, segmentationColours } from './images.js';
export {
  GROUND_TRUTH_FILE,
  checkOutputFolder,
  readGroundTruth,
  writeSyntheticSubject,
  type GroundTruth,
  type GroundTruthFrame,
  type SyntheticSubject,
  type SyntheticSubjectOptions,
} from './subject.js';

export type { CscMatrixData, RawFlameFiles, RawFlameModel, RawLandmarkEmbedding, RawTemplateMesh } from './raw-files.js';
export { EXPRESSION_COMPONENTS, FLAME_PARENTS, expressionCount, flameModelFromRaw, kernelArrays, type FlameModel, type RawFlameSources } from './model.js';
export {
  FLAME_FILES,
  MissingFlameFileError,
  findFlameFiles,
  loadFlameModel,
  loadMediapipeEmbedding,
  type MediapipeEmbedding,
  rawLandmarksFromNpy,
  rawMasksFromPickle,
  rawModelFromPickle,
  rawTemplateFromObj,
  type FlameFileKind,
  type FlameFilePaths,
} from './files.js';
export { writeFlameFiles, type WrittenFlameFiles } from './write-files.js';
export { FlameParamsError, defaultFlameParams, parseFlameParams, type FlameParams } from './params.js';
export { Flame, applyRigid, flameKernelOf, type FlameEvaluation } from './flame.js';
export { builtInFlameFiles, builtInFlameModel } from './builtin.js';
export { SYNTHETIC_NUM_FACES, SYNTHETIC_NUM_VERTICES, generateSyntheticHead, syntheticMirrorIndex } from './synthetic/index.js';

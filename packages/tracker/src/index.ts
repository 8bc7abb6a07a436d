// @pixel3dmm/tracker: Pixel3DMM's two-stage FLAME tracker (pixel3dmm-spec.md sections 6-8).
//
// Start with the API (api.ts): fitImage, fitImages, trackVideo. The parts below it are public for tools that
// embed the tracker: the contracts (types.ts), the configuration (config.ts), the objective, the schedule
// (run/), the optimisers (optim/), the outputs (outputs/), the preprocessed-data reader (data/), the
// synthetic-subject generator (synth/) and the error metric (eval/).
export * from './types.js';
export { CONFIG_DIR, ConfigError, DEFAULT_CONFIG_FILE, defaultTrackerConfig, withOverrides, type TrackerConfig } from './config.js';
export { SYNTHETIC_ASSETS, TrackingJob, fitImage, fitImages, resolveModel, trackVideo, type FrameEvent, type FrameResult, type ProgressEvent, type TrackOptions, type TrackingResult } from './api.js';
export { ADAM_DEFAULTS, Adam, OptimizerError, StepLR, type AdamGroup, type AdamGroupSpec, type AdamOptions } from './optim/adam.js';
export { SparseAdam, type SparseAdamGroup, type SparseAdamGroupSpec } from './optim/sparse-adam.js';
export {
  TrackingError,
  TrackingRunner,
  checkScheduleConfig,
  runTracking,
  trackingMode,
  type CameraTelemetry,
  type FrameTelemetry,
  type RunInput,
  type RunResult,
  type Stage2Telemetry,
  type TrackingEvent,
  type TrackingMode,
  type TrackingPhase,
} from './run/tracker.js';
export { FrameCache, framesFromArray, type FrameSource } from './run/frames.js';
export { flameLandmarks, solveCameraLandmarks, type CameraSolveResult, type LandmarkFunction } from './run/camera-lm.js';
export { EarlyStopping, EARLY_STOPPING_WINDOW } from './run/early-stopping.js';
export { SeededRandom, Stage2Sampler, type BatchPlan, type Stage2Batch } from './run/batch-sampler.js';
export { cameraGroups, cameraPhase, cameraStepSize, stage1Groups, stage2Groups, stage2LearningRateSteps, type LearningRateStep, type PhaseGroups } from './run/schedule.js';
export { FRAME_GROUPS, VariableStore, copyFrameVariables, initialFrameVariables } from './run/variables.js';
export { OUTPUT_FILES, frameMeshPath, frameParamsPath, pythonFloat, trackingFolderName } from './outputs/folder.js';
export { headCentricCamera, openglToOpencv, sequenceCamera, type SequenceCamera } from './outputs/cameras.js';
export { overlayFrame, type OverlayRender } from './outputs/overlay.js';
export { VIDEO_CRF, VIDEO_FPS, VideoEncoder, VideoError, ffmpegPath } from './outputs/video.js';
export { OUTPUT_FORMAT, OutputError, finishedRun, outputFolder, readManifest, writeTrackingOutputs, type FrameRenderer, type Manifest, type OutputOptions } from './outputs/writer.js';
export * from './objective/index.js';
export * from './synth/index.js';
export * from './data/index.js';
export * from './eval/index.js';
// objective/ and synth/ both have a vertexNormals; the package exports the objective's (the tracking render's).
export { vertexNormals } from './objective/index.js';

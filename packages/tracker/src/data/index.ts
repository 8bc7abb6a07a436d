// The tracker's input: preprocessed data (spec 1) read as FrameData (types.ts), with Pillow-exact resizing.
export { MAX_TRACKED_FRAMES, MICA_SHAPE_LENGTH, PreprocessedDataError, openPreprocessed, type OpenOptions, type PreprocessedSequence } from './reader.js';
export { resizeBicubicPil, resizeNearestPil } from './pil-resize.js';

// Accuracy acceptance of issue #4, part 1: a single image and a short video with realistic noise. The whole
// pipeline runs: a synthetic subject of the built-in head written in the preprocessed layout (network PNGs
// with the networks' truncating 8-bit encoding, landmarks, segmentation, MICA identities) -> the reader ->
// the tracker -> the posed-vertex error over the face in camera space after one rigid alignment per sequence
// (eval/vertex-error.ts). Settings are the product's defaults plus documented options (README "Accuracy").
// The runs are deterministic; the figures in the comments are the ones measured (README, BENCHMARKS.md).
import { describe, expect, it } from 'vitest';
import { accuracyModel, trackSynthetic } from './testing.js';

const TIMEOUT = 15 * 60_000;

describe('accuracy on synthetic subjects (issue #4)', () => {
  it(
    'a single noise-free image (defaults): mean posed-vertex error at most 1 mm',
    async () => {
      const { error, result } = await trackSynthetic(1, 'none', {});
      expect(result.mode).toBe('single');
      expect(result.warnings).toEqual([]);
      expect(error.numVertices).toBe(accuracyModel.masks.face.length);
      expect(error.meanMm).toBeLessThanOrEqual(1); // measured 0.34 mm
    },
    TIMEOUT,
  );

  it(
    'an 8-frame video with the realistic noise level (global_iters=300): mean at most 2 mm',
    async () => {
      const { error, result } = await trackSynthetic(8, 'realistic', { global_iters: 300 });
      expect(result.mode).toBe('video');
      expect(result.stage2?.iterations).toBe(300);
      expect(result.warnings).toEqual([]);
      expect(error.meanMm).toBeLessThanOrEqual(2); // measured 0.91 mm
    },
    TIMEOUT,
  );
});

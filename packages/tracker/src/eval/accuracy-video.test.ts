// Accuracy acceptance of issue #4, part 2: a 24-frame noise-free video (the pipeline and metric of
// accuracy.test.ts; a file of its own so that it runs beside part 1).
// This one holds a short stage 2 (300 iterations); accuracy-video-defaults.test.ts the full default length.
import { describe, expect, it } from 'vitest';
import { trackSynthetic } from './testing.js';

describe('accuracy on synthetic subjects (issue #4)', () => {
  it(
    'a 24-frame noise-free video (global_iters=300): mean posed-vertex error at most 0.5 mm',
    async () => {
      const { error, result } = await trackSynthetic(24, 'none', { global_iters: 300 });
      expect(result.frames).toHaveLength(24);
      expect(result.stage2?.iterations).toBe(300);
      expect(result.warnings).toEqual([]);
      expect(error.meanMm).toBeLessThanOrEqual(0.5); // measured 0.340 mm (0.490 before png_bin_centres and uv_target_half_pixel became defaults)
    },
    15 * 60_000,
  );
});

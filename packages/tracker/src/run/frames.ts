// Where the runner gets its frames: a FrameSource gives frame i of the sequence (by position), synchronously
// or not (a reader decodes files lazily). Stage 2 revisits frames at random, so the runner keeps a small LRU
// cache in front of the source: at S = 256 one FrameData is about 2.6 MB, so caching every frame of a long
// video (as the original does on the GPU) is not an option on a small machine.
import type { FrameData } from '../types.js';

export interface FrameSource {
  /** Number of frames in the sequence. */
  readonly count: number;
  /** Frame at position i in [0, count). */
  frame(i: number): FrameData | Promise<FrameData>;
}

/** An in-memory sequence as a FrameSource. */
export function framesFromArray(frames: readonly FrameData[]): FrameSource {
  return { count: frames.length, frame: (i) => frames[i] };
}

export class FrameCache {
  private readonly entries = new Map<number, FrameData>();

  constructor(
    private readonly source: FrameSource,
    readonly capacity: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`frame cache capacity must be an integer >= 1, got ${capacity}`);
  }

  async get(i: number): Promise<FrameData> {
    const hit = this.entries.get(i);
    if (hit) {
      this.entries.delete(i);
      this.entries.set(i, hit);
      return hit;
    }
    const frame = await this.source.frame(i);
    this.entries.set(i, frame);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as number);
    return frame;
  }
}

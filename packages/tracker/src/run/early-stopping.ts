// Stage 1's early stopping, exactly as the original (spec 7.1): a ring buffer of 10 values initialised to
// 100; at step p >= 1 the slot p mod 10 receives |L_p - L_{p-1}|; the frame stops after step p when p > 10 and
// the buffer's mean is below early_stopping_delta. L_p is the total evaluated at step p (before that step's
// update). The threshold is absolute, on the total weighted loss. Slot 0 is first overwritten at p = 10, and
// the test needs p > 10, so the earliest stop is after step 11 (12 steps run).

export const EARLY_STOPPING_WINDOW = 10;
const INITIAL_DIFFERENCE = 100;

export class EarlyStopping {
  private readonly buffer = new Float64Array(EARLY_STOPPING_WINDOW).fill(INITIAL_DIFFERENCE);
  private previous = NaN;

  constructor(readonly delta: number) {}

  /** Records the loss of step p; true when the optimisation should stop after this step. */
  record(p: number, loss: number): boolean {
    if (p > 0) this.buffer[p % EARLY_STOPPING_WINDOW] = Math.abs(loss - this.previous);
    this.previous = loss;
    return p > EARLY_STOPPING_WINDOW && this.mean() < this.delta;
  }

  mean(): number {
    let s = 0;
    for (const v of this.buffer) s += v;
    return s / EARLY_STOPPING_WINDOW;
  }
}

import { describe, expect, it } from 'vitest';
import { Adam, OptimizerError, StepLR } from './adam.js';
import { SparseAdam } from './sparse-adam.js';

// Expected values are worked out by hand from torch's update rules (written out in each test), not by
// running the code under test.

describe('Adam (torch semantics)', () => {
  it('takes the hand-computed first and second steps, with bias correction', () => {
    const theta = Float64Array.of(1, -3);
    const adam = new Adam([{ name: 'a', params: theta, lr: 0.1 }]);
    adam.step(() => [2, 0]);
    // Step 1: m = 0.2, v = 0.004; m/(1-0.9) = 2, sqrt(v/(1-0.999)) = 2 -> theta -= 0.1 * 2 / (2 + 1e-8).
    expect(theta[0]).toBe(1 - (0.1 / (1 - 0.9)) * (0.1 * 2) / (Math.sqrt(0.004) / Math.sqrt(1 - 0.999) + 1e-8));
    expect(theta[0]).toBeCloseTo(0.9, 8);
    expect(theta[1]).toBe(-3); // zero gradient: m = v = 0, no move
    adam.step(() => [-1, 0]);
    // Step 2: m = 0.9*0.2 - 0.1 = 0.08, v = 0.999*0.004 + 0.001 = 0.004996,
    // m_hat = 0.08/0.19 = 0.421052631..., v_hat = 0.004996/0.001999 = 2.499249624..., sqrt = 1.580901459...
    expect(theta[0]).toBeCloseTo(0.9 - (0.1 * 0.4210526315789) / 1.5809014591, 8); // m is still positive;
    expect(adam.group('a').stepCount).toBe(2);
  });

  it('uses each group its own learning rate', () => {
    const a = Float64Array.of(0), b = Float64Array.of(0);
    const adam = new Adam([{ name: 'a', params: a, lr: 0.5 }, { name: 'b', params: b, lr: 0.001 }]);
    adam.step((n) => (n === 'a' ? [1] : [-1]));
    // First step moves each parameter by lr * sign(g) (up to eps).
    expect(a[0]).toBeCloseTo(-0.5, 7);
    expect(b[0]).toBeCloseTo(0.001, 9);
  });

  it('converges on a quadratic to its known minimum', () => {
    const x = Float64Array.of(5, -4);
    const adam = new Adam([{ name: 'x', params: x, lr: 0.05 }]);
    for (let k = 0; k < 2000; k++) adam.step(() => [2 * (x[0] - 1), 2 * (x[1] + 2)]);
    expect(x[0]).toBeCloseTo(1, 3);
    expect(x[1]).toBeCloseTo(-2, 3);
  });

  it('rejects a gradient of the wrong length and a bad learning rate, naming the group', () => {
    const adam = new Adam([{ name: 'shape', params: new Float64Array(3), lr: 0.1 }]);
    expect(() => adam.step(() => [1, 2])).toThrow(/group 'shape' has 3 parameters but its gradient has 2/);
    expect(() => new Adam([{ name: 't', params: new Float64Array(1), lr: NaN }])).toThrow(OptimizerError);
    expect(() => new Adam([{ name: 't', params: new Float64Array(1), lr: -1 }])).toThrow(/group 't'/);
  });
});

describe('StepLR', () => {
  it('multiplies every learning rate by gamma after each step_size scheduler steps (camera warm-up: 375 of 500)', () => {
    const adam = new Adam([{ name: 't', params: new Float64Array(1), lr: 1e-3 }, { name: 'f', params: new Float64Array(1), lr: 0.02 }]);
    const sched = new StepLR(adam, Math.floor(0.75 * 500), 0.1);
    const lrAtStep: number[] = [];
    for (let k = 0; k < 500; k++) {
      lrAtStep.push(adam.groups[0].lr);
      sched.step();
    }
    expect(lrAtStep[374]).toBe(1e-3);
    expect(lrAtStep[375]).toBe(1e-3 * 0.1);
    expect(lrAtStep[499]).toBe(1e-3 * 0.1);
    expect(adam.groups[1].lr).toBe(0.02 * 0.1);
    expect(lrAtStep.filter((l) => l === 1e-3)).toHaveLength(375);
  });
});

describe('SparseAdam (torch semantics: per-row moments, global step, eps outside the bias correction)', () => {
  it('updates only the rows in the batch and corrects with the global step count', () => {
    const table = [Float64Array.of(0), Float64Array.of(0), Float64Array.of(0)];
    const opt = new SparseAdam(3, [{ name: 'x', dim: 1, row: (r) => table[r], lr: 1 }]);
    opt.step([0], () => [2]);
    // step 1: m0 = 0.2, v0 = 0.004; theta0 -= sqrt(0.001)/0.1 * 0.2/(sqrt(0.004) + 1e-8).
    const s1 = (Math.sqrt(1 - 0.999) / (1 - 0.9)) * (0.2 / (Math.sqrt(0.004) + 1e-8));
    expect(table[0][0]).toBeCloseTo(-s1, 14);
    expect(table[0][0]).toBeCloseTo(-1, 6);
    expect(table[1][0]).toBe(0);
    opt.step([1], () => [4]);
    // step 2 (global), row 1 seen for the first time: m1 = 0.4, v1 = 0.016;
    // theta1 -= sqrt(1-0.999^2)/(1-0.9^2) * 0.4/sqrt(0.016) = 0.0447101778/0.19 * 3.16227766 = 0.744136...
    const s2 = (Math.sqrt(1 - 0.999 ** 2) / (1 - 0.9 ** 2)) * (0.4 / (Math.sqrt(0.016) + 1e-8));
    expect(table[1][0]).toBeCloseTo(-s2, 14);
    expect(table[1][0]).toBeCloseTo(-0.7441364, 6);
    expect(table[0][0]).toBeCloseTo(-s1, 14); // untouched, moments stale
    expect(opt.group('x').m[0]).toBeCloseTo(0.2, 15);
    opt.step([0, 2], (_n, k) => (k === 0 ? [-1] : [1]));
    // step 3, row 0 resumes from its stale moments: m0 = 0.2 + 0.1(-1 - 0.2) = 0.08,
    // v0 = 0.004 + 0.001(1 - 0.004) = 0.004996.
    const s3 = (Math.sqrt(1 - 0.999 ** 3) / (1 - 0.9 ** 3)) * (0.08 / (Math.sqrt(0.004996) + 1e-8));
    expect(table[0][0]).toBeCloseTo(-s1 - s3, 14);
    expect(opt.stepCount).toBe(3);
  });

  it('adds eps to sqrt(v) before the bias correction, unlike Adam', () => {
    const sparse = [Float64Array.of(0)];
    const dense = Float64Array.of(0);
    new SparseAdam(1, [{ name: 'x', dim: 1, row: () => sparse[0], lr: 1 }], { eps: 0.01 }).step([0], () => [2]);
    new Adam([{ name: 'x', params: dense, lr: 1 }], { eps: 0.01 }).step(() => [2]);
    // SparseAdam: sqrt(0.001)/0.1 * 0.2/(0.0632455532 + 0.01) = 0.863473...; Adam: 2/(2 + 0.01) = 0.995025...
    expect(sparse[0][0]).toBeCloseTo(-(Math.sqrt(0.001) / 0.1) * (0.2 / (Math.sqrt(0.004) + 0.01)), 14);
    expect(sparse[0][0]).toBeCloseTo(-0.863473, 5);
    expect(dense[0]).toBeCloseTo(-2 / 2.01, 14);
  });

  it('sums duplicate rows of one batch (torch coalesces) and rejects rows outside the table', () => {
    const a = [Float64Array.of(0, 0)];
    const b = [Float64Array.of(0, 0)];
    new SparseAdam(1, [{ name: 'x', dim: 2, row: () => a[0], lr: 0.1 }]).step([0, 0], (_n, k) => (k === 0 ? [1, 2] : [3, -5]));
    new SparseAdam(1, [{ name: 'x', dim: 2, row: () => b[0], lr: 0.1 }]).step([0], () => [4, -3]);
    expect([...a[0]]).toEqual([...b[0]]);
    const opt = new SparseAdam(2, [{ name: 'x', dim: 1, row: () => new Float64Array(1), lr: 0.1 }]);
    expect(() => opt.step([2], () => [1])).toThrow(/row 2 is outside the table \[0, 2\)/);
  });
});

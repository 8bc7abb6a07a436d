// Per-row Adam with torch.optim.SparseAdam's semantics, for stage 2's per-frame tables (the original's sparse
// nn.Embedding rows, spec 7.2). Only the rows in the batch update their moments and values; the step count is
// global (one per table, incremented at every step whatever rows are in it). SparseAdam also places eps
// differently from Adam:
//
//   step += 1                                    (every call)
//   for each row r in the batch:
//     m_r = m_r + (1 - beta1) (g_r - m_r)
//     v_r = v_r + (1 - beta2) (g_r^2 - v_r)
//     theta_r -= lr sqrt(1 - beta2^step) / (1 - beta1^step) * m_r / (sqrt(v_r) + eps)
//
// Rows absent from the batch keep stale moments, which are used as they are when the row returns, with the
// global step's bias correction (exactly what torch does). Duplicate rows in one batch are summed first
// (torch coalesces the sparse gradient).
import { ADAM_DEFAULTS, OptimizerError, checkLearningRate, type AdamOptions } from './adam.js';

export interface SparseAdamGroupSpec {
  name: string;
  /** Row width (e.g. 100 for expressions). */
  dim: number;
  /** The parameter row of table row `r`, updated in place (length dim). */
  row: (r: number) => Float64Array;
  lr: number;
}

export interface SparseAdamGroup extends SparseAdamGroupSpec {
  readonly initialLr: number;
  /** [rows * dim] moments, row-major. */
  readonly m: Float64Array;
  readonly v: Float64Array;
}

export class SparseAdam {
  readonly groups: SparseAdamGroup[];
  readonly options: AdamOptions;
  /** Global step count (torch keeps one per table; they advance together here). */
  stepCount = 0;

  constructor(
    readonly rows: number,
    groups: readonly SparseAdamGroupSpec[],
    options: Partial<AdamOptions> = {},
  ) {
    if (!Number.isInteger(rows) || rows < 1) throw new OptimizerError(`SparseAdam: the tables need at least one row, got ${rows}`);
    this.options = { ...ADAM_DEFAULTS, ...options };
    const names = new Set<string>();
    this.groups = groups.map((g) => {
      if (names.has(g.name)) throw new OptimizerError(`SparseAdam: duplicate parameter group '${g.name}'`);
      names.add(g.name);
      checkLearningRate('SparseAdam', g.name, g.lr);
      if (!Number.isInteger(g.dim) || g.dim < 1) throw new OptimizerError(`SparseAdam: group '${g.name}' needs a row width >= 1, got ${g.dim}`);
      return { ...g, initialLr: g.lr, m: new Float64Array(rows * g.dim), v: new Float64Array(rows * g.dim) };
    });
  }

  group(name: string): SparseAdamGroup {
    const g = this.groups.find((x) => x.name === name);
    if (!g) throw new OptimizerError(`SparseAdam: no parameter group '${name}' (groups: ${this.groups.map((x) => x.name).join(', ')})`);
    return g;
  }

  /**
   * One step: `rows[k]` is the table row of batch entry k, and `gradientOf(name, k)` the gradient of that
   * entry's row (length dim).
   */
  step(rows: readonly number[], gradientOf: (name: string, k: number) => ArrayLike<number>): void {
    const { beta1, beta2, eps } = this.options;
    for (const r of rows) {
      if (!Number.isInteger(r) || r < 0 || r >= this.rows) throw new OptimizerError(`SparseAdam: row ${r} is outside the table [0, ${this.rows})`);
    }
    // Coalesce: unique rows in ascending order, each with the list of batch entries that carry it.
    const entries = new Map<number, number[]>();
    rows.forEach((r, k) => (entries.get(r) ?? entries.set(r, []).get(r)!).push(k));
    const unique = [...entries.keys()].sort((a, b) => a - b);

    this.stepCount += 1;
    const bc1 = 1 - beta1 ** this.stepCount;
    const bc2 = 1 - beta2 ** this.stepCount;
    for (const g of this.groups) {
      const stepSize = (g.lr * Math.sqrt(bc2)) / bc1;
      const grad = new Float64Array(g.dim);
      for (const r of unique) {
        grad.fill(0);
        for (const k of entries.get(r)!) {
          const gk = gradientOf(g.name, k);
          if (gk.length !== g.dim) throw new OptimizerError(`SparseAdam: group '${g.name}' rows have ${g.dim} values but a gradient has ${gk.length}`);
          for (let i = 0; i < g.dim; i++) grad[i] += gk[i];
        }
        const theta = g.row(r);
        if (theta.length !== g.dim) throw new OptimizerError(`SparseAdam: group '${g.name}' row ${r} has ${theta.length} values, expected ${g.dim}`);
        const o = r * g.dim;
        for (let i = 0; i < g.dim; i++) {
          const gi = grad[i];
          const m = g.m[o + i] + (1 - beta1) * (gi - g.m[o + i]);
          const v = g.v[o + i] + (1 - beta2) * (gi * gi - g.v[o + i]);
          g.m[o + i] = m;
          g.v[o + i] = v;
          theta[i] -= (stepSize * m) / (Math.sqrt(v) + eps);
        }
      }
    }
  }
}

// Adam with torch.optim.Adam's semantics (no weight decay, no amsgrad), the only optimiser of the camera
// warm-up, of stage 1 and of stage 2's shared parameters (spec 7). Per parameter group:
//
//   step += 1
//   m = beta1 m + (1 - beta1) g
//   v = beta2 v + (1 - beta2) g^2
//   theta -= (lr / (1 - beta1^step)) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
//
// which is the order of operations of torch's single-tensor implementation (bias corrections folded into the
// step size and the denominator, eps added after the second-moment correction). Parameters are float64 here
// (torch's are float32): this is the one deliberate numerical difference, listed in the README.

/** Adam's hyper-parameters; the defaults are torch's and the spec's (spec preamble). */
export interface AdamOptions {
  beta1: number;
  beta2: number;
  eps: number;
}

export const ADAM_DEFAULTS: Readonly<AdamOptions> = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/** One parameter group: a named array updated in place, and its learning rate. */
export interface AdamGroupSpec {
  name: string;
  /** Updated in place by `step`. */
  params: Float64Array;
  lr: number;
}

export interface AdamGroup extends AdamGroupSpec {
  /** The learning rate the group was created with (torch's `initial_lr`, used by schedulers). */
  readonly initialLr: number;
  readonly m: Float64Array;
  readonly v: Float64Array;
  /** Steps taken by this group (torch keeps one count per parameter). */
  stepCount: number;
}

export class OptimizerError extends Error {
  override name = 'OptimizerError';
}

function checkOptions(where: string, o: AdamOptions): void {
  if (!(o.beta1 >= 0 && o.beta1 < 1)) throw new OptimizerError(`${where}: beta1 must be in [0, 1), got ${o.beta1}`);
  if (!(o.beta2 >= 0 && o.beta2 < 1)) throw new OptimizerError(`${where}: beta2 must be in [0, 1), got ${o.beta2}`);
  if (!(o.eps >= 0)) throw new OptimizerError(`${where}: eps must be >= 0, got ${o.eps}`);
}

export function checkLearningRate(where: string, name: string, lr: number): void {
  if (!Number.isFinite(lr) || lr < 0) throw new OptimizerError(`${where}: group '${name}' needs a finite learning rate >= 0, got ${lr}`);
}

export class Adam {
  readonly groups: AdamGroup[];
  readonly options: AdamOptions;

  constructor(groups: readonly AdamGroupSpec[], options: Partial<AdamOptions> = {}) {
    this.options = { ...ADAM_DEFAULTS, ...options };
    checkOptions('Adam', this.options);
    const names = new Set<string>();
    this.groups = groups.map((g) => {
      if (names.has(g.name)) throw new OptimizerError(`Adam: duplicate parameter group '${g.name}'`);
      names.add(g.name);
      checkLearningRate('Adam', g.name, g.lr);
      if (!(g.params instanceof Float64Array)) throw new OptimizerError(`Adam: group '${g.name}' needs a Float64Array of parameters`);
      return { ...g, initialLr: g.lr, m: new Float64Array(g.params.length), v: new Float64Array(g.params.length), stepCount: 0 };
    });
  }

  group(name: string): AdamGroup {
    const g = this.groups.find((x) => x.name === name);
    if (!g) throw new OptimizerError(`Adam: no parameter group '${name}' (groups: ${this.groups.map((x) => x.name).join(', ')})`);
    return g;
  }

  /** One step of every group; `gradientOf(name)` gives that group's gradient (same length as its params). */
  step(gradientOf: (name: string) => ArrayLike<number>): void {
    const { beta1, beta2, eps } = this.options;
    for (const g of this.groups) {
      const grad = gradientOf(g.name);
      if (grad.length !== g.params.length) {
        throw new OptimizerError(`Adam: group '${g.name}' has ${g.params.length} parameters but its gradient has ${grad.length} values`);
      }
      g.stepCount += 1;
      const bc1 = 1 - beta1 ** g.stepCount;
      const bc2Sqrt = Math.sqrt(1 - beta2 ** g.stepCount);
      const stepSize = g.lr / bc1;
      const { params, m, v } = g;
      for (let i = 0; i < params.length; i++) {
        const gi = grad[i];
        m[i] = beta1 * m[i] + (1 - beta1) * gi;
        v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
        params[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / bc2Sqrt + eps);
      }
    }
  }
}

/**
 * torch.optim.lr_scheduler.StepLR: call `step()` after each optimiser step; every `stepSize` calls the
 * learning rate of every group is multiplied by `gamma` (in place, as torch's chainable form does).
 */
export class StepLR {
  private epoch = 0;

  constructor(
    private readonly optimizer: { groups: { lr: number }[] },
    readonly stepSize: number,
    readonly gamma: number,
  ) {
    if (!Number.isInteger(stepSize) || stepSize < 1) throw new OptimizerError(`StepLR: step size must be an integer >= 1, got ${stepSize}`);
    if (!Number.isFinite(gamma) || gamma < 0) throw new OptimizerError(`StepLR: gamma must be a finite number >= 0, got ${gamma}`);
  }

  step(): void {
    this.epoch += 1;
    if (this.epoch % this.stepSize === 0) for (const g of this.optimizer.groups) g.lr *= this.gamma;
  }
}

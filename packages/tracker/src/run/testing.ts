// Small stand-ins for the schedule's tests: minimal frames and objectives with known behaviour (a quadratic
// with a known minimum, a linear one with a constant gradient, a scripted loss sequence), each recording how
// it was called. Not exported from the package.
import type { Correspondences, FrameData, FrameVariables, ObjectiveOptions, ObjectiveRequest, ObjectiveResult, TrackingGradient, TrackingObjectiveApi } from '../types.js';
import { FRAME_GROUPS, copyFrameVariables, initialFrameVariables } from './variables.js';

export const TEST_NUM_SHAPE = 4;
export const TEST_NUM_EXPRESSION = 3;

export function fakeFrame(index: number, size = 8, withLandmarks = true): FrameData {
  const S2 = size * size;
  const landmarkValid = new Uint8Array(98).fill(withLandmarks ? 1 : 0);
  const landmarks98 = new Float32Array(196);
  if (withLandmarks) landmarks98.fill(size / 2);
  const mask = () => new Uint8Array(S2);
  return {
    index,
    size,
    rgb: new Float32Array(3 * S2).fill(0.5),
    uv: new Float32Array(2 * S2),
    normals: new Float32Array(3 * S2),
    segmentation: new Uint8Array(S2),
    masks: { uv: mask(), normal: mask(), foreground: mask(), validBackground: mask() },
    landmarks98,
    landmarkValid,
  };
}

export interface RecordedCall {
  batch: number[];
  options: ObjectiveOptions;
  /** The variables of each batch entry and the shared ones at the time of the call. */
  frames: FrameVariables[];
  shape: Float64Array;
  focal: number;
  pp: [number, number];
  total: number;
}

function zeroGradient(req: ObjectiveRequest): TrackingGradient {
  return {
    shared: { shape: new Float64Array(req.variables.shared.shape.length), focal: 0, pp: [0, 0] },
    frames: req.batch.map((p) => {
      const f = req.variables.frames[p];
      const g = {} as FrameVariables;
      for (const k of FRAME_GROUPS) g[k] = new Float64Array(f[k].length);
      return g;
    }),
  };
}

/** Base: records every call; subclasses give the loss and gradient. */
export abstract class RecordingObjective implements TrackingObjectiveApi {
  readonly calls: RecordedCall[] = [];
  readonly correspondenceCalls: number[] = [];

  correspondences(frame: FrameData, _v: unknown, position: number): Correspondences {
    this.correspondenceCalls.push(position);
    return { pixels: Int32Array.of(frame.index, position), dist2: Float32Array.of(0) };
  }

  evaluate(req: ObjectiveRequest): ObjectiveResult {
    const gradient = zeroGradient(req);
    const terms = this.loss(req, gradient);
    const total = Object.values(terms).reduce((a, b) => a + b, 0);
    const s = req.variables.shared;
    this.calls.push({
      batch: [...req.batch],
      options: { ...req.options },
      frames: req.batch.map((p) => copyFrameVariables(req.variables.frames[p])),
      shape: Float64Array.from(s.shape),
      focal: s.focal,
      pp: [s.pp[0], s.pp[1]],
      total,
    });
    return { total, terms, gradient };
  }

  protected abstract loss(req: ObjectiveRequest, gradient: TrackingGradient): Record<string, number>;
}

/** sum over batch entries and groups of (x - target)^2, targets per position; shared targets likewise. */
export class QuadraticObjective extends RecordingObjective {
  constructor(
    readonly targets: (position: number) => FrameVariables,
    readonly sharedTarget: { shape: Float64Array; focal: number; pp: [number, number] },
  ) {
    super();
  }

  protected loss(req: ObjectiveRequest, g: TrackingGradient): Record<string, number> {
    let frameTerm = 0;
    req.batch.forEach((p, b) => {
      const x = req.variables.frames[p], t = this.targets(p);
      for (const k of FRAME_GROUPS) {
        for (let i = 0; i < x[k].length; i++) {
          const d = x[k][i] - t[k][i];
          frameTerm += d * d;
          g.frames[b][k][i] = 2 * d;
        }
      }
    });
    const s = req.variables.shared, st = this.sharedTarget;
    let sharedTerm = 0;
    for (let i = 0; i < s.shape.length; i++) {
      const d = s.shape[i] - st.shape[i];
      sharedTerm += d * d;
      g.shared.shape[i] = 2 * d;
    }
    const df = s.focal - st.focal;
    g.shared.focal = 2 * df;
    const dp = [s.pp[0] - st.pp[0], s.pp[1] - st.pp[1]];
    g.shared.pp = [2 * dp[0], 2 * dp[1]];
    sharedTerm += df * df + dp[0] * dp[0] + dp[1] * dp[1];
    return { frames: frameTerm, shared: sharedTerm };
  }
}

/** total = sum of every variable; the gradient is 1 everywhere (Adam then moves each value by about lr). */
export class LinearObjective extends RecordingObjective {
  protected loss(req: ObjectiveRequest, g: TrackingGradient): Record<string, number> {
    let total = 0;
    req.batch.forEach((p, b) => {
      for (const k of FRAME_GROUPS) {
        g.frames[b][k].fill(1);
        for (const v of req.variables.frames[p][k]) total += v;
      }
    });
    g.shared.shape.fill(1);
    g.shared.focal = 1;
    g.shared.pp = [1, 1];
    for (const v of req.variables.shared.shape) total += v;
    return { linear: total };
  }
}

/** Returns a scripted total per call (gradient 1 on the expression) to drive early stopping. */
export class ScriptedObjective extends RecordingObjective {
  constructor(readonly script: (call: number, req: ObjectiveRequest) => number) {
    super();
  }

  protected loss(req: ObjectiveRequest, g: TrackingGradient): Record<string, number> {
    g.frames.forEach((f) => f.expression.fill(1));
    return { scripted: this.script(this.calls.length, req) };
  }
}

export function targetVariables(seed: number): FrameVariables {
  const v = initialFrameVariables(TEST_NUM_EXPRESSION);
  for (const k of FRAME_GROUPS) for (let i = 0; i < v[k].length; i++) v[k][i] += 0.05 * Math.sin(seed * 7.1 + i * 1.3 + k.length);
  return v;
}

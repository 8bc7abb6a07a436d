// The optimiser's view of the tracking variables (types.ts): initial values (spec 4.1), copies, resets, and
// a float64 store in which the shared scalars (focal, pp) are arrays so that Adam can update them in place.
import { IDENTITY_6D } from '@pixel3dmm/kernels';
import type { FlameParams } from '@pixel3dmm/flame';
import type { FrameGroup, FrameVariables, SharedVariables, TrackingGradient, TrackingVariables } from '../types.js';

/** Per-frame groups in a fixed order (the order of telemetry, npz keys and optimiser groups). */
export const FRAME_GROUPS: readonly FrameGroup[] = ['expression', 'jaw', 'neck', 'eyes', 'eyelids', 'rotation', 'translation'];

/** The initial per-frame variables (spec 4.1): zero expression and eyelids, identity rotations, zero t. */
export function initialFrameVariables(numExpression: number): FrameVariables {
  return {
    expression: new Float64Array(numExpression),
    jaw: Float64Array.from(IDENTITY_6D),
    neck: Float64Array.from(IDENTITY_6D),
    eyes: Float64Array.from([...IDENTITY_6D, ...IDENTITY_6D]),
    eyelids: new Float64Array(2),
    rotation: Float64Array.from(IDENTITY_6D),
    translation: new Float64Array(3),
  };
}

export function copyFrameVariables(v: FrameVariables): FrameVariables {
  const out = {} as FrameVariables;
  for (const g of FRAME_GROUPS) out[g] = Float64Array.from(v[g]);
  return out;
}

/** Copies the values of `from` into `to` (same sizes), keeping `to`'s arrays (optimisers hold them). */
export function assignFrameVariables(to: FrameVariables, from: FrameVariables): void {
  for (const g of FRAME_GROUPS) to[g].set(from[g]);
}

/**
 * The variables of a whole sequence. `focal` and `pp` are arrays of 1 and 2 values so that optimisers update
 * them in place; `view()` presents them in the contract's form (types.ts) for the objective.
 */
export class VariableStore {
  readonly shape: Float64Array;
  readonly focal: Float64Array;
  readonly pp: Float64Array;
  readonly frames: FrameVariables[];

  constructor(init: { shape: Float64Array; focal: number; pp?: readonly [number, number]; numFrames: number; numExpression: number }) {
    this.shape = Float64Array.from(init.shape);
    this.focal = Float64Array.of(init.focal);
    this.pp = Float64Array.from(init.pp ?? [0, 0]);
    this.frames = Array.from({ length: init.numFrames }, () => initialFrameVariables(init.numExpression));
  }

  view(): TrackingVariables {
    const shared: SharedVariables = { shape: this.shape, focal: this.focal[0], pp: [this.pp[0], this.pp[1]] };
    return { shared, frames: this.frames };
  }

  /** The array of a shared group (for optimiser groups). */
  shared(name: 'shape' | 'focal' | 'pp'): Float64Array {
    return name === 'shape' ? this.shape : name === 'focal' ? this.focal : this.pp;
  }
}

/** The gradient of a shared group as an array (focal and pp are numbers in the contract). */
export function sharedGradient(g: TrackingGradient, name: 'shape' | 'focal' | 'pp'): ArrayLike<number> {
  return name === 'shape' ? g.shared.shape : name === 'focal' ? [g.shared.focal] : g.shared.pp;
}

/** The first non-finite entry of a gradient, as 'group[index]', or null when all are finite. */
export function nonFiniteGradient(g: TrackingGradient): string | null {
  const check = (name: string, a: ArrayLike<number>): string | null => {
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return `${name}[${i}]`;
    return null;
  };
  for (const s of ['shape', 'focal', 'pp'] as const) {
    const bad = check(s, sharedGradient(g, s));
    if (bad) return bad;
  }
  for (let b = 0; b < g.frames.length; b++) {
    for (const grp of FRAME_GROUPS) {
      const bad = check(`${grp} (batch entry ${b})`, g.frames[b][grp]);
      if (bad) return bad;
    }
  }
  return null;
}

/** One frame's variables with the shared shape, in the FLAME parameter schema of @pixel3dmm/flame (params.ts). */
export function flameParamsOf(shape: ArrayLike<number>, v: FrameVariables): FlameParams {
  return {
    shape: Array.from(shape),
    expression: Array.from(v.expression),
    neck: Array.from(v.neck),
    jaw: Array.from(v.jaw),
    eyes: Array.from(v.eyes),
    eyelids: Array.from(v.eyelids),
    rotation: Array.from(v.rotation),
    translation: Array.from(v.translation),
  };
}

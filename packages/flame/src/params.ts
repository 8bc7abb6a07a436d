// The per-frame FLAME parameter file: the schema the tracker saves and `pixel3dmm flame --params` reads.
//
// {"shape":[..], "expression":[..], "neck":[6], "jaw":[6], "eyes":[12], "eyelids":[2], "rotation":[6],
//  "translation":[3]} — rotations in 6D (the first two rows of R); FLAME's own root rotation is the identity;
// `rotation` and `translation` are the global head pose (v_world = R v + t). Missing groups default to zero
// or the identity; fewer shape/expression coefficients than the model has means the rest are zero.
// The tracker adds camera keys (focal_length, principal_point, image_size), accepted and ignored here.
import { IDENTITY_6D } from '@pixel3dmm/kernels';

export interface FlameParams {
  shape: number[];
  expression: number[];
  neck: number[];
  jaw: number[];
  eyes: number[];
  eyelids: number[];
  rotation: number[];
  translation: number[];
}

const FIXED: Record<Exclude<keyof FlameParams, 'shape' | 'expression'>, number> = {
  neck: 6,
  jaw: 6,
  eyes: 12,
  eyelids: 2,
  rotation: 6,
  translation: 3,
};
const CAMERA_KEYS = new Set(['focal_length', 'principal_point', 'image_size']);

export class FlameParamsError extends Error {
  override name = 'FlameParamsError';
}

export function defaultFlameParams(): FlameParams {
  return {
    shape: [],
    expression: [],
    neck: [...IDENTITY_6D],
    jaw: [...IDENTITY_6D],
    eyes: [...IDENTITY_6D, ...IDENTITY_6D],
    eyelids: [0, 0],
    rotation: [...IDENTITY_6D],
    translation: [0, 0, 0],
  };
}

/** Validates a parsed parameter file against a model's component counts. */
export function parseFlameParams(json: unknown, file: string, limits: { numShape: number; numExpression: number }): FlameParams {
  const fail = (msg: string): never => {
    throw new FlameParamsError(`${file}: ${msg}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('expected a JSON object of parameter groups');
  const obj = json as Record<string, unknown>;
  const out = defaultFlameParams();
  for (const [key, value] of Object.entries(obj)) {
    if (CAMERA_KEYS.has(key)) continue;
    if (!(key in out)) {
      fail(`unknown key '${key}' (expected shape, expression, neck, jaw, eyes, eyelids, rotation, translation)`);
    }
    if (!Array.isArray(value)) fail(`'${key}' must be an array of numbers`);
    const arr = value as unknown[];
    arr.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(`'${key}[${i}]' must be a finite number, got ${JSON.stringify(v)}`);
    });
    const k = key as keyof FlameParams;
    if (k === 'shape' || k === 'expression') {
      const max = k === 'shape' ? limits.numShape : limits.numExpression;
      if (arr.length > max) fail(`'${k}' has ${arr.length} coefficients, the model has ${max}`);
    } else if (arr.length !== FIXED[k]) {
      fail(`'${k}' must have ${FIXED[k]} values, got ${arr.length}`);
    }
    out[k] = arr as number[];
  }
  return out;
}

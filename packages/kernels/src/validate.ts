// Argument checks shared by every kernel wrapper: one message shape everywhere,
// "<where>: expected <what> for <name>, got <actual>", raised before any kernel runs.
import { addon } from './addon.js';

export class KernelArgumentError extends RangeError {
  override name = 'KernelArgumentError';
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as { length: number }).length})`;
  if (Array.isArray(value)) return `Array(${value.length})`;
  if (typeof value === 'number') return String(value);
  return typeof value;
}

export function fail(where: string, name: string, expected: string, actual: unknown): never {
  throw new KernelArgumentError(`${where}: expected ${expected} for ${name}, got ${describe(actual)}`);
}

export function checkInteger(where: string, name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(where, name, `an integer in [${min}, ${max}]`, value);
  }
  return value;
}

type ArrayCtor<T> = { new (n: number): T; name: string };

/** A typed array of exactly `length` elements (or undefined when optional and absent). */
export function checkTyped<T extends ArrayBufferView & { length: number }>(
  where: string,
  name: string,
  value: unknown,
  ctor: ArrayCtor<T>,
  length: number,
): T {
  if (!(value instanceof (ctor as unknown as Function)) || (value as T).length !== length) {
    fail(where, name, `a ${ctor.name} of length ${length}`, value);
  }
  return value as T;
}

/** Arrays at least this long are scanned natively (firstNonFinite): a JS loop over a 15k-float cotangent took ~20 us. */
const NATIVE_FINITE_SCAN = 1024;

export function checkFinite(where: string, name: string, values: ArrayLike<number>): void {
  if (values.length >= NATIVE_FINITE_SCAN && (values instanceof Float32Array || values instanceof Float64Array)) {
    const i = addon().firstNonFinite(values);
    if (i >= 0) fail(where, `${name}[${i}]`, 'a finite number', values[i]);
    return;
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) fail(where, `${name}[${i}]`, 'a finite number', values[i]);
  }
}

export function checkIndices(where: string, name: string, values: Int32Array, limit: number): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < 0 || v >= limit) fail(where, `${name}[${i}]`, `an index in [0, ${limit})`, v);
  }
}

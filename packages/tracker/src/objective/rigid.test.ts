// The native rigid transform and its backward against the reference loops, bit for bit.
import { makeRng } from '@pixel3dmm/kernels/testing/random-flame';
import { rotationMatrices, setThreads } from '@pixel3dmm/kernels';
import { afterAll, describe, expect, it } from 'vitest';
import type { FrameVariables } from '../types.js';
import { rigid, rigidBackward } from './rigid.js';
import { rigidBackwardReference, rigidReference } from './rigid-reference.js';
import { identityFrame, rotation6d } from './testing.js';

const bits32 = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const bits64 = (a: Float64Array) => Array.from(new BigUint64Array(a.buffer, a.byteOffset, a.length));

afterAll(() => setThreads(0));

describe('rigid transform (native against the reference loops)', () => {
  it('world points, cotangents, rotation and translation gradients: the same bits for 1 and 3 frames, 1-3 threads', () => {
    const r = makeRng(3).uniform;
    for (const B of [1, 3]) {
      for (const N of [5023, 68, 0]) {
        const vars: FrameVariables[] = Array.from({ length: B }, (_, b) => {
          const v = identityFrame(10);
          v.rotation = rotation6d([0.3, 0.8, Math.sqrt(1 - 0.73)], 0.4 + b);
          v.translation = Float64Array.of(r() - 0.5, r() - 0.5, -1 - r());
          return v;
        });
        const R = rotationMatrices(Float64Array.from(vars.flatMap((v) => Array.from(v.rotation))));
        const points = Float32Array.from({ length: B * N * 3 }, () => r() * 0.2 - 0.1);
        const grad = Float32Array.from({ length: B * N * 3 }, () => (r() < 0.3 ? 0 : r() - 0.5));
        const worldRef = new Float32Array(B * N * 3), cotRef = new Float32Array(B * N * 3);
        rigidReference(R, vars, points, N, worldRef);
        // Both add onto gradients that already hold other terms.
        const gradR0 = Float64Array.from({ length: 9 * B }, () => r());
        const gradsOf = () => vars.map((_, b) => ({ ...identityFrame(10), translation: Float64Array.of(b, 0.5, -0.25) }));
        const gradRRef = gradR0.slice(), gradsRef = gradsOf();
        rigidBackwardReference(R, points, grad, N, B, cotRef, gradRRef, gradsRef);
        for (const threads of [1, 2, 3]) {
          setThreads(threads);
          const world = new Float32Array(B * N * 3).fill(9), cot = new Float32Array(B * N * 3).fill(9);
          rigid(R, vars, points, N, world);
          expect(bits32(world)).toEqual(bits32(worldRef));
          const gradR = gradR0.slice(), grads = gradsOf();
          rigidBackward(R, points, grad, N, B, cot, gradR, grads);
          expect(bits32(cot)).toEqual(bits32(cotRef));
          expect(bits64(gradR)).toEqual(bits64(gradRRef));
          grads.forEach((g, b) => expect(bits64(g.translation)).toEqual(bits64(gradsRef[b].translation)));
        }
      }
    }
  });
  it('refuses a rotation array of the wrong size and a translation that is not three values, naming them', () => {
    const v = identityFrame(10);
    expect(() => rigid(new Float64Array(8), [v], new Float32Array(3), 1, new Float32Array(3))).toThrow(/rigid: expected a Float64Array of length 9 for R/);
    expect(() => rigid(new Float64Array(9), [{ ...v, translation: new Float64Array(2) }], new Float32Array(3), 1, new Float32Array(3))).toThrow(/rigid: expected a Float64Array of 3 values for frame 0's translation/);
    expect(() => rigid(new Float64Array(9), [v], new Float32Array(2), 1, new Float32Array(3))).toThrow(/points must have 3 elements/);
  });
});

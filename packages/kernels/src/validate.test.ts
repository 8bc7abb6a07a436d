import { describe, expect, it } from 'vitest';
import { checkFinite, KernelArgumentError } from './validate.js';

describe('checkFinite', () => {
  // Long arrays are scanned natively (in blocks of 16, then element by element), short ones in JavaScript: both must
  // name the first element that is NaN or infinite, whatever its position in a block, and pass every finite value.
  // The largest and smallest (subnormal) magnitudes of each type are finite too.
  const finite32 = [0, -0, 1, -1, 3.4028234663852886e38, -3.4028234663852886e38, 1.401298464324817e-45];
  const finite64 = [0, -0, 1, -1, 1.7976931348623157e308, -1.7976931348623157e308, 5e-324, 3.4028235677973366e38];
  for (const n of [5, 1023, 1024, 1037, 20000]) {
    for (const Ctor of [Float32Array, Float64Array]) {
      it(`${Ctor.name}(${n})`, () => {
        const finite = Ctor === Float32Array ? finite32 : finite64;
        const a = new Ctor(n).map((_, i) => finite[i % finite.length]);
        a.forEach((x, i) => expect(Number.isFinite(x), `${i}`).toBe(true));
        expect(() => checkFinite('w', 'a', a)).not.toThrow();
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          for (const at of [0, 15, 16, n - 1, Math.floor(n / 2)]) {
            if (at >= n) continue;
            const b = a.slice();
            b[at] = bad;
            if (at + 3 < n) b[at + 3] = bad;  // a later bad element must not be the one named
            expect(() => checkFinite('w', 'a', b)).toThrow(KernelArgumentError);
            expect(() => checkFinite('w', 'a', b)).toThrow(new RegExp(`w: expected a finite number for a\\[${at}\\], got ${bad}`));
          }
        }
      });
    }
  }
});

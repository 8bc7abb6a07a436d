import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FormatError } from './errors.js';
import { DTYPE_DESCRS, NdArray, ndarray, type DTypeDescr } from './ndarray.js';
import { readNpy, readNpyHeader, readNpyObject, writeNpy, writeNpyObject } from './npy.js';
import { ObjectArray, PyDict } from './pytypes.js';

const vectors = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../test-vectors');
const vec = (f: string) => new Uint8Array(fs.readFileSync(path.join(vectors, f)));
const enc = (s: string) => new Uint8Array(Array.from(s, (c) => c.charCodeAt(0)));

function expectFormatError(fn: () => unknown, re: RegExp): void {
  expect(fn).toThrow(FormatError);
  expect(fn).toThrow(re);
}

describe('numpy-written .npy files (test-vectors/)', () => {
  const ints: [string, DTypeDescr][] = [
    ['f8', '<f8'], ['f4', '<f4'], ['i8', '<i8'], ['u8', '<u8'], ['i4', '<i4'], ['u4', '<u4'],
    ['i2', '<i2'], ['u2', '<u2'], ['i1', '|i1'], ['u1', '|u1'],
  ];
  for (const [name, descr] of ints) {
    it(`${name}: values, and writeNpy reproduces numpy's bytes`, () => {
      const bytes = vec(`npy_${name}.npy`);
      const a = readNpy(bytes, `npy_${name}.npy`);
      expect(a.dtype).toBe(descr);
      expect(a.shape).toEqual([5]);
      const bits = Number(name.slice(1)) * 8;
      const base = [-2, -1, 0, 1, 2];
      if (bits === 64 && name[0] !== 'f') {
        expect(Array.from(a.data as ArrayLike<number | bigint>)).toEqual(base.map((x) => (name[0] === 'u' && x < 0 ? 2n ** 64n + BigInt(x) : BigInt(x))));
      } else {
        expect(Array.from(a.data as ArrayLike<number | bigint>)).toEqual(base.map((x) => (name[0] === 'u' && x < 0 ? 2 ** bits + x : x)));
      }
      expect(Buffer.compare(Buffer.from(writeNpy(a)), Buffer.from(bytes))).toBe(0);
    });
  }

  it('bool, 2-D, 0-d and empty arrays', () => {
    const b = readNpy(vec('npy_b1.npy'), 'b1');
    expect(b.dtype).toBe('|b1');
    expect(Array.from(b.data as ArrayLike<number | bigint>)).toEqual([1, 0, 1]);
    const m = readNpy(vec('npy_f8_2x3.npy'), 'm');
    expect(m.shape).toEqual([2, 3]);
    expect(Array.from(m.data as ArrayLike<number | bigint>)).toEqual([0, 1, 2, 3, 4, 5].map((x) => x / 7));
    const s = readNpy(vec('npy_scalar.npy'), 's');
    expect(s.shape).toEqual([]);
    expect(s.data[0]).toBe(3.5);
    const e = readNpy(vec('npy_empty.npy'), 'e');
    expect(e.shape).toEqual([0, 3]);
    expect(e.dtype).toBe('<f4');
    for (const f of ['npy_b1.npy', 'npy_f8_2x3.npy', 'npy_scalar.npy', 'npy_empty.npy']) {
      expect(Buffer.compare(Buffer.from(writeNpy(readNpy(vec(f), f))), Buffer.from(vec(f))), f).toBe(0);
    }
  });

  it('format versions 2.0 and 3.0', () => {
    for (const v of [2, 3]) {
      const bytes = vec(`npy_v${v}.npy`);
      expect(readNpyHeader(bytes, 'v').version).toEqual([v, 0]);
      expect(Array.from(readNpy(bytes, 'v').data as Int32Array)).toEqual([0, 1, 2, 3]);
    }
  });

  it('object arrays (the payload is a pickle)', () => {
    const d = readNpyObject(vec('npy_object_dict.npy'), 'obj.npy') as PyDict;
    expect(Array.from((d.get('k') as NdArray).data as ArrayLike<number | bigint>)).toEqual([0n, 1n, 2n]);
    expect(d.get('s')).toBe('x');
    expect(Array.from((d.get('f') as NdArray).data as ArrayLike<number | bigint>)).toEqual([1, 0, 0, 1]);
    const v = readNpyObject(vec('npy_object_vec.npy'), 'vec.npy') as ObjectArray;
    expect(v).toBeInstanceOf(ObjectArray);
    expect(v.shape).toEqual([2]);
    expect(v.items).toEqual([1, 'two']);
    expectFormatError(() => readNpy(vec('npy_object_dict.npy'), 'obj.npy'), /^obj\.npy: this \.npy holds a Python object array .*readNpyObject/);
    expectFormatError(() => readNpyObject(vec('npy_f8.npy'), 'f8.npy'), /expected a Python object array/);
  });

  it('Fortran order and big-endian are rejected', () => {
    expectFormatError(() => readNpy(vec('npy_fortran.npy'), 'fortran.npy'), /^fortran\.npy: array of shape \(2, 3\) is stored in Fortran \(column-major\) order/);
    expectFormatError(() => readNpy(vec('npy_bigendian.npy'), 'be.npy'), /^be\.npy: big-endian dtype '>f8' is not supported/);
  });
});

describe('writeNpy / readNpy round trips', () => {
  for (const descr of DTYPE_DESCRS) {
    it(descr, () => {
      for (const shape of [[], [0], [7], [3, 4], [2, 1, 3]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        const vals = Array.from({ length: n }, (_, i) => (descr === '|b1' ? i % 2 : (i * 37) % 100));
        const a = ndarray(descr, shape, vals);
        const bytes = writeNpy(a);
        expect((bytes.length - a.data.byteLength) % 64).toBe(0); // header padded to 64 bytes, as numpy does
        const b = readNpy(bytes, 'rt.npy');
        expect(b.dtype).toBe(descr);
        expect(b.shape).toEqual(shape);
        expect(Array.from(b.data as ArrayLike<number | bigint>, Number)).toEqual(vals);
      }
    });
  }

  it('writeNpyObject → readNpyObject', () => {
    const d = new PyDict([['a', ndarray('<i8', [3], [1, 2, 3])], ['b', 'x']]);
    const back = readNpyObject(writeNpyObject(d), 'o.npy') as PyDict;
    expect(Array.from((back.get('a') as NdArray).data as ArrayLike<number | bigint>)).toEqual([1n, 2n, 3n]);
    expect(back.get('b')).toBe('x');
  });
});

describe('bad .npy input', () => {
  const good = () => writeNpy(ndarray('<f8', [2, 2], [1, 2, 3, 4]));
  it('HTML page, wrong magic, zip, empty', () => {
    expectFormatError(() => readNpy(enc('  <!DOCTYPE html>'), 'l_eyelid.npy'), /^l_eyelid\.npy: this is an HTML page, not a numpy \.npy file \(a failed or login-page download\?\)$/);
    expectFormatError(() => readNpy(enc('GIF89a.......'), 'x.npy'), /^x\.npy: not a \.npy file \(expected the magic/);
    expectFormatError(() => readNpy(enc('PK\x03\x04.......'), 'x.npy'), /ZIP archive/);
    expectFormatError(() => readNpy(new Uint8Array(0), 'x.npy'), /empty/);
  });
  it('every truncation is a FormatError; trailing bytes too', () => {
    const b = good();
    for (let cut = 0; cut < b.length; cut++) {
      expectFormatError(() => readNpy(b.subarray(0, cut), 'x.npy'), /^x\.npy: /);
    }
    const longer = new Uint8Array(b.length + 3);
    longer.set(b);
    expectFormatError(() => readNpy(longer, 'x.npy'), /3 unexpected bytes after the data/);
  });
  it('bad headers', () => {
    const mk = (h: string, v = 1) => {
      const body = enc(h);
      const out = new Uint8Array(10 + body.length + 8);
      out.set(enc('\x93NUMPY'), 0);
      out[6] = v;
      out[8] = body.length;
      out.set(body, 10);
      return out;
    };
    expect(readNpy(mk("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n"), 'x.npy').data[0]).toBe(0);
    expectFormatError(() => readNpy(mk("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }\n"), 'x.npy'), /dtype '<c16' is not supported/);
    expectFormatError(() => readNpy(mk("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }\n"), 'x.npy'), /structured/);
    expectFormatError(() => readNpy(mk("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }\n"), 'x.npy'), /non-negative/);
    expectFormatError(() => readNpy(mk("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}\n"), 'x.npy'), /unexpected key 'x'/);
    expectFormatError(() => readNpy(mk("{'descr': '<f8', 'fortran_order': False, 'shape': (1,)\n"), 'x.npy'), /bad \.npy header/);
    expectFormatError(() => readNpy(mk("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n", 9), 'x.npy'), /unsupported \.npy format version 9\.0/);
    expectFormatError(() => readNpy(mk("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999,), }\n"), 'x.npy'), /truncated/);
  });
});

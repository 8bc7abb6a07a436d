import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FormatError } from './errors.js';
import { DTYPE_DESCRS, ndarray } from './ndarray.js';
import { crc32, readNpz, readZip, writeNpz, writeZip } from './npz.js';

const vectors = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../test-vectors');
const vec = (f: string) => new Uint8Array(fs.readFileSync(path.join(vectors, f)));

function expectFormatError(fn: () => unknown, re: RegExp): void {
  expect(fn).toThrow(FormatError);
  expect(fn).toThrow(re);
}

describe('crc32', () => {
  it('matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe('numpy-written .npz files (test-vectors/)', () => {
  it('np.savez (stored, ZIP64 extras)', () => {
    const m = readNpz(vec('npz_stored.npz'), 'stored.npz');
    expect([...m.keys()]).toEqual(['a', 'b']);
    expect(m.get('a')!.dtype).toBe('<i8');
    expect(Array.from(m.get('a')!.data as ArrayLike<number | bigint>)).toEqual([0n, 1n, 2n, 3n]);
    expect(m.get('b')!.shape).toEqual([2, 2]);
    expect(Array.from(m.get('b')!.data as ArrayLike<number | bigint>)).toEqual([1, 0, 0, 1]);
  });
  it('np.savez_compressed (deflate)', () => {
    const m = readNpz(vec('npz_deflated.npz'), 'deflated.npz');
    expect(Array.from(m.get('a')!.data as ArrayLike<number | bigint>, Number)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(m.get('b')!.dtype).toBe('<f4');
    expect(Array.from(m.get('b')!.data as ArrayLike<number | bigint>)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });
  it('data descriptors (written to a non-seekable stream)', () => {
    const bytes = vec('npz_descriptor.npz');
    expect((bytes[6] | (bytes[7] << 8)) & 8).toBe(8); // flag bit 3 really is set
    const m = readNpz(bytes, 'descriptor.npz');
    expect(Array.from(m.get('x')!.data as ArrayLike<number | bigint>)).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('writeNpz round trips', () => {
  for (const compress of [false, true]) {
    it(compress ? 'deflated' : 'stored', () => {
      const entries = new Map(DTYPE_DESCRS.map((d, i) => [`arr_${i}`, ndarray(d, [2, 3], [0, 1, 0, 1, 1, 0])]));
      entries.set('big', ndarray('<f8', [1000], Array.from({ length: 1000 }, (_, i) => i % 10)));
      const bytes = writeNpz(entries, { compress });
      const method = bytes[8] | (bytes[9] << 8);
      expect(method).toBe(compress ? 8 : 0);
      const back = readNpz(bytes, 'rt.npz');
      expect([...back.keys()]).toEqual([...entries.keys()]);
      for (const [k, a] of entries) {
        expect(back.get(k)!.dtype).toBe(a.dtype);
        expect(back.get(k)!.shape).toEqual(a.shape);
        expect(Array.from(back.get(k)!.data as ArrayLike<number | bigint>, Number)).toEqual(Array.from(a.data as ArrayLike<number | bigint>, Number));
      }
      if (compress) expect(bytes.length).toBeLessThan(writeNpz(entries).length);
    });
  }
  it('plain-object input and empty archives', () => {
    expect(readNpz(writeNpz({ x: ndarray('|u1', [2], [7, 8]) }), 'o.npz').get('x')!.data).toEqual(new Uint8Array([7, 8]));
    expect(readNpz(writeNpz({}), 'empty.npz').size).toBe(0);
  });
});

describe('bad .npz input', () => {
  const good = (compress: boolean) => writeNpz({ a: ndarray('<f8', [4], [1, 2, 3, 4]) }, { compress });
  it('CRC mismatch', () => {
    for (const compress of [false, true]) {
      const b = good(compress);
      // flip one data byte (stored) or the CRC field (deflated, to keep the stream valid)
      if (compress) b[14] ^= 0xff, b.set(b.subarray(14, 18), b.length - 22 - (46 + 5) + 16);
      else b[b.length - 22 - (46 + 5) - 1] ^= 0x01;
      expectFormatError(() => readNpz(b, 'bad.npz'), /^bad\.npz: CRC-32 mismatch in 'a\.npy'/);
    }
  });
  it('HTML page, not a zip, truncated archives', () => {
    expectFormatError(() => readNpz(new TextEncoder().encode('<!DOCTYPE html>'), 'm.npz'), /^m\.npz: this is an HTML page, not a numpy \.npz archive/);
    expectFormatError(() => readNpz(new TextEncoder().encode('hello world, not a zip file'), 'm.npz'), /not a ZIP archive/);
    for (const compress of [false, true]) {
      const b = good(compress);
      for (let cut = 0; cut < b.length; cut++) expectFormatError(() => readNpz(b.subarray(0, cut), 't.npz'), /^t\.npz/);
    }
  });
  it('corrupt deflate data and unsupported methods', () => {
    const b = good(true);
    b.fill(0xff, 40, 60);
    expectFormatError(() => readNpz(b, 'c.npz'), /corrupt deflate data|CRC-32 mismatch|inflates to/);
    const z = writeZip([['a.npy', new Uint8Array([1, 2, 3])]]);
    z[8] = 12; // bzip2 in the local header
    z[z.length - 22 - 51 + 10] = 12; // and the central directory
    expectFormatError(() => readZip(z, 'z.zip'), /compression method 12/);
  });
});

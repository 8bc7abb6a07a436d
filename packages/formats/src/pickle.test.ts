import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FormatError } from './errors.js';
import { NdArray, DTYPE_DESCRS, ndarray, ndarrayBytes } from './ndarray.js';
import { latin1String, readPickle, readPickleAt } from './pickle.js';
import { writePickle } from './pickle-writer.js';
import { readNpyObject, writeNpyObject } from './npy.js';
import { ChumpyArray, CscMatrix, PyDict, PyFloat, PyFrozenSet, PyTuple, PyUnicode, TorchTensor, tuple, type PyValue } from './pytypes.js';
import { makeFlameLikeDict } from './testing/flame-like.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const sharedDir = path.resolve(repoRoot, '../shared/fixtures/flame');
const vectors = path.resolve(here, '../test-vectors');
const haveShared = fs.existsSync(path.join(sharedDir, 'expected_tiny.json'));

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const read = (f: string) => new Uint8Array(fs.readFileSync(f));
/** Bytes from latin-1 strings and byte arrays. */
const pk = (...parts: (string | number[])[]) =>
  new Uint8Array(parts.flatMap((p) => (typeof p === 'string' ? Array.from(p, (c) => c.charCodeAt(0)) : p)));
const text = (v: unknown) => (v instanceof Uint8Array ? latin1String(v) : v);

function expectFormatError(fn: () => unknown, re?: RegExp): FormatError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a FormatError').toBeInstanceOf(FormatError);
  if (re) expect((err as Error).message).toMatch(re);
  return err as FormatError;
}

function arrayOf(v: PyValue | undefined): NdArray {
  const a = v instanceof ChumpyArray ? v.x : v;
  expect(a).toBeInstanceOf(NdArray);
  return a as NdArray;
}

describe.skipIf(!haveShared)(`shared CPython-written FLAME fixtures (skipped when ${sharedDir} is absent)`, () => {
  const expected = haveShared ? JSON.parse(fs.readFileSync(path.join(sharedDir, 'expected_tiny.json'), 'utf8')) : {};
  const files = {
    'a_py2style_tiny.pkl': { ch: ['shapedirs', 'posedirs', 'v_template', 'J', 'weights'] },
    'a_py2style_shapedirs_only_tiny.pkl': { ch: ['shapedirs'] },
    'b_py3proto2_tiny.pkl': { ch: ['shapedirs', 'posedirs', 'v_template', 'J', 'weights'] },
    'c_proto5_open_tiny.pkl': { ch: [] as string[] },
  };
  for (const [file, info] of Object.entries(files)) {
    it(`${file}: every array matches expected_tiny.json`, () => {
      const d = readPickle(read(path.join(sharedDir, file)), file);
      expect(d).toBeInstanceOf(PyDict);
      const dict = d as PyDict;
      let checked = 0;
      for (const [key, e] of Object.entries<Record<string, unknown> | string>(expected)) {
        const v = dict.get(key);
        if (typeof e === 'string') {
          expect(text(v), key).toBe(e);
        } else if (e.sparse === 'csc') {
          expect(v, key).toBeInstanceOf(CscMatrix);
          const m = v as CscMatrix;
          expect([...m.shape]).toEqual(e.shape);
          expect(m.nnz).toBe(e.nnz);
          expect(sha(new Uint8Array(m.toDense().buffer))).toBe(e.dense_sha256);
        } else {
          expect(v instanceof ChumpyArray, `${key} is a Ch`).toBe(info.ch.includes(key));
          const a = arrayOf(v);
          expect(a.dtype, key).toBe(e.dtype);
          expect([...a.shape], key).toEqual(e.shape);
          expect(sha(ndarrayBytes(a)), key).toBe(e.sha256);
          expect(Array.from(a.data.subarray(0, 3) as ArrayLike<number | bigint>, Number), key).toEqual(e.first);
        }
        checked++;
      }
      expect(checked).toBe(Object.keys(expected).length);
      if (file.startsWith('c_')) {
        const meta = dict.get('supr_expression_metadata') as PyDict;
        expect(meta.get('n_expr')).toBe(2);
        expect(meta.get('expr_components')).toBe('last_2');
      }
    });
  }

  it('writePickle reproduces the Python-2-layout fixtures byte for byte', () => {
    for (const file of ['a_py2style_tiny.pkl', 'a_py2style_shapedirs_only_tiny.pkl']) {
      const bytes = read(path.join(sharedDir, file));
      const again = writePickle(readPickle(bytes, file));
      expect(again.length).toBe(bytes.length);
      expect(Buffer.compare(Buffer.from(again), Buffer.from(bytes)), file).toBe(0);
    }
  });

  it('Python-3 and protocol-5 fixtures re-written in the Python-2 layout keep every array', () => {
    for (const file of ['b_py3proto2_tiny.pkl', 'c_proto5_open_tiny.pkl']) {
      const d = readPickle(read(path.join(sharedDir, file)), file) as PyDict;
      const back = readPickle(writePickle(d, { protocol: 2 }), 'rewritten.pkl') as PyDict;
      for (const [k, v] of d) {
        if (v instanceof NdArray || v instanceof ChumpyArray) expect(sha(ndarrayBytes(arrayOf(back.get(k)))), String(k)).toBe(sha(ndarrayBytes(arrayOf(v))));
      }
      expect(sha(new Uint8Array((back.get('J_regressor') as CscMatrix).toDense().buffer))).toBe(expected.J_regressor.dense_sha256);
    }
  });

  it('truncations of every fixture (every byte of the first 1500, then every 17th) are FormatErrors', () => {
    for (const file of Object.keys(files)) {
      const bytes = read(path.join(sharedDir, file));
      // every cut in the first 1500 bytes (header, dicts, dtypes, first arrays), then every 17th
      for (let cut = 0; cut < bytes.length; cut += cut < 1500 ? 1 : 17) {
        try {
          readPickle(bytes.subarray(0, cut), file);
          throw new Error(`${file} cut at ${cut} parsed`);
        } catch (e) {
          if (!(e instanceof FormatError)) throw new Error(`${file} cut at ${cut}: ${String(e)}`);
        }
      }
    }
  });
});

describe('CPython-written pickles (test-vectors/, protocols 0-5)', () => {
  for (let p = 0; p <= 5; p++) {
    it(`protocol ${p}`, () => {
      const d = readPickle(read(path.join(vectors, `pickle_py3_p${p}.pkl`)), `p${p}.pkl`) as PyDict;
      expect(d.get('s')).toBe('h\xe9llo\n\'"\\');
      expect(Array.from(d.get('b') as Uint8Array)).toEqual([0, 255, 92, 39, 10]);
      expect(d.get('i')).toEqual([-1, 255, 65536, 2 ** 31, -(2 ** 31) - 1, 2n ** 70n, -(2n ** 70n)]);
      const f = d.get('f') as number[];
      expect(f[0]).toBe(1.5);
      expect(f[1]).toBe(Infinity);
      expect(Object.is(f[2], -0)).toBe(true);
      expect(f[3]).toBe(1e-300);
      const t = d.get('t') as PyTuple;
      expect(t).toBeInstanceOf(PyTuple);
      expect(t[1]).toBeInstanceOf(PyTuple);
      expect([...t].map((x) => (Array.isArray(x) ? [...x] : x))).toEqual([1, [2], []]);
      expect(d.get('set')).toEqual(new Set([1, 2]));
      expect(d.get('fs')).toBeInstanceOf(PyFrozenSet);
      const a = d.get('a') as NdArray;
      expect(a.dtype).toBe('<i4');
      expect(a.shape).toEqual([2, 3]);
      expect(Array.from(a.data as ArrayLike<number | bigint>)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(d.get('n')).toBe(null);
      expect(d.get('T')).toBe(true);
      expect(d.get('F')).toBe(false);
      expect(d.get('u')).toBe('snow\u2603man \u{1F600}');
      expect(Array.from(d.get('ba') as Uint8Array)).toEqual([120, 121]);
      expect(d.get('sc')).toBe(2.25);
      expect(d.get('si')).toBe(-7);
    });
  }

  it('memo reuse gives the same object (BINPUT/BINGET)', () => {
    const v = readPickle(read(path.join(vectors, 'pickle_shared.pkl')), 'shared.pkl') as PyValue[];
    expect(v[0]).toBeInstanceOf(NdArray);
    expect(v[1]).toBe(v[0]);
    expect((v[2] as PyDict).get('k')).toBe(v[0]);
  });
});

describe('hand-made opcode streams', () => {
  it('signed LONG1 / LONG4', () => {
    expect(readPickle(pk([0x80, 2, 0x8a, 1, 0xff, 0x2e]), 'x.pkl')).toBe(-1);
    expect(readPickle(pk([0x80, 2, 0x8a, 0, 0x2e]), 'x.pkl')).toBe(0);
    expect(readPickle(pk([0x80, 2, 0x8a, 1, 0x7f, 0x2e]), 'x.pkl')).toBe(127);
    expect(readPickle(pk([0x80, 2, 0x8a, 2, 0x00, 0x80, 0x2e]), 'x.pkl')).toBe(-32768);
    expect(readPickle(pk([0x80, 2, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x2e]), 'x.pkl')).toBe(2n ** 64n);
    expect(readPickle(pk([0x80, 2, 0x8a, 8, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x2e]), 'x.pkl')).toBe(-(2n ** 63n));
    expect(readPickle(pk([0x80, 2, 0x8b, 2, 0, 0, 0, 0xfe, 0xff, 0x2e]), 'x.pkl')).toBe(-2);
    expect(readPickle(pk('I01\n.'), 'x.pkl')).toBe(true);
    expect(readPickle(pk('I00\n.'), 'x.pkl')).toBe(false);
    expect(readPickle(pk('I-12\n.'), 'x.pkl')).toBe(-12);
    expect(readPickle(pk('L123456789012345678901L\n.'), 'x.pkl')).toBe(123456789012345678901n);
    expect(readPickle(pk('F-2.5e-3\n.'), 'x.pkl')).toBe(-2.5e-3);
  });

  it('protocol-0 STRING escapes unescape to raw bytes', () => {
    const v = readPickle(pk("S'a\\x41\\xff\\n\\t\\r\\\\\\'\\101\\0\\7\\q'\n."), 'x.pkl') as Uint8Array;
    expect(Array.from(v)).toEqual([0x61, 0x41, 0xff, 10, 9, 13, 0x5c, 0x27, 0x41, 0, 7, 0x5c, 0x71]);
    expect(latin1String(readPickle(pk('S"it\'s"\n.'), 'x.pkl') as Uint8Array)).toBe("it's");
    expect(readPickle(pk('V\\u2603 \\u005c \\U0001f600 \xe9\n.'), 'x.pkl')).toBe('\u2603 \\ \u{1F600} \xe9');
    expectFormatError(() => readPickle(pk("S'abc\n."), 'x.pkl'), /quoted/);
    expectFormatError(() => readPickle(pk("S'\\x4'\n."), 'x.pkl'), /\\x escape/);
  });

  it('a protocol-0 dict of arrays in the FLAME_masks.pkl layout', () => {
    const raw = "\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\n\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\'\\\\\\x00\\x00\\x00\\x00\\x00\\x00";
    const bytes = pk(
      "(dp0\nS'eye_region'\np1\ncnumpy.core.multiarray\n_reconstruct\np2\n(cnumpy\nndarray\np3\n(I0\ntp4\nS'b'\np5\ntp6\nRp7\n",
      `(I1\n(I3\ntp8\ncnumpy\ndtype\np9\n(S'i8'\np10\nI0\nI1\ntp11\nRp12\n(I3\nS'<'\np13\nNNNI-1\nI-1\nI0\ntp14\nbI00\nS'${raw}'\np15\ntp16\nbs`,
      "S'neck'\np17\ng2\n(g3\n(I0\ntp18\ng5\ntp19\nRp20\n(I1\n(I1\ntp21\ng12\nI00\nS'\\x05\\x00\\x00\\x00\\x00\\x00\\x00\\x00'\np22\ntp23\nbs.",
    );
    const d = readPickle(bytes, 'FLAME_masks.pkl') as PyDict;
    expect([...d.keys()]).toEqual(['eye_region', 'neck']);
    const a = d.get('eye_region') as NdArray;
    expect(a.dtype).toBe('<i8');
    expect(Array.from(a.data as ArrayLike<number | bigint>)).toEqual([1n, 10n, 0x5c27n]);
    expect(Array.from((d.get('neck') as NdArray).data as ArrayLike<number | bigint>)).toEqual([5n]);
  });

  it('memo GET/PUT in protocol 0 and a self-referencing list', () => {
    expect(readPickle(pk("(lp0\nS'x'\np1\nag1\na."), 'x.pkl')).toEqual([pk('x'), pk('x')]);
    const v = readPickle(pk([0x80, 2, 0x5d, 0x71, 0, 0x28, 0x4b, 1, 0x68, 0, 0x65, 0x2e]), 'x.pkl') as PyValue[];
    expect(v[0]).toBe(1);
    expect(v[1]).toBe(v);
  });

  it('py2 byte-string dict keys become latin-1 strings', () => {
    const d = readPickle(pk([0x80, 2, 0x7d, 0x55, 2, 0x41, 0xe9, 0x4b, 7, 0x73, 0x2e]), 'x.pkl') as PyDict;
    expect(d.get('A\xe9')).toBe(7);
  });

  it('persistent ids go through the resolver, and are an error without one', () => {
    const bytes = pk([0x80, 2, 0x58, 3, 0, 0, 0], 'abc', [0x51, 0x2e]);
    expect(readPickle(bytes, 'x.pkl', { persistentLoad: (pid) => (pid === 'abc' ? 42 : null) })).toBe(42);
    expectFormatError(() => readPickle(bytes, 'x.pkl'), /persistent id "abc" found, but no persistent-id resolver/);
  });

  it('readPickleAt reads consecutive pickles', () => {
    const b = pk([0x80, 2, 0x4b, 5, 0x2e, 0x80, 2, 0x4e, 0x2e]);
    const a = readPickleAt(b, 'x.pkl');
    expect(a).toMatchObject({ value: 5, end: 5, protocol: 2 });
    expect(readPickleAt(b, 'x.pkl', { offset: a.end }).value).toBe(null);
  });
});

describe('bad input gives FormatError', () => {
  it('a global outside the allow-list (GLOBAL and STACK_GLOBAL)', () => {
    const g = pk('\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02R.');
    const e = expectFormatError(() => readPickle(g, 'generic_model.pkl'));
    expect(e.message).toBe(
      "generic_model.pkl: pickle global 'os.system' is not allowed (this reader only accepts numpy, chumpy, scipy.sparse, torch-legacy tensors and builtins)",
    );
    expect(e.file).toBe('generic_model.pkl');
    const sg = pk('\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94.');
    expectFormatError(() => readPickle(sg, 'x.pkl'), /pickle global 'builtins.eval' is not allowed/);
    expectFormatError(() => readPickle(pk('cposix\nsystem\n(S"ls"\ntR.'), 'x.pkl'), /'posix.system' is not allowed/);
    // an allowed class used where it is not allowed
    expectFormatError(() => readPickle(pk('\x80\x02c__builtin__\nobject\n.'), 'x.pkl'), /reference to __builtin__.object/);
  });

  it('an HTML page', () => {
    for (const s of ['\n  <!DOCTYPE html><html><body>Login</body></html>', '<html><head></head></html>', '\r\n<!doctype HTML>']) {
      const e = expectFormatError(() => readPickle(pk(s), 'generic_model.pkl'));
      expect(e.message).toBe('generic_model.pkl: this is an HTML page, not a Python pickle (a failed or login-page download?)');
    }
  });

  it('other files that are not pickles', () => {
    expectFormatError(() => readPickle(pk([0xff, 0xfe, 0]), 'x.pkl'), /^x\.pkl: not a Python pickle \(unknown opcode 0xff at byte 0\)/);
    expectFormatError(() => readPickle(pk('PK\x03\x04rest'), 'x.pkl'), /ZIP archive/);
    expectFormatError(() => readPickle(pk('\x93NUMPY\x01\x00'), 'x.pkl'), /\.npy file/);
    expectFormatError(() => readPickle(new Uint8Array(0), 'x.pkl'), /empty/);
    expectFormatError(() => readPickle(pk('version https://git-lfs.github.com/spec/v1\n'), 'x.pkl'), /Git LFS pointer/);
  });

  it('truncation names the byte and the opcode', () => {
    const b = writePickle(new PyDict([['k', new Uint8Array(300)]]));
    const cut = b.subarray(0, 20);
    expectFormatError(() => readPickle(cut, 'x.pkl'), /^x\.pkl: truncated at byte 20 while reading BINSTRING/);
  });

  it('many cut points and 1000 random corruptions of a mixed pickle: FormatError or a value, never a crash', () => {
    const d = makeFlameLikeDict({ vertices: 6, faces: 3, components: 2, seed: 3, chumpy: 'all' });
    d.set('misc', [1, -1, 2 ** 40, 2n ** 80n, new PyFloat(2), 'str', new PyUnicode('uni'), new Set(['a']), tuple(1, 2, 3, 4)]);
    const tensors = new PyDict([['t', new TorchTensor(ndarray('<f4', [2, 2], [1, 2, 3, 4]))]]);
    for (const bytes of [writePickle(d, { protocol: 0 }), writePickle(d, { protocol: 2 }), writePickle(d, { protocol: 3 }), writePickle(tensors, { protocol: 3 })]) {
      expect(() => readPickle(bytes, 'ok.pkl')).not.toThrow();
      for (let cut = 0; cut < bytes.length; cut += cut < 700 ? 1 : 13) {
        expectFormatError(() => readPickle(bytes.subarray(0, cut), 'cut.pkl'));
      }
      let seed = 12345;
      const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
      for (let k = 0; k < 250; k++) {
        const m = bytes.slice();
        for (let j = 0; j < 1 + (k % 3); j++) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
        try {
          readPickle(m, 'fuzz.pkl');
        } catch (e) {
          if (!(e instanceof FormatError)) throw new Error(`corruption ${k}: ${String(e)}`);
        }
      }
    }
  });

  it('memo miss, stack underflow, missing MARK, unfinished objects', () => {
    expectFormatError(() => readPickle(pk([0x80, 2, 0x68, 5, 0x2e]), 'x.pkl'), /memo key 5 was never stored/);
    expectFormatError(() => readPickle(pk([0x80, 2, 0x52, 0x2e]), 'x.pkl'), /stack underflow/);
    expectFormatError(() => readPickle(pk([0x80, 2, 0x2e]), 'x.pkl'), /stack underflow/);
    expectFormatError(() => readPickle(pk([0x80, 2, 0x5d, 0x65, 0x2e]), 'x.pkl'), /no MARK/);
    expectFormatError(() => readPickle(pk([0x80, 9, 0x4e, 0x2e]), 'x.pkl'), /unsupported pickle protocol 9/);
    const unbuilt = pk('\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R.');
    expectFormatError(() => readPickle(unbuilt, 'x.pkl'), /never received its state/);
    const wrongCls = pk('\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\ndtype\nK\x00\x85U\x01b\x87R.');
    expectFormatError(() => readPickle(wrongCls, 'x.pkl'), /may only rebuild numpy.ndarray/);
  });

  const arrayPickle = () => writePickle(ndarray('<f8', [2, 3], [1, 2, 3, 4, 5, 6]));
  const patch = (b: Uint8Array, from: string, to: string): Uint8Array => {
    const s = latin1String(b);
    const i = s.indexOf(from);
    expect(i, `pattern ${JSON.stringify(from)}`).toBeGreaterThan(0);
    return pk(s.slice(0, i) + to + s.slice(i + from.length));
  };

  it('Fortran-order arrays', () => {
    expect(Array.from((readPickle(arrayPickle(), 'x.pkl') as NdArray).data as Float64Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expectFormatError(() => readPickle(patch(arrayPickle(), 'b\x89U\x30', 'b\x88U\x30'), 'x.pkl'), /Fortran \(column-major\) order/);
  });

  it('big-endian and unsupported dtypes', () => {
    expectFormatError(() => readPickle(patch(arrayPickle(), 'U\x01<', 'U\x01>'), 'x.pkl'), /big-endian dtype '>f8' is not supported/);
    expectFormatError(() => readPickle(patch(arrayPickle(), 'U\x02f8', 'U\x02c8'), 'x.pkl'), /dtype '<c8' is not supported/);
    expectFormatError(() => readPickle(patch(arrayPickle(), 'NNNJ\xff\xff\xff\xff', 'N}NJ\xff\xff\xff\xff'), 'x.pkl'), /structured/);
  });

  it('array payload size must match the shape', () => {
    expectFormatError(() => readPickle(patch(arrayPickle(), 'K\x02K\x03\x86', 'K\x02K\x04\x86'), 'x.pkl'), /needs 64 bytes but the payload has 48/);
  });

  it('invalid csc_matrix structure', () => {
    const good = new CscMatrix([2, 2], ndarray('<f8', [2], [1, 2]), ndarray('<i4', [2], [0, 1]), ndarray('<i4', [3], [0, 1, 2]));
    expect(Array.from(good.toDense())).toEqual([1, 0, 0, 2]);
    const badRow = new CscMatrix([2, 2], ndarray('<f8', [2], [1, 2]), ndarray('<i4', [2], [0, 2]), ndarray('<i4', [3], [0, 1, 2]));
    expectFormatError(() => badRow.toDense('J.pkl'), /row index 2 at position 1 is out of range \[0, 2\)/);
    const badPtr = new CscMatrix([2, 2], ndarray('<f8', [2], [1, 2]), ndarray('<i4', [2], [0, 1]), ndarray('<i4', [3], [0, 2, 1]));
    expectFormatError(() => badPtr.toDense(), /indptr decreases/);
    // the reader validates too
    const bytes = writePickle(new PyDict([['J', good]]));
    const patched = latin1String(bytes).replace('U\x08\x00\x00\x00\x00\x01\x00\x00\x00', 'U\x08\x00\x00\x00\x00\x07\x00\x00\x00');
    expectFormatError(() => readPickle(pk(patched), 'J.pkl'), /row index 7/);
  });
});

describe('writePickle round trips', () => {
  const misc = () =>
    new PyDict([
      ['s', 'h\xe9llo\n\'"\\\t\r\x01'],
      ['u', new PyUnicode('snow\u2603 \u{1F600} \\u0041 \n')],
      ['b', new Uint8Array([0, 255, 92, 39, 10, 34])],
      ['ints', [-1, 0, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 53 - 1, 2n ** 70n, -(2n ** 70n)]],
      ['floats', [1.5, new PyFloat(2), Infinity, -Infinity, -0, 1e-300, 0.1]],
      ['t', tuple<PyValue>(1, tuple(2), tuple())],
      ['set', new Set<PyValue>(['b', 'a'])],
      ['fs', new PyFrozenSet<PyValue>([3])],
      ['none', null],
      ['bools', [true, false]],
      ['nested', new PyDict([[1, 'one'], [2n ** 64n, 'big']])],
      ['arrs', DTYPE_DESCRS.map((dt) => ndarray(dt, [2, 2], [0, 1, 1, 0]))],
      ['empty', ndarray('<f4', [0, 3], [])],
      ['long', Array.from({ length: 2500 }, (_, i) => i)],
      ['ch', new ChumpyArray(ndarray('<f8', [2], [0.5, -0.5]))],
    ]);

  for (const protocol of [0, 2, 3] as const) {
    it(`protocol ${protocol}`, () => {
      const bytes = writePickle(misc(), { protocol });
      expect(bytes[0]).toBe(protocol === 0 ? 0x28 : 0x80);
      const d = readPickle(bytes, 'rt.pkl') as PyDict;
      const str = (v: PyValue | undefined) => (protocol === 3 ? v : text(v));
      expect(str(d.get('s'))).toBe('h\xe9llo\n\'"\\\t\r\x01');
      expect(d.get('u')).toBe('snow\u2603 \u{1F600} \\u0041 \n');
      expect(Array.from(d.get('b') as Uint8Array)).toEqual([0, 255, 92, 39, 10, 34]);
      expect(d.get('ints')).toEqual([-1, 0, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 53 - 1, 2n ** 70n, -(2n ** 70n)]);
      const f = d.get('floats') as number[];
      expect(f.slice(0, 4)).toEqual([1.5, 2, Infinity, -Infinity]);
      expect(Object.is(f[4], -0)).toBe(true);
      expect(f.slice(5)).toEqual([1e-300, 0.1]);
      const t = d.get('t') as PyTuple;
      expect(t).toBeInstanceOf(PyTuple);
      expect(t.length).toBe(3);
      expect(t[2]).toBeInstanceOf(PyTuple);
      expect([...(d.get('set') as Set<PyValue>)].sort()).toEqual(['a', 'b']);
      expect(d.get('fs')).toBeInstanceOf(PyFrozenSet);
      expect(d.get('none')).toBe(null);
      expect(d.get('bools')).toEqual([true, false]);
      const nested = d.get('nested') as PyDict;
      expect(str(nested.get(2n ** 64n))).toBe('big');
      const arrs = d.get('arrs') as NdArray[];
      expect(arrs.map((a) => a.dtype)).toEqual(DTYPE_DESCRS);
      for (const a of arrs) {
        expect(a.shape).toEqual([2, 2]);
        expect(Array.from(a.data as ArrayLike<number | bigint>, Number)).toEqual([0, 1, 1, 0]);
      }
      expect((d.get('empty') as NdArray).shape).toEqual([0, 3]);
      expect(d.get('long')).toEqual(Array.from({ length: 2500 }, (_, i) => i));
      const ch = d.get('ch') as ChumpyArray;
      expect(ch).toBeInstanceOf(ChumpyArray);
      expect(Array.from(ch.x.data as ArrayLike<number | bigint>)).toEqual([0.5, -0.5]);
      expect(ch.state.get('_dirty_vars')).toEqual(new Set(['x']));
      // writing the read value again gives the same bytes (PyFloat(2) reads back as the number 2, so drop it)
      const noFloats = misc();
      noFloats.delete('floats');
      const once = writePickle(noFloats, { protocol });
      expect(Buffer.compare(Buffer.from(writePickle(readPickle(once, 'rt.pkl'), { protocol })), Buffer.from(once))).toBe(0);
    });
  }

  it('protocol-2 layout details of flame-formats.md 1.3', () => {
    const s = latin1String(writePickle(new PyDict([['a', ndarray('<f8', [1], [1])], ['b', ndarray('<f8', [1], [2])]])));
    expect(s.startsWith('\x80\x02}q\x00(U\x01aq\x01cnumpy.core.multiarray\n_reconstruct\nq\x02cnumpy\nndarray\nq\x03K\x00\x85q\x04U\x01bq\x05\x87q\x06Rq\x07')).toBe(true);
    expect(s).toContain('(K\x01K\x01\x85q\x08cnumpy\ndtype\nq\x09U\x02f8q\x0aK\x00K\x01\x87q\x0bRq\x0c(K\x03U\x01<q\x0dNNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x0eb\x89U\x08');
    // the second array reuses the memoised dtype (BINGET 12) and the globals
    expect(s).toContain('h\x02h\x03K\x00\x85');
    expect(s).toContain('h\x0c\x89U\x08');
    expect(s.split('cnumpy\ndtype\n').length).toBe(2);
  });

  it('protocol 0 starts like FLAME_masks.pkl', () => {
    const s = latin1String(writePickle(new PyDict([['eye_region', ndarray('<i8', [1], [3931])]]), { protocol: 0 }));
    expect(s.startsWith("(dp0\nS'eye_region'\np1\ncnumpy.core.multiarray\n_reconstruct\np2\n(cnumpy\nndarray\np3\n(I0\ntp4\nS'b'\np5\ntp6\nRp7\n")).toBe(true);
    expect(s).toContain("(S'i8'\np");
    expect(s).toContain("S'[\\x0f\\x00\\x00\\x00\\x00\\x00\\x00'");
  });
});

describe('legacy torch tensors (DECA landmark_embedding.npy style)', () => {
  const lmk = () => {
    const dyn = ndarray('<f4', [79, 17, 3], Array.from({ length: 79 * 17 * 3 }, (_, i) => i / 7));
    const idx = ndarray('<i8', [79, 17], Array.from({ length: 79 * 17 }, (_, i) => i * 3));
    return new PyDict([
      ['static_lmk_faces_idx', ndarray('<i8', [51], Array.from({ length: 51 }, (_, i) => i))],
      ['static_lmk_bary_coords', ndarray('<f8', [51, 3], Array.from({ length: 153 }, (_, i) => i / 153))],
      ['dynamic_lmk_faces_idx', new TorchTensor(idx)],
      ['dynamic_lmk_bary_coords', new TorchTensor(dyn)],
      ['full_lmk_faces_idx', ndarray('<i8', [1, 68], Array.from({ length: 68 }, (_, i) => i))],
      ['full_lmk_bary_coords', ndarray('<f4', [1, 68, 3], Array.from({ length: 204 }, (_, i) => i))],
    ]);
  };

  it('writeNpyObject → readNpyObject keeps every array, torch ones included', () => {
    const src = lmk();
    const bytes = writeNpyObject(src);
    const d = readNpyObject(bytes, 'landmark_embedding.npy') as PyDict;
    expect([...d.keys()]).toEqual([...src.keys()]);
    for (const [key, v] of src) {
      const k = String(key);
      const want = v instanceof TorchTensor ? v.array : (v as NdArray);
      const got = d.get(k) as NdArray;
      expect(got, k).toBeInstanceOf(NdArray);
      expect(got.dtype, k).toBe(want.dtype);
      expect(got.shape, k).toEqual(want.shape);
      expect(sha(ndarrayBytes(got)), k).toBe(sha(ndarrayBytes(want)));
    }
  });

  it('the torch payload is a legacy torch.save stream', () => {
    const bytes = writePickle(new TorchTensor(ndarray('<f4', [2, 3], [1, 2, 3, 4, 5, 6])), { protocol: 3 });
    const s = latin1String(bytes);
    expect(s).toContain('ctorch._utils\n_rebuild_tensor_v2\n');
    expect(s).toContain('ctorch.storage\n_load_from_bytes\n');
    expect(s).toContain('ccollections\nOrderedDict\n');
    const i = s.indexOf('_load_from_bytes\n') + '_load_from_bytes\n'.length + 2; // skip BINPUT n
    expect(bytes[i]).toBe(0x43); // SHORT_BINBYTES (the stream is under 256 bytes)
    const n = bytes[i + 1];
    const stream = bytes.subarray(i + 2, i + 2 + n);
    const magic = readPickleAt(stream, 's');
    expect(magic.value).toBe(0x1950a86a20f9469cfc6cn);
    expect(Array.from(stream.subarray(2, 14))).toEqual([0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);
    const proto = readPickleAt(stream, 's', { offset: magic.end });
    expect(proto.value).toBe(1001);
    const sys = readPickleAt(stream, 's', { offset: proto.end });
    expect((sys.value as PyDict).get('little_endian')).toBe(true);
    const pids: unknown[] = [];
    const obj = readPickleAt(stream, 's', { offset: sys.end, persistentLoad: (p) => (pids.push(p), 'storage') });
    expect(obj.value).toBe('storage');
    expect((pids[0] as PyValue[]).filter((x) => typeof x !== 'object' || x === null)).toEqual(['storage', '0', 'cpu', 6, null]);
    const keys = readPickleAt(stream, 's', { offset: obj.end });
    expect(keys.value).toEqual(['0']);
    const dv = new DataView(stream.buffer, stream.byteOffset + keys.end);
    expect(dv.getBigUint64(0, true)).toBe(6n);
    expect(Array.from({ length: 6 }, (_, k) => dv.getFloat32(8 + 4 * k, true))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(keys.end + 8 + 24).toBe(stream.length);
  });

  it('non-contiguous tensors and bad magic are rejected', () => {
    const bytes = writePickle(new TorchTensor(ndarray('<f4', [2, 3], [1, 2, 3, 4, 5, 6])), { protocol: 3 });
    const s = latin1String(bytes);
    const at = s.lastIndexOf('K\x03K\x01\x86');
    const nc = pk(s.slice(0, at) + 'K\x01K\x02\x86' + s.slice(at + 5));
    expectFormatError(() => readPickle(nc, 't.pkl'), /not contiguous/);
    const bad = pk(s.replace('\x8a\x0a\x6c\xfc', '\x8a\x0a\x6d\xfc'));
    expectFormatError(() => readPickle(bad, 't.pkl'), /bad magic number/);
  });
});

// The first python3 with numpy and scipy: the one on PATH, or Debian's (where .ci/run installs them).
const python = ['python3', '/usr/bin/python3'].find(
  (exe) => spawnSync(exe, ['-c', 'import numpy, scipy'], { encoding: 'utf8' }).status === 0,
);

describe.skipIf(!python)('CPython reads what writePickle wrote (skipped without python3 + numpy + scipy)', () => {
  it('protocols 0, 2 and 3 of a FLAME-like dict load in CPython with the same arrays', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'formats-py-'));
    try {
      const d = makeFlameLikeDict({ vertices: 30, faces: 20, components: 4, seed: 9, chumpy: 'all' });
      const want: Record<string, string> = {};
      for (const [key, v] of d) {
        const k = String(key);
        if (v instanceof CscMatrix) want[k] = sha(new Uint8Array(v.toDense().buffer));
        else if (v instanceof NdArray || v instanceof ChumpyArray) want[k] = sha(ndarrayBytes(arrayOf(v)));
      }
      for (const p of [0, 2, 3] as const) fs.writeFileSync(path.join(dir, `p${p}.pkl`), writePickle(d, { protocol: p }));
      fs.writeFileSync(path.join(dir, 'want.json'), JSON.stringify(want));
      const script = `
import pickle, sys, types, json, hashlib, warnings
import numpy as np
warnings.simplefilter('ignore')
ch = types.ModuleType('chumpy.ch')
class Ch(object):
    def __setstate__(self, st): self.__dict__.update(st)
Ch.__module__ = 'chumpy.ch'; ch.Ch = Ch
sys.modules['chumpy'] = types.ModuleType('chumpy'); sys.modules['chumpy.ch'] = ch
want = json.load(open('want.json'))
for p in (0, 2, 3):
    d = pickle.load(open('p%d.pkl' % p, 'rb'), encoding='latin1')
    for k, h in want.items():
        v = d[k]
        if isinstance(v, Ch): v = v.x
        if hasattr(v, 'toarray'): v = v.toarray()
        assert hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest() == h, (p, k)
    assert d['bs_style'] == 'lbs' and d['bs_type'] == 'lrotmin'
print('ok')
`;
      const r = spawnSync(python!, ['-c', script], { cwd: dir, encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('ok');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

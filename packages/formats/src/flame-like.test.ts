import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NdArray } from './ndarray.js';
import { readPickle } from './pickle.js';
import { writePickle } from './pickle-writer.js';
import { ChumpyArray, CscMatrix, PyDict } from './pytypes.js';
import { FLAME_KEY_ORDER, FLAME_SIZES, makeFlameLikeDict } from './testing/flame-like.js';
import { writeFileAtomic } from './atomic-write.js';

describe('makeFlameLikeDict', () => {
  it('FLAME 2020 keys, dtypes, shapes and Python types', () => {
    const d = makeFlameLikeDict({ vertices: 50, faces: 40, components: 10, seed: 1 });
    expect([...d.keys()]).toEqual([...FLAME_KEY_ORDER]);
    const arr = (k: string) => {
      const v = d.get(k);
      return (v instanceof ChumpyArray ? v.x : v) as NdArray;
    };
    expect(d.get('shapedirs')).toBeInstanceOf(ChumpyArray);
    expect(d.get('posedirs')).toBeInstanceOf(NdArray);
    expect([arr('f').dtype, arr('f').shape]).toEqual(['<u4', [40, 3]]);
    expect([arr('v_template').dtype, arr('v_template').shape]).toEqual(['<f8', [50, 3]]);
    expect([arr('shapedirs').dtype, arr('shapedirs').shape]).toEqual(['<f8', [50, 3, 10]]);
    expect(arr('posedirs').shape).toEqual([50, 3, 36]);
    expect(arr('weights').shape).toEqual([50, 5]);
    expect(arr('J').shape).toEqual([5, 3]);
    expect([arr('kintree_table').dtype, arr('kintree_table').shape]).toEqual(['<i8', [2, 5]]);
    expect(Array.from(arr('kintree_table').data as ArrayLike<number | bigint>)).toEqual([4294967295n, 0n, 1n, 1n, 1n, 0n, 1n, 2n, 3n, 4n]);
    expect(d.get('bs_style')).toBe('lbs');
    expect(d.get('bs_type')).toBe('lrotmin');
    const j = d.get('J_regressor') as CscMatrix;
    expect(j).toBeInstanceOf(CscMatrix);
    expect(j.shape).toEqual([5, 50]);
    const dense = j.toDense();
    for (let r = 0; r < 5; r++) {
      const row = dense.subarray(r * 50, r * 50 + 50);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
    const w = arr('weights').data as Float64Array;
    for (let v = 0; v < 50; v++) expect(w[v * 5] + w[v * 5 + 1] + w[v * 5 + 2] + w[v * 5 + 3] + w[v * 5 + 4]).toBeCloseTo(1, 12);
    for (const x of arr('f').data as Uint32Array) expect(x).toBeLessThan(50);
    // deterministic per seed
    const again = makeFlameLikeDict({ vertices: 50, faces: 40, components: 10, seed: 1 });
    expect(Array.from((again.get('v_template') as NdArray).data as ArrayLike<number | bigint>)).toEqual(Array.from(arr('v_template').data as ArrayLike<number | bigint>));
    const other = makeFlameLikeDict({ vertices: 50, faces: 40, components: 10, seed: 2 });
    expect(Array.from((other.get('v_template') as NdArray).data as ArrayLike<number | bigint>)).not.toEqual(Array.from(arr('v_template').data as ArrayLike<number | bigint>));
    expect(makeFlameLikeDict({ vertices: 5, faces: 2, components: 1, chumpy: 'all' }).get('J')).toBeInstanceOf(ChumpyArray);
    expect(makeFlameLikeDict({ vertices: 5, faces: 2, components: 1, chumpy: 'none' }).get('shapedirs')).toBeInstanceOf(NdArray);
  });

  it('full size (5023 vertices, 9976 faces, 400 components): written to a tmp dir and read back in < 3 s', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'formats-flame-'));
    try {
      const d = makeFlameLikeDict({ ...FLAME_SIZES.full, seed: 7 });
      const bytes = writePickle(d);
      expect(bytes.length).toBeGreaterThan(52_000_000);
      expect(bytes.length).toBeLessThan(54_000_000);
      const file = path.join(dir, 'generic_model.pkl');
      await writeFileAtomic(file, bytes);
      const t0 = performance.now();
      const onDisk = new Uint8Array(fs.readFileSync(file));
      const back = readPickle(onDisk, 'generic_model.pkl') as PyDict;
      const ms = performance.now() - t0;
      expect(ms, `read took ${ms.toFixed(0)} ms`).toBeLessThan(3000);
      const sd = (back.get('shapedirs') as ChumpyArray).x;
      expect(sd.shape).toEqual([5023, 3, 400]);
      const want = (d.get('shapedirs') as ChumpyArray).x.data as Float64Array;
      const got = sd.data as Float64Array;
      expect(got.length).toBe(want.length);
      let same = true;
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) same = false;
      expect(same).toBe(true);
      expect((back.get('f') as NdArray).shape).toEqual([9976, 3]);
      expect(Array.from((back.get('J_regressor') as CscMatrix).toDense())).toEqual(Array.from((d.get('J_regressor') as CscMatrix).toDense()));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

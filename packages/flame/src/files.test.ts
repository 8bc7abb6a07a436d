import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MissingFlameFileError, findFlameFiles, loadFlameModel, loadMediapipeEmbedding, rawModelFromPickle } from './files.js';
import { FormatError, NdArray, PyDict, readPickle, writeNpz } from '@pixel3dmm/formats';
import { flameModelFromRaw } from './model.js';
import { FLAME_SIZES, makeFlameLikeDict } from '@pixel3dmm/formats/testing';
import { ChumpyArray, writePickle } from '@pixel3dmm/formats';

const fixtures = resolve(__dirname, '../../../../shared/fixtures/flame');
const haveFixtures = existsSync(join(fixtures, 'expected_tiny.json'));
const tmp = mkdtempSync(join(tmpdir(), 'p3d-flame-files-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function sha256(bytes: ArrayBufferView): string {
  return createHash('sha256').update(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)).digest('hex');
}

describe.skipIf(!haveFixtures)('FLAME model pickles written by CPython (../shared/fixtures/flame)', () => {
  const expected = haveFixtures ? JSON.parse(readFileSync(join(fixtures, 'expected_tiny.json'), 'utf8')) : {};
  for (const file of ['a_py2style_tiny.pkl', 'a_py2style_shapedirs_only_tiny.pkl', 'b_py3proto2_tiny.pkl', 'c_proto5_open_tiny.pkl']) {
    it(`${file}: every raw array has the expected bytes, and the model validates`, () => {
      const path = join(fixtures, file);
      const bytes = new Uint8Array(readFileSync(path));
      const { model } = rawModelFromPickle(readPickle(bytes, path), path);
      for (const key of ['f', 'v_template', 'shapedirs', 'posedirs', 'weights', 'J', 'kintree_table'] as const) {
        const a = model[key];
        expect(a.dtype, key).toBe(expected[key].dtype);
        expect(a.shape, key).toEqual(expected[key].shape);
        expect(sha256(a.data), key).toBe(expected[key].sha256);
      }
      expect(model.bs_style).toBe('lbs');
      expect(model.bs_type).toBe('lrotmin');
      const flame = loadFlameModel({ model: path });
      const V = expected.v_template.shape[0];
      expect(flame.numVertices).toBe(V);
      expect(flame.numShape + flame.numExpression).toBe(expected.shapedirs.shape[2]);
      // float32 copies of the float64 template, first vertex
      expect(Array.from(flame.vTemplate.subarray(0, 3))).toEqual(expected.v_template.first.map(Math.fround));
      // the regressor, regrouped by joint, reproduces the dense matrix
      const dense = new Float64Array(5 * V);
      const jr = flame.jointRegressor;
      for (let j = 0; j < 5; j++) for (let e = jr.offsets[j]; e < jr.offsets[j + 1]; e++) dense[j * V + jr.vertices[e]] += jr.weights[e];
      expect(sha256(dense)).toBe(expected.J_regressor.dense_sha256);
      expect(Array.from(flame.parents)).toEqual([-1, 0, 1, 1, 1]);
    });
  }
});

describe('bad model files give one clear error naming the file', () => {
  it('reports a missing licensed file with where it comes from', () => {
    const missing = join(tmp, 'nowhere', 'generic_model.pkl');
    expect(() => loadFlameModel({ model: missing })).toThrow(MissingFlameFileError);
    expect(() => loadFlameModel({ model: missing })).toThrow(/generic_model\.pkl: not found.*flame\.is\.tue\.mpg\.de/);
    expect(() => findFlameFiles(join(tmp))).toThrow(/generic_model\.pkl: not found/);
  });

  it('recognises an HTML page saved under the model name (a failed download)', () => {
    const p = join(tmp, 'html', 'generic_model.pkl');
    writeFileSyncDeep(p, '<!DOCTYPE html>\n<html><body>Please log in</body></html>');
    expect(() => loadFlameModel({ model: p })).toThrow(FormatError);
    expect(() => loadFlameModel({ model: p })).toThrow(/generic_model\.pkl.*HTML/);
  });

  it.skipIf(!haveFixtures)('reports truncation, a missing key, a wrong shape and a wrong dtype', () => {
    const good = new Uint8Array(readFileSync(join(fixtures, 'a_py2style_tiny.pkl')));
    const truncated = join(tmp, 'truncated.pkl');
    writeFileSync(truncated, good.subarray(0, Math.floor(good.length / 2)));
    expect(() => loadFlameModel({ model: truncated })).toThrow(/truncated\.pkl.*truncated/);

    const value = readPickle(good, 'a_py2style_tiny.pkl');
    const dict = value as Map<string, unknown>;
    const withoutWeights = new PyDict(dict as PyDict);
    withoutWeights.delete('weights');
    expect(() => rawModelFromPickle(withoutWeights as never, 'x.pkl')).toThrow(/x\.pkl: missing key 'weights'/);

    const { model } = rawModelFromPickle(value, 'y.pkl');
    const V = model.v_template.shape[0];
    const wrongShape = { ...model, weights: new NdArray('<f8', [V, 4], new Float64Array(V * 4)) };
    expect(() => flameModelFromRaw({ model: wrongShape }, { model: 'y.pkl' })).toThrow(/y\.pkl: 'weights' has shape \[12, 4\], expected \[12, 5\]/);
    const wrongDtype = { ...model, v_template: new NdArray('<i4', [V, 3], new Int32Array(V * 3)) };
    expect(() => flameModelFromRaw({ model: wrongDtype }, { model: 'y.pkl' })).toThrow(/'v_template' has dtype <i4, expected float64 or float32/);
    const badFace = { ...model, f: new NdArray('<u4', [1, 3], Uint32Array.from([0, 1, V])) };
    expect(() => flameModelFromRaw({ model: badFace }, { model: 'y.pkl' })).toThrow(/'f' has vertex index 12 at triangle 0/);
  });

  it.skipIf(!haveFixtures)('refuses a pickle that asks for a global outside the allow-list', () => {
    // GLOBAL 'os system', then REDUCE: must never run, must name the global and the file.
    const evil = join(tmp, 'evil.pkl');
    writeFileSync(evil, Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from('cos\nsystem\n', 'latin1'), Buffer.from([0x58, 2, 0, 0, 0]), Buffer.from('ls'), Buffer.from([0x85, 0x52, 0x2e])]));
    expect(() => loadFlameModel({ model: evil })).toThrow(/evil\.pkl.*os\.system.*not allowed/);
  });
});

function writeFileSyncDeep(path: string, text: string): void {
  mkdirSync(resolve(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

describe('mediapipe_landmark_embedding.npz (stored ZIP, as metrical-tracker ships it)', () => {
  const write = (name: string, entries: Array<[string, NdArray]>, compress = false) => {
    const p = join(tmp, name);
    writeFileSync(p, writeNpz(entries, { compress }));
    return p;
  };
  const faces = new NdArray('<u4', [3], Uint32Array.from([5, 0, 9]));
  const bary = new NdArray('<f8', [3, 3], Float64Array.from([0.2, 0.3, 0.5, 1, 0, 0, 0.1, 0.1, 0.8]));
  const ids = new NdArray('<i8', [3], BigInt64Array.from([1n, 466n, 33n]));

  it('loads stored and deflated archives', () => {
    for (const compress of [false, true]) {
      const e = loadMediapipeEmbedding(write(`mp-${compress}.npz`, [['lmk_face_idx', faces], ['lmk_b_coords', bary], ['landmark_indices', ids]], compress), 10);
      expect(Array.from(e.faces)).toEqual([5, 0, 9]);
      expect(Array.from(e.mediapipeIndices)).toEqual([1, 466, 33]);
      expect(Array.from(e.bary)).toEqual(Array.from(bary.data as Float64Array));
    }
  });

  it('names the file and the key when something is wrong', () => {
    const p = write('mp-missing.npz', [['lmk_face_idx', faces], ['lmk_b_coords', bary]]);
    expect(() => loadMediapipeEmbedding(p, 10)).toThrow(/mp-missing\.npz: missing array 'landmark_indices'/);
    const q = write('mp-range.npz', [['lmk_face_idx', faces], ['lmk_b_coords', bary], ['landmark_indices', ids]]);
    expect(() => loadMediapipeEmbedding(q, 9)).toThrow(/'lmk_face_idx'\[2\] = 9 is not a triangle/);
  });
});

describe('a full-size FLAME-layout pickle of our own (5023 vertices, 400 components, written at test time)', () => {
  it('loads in about a second with every value where the layout puts it', () => {
    const dict = makeFlameLikeDict({ ...FLAME_SIZES.full, seed: 7 });
    const path = join(tmp, 'generic_model.pkl');
    writeFileSync(path, writePickle(dict, { protocol: 2 }));
    const t0 = performance.now();
    const m = loadFlameModel({ model: path });
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(5000); // ~0.5 s here; generous for a loaded CI machine
    expect([m.numVertices, m.numFaces, m.numShape, m.numExpression]).toEqual([5023, 9976, 300, 100]);
    const sd = (dict.get('shapedirs') as ChumpyArray).x.data as Float64Array; // [V, 3, 400]
    const pd = (dict.get('posedirs') as NdArray).data as Float64Array; // [V, 3, 36]
    const V = 5023;
    for (const [i, c, k] of [[0, 0, 0], [17, 2, 299], [5022, 1, 300], [4000, 2, 399], [123, 1, 150]]) {
      const fromFile = sd[(i * 3 + c) * 400 + k];
      const basis = k < 300 ? m.shapeBasis[k * 3 * V + 3 * i + c] : m.exprBasis[(k - 300) * 3 * V + 3 * i + c];
      expect(basis).toBe(Math.fround(fromFile));
    }
    expect(m.poseBasis[35 * 3 * V + 3 * 100 + 1]).toBe(Math.fround(pd[(100 * 3 + 1) * 36 + 35]));
  });
});

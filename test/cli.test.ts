// The command line end to end, as a user runs it (needs the packages built: `npm test` builds first).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Flame, builtInFlameModel, defaultFlameParams } from '@pixel3dmm/flame';
import { readNpy, readObj, readPly } from '@pixel3dmm/formats';

const bin = resolve(__dirname, '../packages/pixel3dmm/bin/pixel3dmm.js');
const tmp = mkdtempSync(join(tmpdir(), 'p3d-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, PIXEL3DMM_FLAME_MODEL: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const params = {
  shape: Array.from({ length: 20 }, (_, i) => Math.sin(i)),
  expression: Array.from({ length: 10 }, (_, i) => 0.5 * Math.cos(i)),
  jaw: [1, 0, 0, 0, Math.cos(0.2), -Math.sin(0.2)],
  neck: [Math.cos(0.3), 0, Math.sin(0.3), 0, 1, 0],
  eyelids: [0.3, 0.1],
  rotation: [Math.cos(0.1), -Math.sin(0.1), 0, Math.sin(0.1), Math.cos(0.1), 0],
  translation: [0.01, 0.02, -0.05],
};

describe('pixel3dmm synth-model and flame', () => {
  const modelDir = join(tmp, 'model');
  const paramsFile = join(tmp, 'params.json');
  beforeAll(() => {
    writeFileSync(paramsFile, JSON.stringify(params));
    const r = run('synth-model', '--out', modelDir);
    expect(r.code, r.err).toBe(0);
  });

  it('writes the synthetic head as FLAME files that evaluate to the built-in model, bit for bit', () => {
    for (const f of ['generic_model.pkl', 'FLAME_masks.pkl', 'landmark_embedding.npy', 'l_eyelid.npy', 'r_eyelid.npy', 'head_template.obj']) {
      expect(existsSync(join(modelDir, f)), f).toBe(true);
    }
    const out = join(tmp, 'verts.npy');
    const r = run('flame', '--model', modelDir, '--params', paramsFile, '--out', out, '--world');
    expect(r.code, r.err).toBe(0);
    const verts = readNpy(new Uint8Array(readFileSync(out)), out);
    expect(verts.dtype).toBe('<f4');
    expect(verts.shape).toEqual([5023, 3]);
    const expected = new Flame(builtInFlameModel(0)).evaluate([{ ...defaultFlameParams(), ...params }], { world: true }).vertices;
    const got = verts.data as Float32Array;
    let differing = 0;
    for (let i = 0; i < got.length; i++) if (got[i] !== expected[i]) differing++;
    expect(differing).toBe(0);
  });

  it('writes PLY and OBJ (with the template UVs) meshes', () => {
    const ply = join(tmp, 'mesh.ply');
    const obj = join(tmp, 'mesh.obj');
    expect(run('flame', '--params', paramsFile, '--out', ply).code).toBe(0);
    expect(run('flame', '--model', join(modelDir, 'generic_model.pkl'), '--params', paramsFile, '--out', obj).code).toBe(0);
    const p = readPly(new Uint8Array(readFileSync(ply)), ply);
    expect(p.positions.length).toBe(5023 * 3);
    expect(p.faces.length).toBe(9976 * 3);
    const o = readObj(readFileSync(obj, 'utf8'), obj);
    expect(o.faces.length).toBe(9976 * 3);
    expect(o.faceUvs).not.toBeNull();
    for (let i = 0; i < 300; i++) expect(o.positions[i]).toBeCloseTo(p.positions[i], 6);
  });

  it('names the file and the problem for bad input, and leaves no file behind', () => {
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, JSON.stringify({ jaws: [1, 0, 0, 0, 1, 0] }));
    const out = join(tmp, 'never.ply');
    let r = run('flame', '--params', bad, '--out', out);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bad\.json: unknown key 'jaws'/);
    r = run('flame', '--params', join(tmp, 'missing.json'), '--out', out);
    expect(r.err).toMatch(/missing\.json: cannot read the parameter file/);
    r = run('flame', '--model', join(tmp, 'nowhere', 'generic_model.pkl'), '--params', paramsFile, '--out', out);
    expect(r.err).toMatch(/generic_model\.pkl: not found.*flame\.is\.tue\.mpg\.de/);
    r = run('flame', '--params', paramsFile, '--out', join(tmp, 'mesh.stl'));
    expect(r.err).toMatch(/mesh\.stl: expected a \.ply, \.obj or \.npy/);
    r = run('synth-model', '--out', join(tmp, 'x'), '--seed', '-3');
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--seed must be an integer/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp'))).toEqual([]);
  });
});

describe('pixel3dmm info', () => {
  it('reports the addon and why CUDA is or is not usable', () => {
    const r = run('info', '--json');
    expect(r.code, r.err).toBe(0);
    const info = JSON.parse(r.out);
    expect(typeof info.kernels.builtWithCuda).toBe('boolean');
    expect(info.kernels.cudaAvailable || typeof info.kernels.cudaReason === 'string').toBe(true);
    expect(info.kernels.threads).toBeGreaterThan(0);
    expect(info.sharp).toMatch(/^\d+\.\d+/);
    expect(info.onnxruntime).toMatch(/^\d+\.\d+/);
  });
});

describe('pixel3dmm bench raster', () => {
  const keys = ['rasterize', 'interpolate17', 'texture', 'antialias', 'forward', 'forwardBackward'];

  it('times the rasterizer chain on the built-in head and prints one JSON object', () => {
    const r = run('bench', 'raster', '--size', '64', '--batch', '2', '--runs', '2', '--min-ms', '0', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.vertices).toBe(5023);
    expect(j.triangles).toBe(9976);
    expect(j.size).toBe(64);
    expect(j.batch).toBe(2);
    expect(j.device).toBe('cpu');
    expect(j.channels.interpolate).toBe(17);
    // The head fills most of the image (its taller side ~90%) and covers a good part of the pixels.
    expect(Math.max(j.fill.x, j.fill.y)).toBeGreaterThan(0.75);
    expect(Math.max(j.fill.x, j.fill.y)).toBeLessThan(1);
    expect(j.coveredFraction).toBeGreaterThan(0.15);
    expect(j.coveredFraction).toBeLessThan(0.9);
    for (const k of keys) {
      expect(j.medianMs[k], k).toBeGreaterThan(0);
      expect(Number.isFinite(j.medianMs[k]), k).toBe(true);
      expect(j.perImageMs[k]).toBeCloseTo(j.medianMs[k] / 2, 10);
    }
    for (const k of ['rasterize', 'interpolate17', 'texture', 'antialias']) expect(j.backwardMs[k], k).toBeGreaterThan(0);
    expect(j.machine).toMatch(/threads/);
    expect(j.memoryReadGBs).toBeGreaterThan(0);
  });

  it('takes a mesh file, and says that CUDA raster kernels are not available instead of timing anything', () => {
    const obj = join(tmp, 'octahedron.obj');
    const v = ['v 0.1 0 0', 'v -0.1 0 0', 'v 0 0.1 0', 'v 0 -0.1 0', 'v 0 0 0.1', 'v 0 0 -0.1'];
    const f = ['f 1 3 5', 'f 3 2 5', 'f 2 4 5', 'f 4 1 5', 'f 3 1 6', 'f 2 3 6', 'f 4 2 6', 'f 1 4 6'];
    writeFileSync(obj, [...v, ...f].join('\n') + '\n');
    const r = run('bench', 'raster', '--mesh', obj, '--size', '32', '--runs', '1', '--min-ms', '0', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.vertices).toBe(6);
    expect(j.triangles).toBe(8);
    expect(j.batch).toBe(1);
    const c = run('bench', 'raster', '--device', 'cuda', '--json');
    const info = JSON.parse(run('info', '--json').out);
    if (!info.kernels.rasterCuda) {
      expect(c.code).toBe(2);
      const e = JSON.parse(c.out);
      expect(e.available).toBe(false);
      expect(e.error).toMatch(/CUDA raster kernels are not available/);
    }
  });
});

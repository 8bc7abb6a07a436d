// `pixel3dmm track` and `pixel3dmm demo` end to end, as a user runs them (the built CLI: `npm test` builds
// first). Small render sizes and iteration counts keep this fast; the schedule itself is tested in
// packages/tracker/src/run.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtInFlameModel, parseFlameParams } from '@pixel3dmm/flame';
import { readNpz } from '@pixel3dmm/formats';
import { writeSyntheticSubject } from '@pixel3dmm/tracker';

const bin = resolve(__dirname, '../packages/pixel3dmm/bin/pixel3dmm.js');
const tmp = mkdtempSync(join(tmpdir(), 'p3d-track-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, PIXEL3DMM_FLAME_MODEL: '', PIXEL3DMM_TRACKING_OUTPUT: '', PIXEL3DMM_PREPROCESSED_DATA: '', ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const FAST = ['size=64', 'camera_steps=10', 'iters=6', 'global_iters=2', 'batch_size=2'];
const data = join(tmp, 'data', 'clip');
const model = builtInFlameModel(0);

beforeAll(async () => {
  await writeSyntheticSubject({ out: data, frames: 3, model, seed: 1 });
  // A failed landmark detection leaves no file (spec 2.2): frame 1 has none.
  rmSync(join(data, 'PIPnet_landmarks', '00001.npy'));
});

describe('pixel3dmm track', () => {
  const out = join(tmp, 'tracking');
  const folder = join(out, 'clip_nV1_noPho_uv2000.0_n1000.0');

  it('tracks a preprocessed folder, warns about a frame without landmarks, and writes every output', () => {
    const r = run(['track', data, ...FAST, '--out', out, '--json']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/warning: frame 1: no valid landmarks/);
    const s = JSON.parse(r.out);
    expect(s).toMatchObject({ name: 'clip', mode: 'video', frames: 3, reused: false, outputDir: folder, diverged: [] });
    expect(s.stage2).toMatchObject({ iterations: 2, plannedIterations: 2, batchSize: 2 });
    for (const f of ['tracking.json', 'tracking.npz', 'cameras.json', 'telemetry.jsonl', 'result.mp4', 'mesh/canonical.ply', 'mesh/00002.ply']) {
      expect(existsSync(join(folder, f)), f).toBe(true);
    }
    const file = join(folder, 'checkpoint', '00001.json');
    const params = parseFlameParams(JSON.parse(readFileSync(file, 'utf8')), file, model);
    expect(params.rotation).toHaveLength(6);
    const npz = readNpz(new Uint8Array(readFileSync(join(folder, 'tracking.npz'))), 'npz');
    expect(npz.get('exp')!.shape).toEqual([3, model.numExpression]);
    const telemetry = readFileSync(join(folder, 'telemetry.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(telemetry[0]).toMatchObject({ frame: 0, iterations: 6, earlyStopped: false, camera: { steps: 10 } });
    expect(Object.keys(telemetry[0].terms)).toEqual(expect.arrayContaining(['uv', 'normal', 'sil', 'lmk_eyes', 'reg_exp']));
    expect(telemetry.map((t) => t.landmarks)).toEqual([98, 0, 98, undefined]);
    expect(telemetry[3].stage2.iterations).toBe(2);
    expect(readdirSync(out)).toEqual(['clip_nV1_noPho_uv2000.0_n1000.0']);
  });

  it('does not redo a finished run, refuses a different configuration, and redoes it with --force', () => {
    const again = run(['track', data, ...FAST, '--out', out]);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toMatch(/already tracked with this configuration/);
    const other = run(['track', data, ...FAST, 'iters=7', '--out', out]);
    expect(other.code).toBe(1);
    expect(other.err).toMatch(/different configuration \(iters\); use --force/);
    const forced = run(['track', data, ...FAST, 'iters=7', '--out', out, '--force', '--no-video', '--json']);
    expect(forced.code, forced.err).toBe(0);
    expect(existsSync(join(folder, 'result.mp4'))).toBe(false);
  });

  it('fits a single image, and a NAME under PIXEL3DMM_PREPROCESSED_DATA', () => {
    const one = join(tmp, 'data1', 'portrait');
    mkdirSync(one, { recursive: true });
    for (const d of ['cropped', 'seg_og', 'PIPnet_landmarks', 'p3dmm/uv_map', 'p3dmm/normals']) {
      mkdirSync(join(one, d), { recursive: true });
      const src = readdirSync(join(data, d)).find((f) => f.startsWith('00000'))!;
      cpSync(join(data, d, src), join(one, d, src));
    }
    const r = run(['track', 'portrait', ...FAST, '--no-video', '--json'], { PIXEL3DMM_PREPROCESSED_DATA: join(tmp, 'data1'), PIXEL3DMM_TRACKING_OUTPUT: join(tmp, 'out1') });
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ mode: 'single', frames: 1, stage2: null });
  });

  it('reports bad input clearly and writes nothing', () => {
    const missing = run(['track', join(tmp, 'nope'), '--out', join(tmp, 'o3')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nope: no such folder/);
    const noOut = run(['track', data]);
    expect(noOut.code).toBe(1);
    expect(noOut.err).toMatch(/no output folder: pass --out DIR or set PIXEL3DMM_TRACKING_OUTPUT/);
    const badKey = run(['track', data, 'iterz=3', '--out', join(tmp, 'o3')]);
    expect(badKey.code).toBe(1);
    expect(badKey.err).toMatch(/unknown configuration key 'iterz'/);
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    const noCrops = run(['track', empty, '--out', join(tmp, 'o3')]);
    expect(noCrops.code).toBe(1);
    expect(noCrops.err).toMatch(/cropped: missing/);
    const badSize = run(['track', data, 'size=0', '--out', join(tmp, 'o3')]);
    expect(badSize.code).toBe(1);
    expect(badSize.err).toMatch(/size/);
    expect(existsSync(join(tmp, 'o3')) ? readdirSync(join(tmp, 'o3')) : []).toEqual([]);
  });
});

describe('pixel3dmm demo', () => {
  it('synthesises, tracks and reports the error against the ground truth', () => {
    const out = join(tmp, 'demo');
    const r = run(['demo', '--out', out, '--frames', '2', '--noise', 'none', ...FAST, '--json']);
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.frames).toBe(2);
    expect(s.overrides).toEqual(['global_iters=100', 'batch_size=8', ...FAST]);
    expect(s.error.meanMm).toBeGreaterThan(0);
    expect(s.error.maxMm).toBeGreaterThanOrEqual(s.error.meanMm);
    expect(s.error.meanMm).toBeLessThan(20); // a few steps at 64 px: coarse, but a face, not a failure
    expect(existsSync(join(s.outputDir, 'result.mp4'))).toBe(true);
  });
});

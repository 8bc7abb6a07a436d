// `pixel3dmm preprocess / infer / run / doctor / bench preprocess / tiny-networks` as a user runs them
// (needs the packages built: `npm test` builds first). Real faces come from ../shared/data.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedData, SKIP_NO_DATA } from '../packages/preprocess/src/testing/shared-data.js';
import { writeTinyNetworks } from '../packages/preprocess/src/testing/tiny-onnx.js';

const bin = resolve(__dirname, '../packages/pixel3dmm/bin/pixel3dmm.js');
const tmp = mkdtempSync(join(tmpdir(), 'p3d-cli-pre-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const data = sharedData();

function run(args: string[], env: Record<string, string> = {}) {
  // A clean configuration: no user .env (HOME is the temp folder), no PIXEL3DMM_* from the caller.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PIXEL3DMM_')));
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: tmp, env: { ...base, HOME: tmp, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('pixel3dmm tiny-networks, infer and doctor', () => {
  it('writes stand-in networks that doctor accepts, and reports missing licensed files with their origin', () => {
    const t = run(['tiny-networks', '--out', 'nets']);
    expect(t.code, t.err).toBe(0);
    const d = run(['doctor', '--json'], { PIXEL3DMM_UV_MODEL: join(tmp, 'nets/tiny-uv.onnx'), PIXEL3DMM_MICA_MODEL: join(tmp, 'nope.onnx') });
    const report = JSON.parse(d.out) as { checks: { name: string; status: string; detail: string }[] };
    const by = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    expect(by.uvModel.status).toBe('ok');
    expect(by.normalsModel.status).toBe('unset');
    expect(by.normalsModel.detail).toMatch(/export-onnx\.py/);
    expect(by.micaModel.status).toBe('missing');
    expect(by.micaModel.detail).toMatch(/MICA/);
    expect(by.blazefaceModel.status).toBe('ok');
    expect(by.selfieModel.status).toBe('ok');
    expect(by.ffmpeg.status).toBe('ok');
    expect(d.code).toBe(1); // a configured file is missing
  });

  it('refuses a network with the wrong signature, naming the file', () => {
    const f = join(tmp, 'wrong.onnx');
    writeFileSync(f, 'not onnx');
    const r = run(['infer', 'someone', '--uv', f]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error: .*wrong\.onnx: cannot load the ONNX model/);
  });
});

describe.skipIf(!data)(`pixel3dmm preprocess / run on real faces ${data ? '' : `(${SKIP_NO_DATA})`}`, () => {
  it('preprocess + infer a photo; bad input gives one clear line and exit code 1', () => {
    const p = run(['preprocess', join(data!, 'faces', '00001.jpg'), '--json']);
    expect(p.code, p.err).toBe(0);
    expect(JSON.parse(p.out)).toMatchObject({ name: '00001', frames: 1, kind: 'image' });
    expect(existsSync(join(tmp, 'preprocessed/00001/cropped/00000.jpg'))).toBe(true);
    mkdirSync(join(tmp, 'nets'), { recursive: true });
    writeTinyNetworks(join(tmp, 'nets'));
    const i = run(['infer', '00001', '--uv', 'nets/tiny-uv.onnx', '--normals', 'nets/tiny-normals.onnx']);
    expect(i.code, i.err).toBe(0);
    expect(readdirSync(join(tmp, 'preprocessed/00001/p3dmm/normals'))).toEqual(['00000.png']);
    writeFileSync(join(tmp, 'notes.txt'), 'not a face');
    const bad = run(['preprocess', 'notes.txt']);
    expect(bad.code).toBe(1);
    expect(bad.err.trim()).toMatch(/^error: .*notes\.txt: not an image or a video/);
  });

  it('run without networks: landmark-and-silhouette mode end to end (tracked with the built-in head), other inputs still run', () => {
    writeFileSync(join(tmp, 'broken.mp4'), 'garbage');
    const r = run(['run', join(data!, 'videos', 'ex1.mp4'), 'broken.mp4', '--max-frames', '3', '--data', 'pre2',
      '--tracking-output', 'tracked', '--json', '--tracker', 'camera_steps=20', 'iters=15', 'global_iters=6']);
    expect(r.err).toMatch(/landmark-and-silhouette mode/);
    expect(r.err).toMatch(/broken\.mp4: not an image or a video/);
    expect(r.code).toBe(1);
    const results = JSON.parse(r.out) as { ok: boolean; frames?: number; tracking: string }[];
    expect(results.map((x) => x.ok)).toEqual([true, false]);
    expect(results[0].frames).toBe(3);
    // Tracked without UV and normal terms: the output folder name says so (no _uv / _n suffix), one mesh per frame.
    expect(results[0].tracking).toMatch(/tracked[\\/]ex1_nV1_noPho$/);
    expect(readdirSync(join(results[0].tracking, 'mesh')).sort()).toEqual(['00000.ply', '00001.ply', '00002.ply', 'canonical.ply']);
    expect(readdirSync(join(tmp, 'pre2/ex1/seg_og')).length).toBe(3);
  });

  it('run with (stand-in) networks: preprocess, infer and track ex1.mp4 end to end with the built-in head', () => {
    mkdirSync(join(tmp, 'nets3'), { recursive: true });
    writeTinyNetworks(join(tmp, 'nets3'));
    const r = run(['run', join(data!, 'videos', 'ex1.mp4'), '--max-frames', '2', '--data', 'pre3', '--uv', 'nets3/tiny-uv.onnx',
      '--normals', 'nets3/tiny-normals.onnx', '--tracking-output', 'tracked3', '--json', '--tracker', 'camera_steps=20', 'iters=10', 'global_iters=4']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).not.toMatch(/landmark-and-silhouette/);
    const [result] = JSON.parse(r.out) as { ok: boolean; infer: boolean; tracking: string }[];
    expect(result.ok && result.infer).toBe(true);
    // UV and normal terms on: the folder name carries their weights (spec 1), and every output is there.
    expect(result.tracking).toMatch(/tracked3[\\/]ex1_nV1_noPho_uv2000\.0_n1000\.0$/);
    for (const f of ['tracking.json', 'tracking.npz', 'cameras.json', 'telemetry.jsonl', 'result.mp4']) {
      expect(existsSync(join(result.tracking, f)), f).toBe(true);
    }
    expect(readdirSync(join(tmp, 'pre3/ex1/p3dmm/uv_map'))).toEqual(['00000.png', '00001.png']);
  });

  it('bench preprocess reports ms per frame for the three stages', () => {
    const r = run(['bench', 'preprocess', join(data!, 'videos', 'ex1.mp4'), '--frames', '4', '--json']);
    expect(r.code, r.err).toBe(0);
    const b = JSON.parse(r.out);
    expect(b.frames).toBe(4);
    for (const k of ['detection', 'landmarks', 'segmentation', 'total']) expect(b[k].mean).toBeGreaterThanOrEqual(0);
    expect(b.landmarks.mean).toBeGreaterThan(0);
    expect(b.detectorCalls).toBe(1);
  });
});

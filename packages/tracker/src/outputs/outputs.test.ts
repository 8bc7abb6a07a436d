import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Flame, applyRigid, builtInFlameModel, parseFlameParams } from '@pixel3dmm/flame';
import { readNpz, readPly } from '@pixel3dmm/formats';
import { rotationMatrices } from '@pixel3dmm/kernels';
import { makeCamera, projectPoints } from '@pixel3dmm/render';
import { defaultTrackerConfig, withOverrides } from '../config.js';
import { framesFromArray } from '../run/frames.js';
import { fakeFrame } from '../run/testing.js';
import type { RunResult } from '../run/tracker.js';
import { VariableStore } from '../run/variables.js';
import { trackingFolderName } from './folder.js';
import { overlayFrame } from './overlay.js';
import { ffmpegPath } from './video.js';
import { OutputError, finishedRun, writeTrackingOutputs, type FrameRenderer } from './writer.js';

const tmp = mkdtempSync(join(tmpdir(), 'p3d-outputs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const model = builtInFlameModel(0);
const S = 16;
const config = withOverrides(defaultTrackerConfig(), { size: S });

function fakeResult(numFrames: number): RunResult {
  const store = new VariableStore({ shape: Float64Array.from({ length: model.numShape }, (_, i) => (i < 5 ? 0.3 * Math.sin(i) : 0)), focal: 4.1, pp: [0.01, -0.02], numFrames, numExpression: model.numExpression });
  store.frames.forEach((f, i) => {
    f.expression[0] = 0.5 * i;
    f.jaw.set([1, 0, 0, 0, Math.cos(0.1 * i), -Math.sin(0.1 * i)]);
    f.neck.set([Math.cos(0.2), 0, Math.sin(0.2), 0, 1, 0]);
    f.rotation.set([Math.cos(0.1), -Math.sin(0.1), 0, Math.sin(0.1), Math.cos(0.1), 0]);
    f.translation.set([0.01 * i, -0.02, 0.05]);
    f.eyelids.set([0.2, 0.1]);
  });
  return {
    mode: numFrames === 1 ? 'single' : 'video',
    frameIndices: Array.from({ length: numFrames }, (_, i) => i),
    variables: store,
    telemetry: Array.from({ length: numFrames }, (_, i) => ({ frame: i, position: i, iterations: 3, earlyStopped: false, total: 1, terms: { a: 1 }, seconds: 0, landmarks: 98 })),
    stage2: { iterations: 2, plannedIterations: 2, batchSize: 2, seconds: 0, total: 1, terms: {} },
    warnings: [],
    seconds: 0.1,
  };
}

/** A stand-in render: normals (0,0,1) and the face mask over a centred square. */
const squareRender: FrameRenderer = (camera) => {
  const n = camera.size;
  const normals = new Float32Array(n * n * 3);
  const faceMask = new Uint8Array(n * n);
  for (let r = 4; r < 12; r++) for (let c = 4; c < 12; c++) {
    normals[3 * (r * n + c) + 2] = 1;
    faceMask[r * n + c] = 1;
  }
  return { normals, faceMask };
};

describe('tracking output folder', () => {
  it('is named by the original rule (spec 1)', () => {
    expect(trackingFolderName('clip', defaultTrackerConfig())).toBe('clip_nV1_noPho_uv2000.0_n1000.0');
    expect(trackingFolderName('clip', withOverrides(defaultTrackerConfig(), ['no_lm=true', 'ignore_mica=true', 'uv_map_super=0', 'normal_super=2000.5']))).toBe(
      'clip_nV1_noLM_noPho_noMICA_n2000.5',
    );
    expect(() => trackingFolderName('a/b', defaultTrackerConfig())).toThrow(/without slashes/);
  });
});

describe('writeTrackingOutputs', () => {
  const result = fakeResult(3);
  const frames = framesFromArray([0, 1, 2].map((i) => fakeFrame(i, S)));
  const opts = { outRoot: join(tmp, 'out'), vid: 'clip', config, model, frames, render: squareRender, source: 'memory:test' };
  let dir = '';

  it('writes parameters in the FLAME schema, FLAME-space meshes, the npz, cameras, telemetry, video and manifest', async () => {
    const w = await writeTrackingOutputs(result, opts);
    dir = w.dir;
    expect(dir).toBe(join(tmp, 'out', 'clip_nV1_noPho_uv2000.0_n1000.0'));
    expect(readdirSync(join(tmp, 'out'))).toEqual(['clip_nV1_noPho_uv2000.0_n1000.0']); // no staging left
    const flame = new Flame(model);
    for (let i = 0; i < 3; i++) {
      const file = join(dir, 'checkpoint', `0000${i}.json`);
      const json = JSON.parse(readFileSync(file, 'utf8'));
      expect(json.focal_length).toBe(4.1);
      expect(json.principal_point).toEqual([0.01, -0.02]);
      expect(json.image_size).toEqual([S, S]);
      const params = parseFlameParams(json, file, model);
      expect(params.expression[0]).toBe(0.5 * i);
      expect(params.translation).toEqual([...result.variables.frames[i].translation]);
      // The mesh is the FLAME-space evaluation (no global R, t) of exactly these parameters.
      const expected = flame.evaluate([params]).vertices;
      const ply = readPly(new Uint8Array(readFileSync(join(dir, 'mesh', `0000${i}.ply`))), 'ply');
      let maxDiff = 0;
      for (let k = 0; k < expected.length; k++) maxDiff = Math.max(maxDiff, Math.abs(ply.positions[k] - expected[k]));
      expect(maxDiff).toBe(0);
    }
    const canonical = readPly(new Uint8Array(readFileSync(join(dir, 'mesh', 'canonical.ply'))), 'ply');
    const shapeOnly = flame.evaluate([{ ...parseFlameParams({ shape: [...result.variables.shape] }, 'x', model) }]).vertices;
    expect(canonical.positions[300]).toBe(shapeOnly[300]);

    const npz = readNpz(new Uint8Array(readFileSync(join(dir, 'tracking.npz'))), 'npz');
    expect(npz.get('exp')!.shape).toEqual([3, model.numExpression]);
    expect(npz.get('joint_transforms')!.shape).toEqual([3, 5, 4, 4]);
    expect(npz.get('R_rotation_matrix')!.data[1]).toBeCloseTo(-Math.sin(0.1), 12);
    expect([...npz.get('frame_id')!.data].map(Number)).toEqual([0, 1, 2]);

    // OpenCV camera: K (w2c_cv X) lands at the original's point projection + (1, 0) (camera.ts conventions).
    const cams = JSON.parse(readFileSync(join(dir, 'cameras.json'), 'utf8'));
    const X = [0.03, -0.05, 0.1];
    const cv = cams.world_to_camera_opencv, K = cams.K_opencv;
    const Xc = [0, 1, 2].map((r) => cv[4 * r] * X[0] + cv[4 * r + 1] * X[1] + cv[4 * r + 2] * X[2] + cv[4 * r + 3]);
    const u = (K[0] * Xc[0] + K[2] * Xc[2]) / Xc[2], v = (K[4] * Xc[1] + K[5] * Xc[2]) / Xc[2];
    const ref = projectPoints(makeCamera(S, 4.1, [0.01, -0.02]), Float32Array.from(X));
    expect(u).toBeCloseTo(ref[0] + 1, 4);
    expect(v).toBeCloseTo(ref[1], 4);
    // Head-centric: E_h u = E (R (A_neck u) + t) for any point u.
    const A = npz.get('joint_transforms')!.data.slice(80 + 16, 80 + 32) as Float64Array; // frame 1, joint 1 (neck)
    const Eh = cams.head_centric[1].world_to_camera_opengl;
    const p = [0.02, 0.04, -0.01];
    const Ap = Float32Array.from([0, 1, 2].map((r) => A[4 * r] * p[0] + A[4 * r + 1] * p[1] + A[4 * r + 2] * p[2] + A[4 * r + 3]));
    applyRigid(rotationMatrices(result.variables.frames[1].rotation), result.variables.frames[1].translation, Ap);
    const viaHead = [0, 1, 2].map((r) => Eh[4 * r] * p[0] + Eh[4 * r + 1] * p[1] + Eh[4 * r + 2] * p[2] + Eh[4 * r + 3]);
    expect(viaHead[0]).toBeCloseTo(Ap[0], 6);
    expect(viaHead[2]).toBeCloseTo(Ap[2] - 1, 6);

    const lines = readFileSync(join(dir, 'telemetry.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(JSON.parse(lines[3]).stage2.iterations).toBe(2);
    expect(w.manifest.files).toContain('result.mp4');
    expect(w.manifest.files.every((f) => existsSync(join(dir, f)))).toBe(true);
  });

  it('encodes result.mp4 as [image | blend | normals] frames at 25 fps', () => {
    const probe = spawnSync(ffmpegPath(), ['-hide_banner', '-i', join(dir, 'result.mp4')], { encoding: 'utf8' });
    expect(probe.stderr).toMatch(/h264/);
    expect(probe.stderr).toMatch(/48x16/);
    expect(probe.stderr).toMatch(/25 fps/);
    const decoded = spawnSync(ffmpegPath(), ['-v', 'error', '-i', join(dir, 'result.mp4'), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { maxBuffer: 1 << 24 });
    expect(decoded.stdout.length).toBe(3 * 48 * 16 * 3);
    const camera = makeCamera(S, 4.1, [0.01, -0.02]);
    const R = rotationMatrices(result.variables.frames[0].rotation);
    const expected = overlayFrame(camera, fakeFrame(0, S).rgb, squareRender(camera, new Float32Array(0), new Float32Array(0)), R);
    let err = 0;
    for (let i = 0; i < expected.length; i++) err += Math.abs(decoded.stdout[i] - expected[i]);
    expect(err / expected.length).toBeLessThan(4); // crf 15 + yuv420p chroma subsampling
  });

  it('skips a finished run, refuses another configuration, and replaces it when forced', async () => {
    expect(finishedRun(dir, config, 'memory:test', 3, false)?.frames).toBe(3);
    expect(finishedRun(dir, config, 'memory:test', 3, true)).toBeNull();
    expect(() => finishedRun(dir, withOverrides(config, ['iters=5']), 'memory:test', 3, false)).toThrow(OutputError);
    expect(() => finishedRun(dir, config, 'memory:test', 3, false, '/data/FLAME2020')).toThrow(/another FLAME model/);
    expect(() => finishedRun(dir, config, 'memory:other', 3, false)).toThrow(/another input/);
    expect(() => finishedRun(dir, withOverrides(config, ['iters=5']), 'memory:test', 3, false)).toThrow(/different configuration \(iters\)/);
    const again = await writeTrackingOutputs(fakeResult(2), { ...opts, render: undefined });
    expect(again.manifest.frames).toBe(2);
    expect(() => finishedRun(dir, config, 'memory:test', 2, false, undefined, true)).toThrow(/without result.mp4/);
    expect(finishedRun(dir, config, 'memory:test', 2, false, undefined, false)?.video).toBe(false);
    expect(existsSync(join(dir, 'checkpoint', '00002.json'))).toBe(false); // the old folder was replaced whole
    expect(existsSync(join(dir, 'result.mp4'))).toBe(false);
    expect(readdirSync(join(tmp, 'out'))).toEqual(['clip_nV1_noPho_uv2000.0_n1000.0']);
  });

  it('leaves nothing behind when cancelled', async () => {
    const ac = new AbortController();
    const slowFrames = { count: 3, frame: async (i: number) => (i === 1 && ac.abort(), fakeFrame(i, S)) };
    const root = join(tmp, 'cancelled');
    await expect(writeTrackingOutputs(result, { ...opts, outRoot: root, frames: slowFrames, signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(readdirSync(root)).toEqual([]);
  });
});

describe('overlay frame', () => {
  it('blends 0.3 image + 0.7 normals where the face mask is set and the normal faces the camera', () => {
    const camera = makeCamera(S);
    const rgb = new Float32Array(S * S * 3).fill(0.5);
    const render = squareRender(camera, new Float32Array(0), new Float32Array(0));
    const identity = [1, 0, 0, 0, 1, 0, 0, 0, 1];
    const out = overlayFrame(camera, rgb, render, identity);
    const px = (panel: number, r: number, c: number) => [0, 1, 2].map((ch) => out[(r * 3 * S + panel * S + c) * 3 + ch]);
    expect(px(0, 8, 8)).toEqual([127, 127, 127]);
    expect(px(1, 8, 8)).toEqual([Math.floor(255 * (0.15 + 0.35)), Math.floor(255 * (0.15 + 0.35)), Math.floor(255 * (0.15 + 0.7))]);
    expect(px(1, 0, 0)).toEqual([127, 127, 127]); // outside the mask: the image
    expect(px(2, 8, 8)).toEqual([127, 127, 255]);
    expect(px(2, 0, 0)).toEqual([127, 127, 127]); // background normal 0 -> grey 0.5
    // Turned away from the camera (R flips z): no blend.
    const away = overlayFrame(camera, rgb, render, [1, 0, 0, 0, 1, 0, 0, 0, -1]);
    expect([0, 1, 2].map((ch) => away[(8 * 3 * S + S + 8) * 3 + ch])).toEqual([127, 127, 127]);
  });
});

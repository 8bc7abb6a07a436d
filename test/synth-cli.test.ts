// `pixel3dmm synth` end to end, as a user runs it (needs the packages built: `npm test` builds first).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultTrackerConfig, openPreprocessed } from '@pixel3dmm/tracker';

const bin = resolve(__dirname, '../packages/pixel3dmm/bin/pixel3dmm.js');
const tmp = mkdtempSync(join(tmpdir(), 'p3d-synth-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, PIXEL3DMM_FLAME_MODEL: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('pixel3dmm synth', () => {
  const out = join(tmp, 'subject');

  it('writes a 2-frame subject in the preprocessed layout that the tracker reads, with its ground truth', async () => {
    const r = run('synth', '--frames', '2', '--out', out, '--seed', '4', '--noise', 'realistic');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/2 synthetic frame\(s\).*seed 4, noise realistic/);
    for (const d of ['cropped', 'rgb', 'PIPnet_landmarks', 'seg_og', 'p3dmm/uv_map', 'p3dmm/normals']) {
      expect(readdirSync(join(out, d)).filter((f) => /^0000[01]\./.test(f)).length, d).toBe(2);
    }
    const gt = JSON.parse(readFileSync(join(out, 'ground_truth.json'), 'utf8'));
    expect(gt.frames.length).toBe(2);
    expect([gt.seed, gt.noise]).toEqual([4, 'realistic']);
    const seq = await openPreprocessed(out, defaultTrackerConfig());
    expect(seq.numFrames).toBe(2);
    const f = await seq.frame(1);
    expect(f.landmarkValid.every((v) => v === 1)).toBe(true);
  });

  it('refuses a non-empty folder without --force', () => {
    const r = run('synth', '--frames', '1', '--out', out);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/subject: the output folder is not empty \(use --force/);
  });

  it('rejects bad arguments with a message naming them, writing nothing', () => {
    const never = join(tmp, 'never');
    for (const [args, message] of [
      [['--frames', '0'], /--frames must be an integer in \[1, 99999\]/],
      [['--frames', '1', '--noise', 'loud'], /noise level must be one of none, realistic, heavy, got 'loud'/],
      [['--frames', '1', '--model', join(tmp, 'missing.pkl')], /missing\.pkl/],
    ] as const) {
      const r = run('synth', '--out', never, ...args);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(message);
    }
    expect(existsSync(never)).toBe(false);
  });
});

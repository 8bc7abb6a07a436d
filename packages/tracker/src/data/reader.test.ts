// The preprocessed-data reader on layouts the original pipeline writes, and the clear errors for broken ones.
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtInFlameModel } from '@pixel3dmm/flame';
import { NdArray, PreprocessedLayout, writeNpy } from '@pixel3dmm/formats';
import sharp from 'sharp';
import { defaultTrackerConfig } from '../config.js';
import { writeSyntheticSubject } from '../synth/index.js';
import { openPreprocessed } from './index.js';

const tmp = mkdtempSync(join(tmpdir(), 'p3d-reader-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const base = join(tmp, 'base');
const config = { ...defaultTrackerConfig(), size: 256 };
let n = 0;

/** A fresh copy of the 2-frame synthetic subject to break. */
function copy(): PreprocessedLayout {
  const dir = join(tmp, `case${n++}`);
  cpSync(base, dir, { recursive: true });
  return new PreprocessedLayout(dir);
}

const png = (size: number, channels: 1 | 3, value: number) => {
  const img = sharp(Buffer.alloc(size * size * channels, value), { raw: { width: size, height: size, channels } });
  return (channels === 1 ? img.toColourspace('b-w') : img).png().toBuffer();
};

beforeAll(async () => {
  await writeSyntheticSubject({ out: base, frames: 2, model: builtInFlameModel(0), seed: 3 });
});

describe('openPreprocessed', () => {
  it('reads the layout: frame count, shapes, lazily', async () => {
    const seq = await openPreprocessed(base, config);
    expect([seq.numFrames, seq.count, seq.numCrops, seq.size, seq.hasUv, seq.hasNormals]).toEqual([2, 2, 2, 256, true, true]);
    const f = await seq.frame(1);
    expect(f.index).toBe(1);
    expect([f.rgb.length, f.uv!.length, f.normals!.length, f.segmentation.length, f.landmarks98.length]).toEqual([256 * 256 * 3, 256 * 256 * 2, 256 * 256 * 3, 256 * 256, 196]);
    expect(f.rgb.every((v) => v >= 0 && v <= 1)).toBe(true);
    await expect(seq.frame(2)).rejects.toThrow(/frame 2 out of range \[0, 2\)/);
  });

  it('decodes the network PNGs as png/255 (the original) or, with png_bin_centres, at the bin centres (png+0.5)/255', async () => {
    // At 512 there is no resize, so the decoded values follow the bytes of the PNGs directly.
    const at512 = { ...config, size: 512 };
    const plain = await (await openPreprocessed(base, { ...at512, png_bin_centres: false })).frame(0);
    const centred = await (await openPreprocessed(base, { ...at512, png_bin_centres: true })).frame(0);
    const L = new PreprocessedLayout(base);
    const uvBytes = await sharp(L.uvMap(0)).removeAlpha().raw().toBuffer();
    const nBytes = await sharp(L.normals(0)).removeAlpha().raw().toBuffer();
    let checked = 0;
    for (let p = 0; p < 512 * 512; p++) {
      if (plain.uv![2 * p] === 0 && plain.uv![2 * p + 1] === 0) continue; // outside the uv mask: both 0
      expect(plain.uv![2 * p]).toBe(Math.fround(uvBytes[3 * p] / 255));
      expect(centred.uv![2 * p + 1]).toBe(Math.fround((uvBytes[3 * p + 1] + 0.5) / 255));
      checked++;
    }
    expect(checked).toBeGreaterThan(1000);
    for (const i of [0, 1, 2, 3 * 70_000 + 1, 3 * 131_000 + 2]) {
      expect(plain.normals![i]).toBe(Math.fround((2 * nBytes[i]) / 255 - 1));
      expect(centred.normals![i]).toBe(Math.fround((2 * (nBytes[i] + 0.5)) / 255 - 1));
    }
  });

  it('landmark-and-silhouette mode: uv and normals are null without their folders; a missing landmark file is all invalid', async () => {
    const L = copy();
    rmSync(join(L.root, 'p3dmm'), { recursive: true });
    rmSync(L.landmarks(1));
    const seq = await openPreprocessed(L.root, config);
    expect([seq.hasUv, seq.hasNormals]).toEqual([false, false]);
    const f = await seq.frame(1);
    expect(f.uv).toBeNull();
    expect(f.normals).toBeNull();
    expect(f.landmarkValid.every((v) => v === 0)).toBe(true);
    expect(f.landmarks98.every((v) => v === 0)).toBe(true);
    // A zero landmark inside a file (x + y = 0) is invalid too, the others stay valid.
    const lm = new Float32Array(196).fill(0.5);
    lm[2 * 7] = 0;
    lm[2 * 7 + 1] = 0;
    writeFileSync(L.landmarks(0), writeNpy(new NdArray('<f8', [98, 2], Float64Array.from(lm))));
    const g = await seq.frame(0);
    expect(g.landmarkValid[7]).toBe(0);
    expect(g.landmarkValid.reduce((a, b) => a + b, 0)).toBe(97);
    expect(g.landmarks98[0]).toBe(128);
  });

  it('prefers cropped/NNNNN.jpg over .png, as the tracker opens .jpg first', async () => {
    const L = copy();
    await sharp(Buffer.alloc(512 * 512 * 3, 0), { raw: { width: 512, height: 512, channels: 3 } }).jpeg().toFile(L.cropped(0, 'jpg'));
    const f = await (await openPreprocessed(L.root, config)).frame(0);
    expect(f.rgb.reduce((m, v) => Math.max(m, v), 0)).toBeLessThan(0.02);
  });

  it('reads a JPEG crop exactly as the original does: np.asarray(Image.open(f).resize((S, S), BICUBIC)) / 255', async () => {
    // The fixture is a synthetic crop saved by Pillow as JPEG q95; the digests are of Pillow 12.3's decode and
    // resize of it (libjpeg-turbo decoding, as sharp's).
    const expected: Record<number, string> = {
      256: '33cdf65e14e418488eef2ba837d09e06653fdabc87ca14d25156d83cd0b19b92',
      512: '3e29aaa77838cc0d2fc4817b8a0d7aa967ac113a97e7c7043bd1d39263daae31',
      224: '9ca39cf8f72a3062e0600102c118e22d0e9a36bf77f766d0c5d99dded868bb5d',
    };
    const L = new PreprocessedLayout(join(tmp, 'jpeg'));
    mkdirSync(L.dir('cropped'), { recursive: true });
    mkdirSync(L.dir('segmentation'), { recursive: true });
    copyFileSync(join(__dirname, 'fixtures', 'synthetic-crop-q95.jpg'), L.cropped(0, 'jpg'));
    writeFileSync(L.segmentation(0), await png(512, 1, 0));
    for (const S of [256, 512, 224]) {
      const f = await (await openPreprocessed(L.root, { ...config, size: S })).frame(0);
      const bytes = Uint8Array.from(f.rgb, (v) => Math.round(v * 255));
      expect(createHash('sha256').update(bytes).digest('hex'), `S = ${S}`).toBe(expected[S]);
    }
  });

  it('the MICA prior is the mean of mica/*/identity.npy, zeros with ignore_mica', async () => {
    const L = copy();
    for (const [name, v] of [['00000', 1], ['00001', 3]] as const) {
      mkdirSync(join(L.dir('mica'), name), { recursive: true });
      writeFileSync(L.micaIdentity(name), writeNpy(new NdArray('<f4', [300], new Float32Array(300).fill(v))));
    }
    mkdirSync(join(L.dir('mica'), 'no-identity-here'));
    const seq = await openPreprocessed(L.root, config);
    expect(seq.micaFiles.length).toBe(2);
    expect(Array.from(seq.shapePrior).every((v) => v === 2)).toBe(true);
    const ignored = await openPreprocessed(L.root, { ...config, ignore_mica: true });
    expect(Array.from(ignored.shapePrior).every((v) => v === 0)).toBe(true);
    writeFileSync(L.micaIdentity('00001'), writeNpy(new NdArray('<f4', [100], new Float32Array(100))));
    await expect(openPreprocessed(L.root, config)).rejects.toThrow(/mica\/00001\/identity\.npy: has shape \(100\), expected \(300\)/);
  });

  it.each([
    ['no folder', (L: PreprocessedLayout) => rmSync(L.root, { recursive: true }), /no such preprocessed-data folder/],
    ['no cropped/', (L: PreprocessedLayout) => rmSync(L.dir('cropped'), { recursive: true }), /cropped: missing .*nothing to track/],
    ['an empty cropped/', (L: PreprocessedLayout) => [0, 1].forEach((i) => rmSync(L.cropped(i, 'png'))), /no crops named 00000.jpg or 00000.png: nothing to track/],
    ['non-contiguous names', (L: PreprocessedLayout) => renameSync(L.cropped(1, 'png'), L.cropped(2, 'png')), /contiguous, but 00001 is missing/],
    ['a UV map without its crop', (L: PreprocessedLayout) => copyFileSync(L.uvMap(1), L.uvMap(7)), /uv_map\/00007\.png: a UV map for frame 7, but there is no crop/],
    ['a missing normal map', (L: PreprocessedLayout) => rmSync(L.normals(1)), /normals\/00001\.png: missing normal map for frame 1/],
    ['a missing segmentation', (L: PreprocessedLayout) => rmSync(L.segmentation(0)), /seg_og\/00000\.png: missing segmentation for frame 0/],
    ['no seg_og/', (L: PreprocessedLayout) => rmSync(L.dir('segmentation'), { recursive: true }), /seg_og: missing/],
    ['a stray frame-like name', (L: PreprocessedLayout) => writeFileSync(join(L.dir('landmarks'), '00000.txt'), ''), /00000\.txt: unexpected landmark file file name/],
  ])('open fails clearly on %s', async (_what, breakIt, message) => {
    const L = copy();
    breakIt(L);
    await expect(openPreprocessed(L.root, config)).rejects.toThrow(message);
  });

  it.each([
    ['a wrong image size', async (L: PreprocessedLayout) => writeFileSync(L.segmentation(0), await png(256, 1, 2)), /seg_og\/00000\.png: is 256x256, expected 512x512/],
    ['an RGB class map', async (L: PreprocessedLayout) => writeFileSync(L.segmentation(0), await png(512, 3, 2)), /seg_og\/00000\.png: has 3 channels, expected a one-channel class map/],
    ['a wrong landmark shape', async (L: PreprocessedLayout) => writeFileSync(L.landmarks(0), writeNpy(new NdArray('<f4', [68, 2], new Float32Array(136)))), /PIPnet_landmarks\/00000\.npy: has shape \(68, 2\), expected \(98, 2\)/],
    ['an integer landmark file', async (L: PreprocessedLayout) => writeFileSync(L.landmarks(0), writeNpy(new NdArray('<i4', [98, 2], new Int32Array(196)))), /00000\.npy: has dtype <i4, expected float32 or float64/],
    ['a corrupt PNG', async (L: PreprocessedLayout) => writeFileSync(L.uvMap(0), 'not a png'), /uv_map\/00000\.png: cannot decode the image/],
  ])('a frame fails clearly on %s', async (_what, breakIt, message) => {
    const L = copy();
    await breakIt(L);
    const seq = await openPreprocessed(L.root, config);
    await expect(seq.frame(0)).rejects.toThrow(message);
    await expect(seq.frame(1)).resolves.toBeTruthy();
  });

  it('rejects a bad render size', async () => {
    await expect(openPreprocessed(base, { ...config, size: 0 })).rejects.toThrow(/size: expected an integer render size/);
  });
});

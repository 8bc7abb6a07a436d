// The synthetic subjects: files in the layout, ground truth that round-trips through the reader, noise that
// changes only what it should, determinism.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Flame, builtInFlameModel, defaultFlameParams, type FlameParams } from '@pixel3dmm/flame';
import { CROP_SIZE, PreprocessedLayout, SEG_CLASS, SEG_MASKS, WFLW_TO_IBUG68, readNpy } from '@pixel3dmm/formats';
import { makeCamera, projectPoints, worldToClip } from '@pixel3dmm/render';
import sharp from 'sharp';
import { defaultTrackerConfig } from '../config.js';
import { vertexNormals as objectiveVertexNormals } from '../objective/vertex-normals.js';
import { openPreprocessed } from '../data/index.js';
import {
  GROUND_TRUTH_FILE,
  NOISE_SPECS,
  SYNTH_CLASSES,
  SyntheticRenderer,
  cropCamera,
  eulerTo6d,
  readGroundTruth,
  sampleMotion,
  writeSyntheticSubject,
  type GroundTruth,
} from './index.js';

const model = builtInFlameModel(0);
const tmp = mkdtempSync(join(tmpdir(), 'p3d-synth-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const config = { ...defaultTrackerConfig(), size: 256 };
const NOSE_TIP = (() => {
  // The most forward head vertex of the template (the synthetic head's nose tip).
  let best = 0;
  for (let v = 0; v < 3931; v++) if (model.vTemplate[3 * v + 2] > model.vTemplate[3 * best + 2]) best = v;
  return best;
})();

async function rawPng(file: string): Promise<Uint8Array> {
  const { data } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) (e.isDirectory() ? walk(join(d, e.name)) : out.push(relative(dir, join(d, e.name))));
  };
  walk(dir);
  return out.sort();
}
const digest = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Crop pixel (col, row) that a world point falls in, through the crop camera's raster projection. */
function cropPixel(world: Float32Array, v: number): [number, number] {
  const cam = cropCamera(makeCamera(256), CROP_SIZE);
  const c = worldToClip(cam, world.subarray(3 * v, 3 * v + 3));
  const col = ((c[0] / c[3] + 1) * CROP_SIZE - 1) / 2, row = ((c[1] / c[3] + 1) * CROP_SIZE - 1) / 2;
  return [Math.round(col), Math.round(row)];
}

/** A smooth spot: the face vertex nearest the forehead's midline, 6.5 cm above the nose tip. */
const FOREHEAD = (() => {
  const T = model.vTemplate;
  let best = -1, bestD = Infinity;
  for (const v of model.masks.face) {
    const d = Math.hypot(T[3 * v], T[3 * v + 1] - T[3 * NOSE_TIP + 1] - 0.065);
    if (T[3 * v + 2] > 0.03 && d < bestD) {
      bestD = d;
      best = v;
    }
  }
  return best;
})();
const frontal = (): FlameParams => ({ ...defaultFlameParams(), shape: sampleMotion(model, 1, 11)[0].shape });
// Frame 1 turns the head (R) by 0.3 rad; frame 2 turns the neck by 0.3 rad and the head back by R, so the face
// looks at the camera while its FLAME-space (with-neck) orientation is turned.
const poses: FlameParams[] = [
  frontal(),
  { ...frontal(), rotation: eulerTo6d(0.3, 0, 0), translation: [0.01, -0.005, 0.02] },
  { ...frontal(), rotation: eulerTo6d(-0.3, 0, 0), neck: eulerTo6d(0.3, 0, 0) },
];
const turned = () => poses[1];

describe('the crop camera', () => {
  it('sees what the tracker sees: crop coordinate = 2 x tracker coordinate + 0.5 (pixel-area correspondence)', () => {
    const track = makeCamera(256, 3.9, [0.01, -0.02]);
    const crop = cropCamera(track, 512);
    expect(crop.focal).toBe(track.focal);
    const pts = Float32Array.of(0.05, -0.03, 0.1, -0.08, 0.07, -0.02, 0, 0, 0);
    const a = worldToClip(track, pts), b = worldToClip(crop, pts);
    for (let i = 0; i < 3; i++) {
      for (const [k, S] of [[0, 1], [1, 1]]) {
        const q256 = ((a[4 * i + k] / a[4 * i + 3] + S) * 256 - 1) / 2;
        const q512 = ((b[4 * i + k] / b[4 * i + 3] + S) * 512 - 1) / 2;
        expect(q512).toBeCloseTo(2 * q256 + 0.5, 3);
      }
    }
  });
});

describe('synthetic subject, noise none', () => {
  const dirA = join(tmp, 'motion');
  const dirB = join(tmp, 'poses');
  let gtA: GroundTruth;
  beforeAll(async () => {
    gtA = (await writeSyntheticSubject({ out: dirA, frames: 2, model, seed: 11 })).groundTruth;
    await writeSyntheticSubject({ out: dirB, frames: 3, model, seed: 11, frameParams: poses });
  });

  it('writes exactly the layout of spec 1, and ground truth equal to the sampled motion', () => {
    const L = new PreprocessedLayout(dirA);
    const expected = [L.cropBox, join(dirA, GROUND_TRUTH_FILE)];
    for (let i = 0; i < 2; i++) {
      expected.push(L.cropped(i, 'png'), L.rgb(i), L.landmarks(i), L.annotated(i), L.segmentation(i), L.uvMap(i), L.normals(i));
      expected.push(join(L.dir('segmentationColour'), `color_0000${i}.png`));
      // MICA runs on every max(1, floor(N/10))-th frame: both of 2.
      expected.push(L.micaIdentity(`0000${i}`));
    }
    expect(filesUnder(dirA)).toEqual(expected.map((f) => relative(dirA, f)).sort());
    const box = readNpy(new Uint8Array(readFileSync(L.cropBox)), L.cropBox);
    expect(Array.from(box.data as BigInt64Array, Number)).toEqual([0, 511, 0, 511]);
    const motion = sampleMotion(model, 2, 11);
    expect(readGroundTruth(dirA, model)).toEqual(gtA);
    expect(() => readGroundTruth(join(tmp, 'nowhere'), model)).toThrow(/ground_truth\.json: cannot read the ground truth/);
    gtA.frames.forEach((f, i) => {
      const { frame, focal_length, principal_point, image_size, ...params } = f;
      expect(frame).toBe(i);
      expect(params).toEqual(motion[i]);
      expect([focal_length, principal_point, image_size]).toEqual([2000 / 512, [0, 0], [256, 256]]);
    });
    expect(gtA.noise).toBe('none');
    expect(gtA.pupilVertices).toEqual({ right: 4477, left: 3931 });
  });

  it('landmarks read back as the ground truth projected by the tracker (lmk98 * S = point projection at S)', async () => {
    const seq = await openPreprocessed(dirA, config);
    const flame = new Flame(model);
    const cam = makeCamera(256);
    for (let i = 0; i < 2; i++) {
      const f = await seq.frame(i);
      const ev = flame.evaluate([gtA.frames[i]], { world: true });
      const p68 = projectPoints(cam, ev.landmarks!);
      expect(f.landmarkValid.every((v) => v === 1)).toBe(true);
      let worst = 0;
      WFLW_TO_IBUG68.forEach((w, k) => {
        worst = Math.max(worst, Math.abs(f.landmarks98[2 * w] - p68[3 * k]), Math.abs(f.landmarks98[2 * w + 1] - p68[3 * k + 1]));
      });
      const pupils = projectPoints(cam, Float32Array.from([...ev.vertices.subarray(3 * 4477, 3 * 4477 + 3), ...ev.vertices.subarray(3 * 3931, 3 * 3931 + 3)]));
      for (const [w, k] of [[96, 0], [97, 1]]) {
        worst = Math.max(worst, Math.abs(f.landmarks98[2 * w] - pupils[3 * k]), Math.abs(f.landmarks98[2 * w + 1] - pupils[3 * k + 1]));
      }
      expect(worst).toBeLessThan(1e-3);
      // The head fills the crop as a real one would: eye corners ~90 px apart... and the face ~200 px tall.
      const faceHeight = f.landmarks98[2 * 16 + 1] - Math.min(f.landmarks98[2 * 35 + 1], f.landmarks98[2 * 44 + 1]);
      expect(faceHeight).toBeGreaterThan(90);
      expect(faceHeight).toBeLessThan(200);
    }
    // The MICA codes are the true identity (noise none), in float32.
    expect(Array.from(seq.shapePrior)).toEqual(gtA.frames[0].shape.map((v) => Math.fround(v)));
    const noMica = join(tmp, 'no-mica');
    await writeSyntheticSubject({ out: noMica, frames: 1, model, seed: 11, mica: false });
    expect(existsSync(join(noMica, 'mica'))).toBe(false);
    expect(Array.from((await openPreprocessed(noMica, config)).shapePrior).every((v) => v === 0)).toBe(true);
  });

  it('normals are FLAME-space and neck-free, whatever the head pose and the neck; a frontal nose tip reads ~(127,127,255)', async () => {
    const seq = await openPreprocessed(dirB, { ...config, size: 512 });
    const flame = new Flame(model);
    const V = model.numVertices;
    const mean3x3 = (img: ArrayLike<number>, col: number, row: number) => {
      const m = [0, 0, 0];
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) for (let c = 0; c < 3; c++) m[c] += img[3 * ((row + dy) * CROP_SIZE + col + dx) + c] / 9;
      return m;
    };
    const frontalBytes = await rawPng(seq.layout.normals(0));
    const [nc, nr] = cropPixel(flame.evaluate([poses[0]], { world: true }).vertices, NOSE_TIP);
    const nose = mean3x3(frontalBytes, nc, nr);
    // The synthetic nose tip faces ~7 degrees down (n_y ~ -0.12), and is sharp (0.13 per crop pixel).
    expect(Math.abs(nose[0] - 127)).toBeLessThan(10);
    expect(Math.abs(nose[1] - 127)).toBeLessThan(20);
    expect(nose[2]).toBeGreaterThan(245);
    for (let i = 0; i < poses.length; i++) {
      const gt = poses[i];
      const [col, row] = cropPixel(flame.evaluate([gt], { world: true }).vertices, FOREHEAD);
      const n = mean3x3((await seq.frame(i)).normals!, col, row);
      // The neck-free vertex normal (the objective's own vertexNormals, FLAME space) at that vertex. A world-space
      // normal would be off by ~0.3 in x in frames 1 and 2, a with-neck FLAME-space one in frame 2.
      const fwd = flame.kernel.forward({ batch: 1, shape: Float64Array.from(gt.shape), pose: Flame.poseOf([gt]), withNoNeck: true });
      const nF = new Float32Array(3 * V);
      objectiveVertexNormals(fwd.verticesNoNeck!, 1, V, Int32Array.from(model.faces), new Float64Array(3 * V), nF);
      for (let c = 0; c < 3; c++) expect(Math.abs(n[c] - nF[3 * FOREHEAD + c]), `frame ${i} channel ${c}`).toBeLessThan(0.03);
      expect(Math.abs(n[0])).toBeLessThan(0.03);
    }
  });

  it('decodes, at the crop size, to exactly the rendered floats (8-bit truncation, bin-centre decoding) and matches the vertex UV at the nose tip', async () => {
    const seq = await openPreprocessed(dirB, { ...config, size: 512, png_bin_centres: true });
    const renderer = new SyntheticRenderer(model);
    const { maps, worldVertices } = renderer.render(turned(), makeCamera(256), CROP_SIZE);
    const f = await seq.frame(1);
    let checked = 0, badUv = 0, worstNormal = 0;
    for (let p = 0; p < CROP_SIZE * CROP_SIZE; p++) {
      if (!maps.coverage[p] || !f.masks.uv[p]) continue;
      checked++;
      for (let c = 0; c < 2; c++) if (f.uv![2 * p + c] !== Math.fround((Math.floor(255 * maps.uv[2 * p + c]) + 0.5) / 255)) badUv++;
      for (let c = 0; c < 3; c++) worstNormal = Math.max(worstNormal, Math.abs(f.normals![3 * p + c] - maps.normals[3 * p + c]));
    }
    expect(checked).toBeGreaterThan(50_000);
    expect(badUv).toBe(0);
    // Decoding 2 (floor(255 (n+1)/2) + 0.5)/255 - 1 at the bin centre is off by at most 1/255.
    expect(worstNormal).toBeLessThanOrEqual(1 / 255 + 1e-6);
    // The vertex's own UV, (u, 1-v) of a corner of one of its triangles (the nose tip is on no seam).
    const t = model.faces.indexOf(NOSE_TIP);
    const vt = model.uv!.faceUvs[t];
    const [col, row] = cropPixel(worldVertices, NOSE_TIP);
    const p = row * CROP_SIZE + col;
    expect(f.uv![2 * p]).toBeCloseTo(model.uv!.uvs[2 * vt], 2);
    expect(f.uv![2 * p + 1]).toBeCloseTo(1 - model.uv!.uvs[2 * vt + 1], 2);
  });

  it('at S = 256 the (Pillow-bicubic) resized maps agree with a direct 256 render of the tracker camera inside the face', async () => {
    const seq = await openPreprocessed(dirB, { ...config, png_bin_centres: true });
    const f = await seq.frame(1);
    const direct = new SyntheticRenderer(model).render(turned(), makeCamera(256), 256).maps;
    const S = 256;
    const diffs: number[] = [];
    for (let y = 2; y < S - 2; y++) {
      for (let x = 2; x < S - 2; x++) {
        let inside = true;
        for (let dy = -2; dy <= 2 && inside; dy++) for (let dx = -2; dx <= 2 && inside; dx++) inside = f.masks.uv[(y + dy) * S + x + dx] === 1 && direct.coverage[(y + dy) * S + x + dx] === 1;
        if (!inside) continue;
        const p = y * S + x;
        for (let c = 0; c < 2; c++) diffs.push(f.uv![2 * p + c] - direct.uv[2 * p + c]);
      }
    }
    expect(diffs.length).toBeGreaterThan(20_000);
    const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
    const meanAbs = diffs.reduce((a, b) => a + Math.abs(b), 0) / diffs.length;
    // Truncation to bytes costs -0.5/255 on average, which decoding at the bins' centres gives back; nothing else
    // is systematic (png/255 decoding leaves the -0.5/255: reader.test.ts).
    expect(Math.abs(mean)).toBeLessThan(0.0006);
    expect(meanAbs).toBeLessThan(0.003);
  });

  it('segmentation: eyes where the pupils are (8 = the subject\'s right), nose, lips, hair, ears, neck; masks from SEG_MASKS', async () => {
    const seq = await openPreprocessed(dirA, { ...config, size: 512 });
    const f = await seq.frame(0);
    const at = (w: number) => {
      // Landmarks are tracker (256) point-projection coordinates: crop col = 2 (x + 0.5) + 0.5 - 1 = 2x + 0.5.
      const x = Math.round(2 * (f.landmarks98[2 * w] / 2) + 0.5), y = Math.round(2 * (f.landmarks98[2 * w + 1] / 2) - 0.5);
      return f.segmentation[y * CROP_SIZE + x];
    };
    expect(at(96)).toBe(SEG_CLASS.rightEye);
    expect(at(97)).toBe(SEG_CLASS.leftEye);
    expect(at(54)).toBe(SEG_CLASS.nose);
    expect(f.segmentation[0]).toBe(SEG_CLASS.background);
    const present = new Set(f.segmentation);
    for (const c of present) expect(SYNTH_CLASSES).toContain(c);
    for (const c of [1, 2, 8, 9, 10, 11, 12, 13, 14]) expect(present.has(c), `class ${c}`).toBe(true);
    expect(present.has(SEG_CLASS.leftEar) || present.has(SEG_CLASS.rightEar)).toBe(true);
    for (const [name, classes] of [['foreground', SEG_MASKS.foreground], ['uv', SEG_MASKS.uv], ['normal', SEG_MASKS.normal], ['validBackground', SEG_MASKS.validBackground]] as const) {
      const m = f.masks[name];
      let wrong = 0;
      f.segmentation.forEach((c, p) => {
        if (m[p] !== ((classes as readonly number[]).includes(c) ? 1 : 0)) wrong++;
      });
      expect(wrong, name).toBe(0);
    }
    // UV is zeroed outside the uv mask (the eyes), although the PNG holds eyeball UVs there.
    const bytes = await rawPng(seq.layout.uvMap(0));
    const eye = f.segmentation.indexOf(SEG_CLASS.rightEye);
    expect(bytes[3 * eye] + bytes[3 * eye + 1]).toBeGreaterThan(0);
    expect([f.uv![2 * eye], f.uv![2 * eye + 1]]).toEqual([0, 0]);
  });
  it('overwrite replaces a previous subject: no stale frames are left', async () => {
    await writeSyntheticSubject({ out: dirA, frames: 1, model, seed: 12, overwrite: true });
    const L = new PreprocessedLayout(dirA);
    expect(existsSync(L.cropped(0, 'png'))).toBe(true);
    for (const f of [L.cropped(1, 'png'), L.uvMap(1), L.landmarks(1), L.segmentation(1)]) expect(existsSync(f), f).toBe(false);
    const gt = JSON.parse(readFileSync(join(dirA, GROUND_TRUTH_FILE), 'utf8')) as GroundTruth;
    expect([gt.seed, gt.frames.length]).toEqual([12, 1]);
  });
});

describe('noise levels and determinism', () => {
  const clean = join(tmp, 'clean');
  const again = join(tmp, 'again');
  const noisy = join(tmp, 'noisy');
  beforeAll(async () => {
    await writeSyntheticSubject({ out: clean, frames: 1, model, seed: 5 });
    await writeSyntheticSubject({ out: again, frames: 1, model, seed: 5 });
    await writeSyntheticSubject({ out: noisy, frames: 1, model, seed: 5, noise: 'realistic' });
  });

  it('the same seed gives the same bytes in every file', () => {
    const files = filesUnder(clean);
    expect(filesUnder(again)).toEqual(files);
    for (const f of files) expect(digest(join(again, f)), f).toBe(digest(join(clean, f)));
  });

  it('noise changes the network and detector outputs only, by the documented amounts', async () => {
    const L = (d: string) => new PreprocessedLayout(d);
    for (const f of [L(clean).cropped(0, 'png'), L(clean).rgb(0), L(clean).cropBox]) expect(digest(f.replace(clean, noisy))).toBe(digest(f));
    const gtClean = JSON.parse(readFileSync(join(clean, GROUND_TRUTH_FILE), 'utf8'));
    const gtNoisy = JSON.parse(readFileSync(join(noisy, GROUND_TRUTH_FILE), 'utf8'));
    expect(gtNoisy.frames).toEqual(gtClean.frames);
    expect(gtNoisy.noiseSpec).toEqual(NOISE_SPECS.realistic);

    const a = await (await openPreprocessed(clean, { ...config, size: 512 })).frame(0);
    const b = await (await openPreprocessed(noisy, { ...config, size: 512 })).frame(0);
    // Landmarks: sigma 1 px at S = 256 (read here at 512: 2 px).
    let s2 = 0;
    for (let i = 0; i < 196; i++) s2 += ((b.landmarks98[i] - a.landmarks98[i]) / 2) ** 2;
    expect(Math.sqrt(s2 / 196)).toBeGreaterThan(0.8);
    expect(Math.sqrt(s2 / 196)).toBeLessThan(1.2);
    // Segmentation: only the outline moves (background <-> head), inner class boundaries stay.
    let moved = 0, inner = 0;
    for (let p = 0; p < a.segmentation.length; p++) {
      const ca = a.segmentation[p], cb = b.segmentation[p];
      if (ca === cb) continue;
      moved++;
      if (ca !== SEG_CLASS.background && cb !== SEG_CLASS.background) inner++;
    }
    expect(moved).toBeGreaterThan(1000);
    expect(inner).toBe(0);
    // UV and normals: changed on the head only; RMS close to the spec where both seg maps agree on the head.
    const uvA = await rawPng(L(clean).uvMap(0)), uvB = await rawPng(L(noisy).uvMap(0));
    const nA = a.normals!, nB = b.normals!;
    let uvSq = 0, angSq = 0, n = 0, changedOffHead = 0;
    for (let p = 0; p < a.segmentation.length; p++) {
      // The clean segmentation is the mesh's coverage; the maps continue a few pixels past it (extend.ts),
      // continuing the noisy values there, and are 0 beyond.
      const covered = a.segmentation[p] !== SEG_CLASS.background;
      if (!covered && uvA[3 * p] + uvA[3 * p + 1] > 0) continue;
      if (!covered) {
        if (uvB[3 * p] + uvB[3 * p + 1] !== 0 || nB[3 * p] !== nA[3 * p] || nB[3 * p + 1] !== nA[3 * p + 1] || nB[3 * p + 2] !== nA[3 * p + 2]) changedOffHead++;
        continue;
      }
      n++;
      uvSq += ((uvB[3 * p] - uvA[3 * p]) / 255) ** 2;
      const dot = nA[3 * p] * nB[3 * p] + nA[3 * p + 1] * nB[3 * p + 1] + nA[3 * p + 2] * nB[3 * p + 2];
      const la = Math.hypot(nA[3 * p], nA[3 * p + 1], nA[3 * p + 2]), lb = Math.hypot(nB[3 * p], nB[3 * p + 1], nB[3 * p + 2]);
      angSq += Math.acos(Math.min(1, dot / (la * lb))) ** 2;
    }
    expect(changedOffHead).toBe(0);
    const uvRms = Math.sqrt(uvSq / n), angRmsDeg = (Math.sqrt(angSq / n) * 180) / Math.PI;
    // Per-pixel 0.002 plus a smooth 0.004 field (its RMS over the image is below 0.004), plus byte rounding.
    expect(uvRms).toBeGreaterThan(0.002);
    expect(uvRms).toBeLessThan(0.007);
    // 3 deg per pixel plus 2 deg smooth, plus byte quantisation (~0.3 deg).
    expect(angRmsDeg).toBeGreaterThan(2.5);
    expect(angRmsDeg).toBeLessThan(5);
  });

  it('rejects a non-empty output folder unless asked to replace it, and bad options before writing anything', async () => {
    await expect(writeSyntheticSubject({ out: clean, frames: 1, model })).rejects.toThrow(/not empty/);
    const fresh = join(tmp, 'never');
    await expect(writeSyntheticSubject({ out: fresh, frames: 0, model })).rejects.toThrow(/frames must be an integer/);
    await expect(writeSyntheticSubject({ out: fresh, frames: 2, model, frameParams: [frontal()] })).rejects.toThrow(/frameParams has 1/);
    expect(existsSync(fresh)).toBe(false);
  });
});

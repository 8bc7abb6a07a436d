// Acceptance on real faces (../shared/data): detection, crop, landmarks and the written layout, plus the
// bad-input messages. Geometry is asserted, and the same pictures can be drawn with `pixel3dmm preprocess
// --annotate` to look at.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PreprocessedLayout, readNpy, SEG_CLASS } from '@pixel3dmm/formats';
import { openInput } from './inputs/source.js';
import { decodeImage } from './inputs/image-file.js';
import { PreprocessModels, preprocess } from './pipeline.js';
import { FaceTracker } from './landmarks/tracker.js';
import { FaceMeshLandmarker } from './landmarks/facemesh.js';
import { defaultModelFiles } from './models.js';
import { mediapipeToWflw } from './landmarks/wflw.js';
import { resizeBilinear, makeImage } from './image.js';
import { PreprocessError } from './errors.js';
import { sharedData, SKIP_NO_DATA } from './testing/shared-data.js';
import { writeTestVideo } from './testing/fixtures.js';

const data = sharedData();
const tmp = mkdtempSync(join(tmpdir(), 'p3dmm-pre-'));
let models: PreprocessModels;

/** The geometric facts every good WFLW result on a real face satisfies (points in any pixel frame). */
function expectEyesOnFace(w: ArrayLike<number>, box: { x0: number; y0: number; x1: number; y1: number }, what: string) {
  const P = (i: number) => [w[2 * i], w[2 * i + 1]];
  const [p96, p97, c60, c64, c68, c72] = [96, 97, 60, 64, 68, 72].map(P);
  for (const [x, y] of [p96, p97, c60, c64, c68, c72]) {
    expect(x, `${what}: eye point inside the face box`).toBeGreaterThan(box.x0);
    expect(x).toBeLessThan(box.x1);
    expect(y).toBeGreaterThan(box.y0);
    expect(y).toBeLessThan(box.y1);
  }
  // Left and right in order across the image: outer-left corner, left pupil, inner-left corner, inner-right, right pupil, outer-right.
  const xs = [c60[0], p96[0], c64[0], c68[0], p97[0], c72[0]];
  for (let i = 1; i < xs.length; i++) expect(xs[i], `${what}: x order 60 < 96 < 64 < 68 < 97 < 72`).toBeGreaterThan(xs[i - 1]);
  // Pupils at the height of their eye: within half an eye width of the corners' line.
  for (const [p, a, b] of [[p96, c60, c64], [p97, c68, c72]]) {
    const mid = (a[1] + b[1]) / 2;
    expect(Math.abs(p[1] - mid), `${what}: pupil at eye height`).toBeLessThan(Math.abs(b[0] - a[0]) / 2);
  }
  // The eyes sit above the mouth and the nose tip between them vertically.
  expect(P(54)[1]).toBeGreaterThan(p96[1]);
  expect(P(85)[1]).toBeGreaterThan(P(54)[1]);
}

describe.skipIf(!data)(`real faces ${data ? '' : `(${SKIP_NO_DATA})`}`, () => {
  beforeAll(async () => {
    models = await PreprocessModels.load();
  });
  afterAll(async () => {
    await models?.release();
  });

  it.each(['00000.jpg', '00001.jpg'])('finds the face in photo %s with eyes, pupils and corners in place', async (name) => {
    const file = join(data!, 'faces', name);
    const img = await decodeImage(file);
    const tracker = new FaceTracker(models.detector, models.landmarker, { track: false });
    const face = await tracker.next(img, file, 0);
    expect(face.faceScore).toBeGreaterThan(0.9);
    const det = face.detection!;
    expectEyesOnFace(mediapipeToWflw(face.points), { x0: det.x, y0: det.y, x1: det.x + det.w, y1: det.y + det.h }, name);
  });

  it.each(['ex1.mp4', 'ex2.mp4'])('finds the face in sampled frames of %s', async (name) => {
    const file = join(data!, 'videos', name);
    const src = openInput(file);
    expect(src.kind).toBe('video');
    const tracker = new FaceTracker(models.detector, models.landmarker, { track: false });
    let seen = 0;
    for await (const { index, image } of src.frames()) {
      if (index > 75) break; // four frames across three seconds; stops ffmpeg early
      if (index % 25 !== 0) continue;
      const face = await tracker.next(image, file, index);
      const det = face.detection!;
      expectEyesOnFace(mediapipeToWflw(face.points), { x0: det.x, y0: det.y, x1: det.x + det.w, y1: det.y + det.h }, `${name} frame ${index}`);
      seen++;
    }
    expect(seen).toBeGreaterThanOrEqual(4);
  });

  it('writes the preprocessed layout for a video (first 6 frames): crops with the whole face, landmarks, segmentation; a rerun skips', async () => {
    const src = openInput(join(data!, 'videos', 'ex1.mp4'));
    const s = await preprocess(src, tmp, models, { maxFrames: 6 });
    expect(s.frames).toBe(6);
    expect(s.detectorCalls).toBe(1); // tracking across frames: one detector call
    const L = new PreprocessedLayout(join(tmp, 'ex1'));
    const box = readNpy(readFileSync(L.cropBox), L.cropBox);
    expect(box.shape).toEqual([4]);
    const [ymin, ymax, xmin, xmax] = Array.from(box.data as BigInt64Array, Number);
    expect(ymax - ymin).toBe(xmax - xmin);
    for (let i = 0; i < 6; i++) {
      const meta = await sharp(L.cropped(i)).metadata();
      expect([meta.width, meta.height, meta.format]).toEqual([512, 512, 'jpeg']);
      const lm = readNpy(readFileSync(L.landmarks(i)), L.landmarks(i));
      expect(lm.dtype).toBe('<f8');
      expect(lm.shape).toEqual([98, 2]);
      const w = Array.from(lm.data as Float64Array, (v) => v * 512);
      // The whole face (all 98 points incl. the jaw and brows) inside the crop with a margin.
      for (const v of w) {
        expect(v).toBeGreaterThan(16);
        expect(v).toBeLessThan(512 - 16);
      }
      expectEyesOnFace(w, { x0: 0, y0: 0, x1: 512, y1: 512 }, `ex1 crop ${i}`);
      const segMeta = await sharp(L.segmentation(i)).metadata();
      expect([segMeta.width, segMeta.height, segMeta.channels, segMeta.format]).toEqual([512, 512, 1, 'png']);
      // sharp's raw output expands grey to RGB; take the one channel back.
      const seg = await sharp(L.segmentation(i)).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
      expect(seg.info.channels).toBe(1);
      // Skin under the nose tip, an eye class under each pupil, background in a top corner.
      const at = (k: number) => seg.data[Math.floor(w[2 * k + 1]) * 512 + Math.floor(w[2 * k])];
      expect([SEG_CLASS.nose, SEG_CLASS.skin]).toContain(at(54));
      expect(at(96)).toBe(SEG_CLASS.rightEye);
      expect(at(97)).toBe(SEG_CLASS.leftEye);
      // Halfway between the lower lip's outer (85) and inner (94) edge is lip.
      const lx = (w[170] + w[188]) / 2;
      const ly = (w[171] + w[189]) / 2;
      expect(seg.data[Math.floor(ly) * 512 + Math.floor(lx)]).toBe(SEG_CLASS.lowerLip);
    }
    expect(existsSync(L.rgb(5)) && !existsSync(L.rgb(6))).toBe(true);
    const again = await preprocess(src, tmp, models, { maxFrames: 6 });
    expect(again.skipped).toBe(true);
    // Other settings are not "finished work": a different crop mode redoes the subject.
    const redo = await preprocess(src, tmp, models, { maxFrames: 2, cropMode: 'original' });
    expect(redo.skipped).toBeUndefined();
    expect(redo.frames).toBe(2);
    expect(existsSync(L.rgb(2))).toBe(false); // stale frames of the longer run are gone
  });

  it('takes a folder of photos as one subject: sorted by name, renumbered, faces detected in each', async () => {
    const dir = join(tmp, 'two-photos');
    mkdirSync(dir);
    // Names that sort in the opposite order of the shared files' names.
    copyFileSync(join(data!, 'faces', '00001.jpg'), join(dir, 'a-frontal.jpg'));
    copyFileSync(join(data!, 'faces', '00000.jpg'), join(dir, 'b-left.jpg'));
    writeFileSync(join(dir, 'notes.txt'), 'ignored: not an image name');
    const src = openInput(dir);
    expect([src.kind, src.name, src.frameCount]).toEqual(['folder', 'two-photos', 2]);
    const s = await preprocess(src, tmp, models);
    expect(s.frames).toBe(2);
    expect(s.detectorCalls).toBe(2); // no tracking between unrelated photos
    const L = new PreprocessedLayout(join(tmp, 'two-photos'));
    // Frame 00000 is a-frontal.jpg: the same pixels as the input file.
    const a = await decodeImage(L.rgb(0));
    const b = await decodeImage(join(dir, 'a-frontal.jpg'));
    let diff = 0;
    for (let i = 0; i < a.data.length; i += 997) diff = Math.max(diff, Math.abs(a.data[i] - b.data[i]));
    expect(diff).toBeLessThan(24); // JPEG re-encoding only
    for (let i = 0; i < 2; i++) {
      const w = Array.from(readNpy(readFileSync(L.landmarks(i)), 'lm').data as Float64Array, (v) => v * 512);
      expectEyesOnFace(w, { x0: 0, y0: 0, x1: 512, y1: 512 }, `folder frame ${i}`);
      // The whole face (jaw, chin, brows) inside the photo's crop, with a margin.
      for (const v of w) {
        expect(v).toBeGreaterThan(16);
        expect(v).toBeLessThan(512 - 16);
      }
    }
  });

  it('names the file and frame when the face is lost, and writes nothing', async () => {
    const face = resizeBilinear(await decodeImage(join(data!, 'faces', '00001.jpg')), 220, 320);
    const black = makeImage(220, 320);
    const file = join(tmp, 'lost.mp4');
    writeTestVideo(file, [face, face, face, black, black]);
    const err = await preprocess(openInput(file), tmp, models).catch((e) => e);
    expect(err).toBeInstanceOf(PreprocessError);
    expect(err.message).toMatch(/lost\.mp4 \(frame 3\): the face was lost/);
    expect(existsSync(join(tmp, 'lost'))).toBe(false);
  });

  it('says "no face found" for a video without a face', async () => {
    const file = join(tmp, 'noface.mp4');
    const grey = makeImage(160, 120, new Uint8Array(160 * 120 * 3).fill(128));
    writeTestVideo(file, [grey, grey]);
    await expect(preprocess(openInput(file), tmp, models)).rejects.toThrow(/noface\.mp4 \(frame 0\): no face found/);
  });
});

describe('bad input', () => {
  it('rejects a file that is neither image nor video, naming it', () => {
    const f = join(tmp, 'notes.txt');
    writeFileSync(f, 'hello, not a face\n');
    expect(() => openInput(f)).toThrow(/notes\.txt: not an image or a video/);
    const e = join(tmp, 'empty.jpg');
    writeFileSync(e, '');
    expect(() => openInput(e)).toThrow(/empty\.jpg: the file is empty/);
    expect(() => openInput(join(tmp, 'missing.mp4'))).toThrow(/missing\.mp4: no such file/);
  });

  it('rejects a truncated JPEG with the file name', async () => {
    const f = join(tmp, 'broken.jpg');
    writeFileSync(f, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 1, 2, 3]));
    const src = openInput(f);
    await expect(src.frames().next()).rejects.toThrow(/broken\.jpg: the image cannot be decoded/);
  });

  it('names a swapped model file (Selfie given as FaceMesh)', async () => {
    const d = defaultModelFiles();
    await expect(FaceMeshLandmarker.load(d.selfie, d.iris)).rejects.toThrow(/selfie\.json: not MediaPipe FaceMesh: expected input \[1,192,192,3\]/);
  });

  it('says when ffmpeg cannot run instead of calling the input "not a video"', () => {
    const f = join(tmp, 'clip.mp4');
    writeFileSync(f, Buffer.alloc(64, 1));
    const before = process.env.PIXEL3DMM_FFMPEG;
    process.env.PIXEL3DMM_FFMPEG = join(tmp, 'no-such-ffmpeg');
    try {
      expect(() => openInput(f)).toThrow(/clip\.mp4: cannot run ffmpeg .*no-such-ffmpeg/);
    } finally {
      if (before === undefined) delete process.env.PIXEL3DMM_FFMPEG;
      else process.env.PIXEL3DMM_FFMPEG = before;
    }
  });

  it('rejects an empty folder', () => {
    const d = mkdtempSync(join(tmp, 'empty-'));
    expect(readdirSync(d).length).toBe(0);
    expect(() => openInput(d)).toThrow(/the folder holds no images/);
  });
});

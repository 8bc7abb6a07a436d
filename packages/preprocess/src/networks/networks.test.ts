// The whole network path on tiny stand-in graphs with the contract's signature: signature checks,
// batching, mirror averaging, the PNG encodings and the files, against a reference written here from
// spec 3.2-3.4 directly.
import { mkdirSync, mkdtempSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { PreprocessedLayout } from '@pixel3dmm/formats';
import { encodeJpeg, decodeImage } from '../inputs/image-file.js';
import { makeImage, type RgbImage } from '../image.js';
import { Pixel3dmmNetwork } from './network.js';
import { infer } from './infer.js';
import { mergeMirrored } from './tta.js';
import { rampValue, tinyNetwork, TINY_NORMALS, TINY_UV, type TinyNetworkSpec } from '../testing/tiny-onnx.js';

const tmp = mkdtempSync(join(tmpdir(), 'p3dmm-net-'));

function model(name: string, spec: TinyNetworkSpec): string {
  const f = join(tmp, name);
  writeFileSync(f, tinyNetwork(spec));
  return f;
}

/** A deterministic, left-right asymmetric 512x512 test picture. */
function picture(seed: number): RgbImage {
  const img = makeImage(512, 512);
  for (let y = 0; y < 512; y++) {
    for (let x = 0; x < 512; x++) {
      const i = (y * 512 + x) * 3;
      img.data[i] = (x * 7 + seed * 31) & 255;
      img.data[i + 1] = (y * 3 + x * x * seed) & 255;
      img.data[i + 2] = ((x ^ y) + seed) & 255;
    }
  }
  return img;
}

/** The tiny network's output at pixel (x, y) of image `img` (possibly mirrored), computed by hand. */
function netAt(spec: TinyNetworkSpec, img: RgbImage, x: number, y: number, mirrored: boolean): number[] {
  const sx = mirrored ? 511 - x : x;
  const i = (y * 512 + sx) * 3;
  const rgb = [img.data[i] / 255, img.data[i + 1] / 255, img.data[i + 2] / 255];
  return spec.weight.map((w, c) => w[0] * rgb[0] + w[1] * rgb[1] + w[2] * rgb[2] + spec.bias[c] + rampValue(spec, c, x));
}

/** Spec 3.2 + 3.4 for one pixel, written independently of networks/tta.ts. */
function expectedBytes(spec: TinyNetworkSpec, img: RgbImage, x: number, y: number): number[] {
  const a = netAt(spec, img, x, y, false);
  // The mirrored run at pixel W-1-x, flipped back to x.
  const m = netAt(spec, img, 511 - x, y, true);
  const b = (v: number) => Math.floor(255 * Math.min(1, Math.max(0, v)));
  if (spec.output === 'uv') {
    const u = (a[0] + (-m[0] + 0.015)) / 2;
    const v = (a[1] + m[1]) / 2;
    return [b((u + 1) / 2), b((v + 1) / 2), 0];
  }
  const n = [(a[0] - m[0]) / 2, (a[1] + m[1]) / 2, (a[2] + m[2]) / 2];
  const len = Math.hypot(...n);
  const e = n.map((c) => Math.min(1, Math.max(0, (c / len + 1) / 2)));
  return [b(e[0]), b(1 - e[2]), b(1 - e[1])];
}

describe('Pixel3DMM ONNX contract', () => {
  it('accepts the contract and tells uv from normals', async () => {
    const uv = await Pixel3dmmNetwork.load(model('uv.onnx', TINY_UV));
    expect(uv.kind).toBe('uv');
    expect(uv.signature.fixedBatch).toBeNull();
    await uv.release();
    const nm = await Pixel3dmmNetwork.load(model('n.onnx', TINY_NORMALS), 'normals');
    expect(nm.kind).toBe('normals');
    await nm.release();
  });

  it('rejects wrong signatures with the file name and what was expected', async () => {
    const small = model('small.onnx', { ...TINY_UV, size: 256 });
    await expect(Pixel3dmmNetwork.load(small)).rejects.toThrow(/small\.onnx: wrong signature for a Pixel3DMM network: input is 'image' float32 \[B,3,256,256\]; expected one input float32 \[B,3,512,512\]/);
    const named = model('named.onnx', { ...TINY_UV, output: 'logits' });
    await expect(Pixel3dmmNetwork.load(named)).rejects.toThrow(/named\.onnx: .*outputs are 'logits'/);
    const odd = model('odd.onnx', { ...TINY_UV, batch: 3 });
    await expect(Pixel3dmmNetwork.load(odd)).rejects.toThrow(/batch size is fixed at 3/);
    await expect(Pixel3dmmNetwork.load(model('uv2.onnx', TINY_UV), 'normals')).rejects.toThrow(/the 'uv' network, but it was configured as the 'normals'/);
    const junk = join(tmp, 'junk.onnx');
    writeFileSync(junk, 'not a model');
    await expect(Pixel3dmmNetwork.load(junk)).rejects.toThrow(/junk\.onnx: cannot load the ONNX model/);
  });
});

describe('mirror TTA', () => {
  it('flips the mirrored prediction back, negates u (+0.015) or n_x, and averages', () => {
    // 1 row of 3 pixels, uv: plain u = [1,2,3], mirrored u = [30,20,10] -> back = [-10+.015, -20+.015, -30+.015]
    const plain = Float32Array.from([1, 2, 3, 5, 6, 7]);
    const mirrored = Float32Array.from([30, 20, 10, 70, 60, 50]);
    const out = mergeMirrored('uv', plain, mirrored, 1, 3);
    const want = [(1 - 10 + 0.015) / 2, (2 - 20 + 0.015) / 2, (3 - 30 + 0.015) / 2, (5 + 50) / 2, (6 + 60) / 2, (7 + 70) / 2];
    out.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    const n = mergeMirrored('normals', Float32Array.from([1, 1, 2, 2, 3, 3]), Float32Array.from([4, 5, 6, 7, 8, 9]), 1, 2);
    expect(Array.from(n)).toEqual([(1 - 5) / 2, (1 - 4) / 2, (2 + 7) / 2, (2 + 6) / 2, (3 + 9) / 2, (3 + 8) / 2]);
  });
});

describe('infer on a subject', () => {
  it('writes the PNG encodings of spec 3.4 for every frame, batched, and a rerun skips', async () => {
    const root = join(tmp, 'subject');
    const L = new PreprocessedLayout(root);
    mkdirSync(L.dir('cropped'), { recursive: true });
    const pics = [picture(1), picture(2), picture(3)];
    // The network reads the JPEG back, so the reference must use the decoded pixels too.
    const decoded: RgbImage[] = [];
    for (let i = 0; i < pics.length; i++) {
      writeFileSync(L.cropped(i), await encodeJpeg(pics[i]));
      decoded.push(await decodeImage(L.cropped(i)));
    }
    const nets = [await Pixel3dmmNetwork.load(model('u.onnx', TINY_UV)), await Pixel3dmmNetwork.load(model('nn.onnx', TINY_NORMALS))];
    const s = await infer(L, nets, { batch: 2, preview: true });
    expect(s.frames).toBe(3);
    for (const [spec, path] of [[TINY_UV, (i: number) => L.uvMap(i)], [TINY_NORMALS, (i: number) => L.normals(i)]] as const) {
      for (let i = 0; i < 3; i++) {
        const { data, info } = await sharp(path(i)).raw().toBuffer({ resolveWithObject: true });
        expect([info.width, info.height, info.channels]).toEqual([512, 512, 3]);
        let mismatches = 0;
        let checked = 0;
        for (let y = 0; y < 512; y += 37) {
          for (let x = 0; x < 512; x += 13) {
            const want = expectedBytes(spec, decoded[i], x, y);
            const o = (y * 512 + x) * 3;
            const got = [data[o], data[o + 1], data[o + 2]];
            // float32 vs float64 can flip a floor at an exact boundary: allow 1 grey level, rarely.
            for (let c = 0; c < 3; c++) {
              expect(Math.abs(got[c] - want[c])).toBeLessThanOrEqual(1);
              if (got[c] !== want[c]) mismatches++;
              checked++;
            }
          }
        }
        expect(mismatches / checked).toBeLessThan(0.01);
      }
    }
    expect(readdirSync(join(L.dir('networkPreview'), 'uv_map')).length).toBe(3);
    expect(existsSync(L.file('inferDone'))).toBe(true);
    const again = await infer(L, nets, { batch: 2 });
    expect(again.skipped).toBe(true);
    for (const n of nets) await n.release();
  });

  it('works with a fixed batch of 2 (one image and its mirror per run)', async () => {
    const root = join(tmp, 'fixed');
    const L = new PreprocessedLayout(root);
    mkdirSync(L.dir('cropped'), { recursive: true });
    writeFileSync(L.cropped(0), await encodeJpeg(picture(5)));
    writeFileSync(L.cropped(1), await encodeJpeg(picture(6)));
    const net = await Pixel3dmmNetwork.load(model('fixed.onnx', { ...TINY_UV, batch: 2 }));
    expect(net.imagesPerRun(8)).toBe(1);
    const s = await infer(L, [net], { batch: 8 });
    expect(s.frames).toBe(2);
    const img = await decodeImage(L.cropped(1));
    const { data } = await sharp(L.uvMap(1)).raw().toBuffer({ resolveWithObject: true });
    const want = expectedBytes(TINY_UV, img, 100, 200);
    const o = (200 * 512 + 100) * 3;
    expect(Math.abs(data[o] - want[0])).toBeLessThanOrEqual(1);
    expect(Math.abs(data[o + 1] - want[1])).toBeLessThanOrEqual(1);
    await net.release();
  });

  it('says when there is nothing to infer', async () => {
    const net = await Pixel3dmmNetwork.load(model('u3.onnx', TINY_UV));
    await expect(infer(new PreprocessedLayout(join(tmp, 'nothing')), [net])).rejects.toThrow(/nothing: no cropped\/ folder: run `pixel3dmm preprocess` first/);
    await net.release();
  });
});

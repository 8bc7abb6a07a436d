// The optional ONNX replacements (MICA, PIPNet, FaRL) wired through `preprocess` on a real photo, with
// tiny stand-in graphs whose outputs are known.
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { PreprocessedLayout, readNpy, SEG_CLASS } from '@pixel3dmm/formats';
import { openInput } from './inputs/source.js';
import { PreprocessModels, preprocess } from './pipeline.js';
import { MicaModel } from './mica/mica.js';
import { sharedData, SKIP_NO_DATA } from './testing/shared-data.js';
import { tinyFarl, tinyMica, tinyPipnet } from './testing/tiny-onnx.js';

const data = sharedData();
const tmp = mkdtempSync(join(tmpdir(), 'p3dmm-opt-'));
const file = (name: string, bytes: Uint8Array) => {
  writeFileSync(join(tmp, name), bytes);
  return join(tmp, name);
};

it('rejects a MICA model with the wrong signature, naming the file', async () => {
  const f = file('mica-wrong.onnx', tinyMica([new Array(300).fill(1), new Array(300).fill(0), new Array(300).fill(0)], 96));
  await expect(MicaModel.load(f)).rejects.toThrow(/mica-wrong\.onnx: wrong signature for MICA: expected input float32 \[1,3,112,112\]/);
});

describe.skipIf(!data)(`optional models on a real photo ${data ? '' : `(${SKIP_NO_DATA})`}`, () => {
  it('writes MICA identities, PIPNet-decoded landmarks and FaRL classes', async () => {
    const meanface = Float32Array.from({ length: 196 }, (_, i) => Math.sin(i * 1.7) * 0.5 + 0.5);
    // Class 2 wins everywhere the warped input reaches.
    const bias = new Array(19).fill(0);
    bias[SEG_CLASS.skin] = 3;
    const models = await PreprocessModels.load({
      mica: file('mica.onnx', tinyMica([new Array(300).fill(1), new Array(300).fill(0), new Array(300).fill(0)])),
      pipnet: file('pipnet.onnx', tinyPipnet(meanface)),
      farl: file('farl.onnx', tinyFarl(bias)),
    });
    try {
      const s = await preprocess(openInput(join(data!, 'faces', '00001.jpg')), tmp, models);
      expect(s.mica).toBe(1);
      const L = new PreprocessedLayout(join(tmp, '00001'));
      const id = readNpy(readFileSync(L.micaIdentity('00000')), 'identity.npy');
      expect(id.shape).toEqual([300]);
      const v = Array.from(id.data as Float32Array);
      // identity = mean red of the aligned face crop in (x-127.5)/127.5: the same for all 300, inside (-1, 1).
      expect(new Set(v).size).toBe(1);
      expect(Math.abs(v[0])).toBeLessThan(1);
      // PIPNet stand-in: landmark l at the centre of grid cell l mod 64 of its box -> equal steps along a row.
      const lm = Array.from(readNpy(readFileSync(L.landmarks(0)), 'lm').data as Float64Array);
      const step = lm[2] - lm[0];
      expect(step).toBeGreaterThan(0);
      for (let l = 1; l < 8; l++) expect(lm[2 * l] - lm[2 * (l - 1)]).toBeCloseTo(step, 9);
      expect(lm[2 * 8 + 1] - lm[1]).toBeGreaterThan(0); // next row is lower
      expect(lm[2 * 8]).toBeCloseTo(lm[0], 9);
      // FaRL stand-in: skin where the warped input reaches, 20 outside; nothing else.
      const seg = await sharp(L.segmentation(0)).extractChannel(0).raw().toBuffer();
      const classes = new Set(seg);
      expect(classes.has(SEG_CLASS.skin)).toBe(true);
      for (const c of classes) expect([SEG_CLASS.skin, SEG_CLASS.outside]).toContain(c);
      expect(existsSync(L.file('preprocessDone'))).toBe(true);
    } finally {
      await models.release();
    }
  });
});

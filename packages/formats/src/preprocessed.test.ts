import { describe, expect, it } from 'vitest';
import {
  PreprocessedLayout,
  SEG_MASKS,
  WFLW_TO_IBUG68,
  decodeNormalByte,
  encodeFlameNormalPixel,
  encodeNetworkNormalPixel,
  encodeUvPixel,
  frameStem,
  networkNormalToFlame,
} from './preprocessed.js';

describe('preprocessed layout', () => {
  it('names frames with five digits and rejects what cannot be a frame', () => {
    expect(frameStem(0)).toBe('00000');
    expect(frameStem(123)).toBe('00123');
    expect(() => frameStem(-1)).toThrow(/frame index/);
    expect(() => frameStem(1.5)).toThrow(/frame index/);
  });

  it('puts every file where the original pipeline does', () => {
    const l = new PreprocessedLayout('/data/ex1');
    expect(l.name).toBe('ex1');
    expect(l.cropped(7)).toBe('/data/ex1/cropped/00007.jpg');
    expect(l.cropped(7, 'png')).toBe('/data/ex1/cropped/00007.png');
    expect(l.landmarks(3)).toBe('/data/ex1/PIPnet_landmarks/00003.npy');
    expect(l.segmentation(3)).toBe('/data/ex1/seg_og/00003.png');
    expect(l.uvMap(3)).toBe('/data/ex1/p3dmm/uv_map/00003.png');
    expect(l.normals(3)).toBe('/data/ex1/p3dmm/normals/00003.png');
    expect(l.cropBox).toBe('/data/ex1/crop_ymin_ymax_xmin_xmax.npy');
    expect(l.micaIdentity('00000')).toBe('/data/ex1/mica/00000/identity.npy');
  });

  it('maps WFLW-98 to 68 strictly increasing indices ending at 95 (pupils 96, 97 excluded)', () => {
    expect(WFLW_TO_IBUG68).toHaveLength(68);
    for (let i = 1; i < 68; i++) expect(WFLW_TO_IBUG68[i]).toBeGreaterThan(WFLW_TO_IBUG68[i - 1]);
    expect(WFLW_TO_IBUG68[67]).toBe(95);
  });

  it('keeps class 20 (outside the parsed region) out of the valid background', () => {
    expect(SEG_MASKS.validBackground).not.toContain(20);
    expect(SEG_MASKS.foreground).not.toContain(1);
  });
});

describe('network output encodings (spec 3.4)', () => {
  it('stores floor(255 c) of (uv + 1) / 2, clamped, with B = 0', () => {
    const px = new Uint8Array(3);
    encodeUvPixel(0, -1, px, 0);
    expect([...px]).toEqual([127, 0, 0]); // 127.5 truncates
    encodeUvPixel(1.5, 0.999, px, 0);
    expect([...px]).toEqual([255, Math.floor(255 * (1.999 / 2)), 0]);
  });

  it('writes a network normal as (e_x, 1-e_z, 1-e_y), i.e. the FLAME-space normal (n_x, -n_z, -n_y)', () => {
    const a = new Uint8Array(3);
    const b = new Uint8Array(3);
    const n: [number, number, number] = [0.3, -0.5, 0.8];
    encodeNetworkNormalPixel(...n, a, 0);
    encodeFlameNormalPixel(...networkNormalToFlame(n), b, 0);
    for (let c = 0; c < 3; c++) expect(Math.abs(a[c] - b[c])).toBeLessThanOrEqual(1);
    // Decoding recovers the FLAME-space unit normal to within the 8-bit step.
    const len = Math.hypot(...n);
    const nF = networkNormalToFlame(n).map((v) => v / len);
    for (let c = 0; c < 3; c++) expect(Math.abs(decodeNormalByte(b[c]) - nF[c])).toBeLessThan(2 / 255 + 1e-12);
    // A +z network normal (toward the camera) is -y in FLAME space: G = 0.
    encodeNetworkNormalPixel(0, 0, 1, a, 0);
    expect([...a]).toEqual([127, 0, 127]);
  });
});

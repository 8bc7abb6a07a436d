import { describe, expect, it } from 'vitest';
import {
  CAMERA_POSITION,
  DEFAULT_FOCAL,
  intrinsics,
  makeCamera,
  projectPoints,
  projectPointsBackward,
  projectionMatrix,
  worldToClip,
  worldToClipBackward,
  type Camera,
} from './camera.js';
import { rasterize } from './raster.js';

const S = 256;

/** A world point whose raster pixel centre is exactly (col, row) (row 0 = image top) at depth d. */
function worldPointAtPixel(c: Camera, col: number, row: number, d: number): [number, number, number] {
  const { fx, fy, cx, cy } = intrinsics(c);
  const x = ((col - cx + 0.5) * d) / fx;
  const y = ((cy - 0.5 - row) * d) / fy;
  return [x, y, CAMERA_POSITION[2] - d];
}

describe('camera conventions (spec 5)', () => {
  it('has the default intrinsics of the original: f = 2000/512 S, c = S/2 + 0.5', () => {
    const k = intrinsics(makeCamera(S));
    expect(k.fx).toBe(DEFAULT_FOCAL * S);
    expect(k.cx).toBe(128.5);
    expect(k.cy).toBe(128.5);
    const kp = intrinsics(makeCamera(S, 3, [0.1, -0.2]));
    expect(kp.cx).toBeCloseTo(128.5 * 1.1, 12);
    expect(kp.cy).toBeCloseTo(128.5 * 0.8, 12);
  });

  it('rasterizes a point to the pixel centre the spec says, with row 0 at the image top', () => {
    const c = makeCamera(S, 3.2, [0.03, -0.05]);
    for (const [col, row] of [[100, 40], [17, 200], [128, 128]]) {
      const [x, y, z] = worldPointAtPixel(c, col, row, 0.9);
      // A small triangle (0.3 px) around the point, at its depth.
      const e = (0.3 * 0.9) / intrinsics(c).fx;
      const world = Float32Array.of(x - e, y - e, z, x + e, y - e, z, x, y + e, z);
      const clip = worldToClip(c, world);
      const rast = rasterize(clip, 3, Int32Array.of(0, 1, 2), 1, S, S);
      const covered: [number, number][] = [];
      for (let r = 0; r < S; r++) for (let q = 0; q < S; q++) if (rast[(r * S + q) * 4 + 3] !== 0) covered.push([q, r]);
      expect(covered).toEqual([[col, row]]);
      // The point projection sits half a pixel left of and below that centre (x_s = col - 0.5, y_s = row + 0.5).
      const p = projectPoints(c, Float32Array.of(x, y, z));
      expect(p[0]).toBeCloseTo(col - 0.5, 3);
      expect(p[1]).toBeCloseTo(row + 0.5, 3);
      expect(p[2]).toBeCloseTo(-0.9, 6);
    }
  });

  it('puts points above the optical axis in the top half and to its right in the right half', () => {
    const c = makeCamera(S);
    const p = projectPoints(c, Float32Array.of(0.05, 0.05, 0));
    expect(p[0]).toBeGreaterThan(S / 2);
    expect(p[1]).toBeLessThan(S / 2);
  });

  it('maps depth into [-1, 1] between the near and far planes', () => {
    const c = makeCamera(S);
    const clip = worldToClip(c, Float32Array.of(0, 0, CAMERA_POSITION[2] - c.near, 0, 0, CAMERA_POSITION[2] - c.far));
    expect(clip[2] / clip[3]).toBeCloseTo(-1, 5);
    expect(clip[6] / clip[7]).toBeCloseTo(1, 5);
    const P = projectionMatrix(c);
    expect(P[14]).toBe(-1);
  });
});

/** Central differences of a float64 objective against the analytic gradient. */
function checkGradients(
  forward: (c: Camera, w: Float32Array) => Float32Array,
  backward: (c: Camera, w: Float32Array, g: Float32Array) => { world: Float32Array; camera: { focal: number; pp: [number, number] } },
  outPer: number,
) {
  const world = Float32Array.of(0.03, -0.02, 0.05, -0.08, 0.07, -0.1, 0.01, 0.11, 0.02);
  const N = world.length / 3;
  const weights = Float64Array.from({ length: outPer * N }, (_, i) => Math.sin(1.3 * i + 0.4));
  const cam = (focal: number, ppx: number, ppy: number) => makeCamera(S, focal, [ppx, ppy]);
  const loss = (c: Camera, w: Float32Array) => forward(c, w).reduce((s, v, i) => s + v * weights[i], 0);
  const base = cam(3.5, 0.02, -0.03);
  const g = backward(base, world, Float32Array.from(weights));
  const fd = (f: (h: number) => number, h: number) => (f(h) - f(-h)) / (2 * h);
  for (let i = 0; i < world.length; i++) {
    const num = fd((h) => {
      const w = Float32Array.from(world);
      w[i] += h;
      return loss(base, w);
    }, 1e-3);
    expect(Math.abs(g.world[i] - num)).toBeLessThan(2e-3 * Math.max(1, Math.abs(num)));
  }
  const nf = fd((h) => loss(cam(3.5 + h, 0.02, -0.03), world), 1e-2); // both projections are linear in focal and pp
  const nx = fd((h) => loss(cam(3.5, 0.02 + h, -0.03), world), 1e-2); // both projections are linear in focal and pp
  const ny = fd((h) => loss(cam(3.5, 0.02, -0.03 + h), world), 1e-2); // both projections are linear in focal and pp
  expect(Math.abs(g.camera.focal - nf)).toBeLessThan(1e-3 * Math.max(1, Math.abs(nf)));
  expect(Math.abs(g.camera.pp[0] - nx)).toBeLessThan(1e-3 * Math.max(1, Math.abs(nx)));
  expect(Math.abs(g.camera.pp[1] - ny)).toBeLessThan(1e-3 * Math.max(1, Math.abs(ny)));
}

describe('camera gradients against central differences', () => {
  it('worldToClipBackward', () => checkGradients((c, w) => worldToClip(c, w), worldToClipBackward, 4));
  it('projectPointsBackward', () => checkGradients((c, w) => projectPoints(c, w), projectPointsBackward, 3));
  it('rejects arrays of the wrong length with a message naming the argument', () => {
    expect(() => projectPoints(makeCamera(S), new Float32Array(4))).toThrow(/projectPoints: points must be a Float32Array of length 3\*N/);
    expect(() => makeCamera(0)).toThrow(/size/);
  });
});

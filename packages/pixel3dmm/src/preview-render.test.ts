// Renders the synthetic head (neutral, identity samples, expressions, eyelids, posed by the FLAME kernel)
// to PNGs in <tmp>/synth-preview for looking at, and checks a few things a posed head must get right.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { builtInFlameFiles, builtInFlameModel, kernelArrays, type RawFlameFiles } from '@pixel3dmm/flame';
import { FlameKernel } from '@pixel3dmm/kernels';
import { makeRng } from '@pixel3dmm/kernels/testing/random-flame';
import { renderPreviewPng } from './preview-render.js';

const OUT = join(tmpdir(), 'synth-preview');
const HEAD = 3931;

type Mat3 = number[];

function axisAngle(ax: number, ay: number, az: number): Mat3 {
  const t = Math.hypot(ax, ay, az);
  if (t === 0) return [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const [x, y, z] = [ax / t, ay / t, az / t];
  const c = Math.cos(t);
  const s = Math.sin(t);
  const C = 1 - c;
  return [
    c + x * x * C, x * y * C - z * s, x * z * C + y * s,
    y * x * C + z * s, c + y * y * C, y * z * C - x * s,
    z * x * C - y * s, z * y * C + x * s, c + z * z * C,
  ];
}

function mul3(a: Mat3, b: Mat3): Mat3 {
  const o = new Array(9).fill(0);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) o[3 * r + c] += a[3 * r + k] * b[3 * k + c];
  return o;
}

interface Pose {
  coeffs?: ArrayLike<number>; // up to 400 (identity then expression)
  rotations?: Mat3[]; // 5 joints: root, neck, jaw, left eye, right eye
  eyelids?: [number, number];
}

/** The synthetic head posed by the native FLAME kernel: 400 coefficients (300 shape, then 100 expression),
 * five rotation matrices (root, neck, jaw, eyes) and the eyelids. */
function forward(h: RawFlameFiles, pose: Pose): Float64Array {
  kernel ??= new FlameKernel(kernelArrays(builtInFlameModel(0)));
  const coeffs = Array.from({ length: 400 }, (_, k) => pose.coeffs?.[k] ?? 0);
  const R = pose.rotations ?? [0, 1, 2, 3, 4].map(() => axisAngle(0, 0, 0));
  const r = kernel.forward({
    batch: 1,
    shape: Float64Array.from(coeffs.slice(0, 300)),
    expression: Float64Array.from(coeffs.slice(300)),
    pose: Float64Array.from(R.flatMap((m) => m.slice(0, 6))), // 6D = the first two rows of R
    eyelids: Float64Array.from(pose.eyelids ?? [0, 0]),
  });
  expect(h.model.v_template.shape[0]).toBe(kernel.numVertices);
  return Float64Array.from(r.vertices);
}

let kernel: FlameKernel | undefined;
let head: RawFlameFiles;
let colors: Float32Array;

function vertexColors(h: RawFlameFiles): Float32Array {
  const V = h.model.v_template.shape[0];
  const c = new Float32Array(V * 3);
  const set = (v: number, rgb: number[]): void => c.set(rgb, 3 * v);
  for (let v = 0; v < V; v++) set(v, [0.88, 0.71, 0.6]);
  const mask = (name: string): number[] => Array.from(h.masks[name].data as BigInt64Array, Number);
  const P = h.model.v_template.data as Float64Array;
  for (const v of mask('lips')) {
    const inside = P[3 * v + 2] < 0.045; // the mouth slit
    set(v, inside ? [0.35, 0.08, 0.1] : [0.78, 0.42, 0.42]);
  }
  for (const eye of ['left_eyeball', 'right_eyeball']) {
    const ids = mask(eye);
    ids.forEach((v, i) => set(v, i === 0 || i <= 32 ? [0.05, 0.05, 0.05] : i <= 32 * 4 ? [0.3, 0.42, 0.55] : [0.95, 0.94, 0.9]));
  }
  return c;
}

/** Append small octahedra at the given points (for showing landmarks). */
function withMarkers(p: Float64Array, f: Uint32Array, col: Float32Array, pts: number[][], rgb: number[]): [Float64Array, Uint32Array, Float32Array] {
  const V = p.length / 3;
  const r = 0.0016;
  const P = Array.from(p);
  const Fs = Array.from(f);
  const C = Array.from(col);
  const oct = [[r, 0, 0], [-r, 0, 0], [0, r, 0], [0, -r, 0], [0, 0, r], [0, 0, -r]];
  const tris = [[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]];
  pts.forEach((q, i) => {
    const base = V + 6 * i;
    for (const o of oct) {
      P.push(q[0] + o[0], q[1] + o[1], q[2] + o[2]);
      C.push(...rgb);
    }
    for (const t of tris) Fs.push(base + t[0], base + t[1], base + t[2]);
  });
  return [Float64Array.from(P), Uint32Array.from(Fs), Float32Array.from(C)];
}

function landmarks68(h: RawFlameFiles, p: Float64Array, bin = 0): number[][] {
  const E = h.landmarkEmbedding;
  const f = h.model.f.data as Uint32Array;
  const out: number[][] = [];
  const at = (face: number, b: number[]): number[] => {
    const q = [0, 0, 0];
    for (let c = 0; c < 3; c++) for (let d = 0; d < 3; d++) q[d] += b[c] * p[3 * f[3 * face + c] + d];
    return q;
  };
  for (let k = 0; k < 17; k++) {
    const i = bin * 17 + k;
    out.push(at(Number(E.dynamic_lmk_faces_idx.data[i]), [0, 1, 2].map((c) => Number(E.dynamic_lmk_bary_coords.data[3 * i + c]))));
  }
  for (let i = 0; i < 51; i++) {
    out.push(at(Number(E.static_lmk_faces_idx.data[i]), [0, 1, 2].map((c) => Number(E.static_lmk_bary_coords.data[3 * i + c]))));
  }
  return out;
}

beforeAll(() => {
  mkdirSync(OUT, { recursive: true });
  head = builtInFlameFiles(0);
  colors = vertexColors(head);
});

describe('synthetic head previews', () => {
  const faces = (): Uint32Array => head.model.f.data as Uint32Array;
  const three = [{ yaw: 0, pitch: 0 }, { yaw: -90, pitch: 0 }, { yaw: -35, pitch: 12 }];

  it('renders the neutral head, its wireframe and its landmarks', async () => {
    const p = head.model.v_template.data as Float64Array;
    await renderPreviewPng(p, faces(), `${OUT}/neutral.png`, { views: three, colors, size: 420 });
    await renderPreviewPng(p, faces(), `${OUT}/neutral-smooth.png`, { views: three, colors, size: 420, smooth: true });
    await renderPreviewPng(p, faces(), `${OUT}/neutral-wire.png`, { views: ['front', 'side', 'back'], colors, size: 520, wireframe: true });
    const [mp, mf, mc] = withMarkers(p, faces(), colors, landmarks68(head, p), [0.1, 0.9, 0.2]);
    const face = Array.from(head.masks.face.data as BigInt64Array, Number);
    await renderPreviewPng(mp, mf, `${OUT}/landmarks.png`, { views: ['front', { yaw: -30, pitch: 0 }], colors: mc, size: 520, frameVertices: face });
    // contour at yaw +30 and -30 (bins 69 and 30), seen from the turned camera
    const R30 = axisAngle(0, (30 * Math.PI) / 180, 0);
    const Rm30 = axisAngle(0, (-30 * Math.PI) / 180, 0);
    const rot = (R: Mat3, q: Float64Array): Float64Array => {
      const o = new Float64Array(q.length);
      for (let i = 0; i < q.length; i += 3) for (let r = 0; r < 3; r++) o[i + r] = R[3 * r] * q[i] + R[3 * r + 1] * q[i + 1] + R[3 * r + 2] * q[i + 2];
      return o;
    };
    const pa = rot(R30, p);
    const pb = rot(Rm30, p);
    const [ap, af, ac] = withMarkers(pa, faces(), colors, landmarks68(head, pa, 69), [0.1, 0.9, 0.2]);
    const [bp, bf, bc] = withMarkers(pb, faces(), colors, landmarks68(head, pb, 30), [0.1, 0.9, 0.2]);
    await renderPreviewPng(ap, af, `${OUT}/contour-yaw+30.png`, { views: ['front'], colors: ac, size: 420 });
    await renderPreviewPng(bp, bf, `${OUT}/contour-yaw-30.png`, { views: ['front'], colors: bc, size: 420 });
  });

  it('renders the UV atlas', async () => {
    const { uvs, faceUvs } = head.template;
    const VT = uvs.length / 2;
    const pos = new Float64Array(VT * 3);
    const col = new Float32Array(VT * 3);
    const f = faces();
    for (let i = 0; i < VT; i++) {
      pos[3 * i] = uvs[2 * i];
      pos[3 * i + 1] = uvs[2 * i + 1];
    }
    for (let i = 0; i < faceUvs.length; i++) col.set(colors.subarray(3 * f[i], 3 * f[i] + 3), 3 * faceUvs[i]);
    // frame the unit square
    const frame = [0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0];
    const P = new Float64Array([...pos, ...frame]);
    await renderPreviewPng(P, faceUvs, `${OUT}/uv-layout.png`, { views: ['front'], colors: new Float32Array([...col, ...new Array(12).fill(1)]), size: 900, wireframe: true, margin: 0.01, frameVertices: [VT, VT + 1, VT + 2, VT + 3] });
  });

  it('renders identity samples (coefficients N(0,1) * 2)', async () => {
    const rng = makeRng(7);
    for (let s = 0; s < 3; s++) {
      const beta = new Float64Array(300);
      for (let k = 0; k < 300; k++) beta[k] = 2 * rng.normal();
      const p = forward(head, { coeffs: beta });
      await renderPreviewPng(p, faces(), `${OUT}/shape-${s}.png`, { views: three, colors, size: 360 });
    }
    // the first components one by one (+3 sigma and -3 sigma)
    for (let k = 0; k < 30; k += 6) {
      const tiles: Float64Array[] = [];
      for (let j = k; j < k + 6; j++) {
        for (const sgn of [3, -3]) {
          const beta = new Float64Array(300);
          beta[j] = sgn;
          tiles.push(forward(head, { coeffs: beta }));
        }
      }
      // render each pair side by side in one image per component
      for (let j = 0; j < 6; j++) {
        const pair = [tiles[2 * j], tiles[2 * j + 1]];
        const merged = new Float64Array(pair[0].length * 2);
        merged.set(pair[0]);
        for (let i = 0; i < pair[1].length; i += 3) {
          merged[pair[0].length + i] = pair[1][i] + 0.3;
          merged[pair[0].length + i + 1] = pair[1][i + 1];
          merged[pair[0].length + i + 2] = pair[1][i + 2];
        }
        const f = faces();
        const mf = new Uint32Array(f.length * 2);
        mf.set(f);
        const V = pair[0].length / 3;
        for (let i = 0; i < f.length; i++) mf[f.length + i] = f[i] + V;
        const mc = new Float32Array(colors.length * 2);
        mc.set(colors);
        mc.set(colors, colors.length);
        await renderPreviewPng(merged, mf, `${OUT}/shape-component-${String(k + j).padStart(2, '0')}.png`, { views: ['front', 'side'], colors: mc, size: 300 });
      }
    }
  });

  it('renders expressions and closed eyelids', async () => {
    const expr = (k: number, c: number): Float64Array => {
      const beta = new Float64Array(400);
      beta[300 + k] = c;
      return beta;
    };
    const cases: Array<[string, Float64Array]> = [
      ['mouth-open', expr(0, 3)],
      ['smile', expr(1, 3)],
      ['pucker', expr(2, 2)],
      ['brow-raise', expr(3, 3)],
      ['frown', expr(4, 3)],
    ];
    const face = Array.from(head.masks.face.data as BigInt64Array, Number);
    for (const [name, beta] of cases) {
      const p = forward(head, { coeffs: beta });
      await renderPreviewPng(p, faces(), `${OUT}/expression-${name}.png`, { views: ['front', { yaw: -40, pitch: 0 }], colors, size: 400, frameVertices: face });
    }
    const rng = makeRng(11);
    const beta = new Float64Array(400);
    for (let k = 300; k < 400; k++) beta[k] = 1.5 * rng.normal();
    await renderPreviewPng(forward(head, { coeffs: beta }), faces(), `${OUT}/expression-random.png`, { views: ['front', { yaw: -40, pitch: 0 }], colors, size: 400, frameVertices: face });
    const closed = forward(head, { eyelids: [1, 1] });
    const half = forward(head, { eyelids: [0.5, 0] });
    const eyes = Array.from(head.masks.eye_region.data as BigInt64Array, Number);
    await renderPreviewPng(closed, faces(), `${OUT}/eyelids-closed.png`, { views: ['front', { yaw: -40, pitch: 0 }], colors, size: 400, frameVertices: face });
    await renderPreviewPng(half, faces(), `${OUT}/eyelids-left-half.png`, { views: ['front'], colors, size: 500, frameVertices: eyes });
  });

  it('poses the jaw, the eyes and the neck (native kernel)', async () => {
    const I = axisAngle(0, 0, 0);
    const deg = Math.PI / 180;
    const jaw = forward(head, { rotations: [I, I, axisAngle(22 * deg, 0, 0), I, I] });
    const eyes = forward(head, { rotations: [I, I, I, axisAngle(0, 25 * deg, 0), axisAngle(0, 25 * deg, 0)] });
    const neck = forward(head, { rotations: [I, axisAngle(10 * deg, 30 * deg, 0), axisAngle(10 * deg, 0, 0), I, I] });
    const smileOpen = new Float64Array(400);
    smileOpen[301] = 2.5;
    const talk = forward(head, { coeffs: smileOpen, rotations: [I, I, axisAngle(12 * deg, 0, 0), axisAngle(-8 * deg, -15 * deg, 0), axisAngle(-8 * deg, -15 * deg, 0)] });
    const face = Array.from(head.masks.face.data as BigInt64Array, Number);
    await renderPreviewPng(jaw, faces(), `${OUT}/posed-jaw-open.png`, { views: three, colors, size: 400 });
    await renderPreviewPng(eyes, faces(), `${OUT}/posed-eyes.png`, { views: ['front'], colors, size: 500, frameVertices: face });
    await renderPreviewPng(neck, faces(), `${OUT}/posed-neck.png`, { views: three, colors, size: 400 });
    await renderPreviewPng(talk, faces(), `${OUT}/posed-smile-jaw-eyes.png`, { views: ['front', { yaw: -35, pitch: 0 }], colors, size: 420, frameVertices: face });

    // The eyeballs rotate rigidly about their centres.
    const J3 = [0, 0, 0];
    const p0 = head.model.v_template.data as Float64Array;
    for (let i = 0; i < 546; i++) for (let d = 0; d < 3; d++) J3[d] += p0[3 * (HEAD + i) + d] / 546;
    for (let i = 0; i < 546; i++) {
      const v = HEAD + i;
      expect(Math.hypot(eyes[3 * v] - J3[0], eyes[3 * v + 1] - J3[1], eyes[3 * v + 2] - J3[2])).toBeCloseTo(0.0125, 6);
    }
    // Opening the jaw drops the chin and the lower lip, not the upper lip or the forehead.
    const lm0 = landmarks68(head, p0);
    const lmJ = landmarks68(head, jaw);
    expect(lmJ[8][1]).toBeLessThan(lm0[8][1] - 0.012); // chin
    expect(lmJ[66][1]).toBeLessThan(lm0[66][1] - 0.01); // lower inner lip
    expect(Math.abs(lmJ[62][1] - lm0[62][1])).toBeLessThan(0.0015); // upper inner lip
    expect(Math.abs(lmJ[27][1] - lm0[27][1])).toBeLessThan(1e-6); // nose bridge
    // Turning the neck leaves the bottom of the neck where it was.
    const b = Array.from(head.masks.boundary.data as BigInt64Array, Number);
    for (const v of b) for (let d = 0; d < 3; d++) expect(neck[3 * v + d]).toBeCloseTo(p0[3 * v + d], 6);
  });
});

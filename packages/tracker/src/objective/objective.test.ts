// The full objective: zero data terms at the ground truth of a frame rendered by the scene itself, and the
// gradient of the total against central differences for every variable group of every frame of a batch and for
// the shared shape, focal length and principal point (tracking and both camera-init phases).
import { makeRng } from '@pixel3dmm/kernels/testing/random-flame';
import { describe, expect, it } from 'vitest';
import { builtInFlameModel } from '@pixel3dmm/flame';
import { defaultTrackerConfig, withOverrides } from '../config.js';
import type { Correspondences, FrameData, FrameVariables, ObjectiveOptions, SharedVariables, TrackingVariables } from '../types.js';
import { builtInTrackingAssets } from './assets.js';
import { TrackingObjective } from './objective.js';
import { AUX_CHANNELS, AUX_DEPTH, AUX_EYES, renderScene, SceneWorkspace } from './scene.js';
import { idealFrame, identityFrame, rotation6d } from './testing.js';
import { makeCamera, projectPoints } from '@pixel3dmm/render';

/** The project's seeded PRNG (mulberry32). */
const rng = (seed: number): (() => number) => makeRng(seed).uniform;

const model = builtInFlameModel(0);
const assets = builtInTrackingAssets(model);
const S = 64;

function groundTruth(seed: number, yaw: number): FrameVariables {
  const r = rng(seed);
  const v = identityFrame(model.numExpression);
  for (let k = 0; k < 10; k++) v.expression[k] = (r() - 0.5) * 1.0;
  v.jaw = rotation6d([1, 0, 0], 0.06);
  v.neck = rotation6d([0, 1, 0], 0.03);
  v.eyes = Float64Array.from([...rotation6d([0, 1, 0], 0.05), ...rotation6d([0, 1, 0], 0.04)]);
  v.eyelids = Float64Array.of(0.15, 0.1);
  v.rotation = rotation6d([0.1, 1, 0].map((x) => x / Math.hypot(0.1, 1)) as [number, number, number], yaw);
  v.translation = Float64Array.of(0.004, 0.012, 0.02);
  return v;
}

function sharedGt(): SharedVariables {
  const shape = new Float64Array(model.numShape);
  const r = rng(77);
  for (let k = 0; k < 8; k++) shape[k] = (r() - 0.5) * 1.0;
  return { shape, focal: 3.9, pp: [0.01, -0.02] };
}

const track: ObjectiveOptions = { phase: 'track', silhouetteScale: 1, smoothness: false };

describe('TrackingObjective at the ground truth', () => {
  it('uv_pixel, normal and every landmark term vanish for an ideal frame rendered at the ground truth', () => {
    const objective = new TrackingObjective(model, assets, withOverrides(defaultTrackerConfig(), { w_lmks_mouth: 1000 }));
    const shared = sharedGt();
    const gt = groundTruth(1, 0.2);
    const frame = idealFrame(objective, gt, shared, S);
    const corr = objective.correspondences(frame);
    const variables: TrackingVariables = { shared, frames: [gt] };
    const r = objective.evaluate({ variables, batch: [0], frames: [frame], correspondences: [corr], options: track });
    for (const k of ['uv_pixel', 'normal', 'lmk_eyes', 'lmk_lid', 'lmk_iris_96', 'lmk_iris_97', 'lmk_mouth', 'lmk_mouth_closure']) {
      expect(r.terms[k], k).toBeDefined();
      expect(Math.abs(r.terms[k]), `${k} = ${r.terms[k]}`).toBeLessThan(1e-9);
    }
    // The correspondence term is small but not zero: nearest pixels are integers and the original's point
    // projection sits (-1/2, +1/2) px off the raster.
    expect(r.terms.uv).toBeGreaterThan(0);
    // The camera init runs FLAME without eyelids: its 68-landmark term vanishes for a frame without eyelids, and
    // not for one with closing lids.
    const camOptions: ObjectiveOptions = { ...track, phase: 'camera-landmarks' };
    const cam = objective.evaluate({ variables, batch: [0], frames: [frame], correspondences: [corr], options: camOptions });
    expect(cam.terms.cam_lmk).toBeGreaterThan(1e-4);
    const open: FrameVariables = { ...gt, eyelids: new Float64Array(2) };
    const openFrame = idealFrame(objective, open, shared, S);
    const cam0 = objective.evaluate({ variables: { shared, frames: [open] }, batch: [0], frames: [openFrame], correspondences: [corr], options: camOptions });
    expect(Math.abs(cam0.terms.cam_lmk)).toBeLessThan(1e-9);
    expect(Object.keys(cam.terms).sort()).toEqual(['cam_lmk', 'reg_pp']);
    // Moving the head away makes every data term positive.
    const moved: FrameVariables = { ...gt, translation: Float64Array.of(0.01, 0.005, 0.02) };
    const r2 = objective.evaluate({ variables: { shared, frames: [moved] }, batch: [0], frames: [frame], correspondences: [corr], options: track });
    for (const k of ['uv_pixel', 'normal', 'lmk_eyes', 'lmk_iris_96', 'uv']) expect(r2.terms[k], k).toBeGreaterThan(1e-3);
    expect(r2.terms.uv).toBeGreaterThan(2 * r.terms.uv);
    // The total is the plain sum of the terms.
    expect(r2.total).toBeCloseTo(Object.values(r2.terms).reduce((a, b) => a + b, 0), 9);
  });

  it('objectives of one model share its kernel and scene topology, and one\'s shapes never leak into the other\'s results', () => {
    const a = new TrackingObjective(model, assets, defaultTrackerConfig());
    const b = new TrackingObjective(model, assets, withOverrides(defaultTrackerConfig(), { w_lmks_mouth: 1000 }));
    expect(b.kernel).toBe(a.kernel);
    expect(b.topology).toBe(a.topology);
    const shared = sharedGt();
    const gt = groundTruth(3, 0.1);
    const frame = idealFrame(a, gt, shared, S);
    const corr = a.correspondences(frame);
    const run = (o: TrackingObjective, shape: Float64Array) => {
      const r = o.evaluate({ variables: { shared: { ...shared, shape }, frames: [gt] }, batch: [0], frames: [frame], correspondences: [corr], options: { ...track, wantShape: true } });
      return { total: r.total, shape: Array.from(r.gradient.shared.shape), rotation: Array.from(r.gradient.frames[0].rotation) };
    };
    // The kernel caches the last shape it evaluated: alternating two shapes between the objectives must give each
    // evaluation the results it gets alone.
    const other = Float64Array.from(shared.shape, (v, k) => v + (k < 20 ? 0.3 : 0));
    const alone = run(a, shared.shape);
    const otherAlone = run(b, other);
    expect(run(a, shared.shape)).toEqual(alone);
    expect(run(b, other)).toEqual(otherAlone);
    expect(run(a, shared.shape)).toEqual(alone);
    // And what a kernel of its own gives (a copy of the model is another key: another kernel).
    const copy = { ...model };
    const fresh = new TrackingObjective(copy, builtInTrackingAssets(copy), withOverrides(defaultTrackerConfig(), { w_lmks_mouth: 1000 }));
    expect(fresh.kernel).not.toBe(a.kernel);
    expect(run(fresh, other)).toEqual(otherAlone);
  }, 20000);

  it('correspondences at the ground truth sit (+1/2, -1/2) px from the projected vertices (the original\'s offset)', () => {
    const objective = new TrackingObjective(model, assets, defaultTrackerConfig());
    const shared = sharedGt();
    const gt = groundTruth(3, 0.15);
    const size = 128;
    const frame = idealFrame(objective, gt, shared, size);
    const c = objective.correspondences(frame);
    const pose = Float64Array.from([1, 0, 0, 0, 1, 0, ...gt.neck, ...gt.jaw, ...gt.eyes]);
    const fl = objective.kernel.forward({ batch: 1, shape: shared.shape, expression: gt.expression, pose, eyelids: gt.eyelids });
    const R = rotationOf(gt.rotation);
    const world = new Float32Array(fl.vertices.length);
    for (let i = 0; i < world.length; i += 3) for (let k = 0; k < 3; k++) world[i + k] = R[3 * k] * fl.vertices[i] + R[3 * k + 1] * fl.vertices[i + 1] + R[3 * k + 2] * fl.vertices[i + 2] + gt.translation[k];
    const p = projectPoints(makeCamera(size, shared.focal, shared.pp), world);
    let sx = 0, sy = 0, n = 0;
    objective.validVertices.forEach((v, j) => {
      if (!(c.dist2[j] < 5e-5)) return;
      sx += c.pixels[2 * j] - p[3 * v];
      sy += c.pixels[2 * j + 1] - p[3 * v + 1];
      n++;
    });
    expect(n).toBeGreaterThan(0.8 * objective.validVertices.length);
    // Raster pixel centres are integers; the point projection is x_s = col - 1/2, y_s = row + 1/2 (spec 5).
    expect(Math.abs(sx / n - 0.5)).toBeLessThan(0.1);
    expect(Math.abs(sy / n + 0.5)).toBeLessThan(0.1);
  });

  it('zero weights and missing network maps switch terms off', () => {
    const objective = new TrackingObjective(model, assets, withOverrides(defaultTrackerConfig(), { no_lm: true, w_mirror: 0, sil_super: 0 }));
    const shared = sharedGt();
    const gt = groundTruth(1, 0.2);
    const frame: FrameData = { ...idealFrame(objective, gt, shared, S), uv: null, normals: null };
    const corr = objective.correspondences(frame);
    expect(Array.from(corr.dist2).every((d) => d === Infinity)).toBe(true);
    const r = objective.evaluate({ variables: { shared, frames: [gt] }, batch: [0], frames: [frame], correspondences: [corr], options: track });
    for (const k of ['uv', 'uv_pixel', 'normal', 'sil', 'lmk_eyes', 'lmk_lid', 'lmk_iris_96', 'reg_mirror']) expect(r.terms[k], k).toBeUndefined();
    expect(r.terms.reg_exp).toBeGreaterThan(0);
  });

  it('use_flame2023: the jaw is the identity inside FLAME, so its gradient is the regulariser\'s alone', () => {
    const cfg = withOverrides(defaultTrackerConfig(), { use_flame2023: true });
    const objective = new TrackingObjective(model, assets, cfg);
    const shared = sharedGt();
    const gt = groundTruth(1, 0.2);
    const frame = idealFrame(objective, gt, shared, S);
    const moved: FrameVariables = { ...gt, jaw: rotation6d([1, 0, 0], 0.2), translation: Float64Array.of(0.006, 0.01, 0.02) };
    const r = objective.evaluate({ variables: { shared, frames: [moved] }, batch: [0], frames: [frame], correspondences: [objective.correspondences(frame)], options: track });
    const I = [1, 0, 0, 0, 1, 0];
    r.gradient.frames[0].jaw.forEach((g, k) => expect(g).toBeCloseTo(2 * cfg.w_jaw * (moved.jaw[k] - I[k]), 12));
    // And the jaw does not move the mesh: the same data terms as with the identity jaw.
    const same = objective.evaluate({ variables: { shared, frames: [{ ...moved, jaw: Float64Array.from(I) }] }, batch: [0], frames: [frame], correspondences: [objective.correspondences(frame)], options: track });
    expect(same.terms.uv_pixel).toBe(r.terms.uv_pixel);
  });

  it('bad input: wrong group sizes, batch positions and frame arrays are named', () => {
    const objective = new TrackingObjective(model, assets, defaultTrackerConfig());
    const shared = sharedGt();
    const gt = groundTruth(1, 0.2);
    const frame = idealFrame(objective, gt, shared, S);
    const corr = objective.correspondences(frame);
    const ev = (frames: FrameVariables[], batch = [0], f: FrameData = frame) =>
      objective.evaluate({ variables: { shared, frames }, batch, frames: [f], correspondences: [corr], options: track });
    expect(() => ev([{ ...gt, rotation: new Float64Array(5) }])).toThrow(/frame 0: 'rotation' must be a Float64Array of 6 values/);
    expect(() => ev([{ ...gt, translation: Float64Array.of(0, NaN, 0) }])).toThrow(/'translation'\[1\] is NaN/);
    expect(() => ev([gt], [3])).toThrow(/batch position 3 has no variables/);
    expect(() => ev([gt], [0], { ...frame, uv: new Float32Array(5) })).toThrow(/uv must be a Float32Array \[64,64,2\]/);
    expect(() => ev([gt], [0], { ...frame, masks: { ...frame.masks, normal: new Uint8Array(3) } })).toThrow(/masks.normal/);
  });
});

/**
 * Frames whose masks keep only pixels where the render is a smooth function of the variables: covered,
 * at least 3 px from the background, the eyes, and depth discontinuities (occluding contours), where a pixel
 * changing triangles changes its value. The silhouette term is then exercised through the texture boundary
 * inside the face.
 */
function smoothFrame(objective: TrackingObjective, gt: FrameVariables, shared: SharedVariables, index: number): FrameData {
  const f = idealFrame(objective, gt, shared, S, index);
  // Re-render to read coverage, eyes and depth.
  const ws = new SceneWorkspace(objective.topology, 1, S);
  const fl = objective.kernel.forward({
    batch: 1, shape: shared.shape, expression: gt.expression,
    pose: Float64Array.from([1, 0, 0, 0, 1, 0, ...gt.neck, ...gt.jaw, ...gt.eyes]), eyelids: gt.eyelids, withNoNeck: true,
  });
  const R = rotationOf(gt.rotation);
  const world = new Float32Array(fl.vertices.length);
  for (let i = 0; i < world.length; i += 3) for (let k = 0; k < 3; k++) world[i + k] = R[3 * k] * fl.vertices[i] + R[3 * k + 1] * fl.vertices[i + 1] + R[3 * k + 2] * fl.vertices[i + 2] + gt.translation[k];
  renderScene(ws, makeCamera(S, shared.focal, shared.pp), world, fl.verticesNoNeck!, { normals: true, silhouette: true });
  const P = S * S;
  const bad = new Uint8Array(P);
  for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
    const p = y * S + x;
    const z = ws.aux[p * AUX_CHANNELS + AUX_DEPTH];
    let b = ws.rast[4 * p + 3] === 0 || ws.aux[p * AUX_CHANNELS + AUX_EYES] > 0;
    for (const [dx, dy] of [[1, 0], [0, 1], [-1, 0], [0, -1]]) {
      const q = (y + dy) * S + x + dx;
      if (x + dx < 0 || x + dx >= S || y + dy < 0 || y + dy >= S) continue;
      if (Math.abs(ws.aux[q * AUX_CHANNELS + AUX_DEPTH] - z) > 0.01) b = true;
    }
    bad[p] = b ? 1 : 0;
  }
  const keep = new Uint8Array(P);
  for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
    let ok = true;
    for (let dy = -3; dy <= 3 && ok; dy++) for (let dx = -3; dx <= 3 && ok; dx++) {
      const xx = Math.min(S - 1, Math.max(0, x + dx)), yy = Math.min(S - 1, Math.max(0, y + dy));
      if (bad[yy * S + xx]) ok = false;
    }
    keep[y * S + x] = ok ? 1 : 0;
  }
  return { ...f, masks: { uv: keep, normal: keep, foreground: new Uint8Array(P), validBackground: keep } };
}

function rotationOf(six: Float64Array): number[] {
  // Gram-Schmidt of the two rows, third = cross (the 6D convention: first two rows of R).
  const a = [six[0], six[1], six[2]], b = [six[3], six[4], six[5]];
  const na = Math.hypot(...a);
  const r0 = a.map((x) => x / na);
  const d = r0[0] * b[0] + r0[1] * b[1] + r0[2] * b[2];
  const bb = b.map((x, i) => x - d * r0[i]);
  const nb = Math.hypot(...bb);
  const r1 = bb.map((x) => x / nb);
  const r2 = [r0[1] * r1[2] - r0[2] * r1[1], r0[2] * r1[0] - r0[0] * r1[2], r0[0] * r1[1] - r0[1] * r1[0]];
  return [...r0, ...r1, ...r2];
}

const FRAME_STEPS: Record<keyof FrameVariables, number> = {
  expression: 2e-3, jaw: 2e-4, neck: 2e-4, eyes: 2e-4, eyelids: 2e-3, rotation: 1e-4, translation: 5e-5,
};

function cloneFrame(v: FrameVariables): FrameVariables {
  return Object.fromEntries(Object.entries(v).map(([k, a]) => [k, (a as Float64Array).slice()])) as unknown as FrameVariables;
}

describe('TrackingObjective gradient', () => {
  // normal_l2: the default L1 normal term has kinks wherever a residual crosses 0, which near the ground truth
  // central differences straddle; its L1 gradient is checked in losses.test.ts.
  // occ_filter off: the visibility test is a step (a vertex crossing the depth margin drops out of the sum), which a
  // central difference over a whole-head motion would straddle; it carries no gradient by definition and is
  // checked in losses.test.ts.
  const objective = new TrackingObjective(model, assets, withOverrides(defaultTrackerConfig(), { w_lmks_mouth: 500, normal_l2: true, occ_filter: false }), {
    shapePrior: Float64Array.from({ length: 20 }, (_, k) => 0.1 * Math.sin(k)),
  });
  const sharedTrue = sharedGt();
  const gts = [groundTruth(1, 0.2), groundTruth(2, 0.23)];
  const frames = gts.map((g, i) => smoothFrame(objective, g, sharedTrue, i));
  const corr: Correspondences[] = frames.map((f) => objective.correspondences(f));
  // Evaluate away from the ground truth so that every term has a gradient.
  const r = rng(11);
  const start: TrackingVariables = {
    shared: { shape: sharedTrue.shape.map((x) => x + 0.2 * (r() - 0.5)), focal: 3.95, pp: [0.015, -0.01] },
    frames: gts.map((g) => {
      const v = cloneFrame(g);
      for (const k of Object.keys(v) as (keyof FrameVariables)[]) for (let i = 0; i < v[k].length; i++) v[k][i] += FRAME_STEPS[k] * 20 * (r() - 0.5);
      return v;
    }),
  };

  // `scales`: the central difference is averaged over the steps h * scale. Over a whole-head motion the forward
  // has kinks (1/16 px coverage snapping, clamped barycentrics, correspondence cut-offs) that make a single
  // step's difference scatter by several percent around the derivative (e.g. -6%, +3%, +7% at h, h/2, h/4 for
  // one expression direction); the mean over a few steps is a steadier estimate.
  const directional = (options: ObjectiveOptions, batch: number[], group: string, frame: number, dir: Float64Array | number[], h: number, scales: number[] = [1]) => {
    const evalAt = (s: number) => {
      const vars: TrackingVariables = {
        shared: { shape: start.shared.shape.slice(), focal: start.shared.focal, pp: [start.shared.pp[0], start.shared.pp[1]] },
        frames: start.frames.map(cloneFrame),
      };
      if (group === 'shape') vars.shared.shape.forEach((_, i) => (vars.shared.shape[i] += s * dir[i]));
      else if (group === 'focal') vars.shared.focal += s * dir[0];
      else if (group === 'pp') vars.shared.pp = [vars.shared.pp[0] + s * dir[0], vars.shared.pp[1] + s * dir[1]];
      else {
        const a = vars.frames[frame][group as keyof FrameVariables];
        for (let i = 0; i < a.length; i++) a[i] += s * dir[i];
      }
      return objective.evaluate({ variables: vars, batch, frames: batch.map((p) => frames[p]), correspondences: batch.map((p) => corr[p]), options });
    };
    const base = evalAt(0);
    let fd = 0;
    for (const k of scales) fd += (evalAt(h * k).total - evalAt(-h * k).total) / (2 * h * k) / scales.length;
    let an = 0;
    if (group === 'shape') base.gradient.shared.shape.forEach((g, i) => (an += g * dir[i]));
    else if (group === 'focal') an = base.gradient.shared.focal * dir[0];
    else if (group === 'pp') an = base.gradient.shared.pp[0] * dir[0] + base.gradient.shared.pp[1] * dir[1];
    else {
      const pos = batch.indexOf(frame);
      const g = base.gradient.frames[pos][group as keyof FrameVariables];
      g.forEach((x, i) => (an += x * dir[i]));
    }
    return { fd, an, base };
  };

  const dirFor = (n: number, seed: number, onlyFirst?: number) => {
    const rr = rng(seed);
    return Float64Array.from({ length: n }, (_, i) => (onlyFirst !== undefined && i >= onlyFirst ? 0 : rr() - 0.5));
  };

  it('tracking, batch of two with smoothness: every frame group and the shared shape, focal and pp', () => {
    const options: ObjectiveOptions = { phase: 'track', silhouetteScale: 0.1, smoothness: true };
    const first = directional(options, [0, 1], 'translation', 0, [1, 0, 0], 1e-9).base;
    for (const k of ['uv', 'uv_pixel', 'normal', 'sil', 'lmk_eyes', 'lmk_lid', 'lmk_iris_96', 'lmk_mouth', 'reg_mirror', 'smooth_t', 'smooth_exp', 'reg_shape']) {
      expect(first.terms[k], k).toBeGreaterThan(0);
    }
    const cases: [string, number, number][] = [];
    for (const f of [0, 1]) for (const g of Object.keys(FRAME_STEPS)) cases.push([g, f, FRAME_STEPS[g as keyof FrameVariables]]);
    cases.push(['shape', 0, 2e-3], ['focal', 0, 1e-4], ['pp', 0, 1e-4]);
    let seed = 100;
    for (const [group, frame, h] of cases) {
      const n = group === 'shape' ? model.numShape : group === 'focal' ? 1 : group === 'pp' ? 2 : start.frames[frame][group as keyof FrameVariables].length;
      const dir = dirFor(n, seed++, group === 'shape' || group === 'expression' ? 12 : undefined);
      const { fd, an } = directional(options, [0, 1], group, frame, dir, h, [1, 0.5, 0.25]);
      // 4%: the rasterizer clamps barycentrics to the triangle (nvdiffrast semantics) and its coverage is snapped
      // to 1/16 px, so pixels within 1/16 px of an edge sit on a kink of the forward that the analytic gradient
      // (the unclamped derivative) does not see; at 64² many pixels are that close to an edge. The render
      // backward is checked to 2% away from such pixels in scene.test.ts.
      expect(Math.abs(fd - an), `${group} of frame ${frame}: fd ${fd} vs analytic ${an}`).toBeLessThan(0.04 * Math.max(Math.abs(fd), Math.abs(an)) + 1e-3);
      expect(Math.abs(an), `${group} of frame ${frame}`).toBeGreaterThan(1e-3);
    }
  }, 60000);

  it('camera init: landmark half and UV half (rotation, translation, focal, pp)', () => {
    for (const phase of ['camera-landmarks', 'camera-uv'] as const) {
      const options: ObjectiveOptions = { phase, silhouetteScale: 1, smoothness: false };
      let seed = 300;
      for (const [group, h] of [['rotation', 2e-5], ['translation', 1e-5], ['focal', 2e-5], ['pp', 2e-5]] as const) {
        const n = group === 'focal' ? 1 : group === 'pp' ? 2 : group === 'rotation' ? 6 : 3;
        const dir = dirFor(n, seed++);
        const { fd, an, base } = directional(options, [0], group, 0, dir, h);
        expect(Object.keys(base.terms).sort()).toEqual(phase === 'camera-landmarks' ? ['cam_lmk', 'reg_pp'] : ['cam_uv', 'reg_pp']);
        // The camera-uv half is an L1 with a distance cut-off (kinks and steps): a looser bound there.
        const tol = phase === 'camera-uv' ? 0.04 : 0.01;
        expect(Math.abs(fd - an), `${phase} ${group}: fd ${fd} vs analytic ${an}`).toBeLessThan(tol * Math.max(Math.abs(fd), Math.abs(an)) + 1e-4);
      }
    }
  }, 30000);
});

// The scene render (spec 5) and its backward pass, and the vertex normals, against central differences; the
// assets' silhouette texture against its definition; the asset loader's errors.
import { makeRng } from '@pixel3dmm/kernels/testing/random-flame';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { NdArray, writeNpy, writeObj } from '@pixel3dmm/formats';
import { builtInFlameModel, Flame } from '@pixel3dmm/flame';
import { makeCamera, texture, textureBackward } from '@pixel3dmm/render';
import { builtInTrackingAssets, loadTrackingAssets, MissingTrackingAssetError, silhouetteTexture } from './assets.js';
import { AUX_CHANNELS, AUX_DEPTH, AUX_EYES, CH_NORMAL, CH_TEXC, coveragePass, gatherCornerNormals, GRAD_CHANNELS, renderFrame, writeCornerChannels, writeTexcGradient, renderScene, renderSceneBackward, sceneGradientImages, sceneTopology, SceneWorkspace } from './scene.js';
import { coveragePassReference, gatherCornerNormalsReference, rotation6d, writeCornerChannelsReference, writeTexcGradientReference } from './testing.js';
import { vertexNormals, vertexNormalsBackward } from './vertex-normals.js';
import { vertexNormalsBackwardReference, vertexNormalsReference } from './vertex-normals-reference.js';
import { rotationMatrices, setThreads } from '@pixel3dmm/kernels';

/** The project's seeded PRNG (mulberry32). */
const rng = (seed: number): (() => number) => makeRng(seed).uniform;

const model = builtInFlameModel(0);
const assets = builtInTrackingAssets(model);
const topology = sceneTopology(model, assets);
const V = model.numVertices;

/** The built-in head posed (yaw 0.25, pitch 0.1, small expression) in FLAME space, world, and neck-free. */
function posedHead(yaw = 0.25) {
  const flame = new Flame(model);
  const expression = new Float64Array(model.numExpression);
  expression[0] = 1.2;
  expression[3] = -0.8;
  const pose = new Float64Array(30);
  pose.set([1, 0, 0, 0, 1, 0, ...rotation6d([1, 0, 0], 0.1), ...rotation6d([1, 0, 0], 0.15), 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0]);
  const r = flame.kernel.forward({ batch: 1, expression, pose, withNoNeck: true });
  const R = rotationMatrices(rotation6d([0.2, 1, 0].map((x) => x / Math.hypot(0.2, 1)) as [number, number, number], yaw));
  const world = new Float32Array(3 * V);
  for (let i = 0; i < 3 * V; i += 3) {
    for (let k = 0; k < 3; k++) world[i + k] = R[3 * k] * r.vertices[i] + R[3 * k + 1] * r.vertices[i + 1] + R[3 * k + 2] * r.vertices[i + 2] + (k === 1 ? 0.01 : 0);
  }
  return { world, noNeck: r.verticesNoNeck!.slice() };
}

/** Vertices of triangles with a pixel within 0.01 of a barycentric bound (see the backward test). */
function nearBarycentricBound(rast: Float32Array, P: number): Uint8Array {
  const near = new Uint8Array(V);
  for (let p = 0; p < P; p++) {
    const id = rast[4 * p + 3];
    if (id === 0) continue;
    const u = rast[4 * p], v = rast[4 * p + 1];
    if (Math.min(u, v, 1 - u - v) < 0.01) for (let k = 0; k < 3; k++) near[topology.faces[3 * (id - 1) + k]] = 1;
  }
  return near;
}

describe('vertex normals', () => {
  it('are the normalised area-weighted sums of e1×e2 and their backward matches central differences', () => {
    const { noNeck } = posedHead();
    const sums = new Float64Array(3 * V), n = new Float32Array(3 * V);
    vertexNormals(noNeck, 1, V, topology.faces, sums, n);
    // Independent check at one vertex: sum over its faces of the cross products.
    const v0 = 1234;
    const s = [0, 0, 0];
    for (let f = 0; f < topology.faces.length / 3; f++) {
      const c = [0, 1, 2].map((k) => topology.faces[3 * f + k]);
      if (!c.includes(v0)) continue;
      const p = c.map((i) => [noNeck[3 * i], noNeck[3 * i + 1], noNeck[3 * i + 2]]);
      const e1 = [0, 1, 2].map((k) => p[1][k] - p[0][k]), e2 = [0, 1, 2].map((k) => p[2][k] - p[0][k]);
      s[0] += e1[1] * e2[2] - e1[2] * e2[1];
      s[1] += e1[2] * e2[0] - e1[0] * e2[2];
      s[2] += e1[0] * e2[1] - e1[1] * e2[0];
    }
    const len = Math.hypot(...s);
    for (let k = 0; k < 3; k++) expect(n[3 * v0 + k]).toBeCloseTo(s[k] / len, 6);
    // Gradient of L = Σ g·n.
    const r = rng(2);
    const g = Float64Array.from({ length: 3 * V }, () => r() - 0.5);
    const grad = new Float32Array(3 * V);
    vertexNormalsBackward(noNeck, 1, V, topology.faces, sums, g, new Float64Array(3 * V), grad);
    const pos64 = noNeck; // float32 positions; FD with a step large against float32 rounding
    const L = () => {
      vertexNormals(pos64, 1, V, topology.faces, sums, n);
      let t = 0;
      for (let i = 0; i < 3 * V; i++) t += g[i] * n[i];
      return t;
    };
    for (const i of [3 * 1234, 3 * 1234 + 2, 3 * 40 + 1, 3 * 4000]) {
      const x = pos64[i], h = 1e-4;
      pos64[i] = x + h;
      const hp = pos64[i];
      const fp = L();
      pos64[i] = x - h;
      const hm = pos64[i];
      const fm = L();
      pos64[i] = x;
      const fd = (fp - fm) / (hp - hm);
      expect(Math.abs(fd - grad[i])).toBeLessThan(2e-3 * Math.max(1, Math.abs(fd)));
    }
  });
});

describe('vertex normals, native against the reference loops', () => {
  const bits32 = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
  const bits64 = (a: Float64Array) => Array.from(new BigUint64Array(a.buffer, a.byteOffset, a.length));
  /** Both implementations on the same inputs: sums, normals and the accumulated position gradient, bit for bit. */
  const compare = (positions: Float32Array, frames: number, nv: number, faces: Int32Array, gradNormals: Float64Array) => {
    const n = frames * nv * 3;
    const sumsA = new Float64Array(n), sumsB = new Float64Array(n), outA = new Float32Array(n), outB = new Float32Array(n);
    vertexNormals(positions, frames, nv, faces, sumsA, outA);
    vertexNormalsReference(positions, frames, nv, faces, sumsB, outB);
    expect(bits64(sumsA)).toEqual(bits64(sumsB));
    expect(bits32(outA)).toEqual(bits32(outB));
    // Added onto a non-zero gradient, as the scene adds onto its own.
    const gA = Float32Array.from({ length: n }, (_, i) => (i % 5) * 0.25), gB = gA.slice();
    vertexNormalsBackward(positions, frames, nv, faces, sumsA, gradNormals, new Float64Array(n), gA);
    vertexNormalsBackwardReference(positions, frames, nv, faces, sumsB, gradNormals, new Float64Array(n), gB);
    expect(bits32(gA)).toEqual(bits32(gB));
    return gA;
  };
  it('two posed heads in one call: the same sums, normals and position gradients', () => {
    const a = posedHead(0.25), b = posedHead(-0.7);
    const positions = new Float32Array(6 * V);
    positions.set(a.noNeck, 0);
    positions.set(b.noNeck, 3 * V);
    const r = rng(9);
    // Most vertices without a normal gradient (as outside the rendered region): their faces are skipped.
    const g = Float64Array.from({ length: 6 * V }, () => (r() < 0.3 ? r() - 0.5 : 0));
    // Frames run in parallel: one thread, three, and the default give the same bits.
    for (const threads of [1, 3, 0]) {
      setThreads(threads);
      const grad = compare(positions, 2, V, topology.faces, g);
      expect(grad.some((x, i) => x !== (i % 5) * 0.25)).toBe(true);
    }
  });
  it('a vertex whose faces are all degenerate takes the epsilon branch, bit for bit', () => {
    // Vertices 0-3 a tetrahedron's faces; vertices 4-5 and 0 collinear (zero area): vertex 4 and 5 have |s| = 0.
    const positions = Float32Array.of(0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 2, 2, 2, 3, 3, 3);
    const faces = Int32Array.of(0, 1, 2, 0, 3, 1, 0, 2, 3, 1, 3, 2, 0, 4, 5);
    const g = Float64Array.from({ length: 18 }, (_, i) => Math.sin(i + 1));
    const grad = compare(positions, 1, 6, faces, g);
    expect(Number.isFinite(grad[12])).toBe(true);
  });
  it('faces that repeat a vertex: its terms in the reference order, any thread count', () => {
    // A repeated vertex gets two of a face's terms (as v1, v2 or v0), whose order changes the float32 rounding.
    const r = rng(5);
    const positions = Float32Array.from({ length: 18 }, () => r() * 2 - 1);
    const faces = Int32Array.of(0, 1, 2, 1, 1, 2, 3, 2, 3, 0, 4, 0, 5, 5, 5, 2, 4, 5, 4, 4, 1);
    const g = Float64Array.from({ length: 18 }, (_, i) => Math.sin(3 * i + 1) * 10 ** ((i % 7) - 3));
    for (const threads of [1, 2, 3]) {
      setThreads(threads);
      compare(positions, 1, 6, faces, g);
    }
    setThreads(0);
  });
  it('refuses faces that index past the vertices and arrays of the wrong size, naming them', () => {
    const positions = new Float32Array(9);
    expect(() => vertexNormals(positions, 1, 3, Int32Array.of(0, 1, 3), new Float64Array(9), new Float32Array(9))).toThrow(/vertexNormals: faces\[2\] = 3 is not a vertex index in \[0, 3\)/);
    expect(() => vertexNormals(positions, 1, 3, Int32Array.of(0, 1, 2), new Float64Array(8), new Float32Array(9))).toThrow(/vertexNormals: expected a Float64Array of at least 9 values for sums/);
    expect(() => vertexNormalsBackward(new Float32Array(8), 1, 3, Int32Array.of(0, 1, 2), new Float64Array(9), new Float64Array(9), new Float64Array(9), new Float32Array(9))).toThrow(/vertexNormalsBackward: expected a Float32Array of length 9 for positions/);
  });
});

describe('scene render', () => {
  const S = 64;
  const camera = makeCamera(S);

  it('renders uv (background (1,0)), FLAME-space normals, masks, depth and fg consistently', () => {
    const { world, noNeck } = posedHead();
    const ws = new SceneWorkspace(topology, 1, S);
    // A render of another pose first: the workspace's images must not keep any of it (uvImages is updated
    // only where either render covers).
    const other = posedHead(1.1);
    renderScene(ws, camera, other.world, other.noNeck, { normals: true, silhouette: true });
    renderScene(ws, camera, world, noNeck, { normals: true, silhouette: true });
    let covered = 0, fgSum = 0;
    for (let i = 0; i < S * S; i++) {
      const id = ws.rast[4 * i + 3];
      if (id === 0) {
        expect([ws.uvImages[2 * i], ws.uvImages[2 * i + 1]]).toEqual([1, 0]);
        expect(ws.aux[i * AUX_CHANNELS + AUX_DEPTH]).toBe(0);
      } else {
        covered++;
        expect(ws.uvImages[2 * i]).toBe(Math.fround(1 - ws.aux[i * AUX_CHANNELS + CH_TEXC]));
        expect(ws.uvImages[2 * i + 1]).toBe(ws.aux[i * AUX_CHANNELS + CH_TEXC + 1]);
        const z = ws.aux[i * AUX_CHANNELS + AUX_DEPTH];
        expect(z).toBeLessThan(-0.7);
        expect(z).toBeGreaterThan(-1.3);
        // Interpolated unit normals are shorter than 1 only by the interpolation (no renormalisation).
        const o = i * AUX_CHANNELS + CH_NORMAL;
        const len = Math.hypot(ws.aux[o], ws.aux[o + 1], ws.aux[o + 2]);
        expect(len).toBeLessThanOrEqual(1 + 1e-5);
        expect(len).toBeGreaterThan(0.3);
      }
      fgSum += ws.fg[i];
    }
    expect(covered).toBeGreaterThan(0.3 * S * S);
    // Every pixel with eyes > 0 lies in the frame's eye box, which is not empty.
    const [x0, x1, y0, y1] = ws.eyeBoxes;
    let eyePixels = 0;
    for (let i = 0; i < S * S; i++) {
      if (!(ws.aux[i * AUX_CHANNELS + AUX_EYES] > 0)) continue;
      eyePixels++;
      const x = i % S, y = Math.floor(i / S);
      expect(x >= x0 && x <= x1 && y >= y0 && y <= y1, `eye pixel ${x},${y} outside [${x0},${x1}]x[${y0},${y1}]`).toBe(true);
    }
    expect(eyePixels).toBeGreaterThan(0);
    expect(fgSum).toBeGreaterThan(0.1 * S * S);
    // renderFrame is the same render.
    const fr = renderFrame(topology, camera, world, noNeck);
    for (let i = 0; i < S * S; i++) for (let c = 0; c < 3; c++) expect(fr.normals[3 * i + c]).toBe(ws.aux[i * AUX_CHANNELS + CH_NORMAL + c]);
  });

  it('backward: world and neck-free vertex gradients match central differences (ownership unchanged)', () => {
    const { world, noNeck } = posedHead();
    const P = S * S;
    const r = rng(4);
    const gUv = Float32Array.from({ length: 2 * P }, () => r() - 0.5);
    const gN = Float32Array.from({ length: 3 * P }, () => r() - 0.5);
    const gF = Float32Array.from({ length: P }, () => r() - 0.5);
    const ws = new SceneWorkspace(topology, 1, S);
    const loss = (w: Float32Array, nn: Float32Array) => {
      renderScene(ws, camera, w, nn, { normals: true, silhouette: true });
      let t = 0;
      for (let i = 0; i < 2 * P; i++) t += gUv[i] * ws.uvImages[i];
      for (let i = 0; i < P; i++) for (let c = 0; c < 3; c++) t += gN[3 * i + c] * ws.aux[i * AUX_CHANNELS + CH_NORMAL + c];
      for (let i = 0; i < P; i++) t += gF[i] * ws.fg[i];
      return t;
    };
    loss(world, noNeck);
    const ids0 = Float32Array.from({ length: P }, (_, i) => ws.rast[4 * i + 3]);
    const g = renderSceneBackward(ws, { uvImages: gUv, normalImages: gN, fg: gF });
    const gWorld = g.world.slice(), gNoNeck = g.noNeck!.slice();
    // The same gradients written in place (as the objective's losses do) give the same bits.
    const inPlace = sceneGradientImages(ws);
    for (let i = 0; i < P; i++) {
      for (let c = 0; c < 2; c++) inPlace.uvImages.data[i * inPlace.uvImages.stride + inPlace.uvImages.offset + c] = gUv[2 * i + c];
      for (let c = 0; c < 3; c++) inPlace.normalImages.data[i * inPlace.normalImages.stride + inPlace.normalImages.offset + c] = gN[3 * i + c];
    }
    const g2 = renderSceneBackward(ws, { uvImages: inPlace.uvImages, normalImages: inPlace.normalImages, fg: gF });
    expect(g2.world).toEqual(gWorld);
    expect(g2.noNeck).toEqual(gNoNeck);
    expect(g2.camera).toEqual(g.camera);
    // The rasterizer clamps barycentrics (pixels of the 1/16-px snapped coverage can lie a hair outside the float
    // triangle): the forward has a kink there that central differences straddle. Skip the vertices of triangles
    // with a pixel within 0.01 of a barycentric bound; elsewhere the function is smooth.
    const nearBound = nearBarycentricBound(ws.rast, P);
    const candidates: number[] = [];
    for (let i = 0; i < P && candidates.length < 40; i += 29) {
      const id = ids0[i];
      if (id > 0 && !nearBound[topology.faces[3 * (id - 1)]]) candidates.push(topology.faces[3 * (id - 1)]);
    }
    let checkedWorld = 0, nonzero = 0;
    const scale = Math.max(...Array.from(gWorld, Math.abs));
    for (const v of candidates) {
      for (let k = 0; k < 3; k++) {
        const i = 3 * v + k, x = world[i], h = 1e-4;
        world[i] = x + h;
        const hp = world[i];
        const fp = loss(world, noNeck);
        const sameP = ids0.every((id, p) => ws.rast[4 * p + 3] === id);
        world[i] = x - h;
        const hm = world[i];
        const fm = loss(world, noNeck);
        const sameM = ids0.every((id, p) => ws.rast[4 * p + 3] === id);
        world[i] = x;
        if (!sameP || !sameM) continue;
        const fd = (fp - fm) / (hp - hm);
        expect(Math.abs(fd - gWorld[i]), `vertex ${v} axis ${k}: fd ${fd} analytic ${gWorld[i]}`).toBeLessThan(0.02 * Math.abs(fd) + 2e-3 * scale);
        checkedWorld++;
        if (Math.abs(gWorld[i]) > 1e-3 * scale) nonzero++;
      }
    }
    expect(checkedWorld).toBeGreaterThan(40);
    expect(nonzero).toBeGreaterThan(20);
    const scaleN = Math.max(...Array.from(gNoNeck, Math.abs));
    for (const v of candidates.slice(0, 12)) {
      for (let k = 0; k < 3; k++) {
        const i = 3 * v + k, x = noNeck[i], h = 1e-4;
        noNeck[i] = x + h;
        const hp = noNeck[i];
        const fp = loss(world, noNeck);
        noNeck[i] = x - h;
        const hm = noNeck[i];
        const fm = loss(world, noNeck);
        noNeck[i] = x;
        const fd = (fp - fm) / (hp - hm);
        expect(Math.abs(fd - gNoNeck[i]), `noNeck vertex ${v} axis ${k}`).toBeLessThan(0.01 * Math.abs(fd) + 1e-3 * scaleN);
      }
    }
  });
});

describe('scene coverage pass', () => {
  /** The workspace fields the coverage pass writes (covered / sampled only up to their counts). */
  const snapshot = (ws: SceneWorkspace) => ({
    numCovered: ws.numCovered,
    numSampled: ws.numSampled,
    covered: Array.from(ws.covered.subarray(0, ws.numCovered)),
    sampled: Array.from(ws.sampled.subarray(0, ws.numSampled)),
    texcSampled: Array.from(new Uint32Array(ws.texcSampled.buffer, 0, 2 * ws.numSampled)),
    uvImages: Array.from(new Uint32Array(ws.uvImages.buffer)),
    texColor: Array.from(new Uint32Array(ws.texColor.buffer)),
    eyeBoxes: Array.from(ws.eyeBoxes),
  });
  /** Renders of two frames (poses a, b) into `source`; returns it. */
  const renderPair = (source: SceneWorkspace, camera: ReturnType<typeof makeCamera>, a: ReturnType<typeof posedHead>, b: ReturnType<typeof posedHead>) => {
    const world = new Float32Array(2 * 3 * V), noNeck = new Float32Array(2 * 3 * V);
    world.set(a.world, 0);
    world.set(b.world, 3 * V);
    noNeck.set(a.noNeck, 0);
    noNeck.set(b.noNeck, 3 * V);
    renderScene(source, camera, world, noNeck, { normals: true, silhouette: true });
    return source;
  };
  it('the native pass gives the reference loop\'s bits: covered and sampled lists, uv images, colours, eye boxes, over successive renders of two frames, any thread count', () => {
    // 90 rows: with more threads than frames the pass splits each frame into blocks of 16 rows, the last one partial.
    const S = 90, camera = makeCamera(S);
    const heads = [posedHead(0.25), posedHead(1.1), posedHead(-0.6)];
    const source = new SceneWorkspace(topology, 2, S);
    // Two workspaces that only ever run their own pass on the source's rast and aux: three passes in a row, so
    // that each first resets the previous pass's covered pixels.
    const nativeWs = new SceneWorkspace(topology, 2, S), referenceWs = new SceneWorkspace(topology, 2, S);
    let sampled = 0;
    for (const [a, b, silhouette] of [[0, 1, true], [1, 2, false], [2, 0, true]] as const) {
      renderPair(source, camera, heads[a], heads[b]);
      for (const ws of [nativeWs, referenceWs]) {
        ws.rast.set(source.rast);
        ws.aux.set(source.aux);
      }
      coveragePassReference(referenceWs, silhouette);
      // The frames (or, with more threads than frames, blocks of rows) run in parallel: any thread count gives the
      // reference's bits (a repeated pass first resets its own previous pixels, which are the same).
      for (const threads of [1, 3, 7, 0]) {
        setThreads(threads);
        coveragePass(nativeWs, silhouette);
        expect(snapshot(nativeWs)).toEqual(snapshot(referenceWs));
      }
      expect(nativeWs.numCovered).toBeGreaterThan(0.1 * 2 * S * S);
      for (let f = 0; f < 2; f++) expect(nativeWs.eyeBoxes[4 * f + 1]).toBeGreaterThanOrEqual(nativeWs.eyeBoxes[4 * f]);
      sampled += nativeWs.numSampled;
    }
    expect(sampled).toBeGreaterThan(0);
  });
  it('the texture-coordinate gradient packing gives the reference loop\'s bits (gradient in place or apart, +0 or not, none), any thread count', () => {
    const S = 64, camera = makeCamera(S);
    const ws = renderPair(new SceneWorkspace(topology, 2, S), camera, posedHead(0.25), posedHead(1.1));
    const P = 2 * S * S, n = ws.numCovered, r = rng(4);
    // Values with signed zeros among them (-0 must become +0 with plusZero).
    const value = () => (r() < 0.1 ? -0 : r() < 0.1 ? 0 : r() - 0.5);
    const base = Float32Array.from({ length: P * GRAD_CHANNELS }, value);
    const apart = Float32Array.from({ length: P * 2 }, value);
    const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer));
    for (const [where, plusZero] of [['in place', true], ['in place', false], ['apart', true], ['none', false]] as const) {
      const expected = base.slice();
      const gu = (g: Float32Array) => (where === 'in place' ? { data: g, stride: GRAD_CHANNELS, offset: CH_TEXC } : where === 'apart' ? { data: apart, stride: 2, offset: 0 } : null);
      writeTexcGradientReference(expected, ws.covered, n, gu(expected), plusZero);
      expect(bits(expected)).not.toEqual(bits(base));
      for (const threads of [1, 3, 0]) {
        setThreads(threads);
        const g = base.slice();
        writeTexcGradient(g, ws.covered, n, gu(g), plusZero);
        expect(bits(g), `${where}, plusZero ${plusZero}, ${threads} threads`).toEqual(bits(expected));
      }
    }
  });
  it('the corner channels and the corner normals\' gradient gather give the reference loops\' bits, any frames and thread count', () => {
    const V = topology.numVertices, NC = topology.numCorners, r = rng(8);
    const bits32 = (a: Float32Array) => Array.from(new Uint32Array(a.buffer));
    const bits64 = (a: Float64Array) => Array.from(new BigUint64Array(a.buffer));
    for (const B of [1, 3]) {
      const world = Float32Array.from({ length: B * V * 3 }, () => r() * 2 - 1);
      const normals = Float32Array.from({ length: B * V * 3 }, () => r() * 2 - 1);
      // Stale values in every channel: only the depth (and with normals the normal) channels may change.
      const attr0 = Float32Array.from({ length: B * NC * AUX_CHANNELS }, () => r());
      const gattr0 = Float32Array.from({ length: B * NC * GRAD_CHANNELS }, () => r());
      for (const withNormals of [false, true]) {
        const attrA = attr0.slice(), gattrA = gattr0.slice(), attrB = attr0.slice(), gattrB = gattr0.slice();
        writeCornerChannelsReference(topology, B, world, withNormals ? normals : null, attrA, gattrA);
        expect(bits32(attrA)).not.toEqual(bits32(attr0));
        for (const threads of [1, 3, 0]) {
          setThreads(threads);
          const a = attrB.slice(), g = gattrB.slice();
          writeCornerChannels(topology, B, world, withNormals ? normals : null, a, g);
          expect(bits32(a)).toEqual(bits32(attrA));
          expect(bits32(g)).toEqual(bits32(gattrA));
        }
      }
      const ga = Float32Array.from({ length: B * NC * GRAD_CHANNELS }, () => (r() < 0.3 ? 0 : r() - 0.5));
      const expected = Float64Array.from({ length: B * V * 3 }, () => r());
      gatherCornerNormalsReference(topology, B, ga, expected);
      for (const threads of [1, 3, 0]) {
        setThreads(threads);
        const out = Float64Array.from({ length: B * V * 3 }, () => 7);
        gatherCornerNormals(topology, B, ga, out);
        expect(bits64(out)).toEqual(bits64(expected));
      }
    }
    setThreads(0);
    // A corner table that names a vertex outside the mesh is refused by the binding, nothing written.
    const bad = { ...topology, cornerVertex: topology.cornerVertex.slice() };
    bad.cornerVertex[5] = V;
    const world = new Float32Array(V * 3), attr = new Float32Array(NC * AUX_CHANNELS).fill(3), gattr = new Float32Array(NC * GRAD_CHANNELS);
    const message = new RegExp(`cornerVertex\\[5\\] = ${V} is not a vertex index in \\[0, ${V}\\)`);
    expect(() => writeCornerChannels(bad, 1, world, null, attr, gattr)).toThrow(message);
    expect(attr.every((x) => x === 3)).toBe(true);
    expect(() => gatherCornerNormals(bad, 1, new Float32Array(NC * GRAD_CHANNELS), new Float64Array(V * 3))).toThrow(message);
  });
  it('a rast with a triangle id that is out of range, fractional or NaN is refused before anything is written', () => {
    const S = 32, camera = makeCamera(S);
    const ws = renderPair(new SceneWorkspace(topology, 2, S), camera, posedHead(0.25), posedHead(1.1));
    const before = snapshot(ws);
    const p = ws.covered[ws.numCovered - 1], good = ws.rast[4 * p + 3];
    for (const bad of [topology.faces.length / 3 + 1, 2.5, -1, Number.NaN]) {
      ws.rast[4 * p + 3] = bad;
      expect(() => coveragePass(ws, true)).toThrow(/sceneCoverage: rast holds a triangle id that is not an integer in \[0, \d+\]/);
      expect(snapshot(ws)).toEqual(before);
    }
    // Restored, the pass gives the render's lists again (texColor differs: renderScene adds the sampled pixels'
    // texture lookups after the pass).
    ws.rast[4 * p + 3] = good;
    coveragePass(ws, true);
    expect({ ...snapshot(ws), texColor: null }).toEqual({ ...before, texColor: null });
  });
});

describe('scene silhouette', () => {
  it('the colour is a texture lookup at every pixel (bit for bit), although only pixels of non-uniform triangles are looked up', () => {
    const S = 128, P = S * S, camera = makeCamera(S);
    const tex = topology.silhouette, shape = { height: topology.silhouetteSize, width: topology.silhouetteSize, channels: 1 };
    for (const yaw of [0.25, 1.1]) {
      const { world, noNeck } = posedHead(yaw);
      const ws = new SceneWorkspace(topology, 1, S);
      renderScene(ws, camera, world, noNeck, { normals: false, silhouette: true });
      const texc = new Float32Array(2 * P);
      for (let i = 0; i < P; i++) for (let c = 0; c < 2; c++) texc[2 * i + c] = ws.aux[i * AUX_CHANNELS + CH_TEXC + c];
      const full = texture(tex, shape, texc, 'wrap');
      let covered = 0;
      for (let i = 0; i < P; i++) {
        const expected = ws.rast[4 * i + 3] === 0 ? 0 : full[i];
        if (!Object.is(ws.texColor[i], expected)) expect.fail(`pixel ${i}: colour ${ws.texColor[i]}, lookup ${expected}`);
        covered += ws.rast[4 * i + 3] === 0 ? 0 : 1;
      }
      // The shortcut is real (most pixels are not looked up) and the lookups that remain straddle the mask's edge.
      expect(ws.numCovered).toBe(covered);
      expect(ws.numSampled).toBeGreaterThan(0);
      expect(ws.numSampled).toBeLessThan(0.25 * covered);
      // At the pixels that were not looked up, the lookup's texture-coordinate gradient is exactly +0.
      const r = rng(11);
      const gColor = Float32Array.from({ length: P }, () => r() - 0.5);
      const gUv = textureBackward(tex, shape, texc, gColor, 'wrap', { uv: true }).gradUv!;
      const sampled = new Set(Array.from(ws.sampled.subarray(0, ws.numSampled), (j) => ws.covered[j]));
      let nonzero = 0;
      for (let i = 0; i < P; i++) {
        if (ws.rast[4 * i + 3] === 0) continue;
        if (sampled.has(i)) nonzero += gUv[2 * i] !== 0 || gUv[2 * i + 1] !== 0 ? 1 : 0;
        else if (!Object.is(gUv[2 * i], 0) || !Object.is(gUv[2 * i + 1], 0)) expect.fail(`pixel ${i}: texture gradient ${gUv[2 * i]}, ${gUv[2 * i + 1]}`);
      }
      expect(nonzero).toBeGreaterThan(0);
    }
  });

  it('fg backward (texture + antialias) matches central differences at vertices of antialiased pixels', () => {
    const S = 64, P = S * S, camera = makeCamera(S);
    // A strong yaw brings the face region (texture 1) to the occluding contour, where antialiasing acts.
    const { world, noNeck } = posedHead(1.1);
    const r = rng(8);
    const gF = Float32Array.from({ length: P }, () => r() - 0.5);
    const ws = new SceneWorkspace(topology, 1, S);
    const loss = () => {
      renderScene(ws, camera, world, noNeck, { normals: false, silhouette: true });
      let t = 0;
      for (let i = 0; i < P; i++) t += gF[i] * ws.fg[i];
      return t;
    };
    loss();
    const ids0 = Float32Array.from({ length: P }, (_, i) => ws.rast[4 * i + 3]);
    const gWorld = renderSceneBackward(ws, { uvImages: null, normalImages: null, fg: gF }).world.slice();
    // Vertices with a silhouette gradient: antialiased pixels (fg != texture colour) and texture-edge pixels.
    const near = nearBarycentricBound(ws.rast, P);
    const cand = new Set<number>();
    for (let v = 0; v < V; v++) if ((gWorld[3 * v] !== 0 || gWorld[3 * v + 1] !== 0) && !near[v]) cand.add(v);
    expect(cand.size).toBeGreaterThan(8);
    const scale = Math.max(...Array.from(gWorld, Math.abs));
    let checked = 0;
    for (const v of [...cand].slice(0, 40)) {
      for (let k = 0; k < 2; k++) {
        const i = 3 * v + k, x = world[i], h = 2e-5;
        world[i] = x + h;
        const hp = world[i];
        const fp = loss();
        const same1 = ids0.every((id, p) => ws.rast[4 * p + 3] === id);
        world[i] = x - h;
        const hm = world[i];
        const fm = loss();
        const same2 = ids0.every((id, p) => ws.rast[4 * p + 3] === id);
        world[i] = x;
        if (!same1 || !same2) continue;
        const fd = (fp - fm) / (hp - hm);
        expect(Math.abs(fd - gWorld[i]), `vertex ${v} axis ${k}: fd ${fd} analytic ${gWorld[i]}`).toBeLessThan(0.03 * Math.abs(fd) + 3e-3 * scale);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(12);
  });
});

describe('tracking assets', () => {
  it('the synthetic silhouette texture is 1 exactly at texels whose (1-(col+.5)/W, 1-(row+.5)/H) is in a face/eye UV triangle', () => {
    // Small texture so that the brute-force point-in-triangle reference is cheap.
    const size = 64;
    const tex = silhouetteTexture(size, assets.cornerUvs, assets.uvFaces, model.faces, assets.vertexMasks.faceEyes);
    const F = model.numFaces;
    // Face/eye triangles with their UV corners (the reference tests every texel against all of them).
    const tris: number[][][] = [];
    for (let f = 0; f < F; f++) {
      if (![0, 1, 2].every((k) => assets.vertexMasks.faceEyes[model.faces[3 * f + k]])) continue;
      tris.push([0, 1, 2].map((k) => [assets.cornerUvs[2 * assets.uvFaces[3 * f + k]], assets.cornerUvs[2 * assets.uvFaces[3 * f + k] + 1]]));
    }
    let ones = 0;
    for (let row = 0; row < size; row++) for (let col = 0; col < size; col++) {
      const u = 1 - (col + 0.5) / size, v = 1 - (row + 0.5) / size;
      let inside = false;
      for (const p of tris) {
        if (inside) break;
        const d = (a: number[], b: number[]) => (b[0] - a[0]) * (v - a[1]) - (b[1] - a[1]) * (u - a[0]);
        const e = [d(p[0], p[1]), d(p[1], p[2]), d(p[2], p[0])];
        inside = (e[0] >= -1e-12 && e[1] >= -1e-12 && e[2] >= -1e-12) || (e[0] <= 1e-12 && e[1] <= 1e-12 && e[2] <= 1e-12);
      }
      expect(tex[row * size + col], `texel ${col},${row}`).toBe(inside ? 1 : 0);
      ones += tex[row * size + col];
    }
    expect(ones).toBeGreaterThan(0.1 * size * size);
    expect(assets.silhouette.size).toBe(2048);
    // The corners (background texc = 0) read 0.
    expect(assets.silhouette.data[0]).toBe(0);
  }, 20000);

  it('the synthetic valid set excludes the eyeballs and the eye region; irises are the eyeballs\' front poles', () => {
    const excluded = new Set([...model.masks.left_eyeball, ...model.masks.right_eyeball, ...model.masks.eye_region]);
    expect(assets.uvValidVertices.length).toBeGreaterThan(500);
    for (const v of assets.uvValidVertices) {
      expect(excluded.has(v)).toBe(false);
      expect(assets.vertexMasks.face[v]).toBe(1);
    }
    expect(model.masks.right_eyeball[0]).toBe(assets.iris.wflw96);
    expect(model.masks.left_eyeball[0]).toBe(assets.iris.wflw97);
    // The mirror is an involution on the synthetic head.
    for (let v = 0; v < V; v += 7) expect(assets.mirror[assets.mirror[v]]).toBe(v);
  });

  it('loadTrackingAssets reads a Pixel3DMM-layout folder (obj, npy int64/float64, png) back exactly', async () => {
    // The built-in head's assets written in Pixel3DMM's file formats (a 256² mask to keep the test fast).
    const dir = mkdtempSync(join(tmpdir(), 'p3dmm-assets-'));
    writeFileSync(join(dir, 'head_template.obj'), writeObj({ positions: model.vTemplate, faces: model.faces, uvs: assets.cornerUvs, faceUvs: assets.uvFaces }));
    const i8 = (a: Int32Array) => writeNpy(new NdArray('<i8', [a.length], BigInt64Array.from(a, (x) => BigInt(x))));
    writeFileSync(join(dir, 'flame_uv_coords.npy'), writeNpy(new NdArray('<f8', [V, 2], assets.vertexUvs.slice())));
    writeFileSync(join(dir, 'uv_valid_verty_noEyes_noEyeRegion_debug_wEars.npy'), i8(assets.uvValidVertices));
    writeFileSync(join(dir, 'flame_mirror_index.npy'), i8(assets.mirror));
    const size = 256;
    const tex = silhouetteTexture(size, assets.cornerUvs, assets.uvFaces, model.faces, assets.vertexMasks.faceEyes);
    const rgb = Buffer.alloc(size * size * 3);
    for (let i = 0; i < size * size; i++) rgb.fill(tex[i] ? 255 : 0, 3 * i, 3 * i + 3);
    await sharp(rgb, { raw: { width: size, height: size, channels: 3 } }).png().toFile(join(dir, 'uv_mask_eyes.png'));
    const loaded = await loadTrackingAssets(dir, model);
    expect(Array.from(loaded.uvFaces)).toEqual(Array.from(assets.uvFaces));
    expect(Array.from(loaded.cornerUvs)).toEqual(Array.from(assets.cornerUvs));
    expect(Array.from(loaded.vertexUvs)).toEqual(Array.from(assets.vertexUvs));
    expect(Array.from(loaded.uvValidVertices)).toEqual(Array.from(assets.uvValidVertices));
    expect(loaded.uvValidVerticesStrict).toBeNull(); // optional file absent
    expect(Array.from(loaded.mirror)).toEqual(Array.from(assets.mirror));
    expect(loaded.silhouette.size).toBe(size);
    expect(Array.from(loaded.silhouette.data)).toEqual(Array.from(tex));
    expect(Array.from(loaded.vertexMasks.faceEyes)).toEqual(Array.from(assets.vertexMasks.faceEyes));
    expect(loaded.iris).toEqual({ wflw96: 4597, wflw97: 4051 });
    // A bad index names the file and the entry.
    const bad = assets.mirror.slice();
    bad[17] = V;
    writeFileSync(join(dir, 'flame_mirror_index.npy'), i8(bad));
    await expect(loadTrackingAssets(dir, model)).rejects.toThrow(/flame_mirror_index\.npy: entry 17 is 5023, expected a vertex index in \[0, 5023\)/);
  });

  it('loadTrackingAssets names the missing file and where it comes from', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'p3dmm-assets-'));
    await expect(loadTrackingAssets(dir, model)).rejects.toThrow(MissingTrackingAssetError);
    await expect(loadTrackingAssets(dir, model)).rejects.toThrow(/head_template\.obj: not found.*Pixel3DMM repository's assets/);
    writeFileSync(join(dir, 'head_template.obj'), 'v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nf 1/1 2/2 3/3\n');
    await expect(loadTrackingAssets(dir, model)).rejects.toThrow(/head_template\.obj: has 1 triangles, expected 9976/);
  });
});

// `pixel3dmm bench raster`: median times of the rasterizer chain of one tracker iteration (rasterize; interpolate
// of 17 channels as two calls: 2 UV channels through the UV index buffer and 15 per-vertex channels; bilinear
// texture of a 2048² one-channel mask; antialias of the textured mask), forward and forward plus backward (the vertex
// channels' interpolate backward and rasterize's in one pass, interpolateRasterizeBackward).
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Flame, builtInFlameModel, defaultFlameParams } from '@pixel3dmm/flame';
import { readObj, readPly } from '@pixel3dmm/formats';
import { kernelInfo, measureMemoryBandwidth, nativeAddon } from '@pixel3dmm/kernels';
import {
  antialias,
  antialiasBackward,
  antialiasTopology,
  antialiasWorkBuffer,
  interpolate,
  interpolateBackward,
  interpolateRasterizeBackward,
  rasterize,
  rasterizeBackward,
  texture,
  textureBackward,
} from '@pixel3dmm/render';
import { buildRasterScene, uvMaskTexture, UV_CHANNELS, type RasterMesh, type RasterScene } from '../raster-scene.js';
import { medianMs } from '../timing.js';

const TEX_SIDE = 2048;

function loadMesh(file: string | undefined): RasterMesh {
  if (!file) {
    const model = builtInFlameModel();
    const ev = new Flame(model).evaluate([defaultFlameParams()]);
    return { positions: ev.vertices.slice(0, 3 * model.numVertices), faces: model.faces, uv: model.uv, source: model.source };
  }
  const bytes = new Uint8Array(readFileSync(file));
  if (file.toLowerCase().endsWith('.ply')) {
    const m = readPly(bytes, file);
    return { positions: Float32Array.from(m.positions), faces: m.faces, source: file };
  }
  const m = readObj(bytes, file);
  return {
    positions: Float32Array.from(m.positions),
    faces: m.faces,
    uv: m.faceUvs && m.uvs.length ? { uvs: Float32Array.from(m.uvs), faceUvs: m.faceUvs } : undefined,
    source: file,
  };
}

/** Runs the chain on a scene; `backward` also runs every backward pass (gradients summed as the tracker does). */
export function rasterChain(s: RasterScene, tex: Float32Array, opp: Int32Array) {
  const B = s.batch, S = s.size;
  const shape = { batch: B, height: S, width: S };
  const texShape = { height: TEX_SIDE, width: TEX_SIDE, channels: 1 };
  const uvShape = { batch: 1, vertices: s.uvVertices, channels: UV_CHANNELS };
  const attrShape = { batch: B, vertices: s.V, channels: s.attrChannels };
  const rast = new Float32Array(B * S * S * 4);
  const uvImg = new Float32Array(B * S * S * UV_CHANNELS);
  const attrImg = new Float32Array(B * S * S * s.attrChannels);
  const mask = new Float32Array(B * S * S);
  const fg = new Float32Array(B * S * S);
  // The antialias forward's records, reused by its backward as the tracker does (AntialiasOptions.work).
  const work = antialiasWorkBuffer(shape);
  const ops = {
    rasterize: () => rasterize(s.pos, s.V, s.tri, B, S, S, rast),
    interpolate: () => {
      interpolate(s.uv, uvShape, rast, shape, s.uvTri, uvImg);
      interpolate(s.attr, attrShape, rast, shape, s.tri, attrImg);
    },
    texture: () => texture(tex, texShape, uvImg, 'wrap', mask),
    antialias: () => antialias(mask, 1, rast, shape, s.pos, s.V, s.tri, opp, fg, { work }),
  };
  // Loss gradients: dense on every output (the tracker's per-pixel losses).
  const gFg = Float32Array.from({ length: B * S * S }, (_, i) => Math.sin(i * 0.37));
  const gAttr = Float32Array.from({ length: attrImg.length }, (_, i) => Math.cos(i * 0.11));
  const gUv = Float32Array.from({ length: uvImg.length }, (_, i) => Math.sin(i * 0.23));
  const forward = () => {
    ops.rasterize();
    ops.interpolate();
    ops.texture();
    ops.antialias();
  };
  // Gradient buffers, allocated once and reused by every iteration (as an optimisation loop does).
  const N = B * S * S;
  const g = {
    aaColor: new Float32Array(N),
    aaPos: new Float32Array(B * s.V * 4),
    texUv: new Float32Array(N * 2),
    uvTotal: new Float32Array(N * 2),
    uvRast: new Float32Array(N * 2),
    attrRast: new Float32Array(N * 2),
    attr: new Float32Array(B * s.V * s.attrChannels),
    pos: new Float32Array(B * s.V * 4),
  };
  const backward = () => {
    antialiasBackward(mask, 1, rast, shape, s.pos, s.V, s.tri, gFg, opp, {}, { gradColor: g.aaColor, gradPos: g.aaPos }, { work });
    // Gradients that meet are summed by the kernels (accumulate options), not in JS.
    g.uvTotal.set(gUv);
    textureBackward(tex, texShape, uvImg, g.aaColor, 'wrap', { uv: true }, { gradUv: g.uvTotal, accumulateUv: true });
    interpolateBackward(s.uv, uvShape, rast, shape, s.uvTri, g.uvTotal, { attr: false, rast: true }, { gradRast: g.uvRast });
    // The vertex channels' backward and rasterize's in one pass (the bits of interpolateBackward with accumulateRast
    // onto the UVs' rast gradient, then rasterizeBackward).
    interpolateRasterizeBackward(s.attr, attrShape, rast, shape, s.tri, gAttr, s.pos, s.V, s.tri, { gradRast: g.uvRast },
      { gradAttr: g.attr, gradPos: g.aaPos, accumulatePos: true });
    return { gradPos: g.aaPos, gradAttr: g.attr };
  };
  const bwdOps = {
    antialias: () => antialiasBackward(mask, 1, rast, shape, s.pos, s.V, s.tri, gFg, opp, {}, { gradColor: g.aaColor, gradPos: g.aaPos }, { work }),
    texture: () => textureBackward(tex, texShape, uvImg, gFg, 'wrap', { uv: true }, { gradUv: g.texUv }),
    interpolate: () => {
      interpolateBackward(s.uv, uvShape, rast, shape, s.uvTri, gUv, { attr: false, rast: true }, { gradRast: g.uvRast });
      interpolateBackward(s.attr, attrShape, rast, shape, s.tri, gAttr, { attr: true, rast: true }, { gradAttr: g.attr, gradRast: g.attrRast });
    },
    rasterize: () => rasterizeBackward(s.pos, s.V, s.tri, B, S, S, rast, gUv, g.pos),
    interpolateRasterize: () => {
      interpolateBackward(s.uv, uvShape, rast, shape, s.uvTri, gUv, { attr: false, rast: true }, { gradRast: g.uvRast });
      interpolateRasterizeBackward(s.attr, attrShape, rast, shape, s.tri, gAttr, s.pos, s.V, s.tri, { gradRast: g.uvRast }, { gradAttr: g.attr, gradPos: g.pos });
    },
  };
  return { ops, bwdOps, forward, backward, rast, uvImg, attrImg, mask, fg };
}

export interface BenchRasterOptions {
  mesh?: string;
  size: number;
  batch: number;
  device: string;
  json?: boolean;
  /** Minimum timed runs and milliseconds per figure (tests use small values). */
  runs?: number;
  minMs?: number;
}

export function benchRasterCommand(opts: BenchRasterOptions): void {
  if (opts.device === 'cuda') {
    const info = (nativeAddon() as unknown as { info(): Record<string, unknown> }).info();
    if (info.rasterCuda !== true) {
      const msg = 'CUDA raster kernels are not available yet: this addon has only CPU rasterizer kernels (run with --device cpu)';
      if (opts.json) console.log(JSON.stringify({ device: 'cuda', available: false, error: msg }));
      else console.error(`pixel3dmm bench raster: ${msg}`);
      process.exitCode = 2;
      return;
    }
  }
  if (opts.device !== 'cpu' && opts.device !== 'cuda') throw new Error(`--device must be cpu or cuda, got ${opts.device}`);
  const mesh = loadMesh(opts.mesh);
  const S = opts.size, B = opts.batch;
  const scene = buildRasterScene(mesh, S, B);
  const tex = uvMaskTexture(TEX_SIDE);
  const opp = antialiasTopology(scene.tri, scene.V);
  const c = rasterChain(scene, tex, opp);
  const runs = opts.runs ?? 30;
  const minMs = opts.minMs ?? 500;
  c.forward();
  let covered = 0;
  for (let i = 3; i < c.rast.length; i += 4) if (c.rast[i] !== 0) covered++;
  const ms = {
    rasterize: medianMs(c.ops.rasterize, { minRuns: runs, minMs }),
    interpolate17: medianMs(c.ops.interpolate, { minRuns: runs, minMs }),
    texture: medianMs(c.ops.texture, { minRuns: runs, minMs }),
    antialias: medianMs(c.ops.antialias, { minRuns: runs, minMs }),
    forward: medianMs(c.forward, { minRuns: runs, minMs }),
    forwardBackward: medianMs(() => {
      c.forward();
      c.backward();
    }, { minRuns: runs, minMs }),
  };
  // Backward passes alone (after one forward), for the breakdown.
  const backwardMs = {
    rasterize: medianMs(c.bwdOps.rasterize, { minRuns: runs, minMs }),
    interpolate17: medianMs(c.bwdOps.interpolate, { minRuns: runs, minMs }),
    interpolate17AndRasterize: medianMs(c.bwdOps.interpolateRasterize, { minRuns: runs, minMs }),
    texture: medianMs(c.bwdOps.texture, { minRuns: runs, minMs }),
    antialias: medianMs(c.bwdOps.antialias, { minRuns: runs, minMs }),
  };
  const perImage = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, v / B])) as typeof ms;
  const info = kernelInfo();
  // Context for the figures: this machine's streaming read bandwidth and its load (other processes share the cores).
  const memoryReadGBs = measureMemoryBandwidth(256);
  const result = {
    mesh: scene.source,
    vertices: scene.V,
    triangles: scene.T,
    size: S,
    batch: B,
    device: 'cpu',
    machine: `${cpus()[0]?.model ?? 'unknown CPU'}, ${info.threads} threads`,
    memoryReadGBs,
    loadAverage: loadavg()[0],
    coveredFraction: covered / (B * S * S),
    fill: scene.fill,
    channels: { interpolate: UV_CHANNELS + scene.attrChannels, texture: `${TEX_SIDE}x${TEX_SIDE}x1 bilinear`, antialias: 1 },
    medianMs: ms,
    perImageMs: perImage,
    backwardMs,
  };
  if (opts.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  console.log(`rasterizer chain, ${result.mesh} (${scene.V} vertices, ${scene.T} triangles), ${S}x${S}, batch ${B}, cpu (${result.machine})`);
  console.log(`read bandwidth ${memoryReadGBs.toFixed(1)} GB/s, load average ${result.loadAverage.toFixed(2)}`);
  console.log(`head spans ${(100 * scene.fill.x).toFixed(0)}% x ${(100 * scene.fill.y).toFixed(0)}% of the image, ` +
    `${(100 * result.coveredFraction).toFixed(0)}% of the pixels covered`);
  console.log('op                                   median ms   ms per image');
  const names: [keyof typeof ms, string][] = [
    ['rasterize', 'rasterize'],
    ['interpolate17', 'interpolate (2 UV + 15 vertex channels)'],
    ['texture', 'texture 2048² x1 bilinear'],
    ['antialias', 'antialias (1 channel)'],
    ['forward', 'forward chain'],
    ['forwardBackward', 'forward + backward chain'],
  ];
  for (const [k, label] of names) {
    console.log(`${label.padEnd(36)} ${ms[k].toFixed(3).padStart(9)}   ${perImage[k].toFixed(3).padStart(12)}`);
  }
  console.log(`backward passes alone, median ms: ${Object.entries(backwardMs).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`);
}

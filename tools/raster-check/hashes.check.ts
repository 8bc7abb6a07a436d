// Records (RASTER_CHECK=record) or compares (default) sha256 of every output of every rasterizer op, forward and
// backward, over several meshes / poses / sizes / batches and thread counts. Outputs are kept in
// $RASTER_CHECK_DIR (default /tmp/raster-check) so that differing backward outputs can be compared numerically.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { setThreads } from '@pixel3dmm/kernels';
import { makeRng } from '@pixel3dmm/kernels/testing/random-flame';
import { Flame, builtInFlameModel, defaultFlameParams } from '@pixel3dmm/flame';
import {
  antialias,
  antialiasBackward,
  antialiasTopology,
  interpolate,
  interpolateBackward,
  rasterize,
  rasterizeBackward,
  texture,
  textureBackward,
} from '@pixel3dmm/render';
import { buildRasterScene, uvMaskTexture } from '../../packages/pixel3dmm/src/raster-scene.js';

const DIR = process.env.RASTER_CHECK_DIR ?? '/tmp/raster-check';
const MODE = process.env.RASTER_CHECK ?? 'compare';

interface Case {
  name: string;
  V: number;
  tri: Int32Array;
  pos: Float32Array;
  B: number;
  H: number;
  W: number;
  uv: Float32Array;
  uvTri: Int32Array;
  attr: Float32Array; // [B,V,C]
  C: number;
}

function randomSoup(seed: number, T: number, B: number, H: number, W: number): Case {
  const r = makeRng(seed).uniform;
  const V = 3 * T;
  const pos = new Float32Array(B * V * 4);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const cx = r() * 2.4 - 1.2, cy = r() * 2.4 - 1.2;
      const size = r() < 0.1 ? 1.5 : 0.15;
      for (let k = 0; k < 3; k++) {
        const w = 0.3 + 2 * r();
        const o = (b * V + 3 * t + k) * 4;
        pos[o] = (cx + (r() - 0.5) * size) * w;
        pos[o + 1] = (cy + (r() - 0.5) * size) * w;
        pos[o + 2] = (r() * 2.4 - 1.3) * w; // some behind the near plane, some beyond far
        pos[o + 3] = r() < 0.03 ? -w : w;
      }
    }
  }
  const tri = Int32Array.from({ length: 3 * T }, (_, i) => (i % 97 === 5 ? i - 1 : i)); // a few degenerate
  const uv = Float32Array.from({ length: 2 * V }, () => r() * 1.4 - 0.2);
  const C = 5;
  const attr = Float32Array.from({ length: B * V * C }, () => r() * 2 - 1);
  return { name: `soup${seed}-T${T}-B${B}-${H}x${W}`, V, tri, pos, B, H, W, uv, uvTri: tri, attr, C };
}

function head(size: number, B: number, H = size, W = size): Case {
  const model = builtInFlameModel();
  const ev = new Flame(model).evaluate([defaultFlameParams()]);
  const s = buildRasterScene({ positions: ev.vertices.slice(0, 3 * model.numVertices), faces: model.faces, uv: model.uv, source: 'head' }, size, B);
  return { name: `head-B${B}-${H}x${W}`, V: s.V, tri: s.tri, pos: s.pos, B, H, W, uv: s.uv, uvTri: s.uvTri, attr: s.attr, C: s.attrChannels };
}

function sphere(n: number, B: number, S: number): Case {
  const V = n * n;
  const tri: number[] = [];
  for (let j = 0; j < n - 1; j++)
    for (let i = 0; i < n; i++) {
      const a = j * n + i, b = j * n + ((i + 1) % n), c = (j + 1) * n + i, d = (j + 1) * n + ((i + 1) % n);
      tri.push(a, b, d, a, d, c);
    }
  const pos = new Float32Array(B * V * 4);
  for (let bb = 0; bb < B; bb++)
    for (let j = 0; j < n; j++)
      for (let i = 0; i < n; i++) {
        const th = (Math.PI * j) / (n - 1), ph = (2 * Math.PI * i) / n + 0.1 * bb;
        const x = 0.8 * Math.sin(th) * Math.cos(ph), y = 0.8 * Math.cos(th), z = 0.8 * Math.sin(th) * Math.sin(ph) - 3;
        const o = (bb * V + j * n + i) * 4;
        pos[o] = 2.5 * x;
        pos[o + 1] = 2.5 * y;
        pos[o + 2] = -1.02 * z - 0.2;
        pos[o + 3] = -z;
      }
  const uv = new Float32Array(2 * V).map((_, k) => ((k * 0.37) % 1));
  const C = 3;
  const attr = new Float32Array(B * V * C).map((_, k) => Math.sin(k));
  return { name: `sphere${n}-B${B}-${S}`, V, tri: Int32Array.from(tri), pos, B, H: S, W: S, uv, uvTri: Int32Array.from(tri), attr, C };
}

function sha(a: ArrayBufferView): string {
  return createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex').slice(0, 24);
}

function runCase(c: Case, tex: Float32Array, texSide: number): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  const shape = { batch: c.B, height: c.H, width: c.W };
  const rast = rasterize(c.pos, c.V, c.tri, c.B, c.H, c.W);
  out.rast = rast;
  const N = c.B * c.H * c.W;
  const r = makeRng(123).uniform;
  const gRast = Float32Array.from({ length: 2 * N }, () => r() - 0.5);
  out.rastBwd = rasterizeBackward(c.pos, c.V, c.tri, c.B, c.H, c.W, rast, gRast);
  const aShape = { batch: c.B, vertices: c.V, channels: c.C };
  out.interp = interpolate(c.attr, aShape, rast, shape, c.tri);
  const bShape = { batch: 1, vertices: c.V, channels: c.C };
  out.interpBcast = interpolate(c.attr.subarray(0, c.V * c.C), bShape, rast, shape, c.tri);
  const uvShape = { batch: 1, vertices: c.uv.length / 2, channels: 2 };
  const uvImg = interpolate(c.uv, uvShape, rast, shape, c.uvTri);
  out.uvImg = uvImg;
  const gI = Float32Array.from({ length: N * c.C }, () => r() - 0.5);
  const ib = interpolateBackward(c.attr, aShape, rast, shape, c.tri, gI);
  out.interpBwdAttr = ib.gradAttr!;
  out.interpBwdRast = ib.gradRast!;
  const ibb = interpolateBackward(c.attr.subarray(0, c.V * c.C), bShape, rast, shape, c.tri, gI);
  out.interpBcastBwdAttr = ibb.gradAttr!;
  const gU = Float32Array.from({ length: N * 2 }, () => r() - 0.5);
  out.uvBwdRast = interpolateBackward(c.uv, uvShape, rast, shape, c.uvTri, gU, { attr: false }).gradRast!;
  const tShape = { height: texSide, width: texSide, channels: 1 };
  for (const mode of ['wrap', 'clamp'] as const) {
    const m = texture(tex, tShape, uvImg, mode);
    out[`tex-${mode}`] = m;
    const gT = Float32Array.from({ length: N }, () => r() - 0.5);
    const tb = textureBackward(tex, tShape, uvImg, gT, mode, { uv: true, tex: texSide <= 256 });
    out[`texBwdUv-${mode}`] = tb.gradUv!;
    if (tb.gradTex) out[`texBwdTex-${mode}`] = tb.gradTex;
  }
  const opp = antialiasTopology(c.tri, c.V);
  const mask = out['tex-wrap'];
  out.aa1 = antialias(mask, 1, rast, shape, c.pos, c.V, c.tri, opp);
  const gA = Float32Array.from({ length: N }, () => r() - 0.5);
  const ab = antialiasBackward(mask, 1, rast, shape, c.pos, c.V, c.tri, gA, opp);
  out.aa1BwdColor = ab.gradColor!;
  out.aa1BwdPos = ab.gradPos!;
  out.aaC = antialias(out.interp, c.C, rast, shape, c.pos, c.V, c.tri, opp);
  const abC = antialiasBackward(out.interp, c.C, rast, shape, c.pos, c.V, c.tri, gI, opp);
  out.aaCBwdColor = abC.gradColor!;
  out.aaCBwdPos = abC.gradPos!;
  return out;
}

it('rasterizer outputs match the recorded hashes', () => {
  mkdirSync(DIR, { recursive: true });
  const texBig = uvMaskTexture(2048);
  const texSmall = Float32Array.from({ length: 64 * 64 }, (_, i) => Math.sin(i * 0.7));
  const cases: [Case, Float32Array, number][] = [
    [head(256, 1), texBig, 2048],
    [head(256, 3), texBig, 2048],
    [head(512, 1), texBig, 2048],
    [head(64, 2, 64, 64), texSmall, 64],
    [sphere(60, 2, 256), texSmall, 64],
    [randomSoup(1, 300, 2, 250, 300), texSmall, 64],
    [randomSoup(2, 2000, 1, 100, 37), texSmall, 64],
  ];
  const file = join(DIR, 'hashes.json');
  const recorded: Record<string, string> = MODE === 'record' || !existsSync(file) ? {} : JSON.parse(readFileSync(file, 'utf8'));
  const now: Record<string, string> = {};
  const problems: string[] = [];
  for (const threads of [1, 2, 3]) {
    setThreads(threads);
    for (const [c, tex, side] of cases) {
      const out = runCase(c, tex, side);
      for (const [k, v] of Object.entries(out)) {
        const key = `${c.name}/${k}`;
        const h = sha(v);
        if (threads === 1) now[key] = h;
        else if (now[key] !== h) problems.push(`${key}: threads=${threads} differs from threads=1`);
        const bin = join(DIR, `${key.replace('/', '__')}.bin`);
        if (MODE === 'record' && threads === 1) writeFileSync(bin, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
        if (MODE !== 'record' && threads === 1 && recorded[key] !== undefined && recorded[key] !== h) {
          const ref = new Float32Array(new Uint8Array(readFileSync(bin)).buffer);
          let maxAbs = 0, maxRel = 0, scale = 0;
          for (let i = 0; i < ref.length; i++) scale = Math.max(scale, Math.abs(ref[i]));
          for (let i = 0; i < ref.length; i++) {
            const d = Math.abs(ref[i] - v[i]);
            maxAbs = Math.max(maxAbs, d);
            maxRel = Math.max(maxRel, d / Math.max(Math.abs(ref[i]), 1e-30));
          }
          problems.push(`${key}: hash differs (max abs ${maxAbs.toExponential(2)}, max rel ${maxRel.toExponential(2)}, abs/scale ${(maxAbs / scale).toExponential(2)})`);
        }
      }
    }
  }
  setThreads(0);
  if (MODE === 'record') writeFileSync(file, JSON.stringify(now, null, 1));
  console.log(`${Object.keys(now).length} outputs; ${problems.length} problems`);
  for (const p of problems) console.log(p);
  expect(problems).toEqual([]);
});

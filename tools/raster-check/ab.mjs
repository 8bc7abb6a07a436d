// Interleaved A/B timing of the native rasterizer ops (direct addon calls, same inputs): BASE_ADDON (default: a
// build of bd5d23a in /tmp/base/build2) against NEW_ADDON (default: this checkout's build). Needs `npx tsc -b
// packages/pixel3dmm` first. Usage: node tools/raster-check/ab.mjs BATCH ITERATIONS [THREADS (0 = all)] [op,op,...]
// An addon that has antialiasWorkSize gets an antialias work buffer (filled by its antialias forward, read by its
// antialias backward, as the tracker does), so 'b:antialias' there is timed after the forward that filled it.
import { createRequire } from 'node:module';
import { buildRasterScene, uvMaskTexture } from '../../packages/pixel3dmm/dist/raster-scene.js';
import { antialiasTopology } from '@pixel3dmm/render';
import { Flame, builtInFlameModel, defaultFlameParams } from '@pixel3dmm/flame';
const require = createRequire(import.meta.url);
const A = require(process.env.BASE_ADDON ?? '/tmp/base/build2/Release/pixel3dmm_kernels.node');
const Bn = require(process.env.NEW_ADDON ?? new URL('../../packages/kernels/build/Release/pixel3dmm_kernels.node', import.meta.url).pathname);
const [Bt, iters, thr, only] = [+process.argv[2], +process.argv[3], +(process.argv[4] ?? 0), process.argv[5]];
A.setThreads(thr); Bn.setThreads(thr);
const model = builtInFlameModel();
const ev = new Flame(model).evaluate([defaultFlameParams()]);
const s = buildRasterScene({ positions: ev.vertices.slice(0, 3 * model.numVertices), faces: model.faces, uv: model.uv, source: 'h' }, 256, Bt);
const S = 256, N = Bt * S * S, V = s.V, tex = uvMaskTexture(2048), opp = antialiasTopology(s.tri, V);
function bufs() {
  return { rast: new Float32Array(N * 4), uvImg: new Float32Array(N * 2), attrImg: new Float32Array(N * 15), mask: new Float32Array(N), fg: new Float32Array(N),
    gc: new Float32Array(N), work: undefined, gp: new Float32Array(Bt * V * 4), gp2: new Float32Array(Bt * V * 4), guv: new Float32Array(N * 2), gr1: new Float32Array(N * 2), gr2: new Float32Array(N * 2), ga: new Float32Array(Bt * V * 15) };
}
const gFg = Float32Array.from({ length: N }, (_, i) => Math.sin(i * 0.37));
const gAttr = Float32Array.from({ length: N * 15 }, (_, i) => Math.cos(i * 0.11));
const gUv = Float32Array.from({ length: N * 2 }, (_, i) => Math.sin(i * 0.23));
function ops(X, b) {
  const sh = { batch: Bt, height: S, width: S };
  if (X.antialiasWorkSize) b.work = new Int32Array(X.antialiasWorkSize(sh));
  const o = {
    rasterize: () => X.rasterize({ pos: s.pos, numVertices: V, tri: s.tri, ...sh, rast: b.rast }),
    interpolate: () => { X.interpolate({ attr: s.uv, attrBatch: 1, attrVertices: s.uvVertices, channels: 2, rast: b.rast, ...sh, attrTri: s.uvTri, out: b.uvImg });
      X.interpolate({ attr: s.attr, attrBatch: Bt, attrVertices: V, channels: 15, rast: b.rast, ...sh, attrTri: s.tri, out: b.attrImg }); },
    texture: () => X.texture({ tex, texHeight: 2048, texWidth: 2048, channels: 1, wrap: 1, uv: b.uvImg, out: b.mask }),
    antialias: () => X.antialias({ color: b.mask, channels: 1, rast: b.rast, ...sh, pos: s.pos, numVertices: V, tri: s.tri, opp, out: b.fg, work: b.work }),
    'b:antialias': () => X.antialiasBackward({ color: b.mask, channels: 1, rast: b.rast, ...sh, pos: s.pos, numVertices: V, tri: s.tri, opp, gradOut: gFg, gradColor: b.gc, gradPos: b.gp2, work: b.work }),
    'b:texture': () => X.textureBackward({ tex, texHeight: 2048, texWidth: 2048, channels: 1, wrap: 1, uv: b.uvImg, gradOut: gFg, gradUv: b.guv }),
    'b:interpolate': () => { X.interpolateBackward({ attr: s.uv, attrBatch: 1, attrVertices: s.uvVertices, channels: 2, rast: b.rast, ...sh, attrTri: s.uvTri, gradOut: gUv, gradRast: b.gr1 });
      X.interpolateBackward({ attr: s.attr, attrBatch: Bt, attrVertices: V, channels: 15, rast: b.rast, ...sh, attrTri: s.tri, gradOut: gAttr, gradAttr: b.ga, gradRast: b.gr2 }); },
    'b:rasterize': () => X.rasterizeBackward({ pos: s.pos, numVertices: V, tri: s.tri, ...sh, rast: b.rast, gradRast: b.gr2, gradPos: b.gp }),
  };
  o.forward = () => { o.rasterize(); o.interpolate(); o.texture(); o.antialias(); };
  o.fwdbwd = () => { o.forward(); o['b:antialias'](); o['b:texture'](); o['b:interpolate'](); o['b:rasterize'](); };
  return o;
}
const bA = bufs(), bB = bufs();
const oA = ops(A, bA), oB = ops(Bn, bB);
oA.forward(); oB.forward();
const names = only ? only.split(',') : ['rasterize', 'interpolate', 'texture', 'antialias', 'forward', 'b:rasterize', 'b:interpolate', 'b:texture', 'b:antialias', 'fwdbwd'];
const row = (n, x) => x.toFixed(3).padStart(8);
console.log(`B=${Bt} threads=${thr || 'all'} iters=${iters}   [ms: base min / med   new min / med   speed-up of min]`);
for (const n of names) {
  const ta = [], tb = [];
  for (let i = 0; i < 3; i++) { oA[n](); oB[n](); }
  for (let i = 0; i < iters; i++) {
    let t0 = performance.now(); oA[n](); ta.push(performance.now() - t0);
    t0 = performance.now(); oB[n](); tb.push(performance.now() - t0);
  }
  ta.sort((x, y) => x - y); tb.sort((x, y) => x - y);
  const m = (a) => a[a.length >> 1];
  console.log(`${n.padEnd(14)} ${row(0, ta[0])} ${row(0, m(ta))}   ${row(0, tb[0])} ${row(0, m(tb))}   x${(ta[0] / tb[0]).toFixed(2)}`);
}

// Random but well-formed FLAME-like kernel inputs for tests and benchmarks of the kernel alone: smooth-ish
// bases of FLAME's magnitudes, skin weights summing to one, a sparse joint regressor, a landmark embedding.
import type { FlameKernelArrays } from '../flame.js';

/** Deterministic PRNG (mulberry32) and a Box-Muller normal. */
export function makeRng(seed: number): { uniform: () => number; normal: () => number } {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => {
    const u = Math.max(uniform(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
  return { uniform, normal };
}

export interface RandomFlameOptions {
  numVertices?: number;
  numShape?: number;
  numExpression?: number;
  seed?: number;
  landmarks?: boolean;
}

export function makeRandomFlameArrays(o: RandomFlameOptions = {}): FlameKernelArrays {
  const V = o.numVertices ?? 200;
  const nS = o.numShape ?? 12;
  const nE = o.numExpression ?? 8;
  const rng = makeRng(o.seed ?? 1);
  const n3 = 3 * V;
  const vTemplate = new Float32Array(n3);
  for (let i = 0; i < n3; i++) vTemplate[i] = 0.08 * rng.normal();
  const basis = (K: number, scale: number) => {
    const b = new Float32Array(K * n3);
    for (let i = 0; i < b.length; i++) b[i] = scale * rng.normal();
    return b;
  };
  const skinWeights = new Float32Array(5 * V);
  for (let i = 0; i < V; i++) {
    let s = 0;
    const w: number[] = [0, 0, 0, 0, 0].map(() => (rng.uniform() < 0.5 ? 0 : rng.uniform()));
    if (!w.some((x) => x !== 0)) w[1] = 1;
    for (const x of w) s += x;
    // float32 weights summing to one as closely as float32 allows
    for (let j = 0; j < 5; j++) skinWeights[5 * i + j] = w[j] / s;
  }
  const offsets = new Int32Array(6);
  const verts: number[] = [];
  const weights: number[] = [];
  for (let j = 0; j < 5; j++) {
    const n = Math.min(V, 12);
    for (let k = 0; k < n; k++) {
      verts.push(Math.floor(rng.uniform() * V));
      weights.push(1 / n);
    }
    offsets[j + 1] = verts.length;
  }
  const arrays: FlameKernelArrays = {
    numVertices: V,
    numShape: nS,
    numExpression: nE,
    vTemplate,
    shapeBasis: basis(nS, 1e-3),
    exprBasis: basis(nE, 1e-3),
    poseBasis: basis(36, 1e-3),
    eyelidBasis: basis(2, 2e-3),
    skinWeights,
    parents: Int32Array.from([-1, 0, 1, 1, 1]),
    jointOffsets: offsets,
    jointVertices: Int32Array.from(verts),
    jointWeights: Float64Array.from(weights),
  };
  if (o.landmarks ?? true) {
    const bins = 79, per = 17, nStatic = 51;
    const tri = (n: number) => Int32Array.from({ length: 3 * n }, () => Math.floor(rng.uniform() * V));
    const bary = (n: number) => {
      const b = new Float64Array(3 * n);
      for (let l = 0; l < n; l++) {
        const a = rng.uniform(), c = rng.uniform() * (1 - a);
        b.set([a, c, 1 - a - c], 3 * l);
      }
      return b;
    };
    arrays.landmarks = {
      staticVertices: tri(nStatic),
      staticBary: bary(nStatic),
      dynamicBins: bins,
      dynamicPerBin: per,
      dynamicVertices: tri(bins * per),
      dynamicBary: bary(bins * per),
    };
  }
  return arrays;
}

import { afterAll, describe, expect, it } from 'vitest';
import { FlameKernel, KernelArgumentError, setThreads, type FlameKernelArrays } from './index.js';
import { referenceFlame, type ReferenceFrame } from './testing/flame-reference.js';
import { makeRandomFlameArrays, makeRng } from './testing/random-flame.js';

type Format = '6d' | 'axis-angle';

function randomPose(rng: ReturnType<typeof makeRng>, format: Format, scale = 0.3): number[] {
  const out: number[] = [];
  for (let j = 0; j < 5; j++) {
    if (format === 'axis-angle') out.push(...[0, 1, 2].map(() => scale * rng.normal()));
    else out.push(...[1, 0, 0, 0, 1, 0].map((v) => v + scale * rng.normal()));
  }
  return out;
}

interface Frame {
  shape: number[];
  expression: number[];
  pose: number[];
  eyelids: number[];
  landmarkRotation?: number[];
}

function randomFrame(m: FlameKernelArrays, rng: ReturnType<typeof makeRng>, format: Format): Frame {
  return {
    shape: Array.from({ length: m.numShape }, () => rng.normal()),
    expression: Array.from({ length: m.numExpression }, () => rng.normal()),
    pose: randomPose(rng, format),
    eyelids: [rng.normal(), rng.normal()],
  };
}

function runKernel(k: FlameKernel, frames: Frame[], format: Format, extra: { landmarkRotation?: boolean } = {}) {
  const B = frames.length;
  return k.forward({
    batch: B,
    shape: Float64Array.from(frames[0].shape),
    expression: Float64Array.from(frames.flatMap((f) => f.expression)),
    pose: Float64Array.from(frames.flatMap((f) => f.pose)),
    rotationFormat: format,
    eyelids: Float64Array.from(frames.flatMap((f) => f.eyelids)),
    landmarkRotation: extra.landmarkRotation ? Float64Array.from(frames.flatMap((f) => f.landmarkRotation!)) : undefined,
    withNoNeck: true,
    landmarks: true,
    jointTransforms: true,
  });
}

function refFrame(f: Frame, format: Format): ReferenceFrame {
  return { ...f, rotationFormat: format };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  return e;
}
function maxAbs(a: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i]));
  return e;
}

afterAll(() => setThreads(0));

describe('FLAME forward against the float64 reference', () => {
  for (const format of ['6d', 'axis-angle'] as const) {
    it(`matches within 1e-5 relative (${format}, batch 3, random model)`, () => {
      const m = makeRandomFlameArrays({ numVertices: 400, numShape: 20, numExpression: 10, seed: 3 });
      const k = new FlameKernel(m);
      const rng = makeRng(11);
      const frames = [0, 1, 2].map(() => randomFrame(m, rng, format));
      for (const f of frames) f.shape = frames[0].shape; // shape is shared by the batch
      const r = runKernel(k, frames, format);
      const V3 = 3 * m.numVertices;
      frames.forEach((f, b) => {
        const ref = referenceFlame(m, refFrame(f, format));
        const scale = maxAbs(ref.vertices);
        expect(maxAbsDiff(r.vertices.subarray(b * V3, (b + 1) * V3), ref.vertices) / scale).toBeLessThan(1e-5);
        expect(maxAbsDiff(r.verticesNoNeck!.subarray(b * V3, (b + 1) * V3), ref.verticesNoNeck) / scale).toBeLessThan(1e-5);
        expect(maxAbsDiff(r.jointTransforms!.subarray(b * 80, (b + 1) * 80), ref.jointTransforms)).toBeLessThan(1e-6);
        const L = k.numLandmarks * 3;
        expect(maxAbsDiff(r.landmarks!.subarray(b * L, (b + 1) * L), ref.landmarks) / scale).toBeLessThan(1e-5);
      });
    });
  }

  it('matches at full FLAME size (5023 vertices, 300 + 100 components)', () => {
    const m = makeRandomFlameArrays({ numVertices: 5023, numShape: 300, numExpression: 100, seed: 5 });
    const k = new FlameKernel(m);
    const rng = makeRng(2);
    const f = randomFrame(m, rng, '6d');
    const r = runKernel(k, [f], '6d');
    const ref = referenceFlame(m, refFrame(f, '6d'));
    expect(maxAbsDiff(r.vertices, ref.vertices) / maxAbs(ref.vertices)).toBeLessThan(1e-5);
  });

  it('picks the contour landmarks by the yaw of the head rotation times the neck rotation', () => {
    const m = makeRandomFlameArrays({ numVertices: 300, seed: 8 });
    const k = new FlameKernel(m);
    const identity6d = [1, 0, 0, 0, 1, 0];
    const pose = [...identity6d, ...identity6d, ...identity6d, ...identity6d, ...identity6d];
    for (const yawDeg of [-60, -25.4, -0.3, 0, 12.6, 39, 45]) {
      const a = (yawDeg * Math.PI) / 180;
      // rotation about y by `a`: yaw = atan2(-rel20, hypot(rel00, rel10)) = a
      const H = [Math.cos(a), 0, Math.sin(a), 0, 1, 0, -Math.sin(a), 0, Math.cos(a)];
      const f: Frame = { shape: [], expression: [], pose, eyelids: [0, 0], landmarkRotation: H };
      const r = runKernel(k, [f], '6d', { landmarkRotation: true });
      const ref = referenceFlame(m, refFrame(f, '6d'));
      const expectedBin = (() => {
        const x = Math.min(-yawDeg, 39);
        const rounded = Math.round(x);
        return (rounded >= 0 ? rounded : rounded < -39 ? 78 : 39 - rounded) + 0; // + 0 turns -0 into 0
      })();
      expect(ref.contourBin).toBe(expectedBin);
      expect(maxAbsDiff(r.landmarks!, ref.landmarks)).toBeLessThan(1e-6);
    }
  });
});

// L = <c, vertices> + <cn, verticesNoNeck> + <cl, landmarks>: its gradient from the kernel's VJP, dotted with
// a random direction, must equal the central difference of L computed with the float64 reference.
describe('FLAME VJP against finite differences of the reference', () => {
  const m = makeRandomFlameArrays({ numVertices: 300, numShape: 10, numExpression: 6, seed: 21 });
  const k = new FlameKernel(m);
  const rng = makeRng(99);
  const V3 = 3 * m.numVertices;
  const c = Float32Array.from({ length: V3 }, () => rng.normal());
  const cn = Float32Array.from({ length: V3 }, () => rng.normal());
  const cl = Float32Array.from({ length: 3 * k.numLandmarks }, () => rng.normal());

  function lossRef(f: Frame, format: Format, cv = c, cvn = cn): number {
    const r = referenceFlame(m, refFrame(f, format));
    let s = 0;
    for (let i = 0; i < V3; i++) s += cv[i] * r.vertices[i] + cvn[i] * r.verticesNoNeck[i];
    for (let i = 0; i < cl.length; i++) s += cl[i] * r.landmarks[i];
    return s;
  }

  type Group = 'shape' | 'expression' | 'pose' | 'eyelids';
  /** The gradient `grad` of group `group` at frame f, checked along a random direction by central differences. */
  function expectDirectionalFd(f: Frame, format: Format, group: Group, grad: ArrayLike<number>, cv = c, cvn = cn): void {
    const params = f[group];
    expect(grad.length).toBe(params.length);
    const dir = params.map(() => rng.normal());
    const h = 1e-5;
    const plus = structuredClone(f);
    const minus = structuredClone(f);
    plus[group] = params.map((p, i) => p + h * dir[i]);
    minus[group] = params.map((p, i) => p - h * dir[i]);
    const fd = (lossRef(plus, format, cv, cvn) - lossRef(minus, format, cv, cvn)) / (2 * h);
    let analytic = 0;
    for (let i = 0; i < dir.length; i++) analytic += grad[i] * dir[i];
    expect(Math.abs(analytic - fd)).toBeLessThan(2e-4 * Math.abs(fd) + 1e-6);
  }
  const cases: Array<[Format, Group, string, (f: Frame) => void]> = [];
  for (const format of ['6d', 'axis-angle'] as const) {
    for (const group of ['shape', 'expression', 'pose', 'eyelids'] as const) cases.push([format, group, 'random pose', () => {}]);
    cases.push([format, 'pose', 'identity pose', (f) => {
      f.pose = format === '6d' ? Array.from({ length: 5 }, () => [1, 0, 0, 0, 1, 0]).flat() : new Array(15).fill(0);
    }]);
    cases.push([format, 'pose', 'tiny angles (1e-4)', (f) => {
      f.pose = format === '6d'
        ? Array.from({ length: 5 }, () => [1, 1e-4, -1e-4, 2e-4, 1, 1e-4]).flat()
        : Array.from({ length: 15 }, (_, i) => 1e-4 * Math.sin(i + 1));
    }]);
  }

  for (const [format, group, label, tweak] of cases) {
    it(`${group} (${format}, ${label})`, () => {
      const f = randomFrame(m, rng, format);
      tweak(f);
      const r = runKernel(k, [f], format);
      const g = r.vjp({ vertices: c, verticesNoNeck: cn, landmarks: cl });
      const grad = group === 'shape' ? g.shape! : group === 'expression' ? g.expression : group === 'pose' ? g.pose : g.eyelids;
      expectDirectionalFd(f, format, group, grad);
    });
  }

  it('shape, expression, pose and eyelids with cotangents that are zero on most vertices (the blocks the CPU skips)', () => {
    // A tracker's cotangent is zero wherever no loss reaches (the hidden back of the head); the CPU dot products
    // skip its all-zero 16-float blocks. Here: long zero runs, isolated zero vertices, and the two passes zero in
    // different places (a block is skipped only where both are zero).
    const sparse = (src: Float32Array, zero: (v: number) => boolean) => src.map((x, i) => (zero(Math.floor(i / 3)) ? 0 : x));
    const cs = sparse(c, (v) => (v >= 40 && v < 200) || v % 3 === 0);
    const cns = sparse(cn, (v) => v >= 60 && v < 250);
    const f = randomFrame(m, rng, '6d');
    const g = runKernel(k, [f], '6d').vjp({ vertices: cs, verticesNoNeck: cns, landmarks: cl });
    expectDirectionalFd(f, '6d', 'shape', g.shape!, cs, cns);
    expectDirectionalFd(f, '6d', 'expression', g.expression, cs, cns);
    expectDirectionalFd(f, '6d', 'pose', g.pose, cs, cns);
    expectDirectionalFd(f, '6d', 'eyelids', g.eyelids, cs, cns);
  });

  it('each pose gradient component is exact at the identity (no epsilon bias)', () => {
    for (const format of ['6d', 'axis-angle'] as const) {
      const f = randomFrame(m, rng, format);
      f.pose = format === '6d' ? Array.from({ length: 5 }, () => [1, 0, 0, 0, 1, 0]).flat() : new Array(15).fill(0);
      const g = runKernel(k, [f], format).vjp({ vertices: c, verticesNoNeck: cn, landmarks: cl }).pose;
      for (let i = 0; i < f.pose.length; i++) {
        const h = 1e-6;
        const plus = structuredClone(f);
        const minus = structuredClone(f);
        plus.pose[i] += h;
        minus.pose[i] -= h;
        const fd = (lossRef(plus, format) - lossRef(minus, format)) / (2 * h);
        expect(Math.abs(g[i] - fd)).toBeLessThan(2e-4 * Math.abs(fd) + 1e-5);
      }
    }
  });
});

describe('FLAME explicit Jacobian', () => {
  for (const format of ['6d', 'axis-angle'] as const) {
    it(`J^T g equals the VJP of g restricted to the chosen vertices (${format}, batch 2)`, () => {
      const m = makeRandomFlameArrays({ numVertices: 250, numShape: 9, numExpression: 7, seed: 4 });
      const k = new FlameKernel(m);
      const rng = makeRng(5);
      const frames = [randomFrame(m, rng, format), randomFrame(m, rng, format)];
      frames[1].shape = frames[0].shape;
      const r = k.forward({
        batch: 2,
        shape: Float64Array.from(frames[0].shape),
        expression: Float64Array.from(frames.flatMap((f) => f.expression)),
        pose: Float64Array.from(frames.flatMap((f) => f.pose)),
        rotationFormat: format,
        eyelids: Float64Array.from(frames.flatMap((f) => f.eyelids)),
      });
      const idx = Int32Array.from([0, 17, 42, 100, 249]);
      const J = r.jacobian(idx);
      const P = r.jacobianColumns;
      expect(J.length).toBe(2 * idx.length * 3 * P);
      const g = new Float32Array(2 * 3 * m.numVertices);
      const gSub: number[] = [];
      for (let b = 0; b < 2; b++)
        for (const i of idx)
          for (let d = 0; d < 3; d++) {
            const v = rng.normal();
            g[b * 3 * m.numVertices + 3 * i + d] = v;
            gSub.push(v);
          }
      const vjp = r.vjp({ vertices: g });
      const dims = format === '6d' ? 6 : 3;
      for (let b = 0; b < 2; b++) {
        const jtg = new Float64Array(P);
        for (let row = 0; row < idx.length * 3; row++)
          for (let p = 0; p < P; p++) jtg[p] += J[(b * idx.length * 3 + row) * P + p] * gSub[b * idx.length * 3 + row];
        const expected = [
          ...Array.from({ length: 9 }, () => NaN), // shape is summed over frames: checked below
          ...vjp.expression.subarray(b * 7, b * 7 + 7),
          ...vjp.pose.subarray(b * 5 * dims, (b + 1) * 5 * dims),
          ...vjp.eyelids.subarray(2 * b, 2 * b + 2),
        ];
        for (let p = 9; p < P; p++) expect(Math.abs(jtg[p] - expected[p])).toBeLessThan(1e-5 * (Math.abs(expected[p]) + 1));
      }
      // shape columns: sum over frames of J^T g
      for (let s = 0; s < 9; s++) {
        let v = 0;
        for (let b = 0; b < 2; b++)
          for (let row = 0; row < idx.length * 3; row++) v += J[(b * idx.length * 3 + row) * P + s] * gSub[b * idx.length * 3 + row];
        expect(Math.abs(v - vjp.shape![s])).toBeLessThan(1e-5 * (Math.abs(v) + 1));
      }
    });
  }
});

describe('FLAME determinism', () => {
  const m = makeRandomFlameArrays({ numVertices: 1500, numShape: 30, numExpression: 20, seed: 7 });
  const k = new FlameKernel(m);
  const rng = makeRng(1);
  const frames = [0, 1, 2, 3].map(() => randomFrame(m, rng, '6d'));
  for (const f of frames) f.shape = frames[0].shape;
  // Zero on runs of vertices that differ per frame (as a tracker's are: only what a loss reaches is non-zero), so
  // that the CPU's skipped blocks differ between the frames of a batch.
  const V = m.numVertices;
  const zeroRun = (i: number) => {
    const b = Math.floor(i / (3 * V)), v = Math.floor(i / 3) % V;
    return Math.floor(v / (9 + 4 * b)) % 3 === b % 3;
  };
  const cot = Float32Array.from({ length: 4 * 3 * V }, (_, i) => (zeroRun(i) ? 0 : rng.normal()));
  const cotN = Float32Array.from({ length: 4 * 3 * V }, (_, i) => (zeroRun(i + 3 * V) ? 0 : rng.normal()));
  const run = () => {
    const r = runKernel(k, frames, '6d');
    return { r, g: r.vjp({ vertices: cot, verticesNoNeck: cotN }) };
  };

  it('gives identical bits for 1, 2 and 7 threads', () => {
    setThreads(1);
    const a = run();
    for (const n of [2, 7]) {
      setThreads(n);
      const b = run();
      expect(Buffer.compare(Buffer.from(b.r.vertices.buffer), Buffer.from(a.r.vertices.buffer))).toBe(0);
      expect(Array.from(b.g.shape!)).toEqual(Array.from(a.g.shape!));
      expect(Array.from(b.g.expression)).toEqual(Array.from(a.g.expression));
      expect(Array.from(b.g.pose)).toEqual(Array.from(a.g.pose));
    }
    setThreads(0);
  });

  it('gives a frame inside a batch the same bits as the frame alone', () => {
    const all = run();
    const V3 = 3 * m.numVertices;
    for (let b = 0; b < 4; b++) {
      const alone = runKernel(k, [frames[b]], '6d');
      const ga = alone.vjp({ vertices: cot.slice(b * V3, (b + 1) * V3), verticesNoNeck: cotN.slice(b * V3, (b + 1) * V3) });
      expect(Array.from(alone.vertices)).toEqual(Array.from(all.r.vertices.subarray(b * V3, (b + 1) * V3)));
      expect(Array.from(alone.verticesNoNeck!)).toEqual(Array.from(all.r.verticesNoNeck!.subarray(b * V3, (b + 1) * V3)));
      expect(Array.from(ga.expression)).toEqual(Array.from(all.g.expression.subarray(b * 20, (b + 1) * 20)));
      expect(Array.from(ga.pose)).toEqual(Array.from(all.g.pose.subarray(b * 30, (b + 1) * 30)));
    }
  });

  it('refreshes the cached shaped template when the shape changes', () => {
    const f = frames[0];
    const first = runKernel(k, [f], '6d').vertices.slice();
    const other = { ...f, shape: f.shape.map((v) => v + 0.5) };
    const changed = runKernel(k, [other], '6d').vertices.slice();
    const again = runKernel(k, [f], '6d').vertices.slice();
    expect(maxAbsDiff(first, changed)).toBeGreaterThan(1e-4);
    expect(Array.from(again)).toEqual(Array.from(first));
    const ref = referenceFlame(m, refFrame(other, '6d'));
    expect(maxAbsDiff(changed, ref.vertices) / maxAbs(ref.vertices)).toBeLessThan(1e-5);
  });
});

describe('FLAME kernel argument validation', () => {
  const m = makeRandomFlameArrays({ numVertices: 50, seed: 2 });
  const k = new FlameKernel(m);
  const pose = Float64Array.from(Array.from({ length: 5 }, () => [1, 0, 0, 0, 1, 0]).flat());

  it('rejects wrong sizes, non-finite values and bad indices before native code runs', () => {
    expect(() => k.forward({ batch: 1, pose: pose.subarray(0, 29) })).toThrow(/expected a Float64Array of length 30 for pose/);
    expect(() => k.forward({ batch: 0, pose })).toThrow(KernelArgumentError);
    expect(() => k.forward({ batch: 1, pose, shape: new Float64Array(m.numShape + 1) })).toThrow(/shape/);
    expect(() => k.forward({ batch: 1, pose, expression: new Float64Array(3) })).not.toThrow();
    const bad = pose.slice();
    bad[3] = NaN;
    expect(() => k.forward({ batch: 1, pose: bad })).toThrow(/expected a finite number for pose\[3\], got NaN/);
    expect(() => k.forward({ batch: 1, pose, device: 'tpu' as never })).toThrow(/device/);
    expect(() => new FlameKernel({ ...m, parents: Int32Array.from([-1, 0, 3, 1, 1]) })).toThrow(/parents\[2\]/);
    expect(() => new FlameKernel({ ...m, jointVertices: m.jointVertices.map((v, i) => (i === 0 ? 50 : v)) })).toThrow(/jointVertices\[0\]/);
    expect(() => new FlameKernel({ ...m, skinWeights: m.skinWeights.subarray(1) })).toThrow(/skinWeights/);
    const poisoned = (a: Float32Array, i: number, v: number) => a.map((x, j) => (j === i ? v : x));
    expect(() => new FlameKernel({ ...m, shapeBasis: poisoned(m.shapeBasis, 17, NaN) })).toThrow(/shape basis has a non-finite value/);
    expect(() => new FlameKernel({ ...m, exprBasis: poisoned(m.exprBasis, m.exprBasis.length - 1, Infinity) })).toThrow(
      /expression basis has a non-finite value/,
    );
    expect(() => new FlameKernel({ ...m, poseBasis: poisoned(m.poseBasis, 5, -Infinity) })).toThrow(/pose basis has a non-finite value/);
    expect(() => new FlameKernel({ ...m, eyelidBasis: poisoned(m.eyelidBasis!, 7, NaN) })).toThrow(/eyelid basis has a non-finite value/);
    expect(() => new FlameKernel({ ...m, vTemplate: poisoned(m.vTemplate, 2, NaN) })).toThrow(/finite.*vTemplate|vTemplate.*finite/);
    const r = k.forward({ batch: 1, pose });
    expect(() => r.vjp({ vertices: new Float32Array(3) })).toThrow(/vertices/);
    expect(() => r.vjp({ verticesNoNeck: new Float32Array(150) })).toThrow(/withNoNeck/);
    expect(() => r.jacobian(Int32Array.from([50]))).toThrow(/vertexIndices\[0\]/);
  });

  it('rejects a degenerate 6D rotation with a message naming the frame and joint', () => {
    const degenerate = pose.slice();
    degenerate.set([1, 0, 0, 2, 0, 0], 12); // joint 2: parallel rows
    expect(() => k.forward({ batch: 1, pose: degenerate })).toThrow(/frame 0, joint 2: degenerate 6D rotation/);
  });

  it('refuses CUDA with the reason when no CUDA device is usable', async () => {
    const { kernelInfo } = await import('./index.js');
    if (kernelInfo().cudaAvailable) return;
    expect(() => k.forward({ batch: 1, pose, device: 'cuda' })).toThrow(/CUDA was requested but is not available/);
    expect(k.forward({ batch: 1, pose, device: 'auto' }).device).toBe('cpu');
  });
});

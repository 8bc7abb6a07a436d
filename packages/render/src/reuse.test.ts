// Output-buffer reuse (the optional `out` arguments of the backward ops) and the texture addressing fast paths.
import { setThreads } from '@pixel3dmm/kernels';
import { makeRng } from '@pixel3dmm/kernels/testing/random-flame';
import { afterAll, describe, expect, it } from 'vitest';
import { antialias, antialiasBackward, antialiasTopology } from './antialias.js';
import { interpolate, interpolateBackward, rasterize, rasterizeBackward } from './raster.js';
import { texture, textureBackward } from './texture.js';
import { referenceTexture } from './testing/reference-raster.js';

const rng = (seed: number): (() => number) => makeRng(seed).uniform;

function randomArray(seed: number, n: number, lo: number, hi: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/** A buffer full of NaN: every element must be overwritten by the op. */
const dirty = (n: number) => new Float32Array(n).fill(Number.NaN);

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

afterAll(() => setThreads(0));

/** A bumpy sphere of small triangles in perspective, one frame per seed offset. */
function sphere(n: number, B: number): { pos: Float32Array; V: number; tri: Int32Array } {
  const V = n * n;
  const tri: number[] = [];
  for (let j = 0; j + 1 < n; j++) {
    for (let i = 0; i < n; i++) {
      const a = j * n + i, b = j * n + ((i + 1) % n), c = (j + 1) * n + i, d = (j + 1) * n + ((i + 1) % n);
      tri.push(a, b, d, a, d, c);
    }
  }
  const pos = new Float32Array(B * V * 4);
  for (let k = 0; k < B; k++) {
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        const th = (Math.PI * j) / (n - 1), ph = (2 * Math.PI * i) / n + 0.3 * k;
        const r = 0.8 + 0.05 * Math.sin(5 * th + 3 * ph);
        const z = r * Math.sin(th) * Math.sin(ph) - 3;
        const o = (k * V + j * n + i) * 4;
        pos[o] = 2.4 * r * Math.sin(th) * Math.cos(ph);
        pos[o + 1] = 2.4 * r * Math.cos(th);
        pos[o + 2] = -1.02 * z - 0.2;
        pos[o + 3] = -z;
      }
    }
  }
  return { pos, V, tri: Int32Array.from(tri) };
}

describe('backward ops write every element of caller-supplied output buffers', () => {
  const B = 2, H = 70, W = 90;
  const { pos, V, tri } = sphere(40, B);
  const shape = { batch: B, height: H, width: W };
  const rast = rasterize(pos, V, tri, B, H, W);
  const N = B * H * W;
  const C = 5;
  const attr = randomArray(1, B * V * C, -1, 1);
  const aShape = { batch: B, vertices: V, channels: C };
  const gOut = randomArray(2, N * C, -1, 1);

  it('interpolateBackward', () => {
    const fresh = interpolateBackward(attr, aShape, rast, shape, tri, gOut);
    const out = { gradAttr: dirty(attr.length), gradRast: dirty(2 * N) };
    const reused = interpolateBackward(attr, aShape, rast, shape, tri, gOut, {}, out);
    expect(reused.gradAttr).toBe(out.gradAttr);
    expect(reused.gradRast).toBe(out.gradRast);
    expect(bits(out.gradAttr)).toEqual(bits(fresh.gradAttr!));
    expect(bits(out.gradRast)).toEqual(bits(fresh.gradRast!));
    expect(() => interpolateBackward(attr, aShape, rast, shape, tri, gOut, {}, { gradRast: new Float32Array(3) })).toThrow(/gradRast/);
  });

  it('rasterizeBackward', () => {
    const g = randomArray(3, 2 * N, -1, 1);
    const fresh = rasterizeBackward(pos, V, tri, B, H, W, rast, g);
    const out = dirty(pos.length);
    expect(rasterizeBackward(pos, V, tri, B, H, W, rast, g, out)).toBe(out);
    expect(bits(out)).toEqual(bits(fresh));
  });

  it('antialiasBackward', () => {
    const opp = antialiasTopology(tri, V);
    const color = interpolate(attr, aShape, rast, shape, tri);
    const fresh = antialiasBackward(color, C, rast, shape, pos, V, tri, gOut, opp);
    expect(fresh.gradPos!.some((v) => v !== 0)).toBe(true);
    const out = { gradColor: dirty(N * C), gradPos: dirty(pos.length) };
    const reused = antialiasBackward(color, C, rast, shape, pos, V, tri, gOut, opp, {}, out);
    expect(reused.gradColor).toBe(out.gradColor);
    expect(bits(out.gradColor)).toEqual(bits(fresh.gradColor!));
    expect(bits(out.gradPos)).toEqual(bits(fresh.gradPos!));
    // The forward pass into a dirty buffer, too.
    const fwd = antialias(color, C, rast, shape, pos, V, tri, opp);
    const o2 = dirty(N * C);
    antialias(color, C, rast, shape, pos, V, tri, opp, o2);
    expect(bits(o2)).toEqual(bits(fwd));
  });

  it('textureBackward', () => {
    const texShape = { height: 16, width: 24, channels: 2 };
    const tex = randomArray(4, 16 * 24 * 2, -1, 1);
    const uv = randomArray(5, 2 * 1000, -0.5, 1.5);
    const g = randomArray(6, 2 * 1000, -1, 1);
    const fresh = textureBackward(tex, texShape, uv, g, 'wrap', { uv: true, tex: true });
    const out = { gradUv: dirty(2000), gradTex: dirty(tex.length) };
    textureBackward(tex, texShape, uv, g, 'wrap', { uv: true, tex: true }, out);
    expect(bits(out.gradUv)).toEqual(bits(fresh.gradUv!));
    expect(bits(out.gradTex)).toEqual(bits(fresh.gradTex!));
  });
});

describe('forward ops write every element of caller-supplied output buffers', () => {
  // The kernels store background zeros only where the buffer holds other bits (a rendering loop finds them zero
  // already), so the buffers here hold zeros with scattered dirt: -0 (equal to 0 as a float, not as bits), NaN and
  // 1, also in the last element of a 64-byte group; and they are read through views one element off alignment.
  const B = 2, H = 70, W = 90;
  const { pos, V, tri } = sphere(40, B);
  const shape = { batch: B, height: H, width: W };
  const N = B * H * W, C = 15;
  const attr = randomArray(21, B * V * C, -1, 1);
  const aShape = { batch: B, vertices: V, channels: C };
  const dirtValues = [-0, Number.NaN, 1];
  function speckled(n: number, offset: number, seed: number): Float32Array {
    const buf = new Float32Array(n + offset).subarray(offset);
    const r = rng(seed);
    for (let i = 15; i < n; i += 16) if (r() < 0.3) buf[i] = dirtValues[i % 3];
    for (let k = 0; k < n / 50; k++) buf[Math.floor(r() * n)] = dirtValues[k % 3];
    return buf;
  }
  const rastFresh = rasterize(pos, V, tri, B, H, W);
  const interpFresh = interpolate(attr, aShape, rastFresh, shape, tri);

  for (const [name, make] of [['all NaN', (n: number) => dirty(n)], ['zero with dirt', (n: number) => speckled(n, 0, 22)],
    ['zero with dirt, unaligned', (n: number) => speckled(n, 1, 23)], ['zero', (n: number) => new Float32Array(n)]] as const) {
    it(`rasterize and interpolate (${name})`, () => {
      expect(rastFresh.some((v, i) => i % 4 === 3 && v === 0)).toBe(true);  // there is background to clear
      const rast = make(4 * N);
      expect(rasterize(pos, V, tri, B, H, W, rast)).toBe(rast);
      expect(bits(rast)).toEqual(bits(rastFresh));
      const out = make(N * C);
      interpolate(attr, aShape, rast, shape, tri, out);
      expect(bits(out)).toEqual(bits(interpFresh));
    });
  }
});

describe('texture addressing fast paths (in range, one period out, far out)', () => {
  // uv on and around texel-centre and period boundaries: index i0 = -n-1, -n, -1, 0, n-1, n, 2n, ...
  const side = 2048;
  const tex = randomArray(7, side * side, 0, 1);
  const special = [-2.5, -1 - 0.5 / side, -1, -1 + 0.25 / side, -0.5 / side, -0.25 / side, 0, 0.25 / side, 0.5 / side, 0.5,
    1 - 0.5 / side, 1 - 0.25 / side, 1, 1 + 0.25 / side, 1 + 0.5 / side, 1.75, 2, 2 + 0.5 / side, 3.25];
  const uvList: number[] = [];
  for (const u of special) for (const v of special) uvList.push(u, v);
  const r = rng(8);
  while (uvList.length < 2 * (4096 + 37)) uvList.push(r() * 5 - 2, r() * 5 - 2); // crosses a task chunk, odd tail
  const uv = Float32Array.from(uvList);
  for (const mode of ['wrap', 'clamp'] as const) {
    it(`matches the float64 reference to float32 rounding (${mode}), bitwise for any thread count`, () => {
      const texShape = { height: side, width: side, channels: 1 };
      const ref = referenceTexture(tex, side, side, 1, uv, mode);
      setThreads(1);
      const out1 = texture(tex, texShape, uv, mode);
      const g = randomArray(9, uv.length / 2, -1, 1);
      const b1 = textureBackward(tex, texShape, uv, g, mode).gradUv!;
      setThreads(3);
      const out3 = texture(tex, texShape, uv, mode);
      const b3 = textureBackward(tex, texShape, uv, g, mode).gradUv!;
      setThreads(0);
      for (let i = 0; i < ref.length; i++) expect(out1[i]).toBe(Math.fround(ref[i]));
      expect(bits(out3)).toEqual(bits(out1));
      expect(bits(b3)).toEqual(bits(b1));
    });
  }
});

describe('accumulating backward outputs equal the float32 sum of the separate gradients, bitwise', () => {
  const B = 2, H = 60, W = 75;
  const { pos, V, tri } = sphere(36, B);
  const shape = { batch: B, height: H, width: W };
  const rast = rasterize(pos, V, tri, B, H, W);
  const N = B * H * W;
  const sum = (a: Float32Array, b: Float32Array) => Float32Array.from(a, (x, i) => x + b[i]);
  const base = (n: number, seed: number) => randomArray(seed, n, -1, 1);

  it('rasterizeBackward (options.accumulate)', () => {
    const g = base(2 * N, 11);
    const prior = base(pos.length, 12);
    const expected = sum(prior, rasterizeBackward(pos, V, tri, B, H, W, rast, g));
    const acc = prior.slice();
    expect(rasterizeBackward(pos, V, tri, B, H, W, rast, g, acc, { accumulate: true })).toBe(acc);
    expect(bits(acc)).toEqual(bits(expected));
    expect(() => rasterizeBackward(pos, V, tri, B, H, W, rast, g, undefined, { accumulate: true })).toThrow(/accumulate/);
  });

  it('interpolateBackward (out.accumulateRast; gradAttr still overwritten)', () => {
    const C = 3;
    const attr = base(B * V * C, 13);
    const aShape = { batch: B, vertices: V, channels: C };
    const gOut = base(N * C, 14);
    const fresh = interpolateBackward(attr, aShape, rast, shape, tri, gOut);
    const prior = base(2 * N, 15);
    const acc = prior.slice();
    const gradAttr = dirty(attr.length);
    interpolateBackward(attr, aShape, rast, shape, tri, gOut, {}, { gradAttr, gradRast: acc, accumulateRast: true });
    expect(bits(acc)).toEqual(bits(sum(prior, fresh.gradRast!)));
    expect(bits(gradAttr)).toEqual(bits(fresh.gradAttr!));
    expect(() => interpolateBackward(attr, aShape, rast, shape, tri, gOut, {}, { accumulateRast: true })).toThrow(/accumulate/);
  });

  it('textureBackward (out.accumulateUv)', () => {
    const texShape = { height: 32, width: 32, channels: 1 };
    const tex = base(32 * 32, 16);
    const uv = randomArray(17, 2 * 500, -0.3, 1.3);
    const g = base(500, 18);
    const fresh = textureBackward(tex, texShape, uv, g).gradUv!;
    const prior = base(1000, 19);
    const acc = prior.slice();
    textureBackward(tex, texShape, uv, g, 'wrap', {}, { gradUv: acc, accumulateUv: true });
    expect(bits(acc)).toEqual(bits(sum(prior, fresh)));
  });
});

describe('backward ops over alternating topologies (the kernels keep the vertex -> corner tables of the last few)', () => {
  it('every call gives the bits of a call on that topology alone, also after tables are evicted', () => {
    const B = 1, H = 48, W = 64;
    const { pos, V, tri } = sphere(24, B);
    const shape = { batch: B, height: H, width: W };
    const rast = rasterize(pos, V, tri, B, H, W);
    const N = B * H * W, C = 5;
    // Six attribute index buffers over the same triangles (more than the kernels keep): a per-corner buffer (as
    // the tracker's UV seams give) and index permutations of it, each with its own vertex count.
    const T = tri.length / 3;
    const topologies = Array.from({ length: 6 }, (_, k) => {
      const Va = 3 * T + k;
      const order = Array.from({ length: 3 * T }, (_, i) => i);
      const r = rng(30 + k);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      return { Va, attrTri: Int32Array.from(order), attr: randomArray(40 + k, Va * C, -1, 1) };
    });
    const gOut = randomArray(3, N * C, -1, 1);
    const gRast = randomArray(4, N * 2, -1, 1);
    const alone = topologies.map((t) => interpolateBackward(t.attr, { batch: 1, vertices: t.Va, channels: C }, rast, shape, t.attrTri, gOut));
    const posAlone = rasterizeBackward(pos, V, tri, B, H, W, rast, gRast);
    for (let round = 0; round < 3; round++) {
      topologies.forEach((t, k) => {
        const g = interpolateBackward(t.attr, { batch: 1, vertices: t.Va, channels: C }, rast, shape, t.attrTri, gOut);
        expect(bits(g.gradAttr!)).toEqual(bits(alone[k].gradAttr!));
        expect(bits(g.gradRast!)).toEqual(bits(alone[k].gradRast!));
        expect(bits(rasterizeBackward(pos, V, tri, B, H, W, rast, gRast))).toEqual(bits(posAlone));
      });
    }
  });
});

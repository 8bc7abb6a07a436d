// The `device` option of every rasterizer op. On a machine without a usable CUDA device (or an addon built
// without CUDA): 'cuda' throws an Error naming the reason, 'auto' falls back to the CPU and gives the CPU's bits.
// On a machine with one: 'cuda' and 'auto' give the CPU's bits (native/test/gpu_parity.cc checks far more).
import { KernelArgumentError, kernelInfo, nativeAddon } from '@pixel3dmm/kernels';
import { makeRng } from '@pixel3dmm/kernels/testing/random-flame';
import { describe, expect, it } from 'vitest';
import { antialias, antialiasBackward } from './antialias.js';
import type { RenderOptions } from './device.js';
import { interpolate, interpolateBackward, rasterize, rasterizeBackward } from './raster.js';
import { texture, textureBackward } from './texture.js';

const info = kernelInfo();
const cuda = info.cudaAvailable;

function randomArray(seed: number, n: number, lo: number, hi: number): Float32Array {
  const r = makeRng(seed).uniform;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

// A small closed-ish scene: an 8x8 jittered grid in perspective, two frames.
const B = 2;
const H = 24;
const W = 32;
const n = 8;
const V = (n + 1) * (n + 1);
const tri = (() => {
  const t: number[] = [];
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      const a = j * (n + 1) + i;
      t.push(a, a + 1, a + n + 2, a, a + n + 2, a + n + 1);
    }
  }
  return new Int32Array(t);
})();
const pos = (() => {
  const r = makeRng(7).uniform;
  const p = new Float32Array(B * V * 4);
  for (let b = 0; b < B; b++) {
    for (let v = 0; v < V; v++) {
      const x = -1.2 + (2.4 * (v % (n + 1))) / n + 0.05 * (r() - 0.5);
      const y = -1.2 + (2.4 * Math.floor(v / (n + 1))) / n + 0.05 * (r() - 0.5);
      const w = 1 + 0.3 * r() + 0.1 * b;
      p.set([x * w * 0.8, y * w * 0.8, 0.2 * r(), w], 4 * (b * V + v));
    }
  }
  return p;
})();
const shape = { batch: B, height: H, width: W };
const pixels = B * H * W;

/** Every op with the given options (undefined = the default). */
function runAll(options: RenderOptions | undefined): Float32Array[] {
  const rast = rasterize(pos, V, tri, B, H, W, undefined, options);
  const gradPos = rasterizeBackward(pos, V, tri, B, H, W, rast, randomArray(1, pixels * 2, -1, 1), undefined, options);
  const attr = randomArray(2, V * 3, -1, 1);
  const aShape = { batch: 1, vertices: V, channels: 3 };
  const interp = interpolate(attr, aShape, rast, shape, tri, undefined, options);
  const gi = interpolateBackward(attr, aShape, rast, shape, tri, randomArray(3, pixels * 3, -1, 1), {}, {}, options);
  const tex = randomArray(4, 5 * 7 * 3, -1, 1);
  const tShape = { height: 5, width: 7, channels: 3 };
  const uv = interp.subarray(0, pixels * 2);
  const sampled = texture(tex, tShape, uv, 'wrap', undefined, options);
  const gt = textureBackward(tex, tShape, uv, randomArray(5, pixels * 3, -1, 1), 'clamp', { tex: true }, {}, options);
  const aa = antialias(interp, 3, rast, shape, pos, V, tri, undefined, undefined, options);
  const gAa = randomArray(6, pixels * 3, -1, 1);
  const ga = antialiasBackward(interp, 3, rast, shape, pos, V, tri, gAa, undefined, {}, {}, options);
  return [
    rast, gradPos, interp, gi.gradAttr!, gi.gradRast!, sampled, gt.gradUv!, gt.gradTex!, aa, ga.gradColor!, ga.gradPos!,
  ];
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

describe('rasterizer ops: device option', () => {
  const reference = runAll(undefined);

  it("'cpu' is the default", () => {
    const cpu = runAll({ device: 'cpu' });
    cpu.forEach((a, i) => expect(bits(a)).toEqual(bits(reference[i])));
  });

  it("'auto' gives the CPU's bits (falls back to the CPU without a usable CUDA device)", () => {
    const auto = runAll({ device: 'auto' });
    auto.forEach((a, i) => expect(bits(a)).toEqual(bits(reference[i])));
  });

  it.runIf(!cuda)("'cuda' without a usable device throws an Error naming the reason", () => {
    const reason = info.cudaReason ?? '';
    expect(reason.length).toBeGreaterThan(0);
    const cudaOnly: RenderOptions = { device: 'cuda' };
    const rast = new Float32Array(pixels * 4);
    const texShape = { height: 1, width: 1, channels: 3 };
    const calls: Array<[string, () => unknown]> = [
      ['rasterize', () => rasterize(pos, V, tri, B, H, W, undefined, cudaOnly)],
      ['rasterizeBackward', () => rasterizeBackward(pos, V, tri, B, H, W, rast, new Float32Array(pixels * 2), undefined, cudaOnly)],
      ['interpolate', () => interpolate(new Float32Array(V), { batch: 1, vertices: V, channels: 1 }, rast, shape, tri, undefined, cudaOnly)],
      ['texture', () => texture(new Float32Array(3), texShape, new Float32Array(4), 'wrap', undefined, cudaOnly)],
      ['antialias', () => antialias(new Float32Array(pixels), 1, rast, shape, pos, V, tri, undefined, undefined, cudaOnly)],
    ];
    for (const [where, call] of calls) {
      let error: unknown;
      try {
        call();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(KernelArgumentError);
      const message = (error as Error).message;
      expect(message).toContain(`${where}: CUDA was requested but is not available`);
      expect(message).toContain(reason);
    }
  });

  it.runIf(!cuda)("the binding itself refuses device 'cuda' with the reason (no crash)", () => {
    const native = nativeAddon() as unknown as { rasterize(args: Record<string, unknown>): void };
    const rast = new Float32Array(pixels * 4);
    const args = { pos, numVertices: V, tri, batch: B, height: H, width: W, rast };
    expect(() => native.rasterize({ ...args, device: 'cuda' })).toThrow(`CUDA is not available: ${info.cudaReason ?? ''}`);
    expect(() => native.rasterize({ ...args, device: 7 })).toThrow("device must be 'cpu' or 'cuda'");
  });

  it.runIf(cuda)("'cuda' gives the CPU's bits", () => {
    const dev = runAll({ device: 'cuda' });
    dev.forEach((a, i) => expect(bits(a)).toEqual(bits(reference[i])));
  });

  it('rejects an unknown device and a non-object options argument', () => {
    expect(() => rasterize(pos, V, tri, B, H, W, undefined, { device: 'gpu' as 'cpu' })).toThrow(
      /rasterize: expected 'cpu', 'cuda' or 'auto' for device, got string/,
    );
    const texShape = { height: 1, width: 1, channels: 3 };
    expect(() => texture(new Float32Array(3), texShape, new Float32Array(2), 'wrap', undefined, 'cuda' as RenderOptions)).toThrow(
      KernelArgumentError,
    );
    const color = new Float32Array(pixels);
    const rast = new Float32Array(pixels * 4);
    const bad = { device: 1 as unknown as 'cpu' };
    expect(() => antialiasBackward(color, 1, rast, shape, pos, V, tri, color, undefined, {}, {}, bad)).toThrow(
      /antialiasBackward: expected 'cpu', 'cuda' or 'auto' for device, got 1/,
    );
  });
});

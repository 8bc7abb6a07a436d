// Loads the native addon (a prebuild from prebuilds/, or the local cmake-js build in build/Release) through
// node-gyp-build. Everything else in this package goes through `addon()`.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The raw binding, as declared in native/src/addon/addon.cc. Not exported from the package. */
export interface NativeAddon {
  info(): NativeInfo;
  setThreads(n: number): number;
  memoryBandwidth(megabytes: number): number;
  firstNonFinite(values: Float32Array | Float64Array): number;
  rotationMatrices(dims: number, params: Float64Array, out: Float64Array): void;
  rotationVjp(dims: number, params: Float64Array, gradMatrices: Float64Array, out: Float64Array): void;
  FlameModel: new (desc: Record<string, unknown>) => NativeFlameModel;
}

export interface NativeInfo {
  builtWithCuda: boolean;
  cudaAvailable: boolean;
  cudaReason: string | null;
  cudaDevices: string[];
  cudaRuntimeVersion: number;
  threads: number;
  compiler: string;
}

export type NativeTape = object & { readonly __brand?: 'FlameTape' };

export interface NativeFlameModel {
  forward(args: Record<string, unknown>): NativeTape;
  vjp(tape: NativeTape, args: Record<string, unknown>): void;
  jacobian(tape: NativeTape, vertexIndices: Int32Array, out: Float64Array): void;
}

const packageRoot = fileURLToPath(new URL('..', import.meta.url));
let cached: NativeAddon | undefined;
let loadError: Error | undefined;

export function addon(): NativeAddon {
  if (cached) return cached;
  if (loadError) throw loadError;
  try {
    const require = createRequire(import.meta.url);
    const load = require('node-gyp-build') as (dir: string) => NativeAddon;
    cached = load(packageRoot);
    return cached;
  } catch (e) {
    loadError = new Error(
      `@pixel3dmm/kernels: the native addon could not be loaded from ${packageRoot} ` +
        `(${(e as Error).message.split('\n')[0]}). Build it with \`npm run build\` at the repository root ` +
        '(needs cmake >= 3.18 and a C++17 compiler; nvcc is optional).',
    );
    throw loadError;
  }
}

// The `device` option shared by every rasterizer op (raster.ts, texture.ts, antialias.ts).
//
// - 'cpu' (the default, as for the FLAME kernel): the CPU kernels (native/src/raster).
// - 'cuda': the CUDA kernels (cuda/raster_cuda.cu). Throws an Error naming the reason when this addon was built
//   without CUDA or no usable device is present (e.g. "CUDA was requested but is not available: no CUDA device
//   found"). Rasterize forward is bitwise equal to the CPU; every other output and gradient is computed with the
//   CPU's operation order (bitwise by design, checked within 1e-6 by native/test/gpu_parity.cc).
// - 'auto': CUDA when a device is usable, otherwise the CPU.
// Every CUDA call is synchronous on host typed arrays: inputs are copied to the device and outputs back.
import { fail, resolveDevice, type Device, type DeviceRequest } from '@pixel3dmm/kernels';

/** Options accepted by every rasterizer op. */
export interface RenderOptions {
  /** Where the op runs: 'cpu' (default), 'cuda' or 'auto' (CUDA when available, else CPU). */
  device?: DeviceRequest;
}

/** Validates `options` and resolves its device ('cuda' unavailable -> Error naming the reason). */
export function renderDevice(where: string, options: unknown): Device {
  if (options === undefined) return 'cpu';
  if (typeof options !== 'object' || options === null) fail(where, 'options', 'an object {device?}', options);
  const request = (options as RenderOptions).device;
  if (request === undefined) return 'cpu';
  if (request !== 'cpu' && request !== 'cuda' && request !== 'auto') {
    fail(where, 'device', "'cpu', 'cuda' or 'auto'", request);
  }
  try {
    return resolveDevice(request);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
}

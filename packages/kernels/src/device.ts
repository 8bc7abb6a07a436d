// Device selection and what the addon reports about itself.
import { addon, type NativeInfo } from './addon.js';
import { KernelArgumentError } from './validate.js';

export type Device = 'cpu' | 'cuda';
/** 'auto' picks CUDA when a device is usable, else the CPU. */
export type DeviceRequest = Device | 'auto';

export interface KernelInfo {
  /** CUDA kernels compiled into this addon. */
  builtWithCuda: boolean;
  /** A CUDA device can be used on this machine. */
  cudaAvailable: boolean;
  /** Why CUDA cannot be used (null when it can). */
  cudaReason: string | null;
  cudaDevices: string[];
  cudaRuntimeVersion: string | null;
  /** Threads of the persistent CPU pool. */
  threads: number;
  compiler: string;
}

export function kernelInfo(): KernelInfo {
  const i: NativeInfo = addon().info();
  const v = i.cudaRuntimeVersion;
  return {
    builtWithCuda: i.builtWithCuda,
    cudaAvailable: i.cudaAvailable,
    cudaReason: i.cudaReason,
    cudaDevices: i.cudaDevices,
    cudaRuntimeVersion: v ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : null,
    threads: i.threads,
    compiler: i.compiler,
  };
}

export function resolveDevice(request: DeviceRequest): Device {
  if (request === 'cpu') return 'cpu';
  if (request !== 'cuda' && request !== 'auto') {
    throw new KernelArgumentError(`expected 'cpu', 'cuda' or 'auto' for device, got ${String(request)}`);
  }
  const info = addon().info();
  if (info.cudaAvailable) return 'cuda';
  if (request === 'auto') return 'cpu';
  throw new Error(`CUDA was requested but is not available: ${info.cudaReason}`);
}

/**
 * Sets the size of the CPU thread pool (0 = one thread per core) and returns it. Results are identical
 * for any thread count.
 */
export function setThreads(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 1024) {
    throw new KernelArgumentError(`expected an integer in [0, 1024] for threads, got ${String(n)}`);
  }
  return addon().setThreads(n);
}

/** The machine's read bandwidth in GB/s (best of 5 passes over `megabytes`), measured with the kernels' pool. */
export function measureMemoryBandwidth(megabytes = 256): number {
  return addon().memoryBandwidth(megabytes);
}

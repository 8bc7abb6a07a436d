export { kernelInfo, measureMemoryBandwidth, resolveDevice, setThreads, type Device, type DeviceRequest, type KernelInfo } from './device.js';
export {
  FLAME_JOINTS,
  POSE_FEATURES,
  FlameForwardResult,
  FlameKernel,
  type FlameCotangents,
  type FlameForwardInput,
  type FlameGradients,
  type FlameKernelArrays,
  type FlameLandmarkArrays,
  type RotationFormat,
} from './flame.js';
export { KernelArgumentError } from './validate.js';
export { IDENTITY_6D, rotationMatrices, rotationVjp } from './rotation.js';
// For sibling packages (@pixel3dmm/render) that bind further kernels of the same addon.
export { addon as nativeAddon } from './addon.js';
export { checkFinite, checkIndices, checkInteger, checkTyped, fail } from './validate.js';

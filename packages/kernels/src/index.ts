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

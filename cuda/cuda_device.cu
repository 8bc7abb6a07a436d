// CUDA device discovery for the addon's info() and device selection. The CUDA runtime is linked
// statically and loads the driver lazily, so on a machine without a GPU or driver this reports why.
#include <cuda_runtime.h>

#include <cstdio>
#include <string>

#include "addon/device_info.h"

namespace p3d {

CudaInfo probeCuda() {
  CudaInfo info;
  info.built = true;
  cudaRuntimeGetVersion(&info.runtimeVersion);
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    info.reason = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(err) + " (code " +
                  std::to_string(static_cast<int>(err)) + ")";
    cudaGetLastError();  // clear the sticky error so later calls are not confused by it
    return info;
  }
  if (count == 0) {
    info.reason = "no CUDA device found";
    return info;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    char line[512];
    std::snprintf(line, sizeof(line), "%s (sm_%d%d, %.0f GiB)", prop.name, prop.major, prop.minor,
                  static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
    info.devices.push_back(line);
  }
  info.available = true;
  return info;
}

}  // namespace p3d

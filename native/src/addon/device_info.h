// What the addon knows about CUDA: whether it was compiled in, and whether a device can be used here.
#pragma once
#include <string>
#include <vector>

namespace p3d {

struct CudaInfo {
  bool built = false;       // CUDA kernels compiled into this addon
  bool available = false;   // a usable device was found
  std::string reason;       // why CUDA is unavailable (empty when available)
  std::vector<std::string> devices;  // "NVIDIA H100 80GB HBM3 (sm_90, 79 GiB)"
  int runtimeVersion = 0;
};

/** Probed once, on first use (the CUDA driver is loaded lazily, so a machine without one pays nothing). */
const CudaInfo& cudaInfo();
std::string compilerDescription();

}  // namespace p3d

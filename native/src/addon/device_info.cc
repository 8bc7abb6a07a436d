#include "device_info.h"

namespace p3d {

#ifdef P3D_HAVE_CUDA
CudaInfo probeCuda();  // cuda/cuda_device.cu
#endif

const CudaInfo& cudaInfo() {
  static const CudaInfo info = [] {
#ifdef P3D_HAVE_CUDA
    return probeCuda();
#else
    CudaInfo i;
    i.reason = "this addon was built without CUDA (nvcc was not found at build time, or PIXEL3DMM_WITH_CUDA=OFF)";
    return i;
#endif
  }();
  return info;
}

std::string compilerDescription() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("g++ ") + __VERSION__;
#else
  return "unknown compiler";
#endif
}

}  // namespace p3d

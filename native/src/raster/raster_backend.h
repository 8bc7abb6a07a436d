// Device dispatch of the rasterizer ops: Device::Cpu runs the CPU kernels (raster_cpu.cc, texture_cpu.cc,
// antialias_cpu.cc), Device::Cuda the CUDA ones (cuda/raster_cuda.cu). A build without CUDA throws
// std::invalid_argument for Device::Cuda (and never references a CUDA symbol).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "../flame/flame.h"  // p3d::Device
#include "raster.h"
#include "raster_cuda.h"
#include "texture_antialias.h"

namespace p3d {
namespace raster {

#ifdef P3D_HAVE_CUDA
#define P3D_RASTER_DISPATCH(fn, ...)  \
  do {                                \
    if (device == Device::Cuda)       \
      cuda::fn(__VA_ARGS__);          \
    else                              \
      fn(__VA_ARGS__);                \
  } while (0)
#else
#define P3D_RASTER_DISPATCH(fn, ...)                                                       \
  do {                                                                                     \
    if (device == Device::Cuda)                                                            \
      throw std::invalid_argument("this build of the addon has no CUDA support");          \
    fn(__VA_ARGS__);                                                                       \
  } while (0)
#endif


#ifdef P3D_HAVE_CUDA
// The CUDA kernels write their gradients; the "accumulate" options (dst += gradient, one float32 addition per
// element, as the CPU kernels do) are applied on the host after a CUDA call into a scratch buffer.
template <typename Call>
void cudaAccumulate(float* dst, size_t n, bool accumulate, Call call) {
  if (!accumulate || dst == nullptr) {
    call(dst);
    return;
  }
  std::vector<float> scratch(n);
  call(scratch.data());
  for (size_t i = 0; i < n; i++) dst[i] += scratch[i];
}
#endif

inline void rasterizeForward(Device device, const RasterDims& d, const float* pos, const int32_t* tri, float* rast) {
  P3D_RASTER_DISPATCH(rasterizeForward, d, pos, tri, rast);
}
inline void rasterizeBackward(Device device, const RasterDims& d, const float* pos, const int32_t* tri,
                              const float* rast, const float* gradRast, float* gradPos, bool accumulate = false) {
#ifdef P3D_HAVE_CUDA
  if (device == Device::Cuda) {
    cudaAccumulate(gradPos, static_cast<size_t>(d.batch) * d.numVertices * 4, accumulate,
                   [&](float* g) { cuda::rasterizeBackward(d, pos, tri, rast, gradRast, g); });
    return;
  }
#else
  if (device == Device::Cuda) throw std::invalid_argument("this build of the addon has no CUDA support");
#endif
  rasterizeBackward(d, pos, tri, rast, gradRast, gradPos, accumulate);
}
inline void interpolateForward(Device device, const InterpDims& d, const float* attr, const float* rast,
                               const int32_t* attrTri, float* out) {
  P3D_RASTER_DISPATCH(interpolateForward, d, attr, rast, attrTri, out);
}
inline void interpolateBackward(Device device, const InterpDims& d, const float* attr, const float* rast,
                                const int32_t* attrTri, const float* gradOut, float* gradAttr, float* gradRast,
                                bool accumulateRast = false) {
#ifdef P3D_HAVE_CUDA
  if (device == Device::Cuda) {
    cudaAccumulate(gradRast, static_cast<size_t>(d.batch) * d.height * d.width * 2, accumulateRast,
                   [&](float* g) { cuda::interpolateBackward(d, attr, rast, attrTri, gradOut, gradAttr, g); });
    return;
  }
#else
  if (device == Device::Cuda) throw std::invalid_argument("this build of the addon has no CUDA support");
#endif
  interpolateBackward(d, attr, rast, attrTri, gradOut, gradAttr, gradRast, accumulateRast);
}
/**
 * On the CPU one pass (raster_cpu.cc); on CUDA the two kernels in turn, the rast gradient passing through a host
 * buffer: each CUDA kernel gives its CPU twin's bits, and the CPU pass gives the two CPU kernels' bits.
 */
inline void interpolateRasterizeBackward(Device device, const InterpDims& d, const float* attr, const float* rast,
                                         const int32_t* attrTri, const float* gradOut, float* gradAttr, const float* pos,
                                         int numVertices, const int32_t* tri, float* gradPos, bool accumulatePos = false,
                                         const float* gradRastIn = nullptr) {
#ifdef P3D_HAVE_CUDA
  if (device == Device::Cuda) {
    const size_t n = static_cast<size_t>(d.batch) * d.height * d.width * 2;
    std::vector<float> gradRast = gradRastIn ? std::vector<float>(gradRastIn, gradRastIn + n) : std::vector<float>(n);
    interpolateBackward(device, d, attr, rast, attrTri, gradOut, gradAttr, gradRast.data(), gradRastIn != nullptr);
    RasterDims rd;
    rd.batch = d.batch;
    rd.numVertices = numVertices;
    rd.numTriangles = d.numTriangles;
    rd.height = d.height;
    rd.width = d.width;
    rasterizeBackward(device, rd, pos, tri, rast, gradRast.data(), gradPos, accumulatePos);
    return;
  }
#else
  if (device == Device::Cuda) throw std::invalid_argument("this build of the addon has no CUDA support");
#endif
  interpolateRasterizeBackward(d, attr, rast, attrTri, gradOut, gradAttr, pos, numVertices, tri, gradPos, accumulatePos,
                               gradRastIn);
}
inline void textureForward(Device device, const TextureDims& d, const float* tex, const float* uv, float* out) {
  P3D_RASTER_DISPATCH(textureForward, d, tex, uv, out);
}
inline void textureBackward(Device device, const TextureDims& d, const float* tex, const float* uv,
                            const float* gradOut, float* gradUv, float* gradTex, bool accumulateUv = false) {
#ifdef P3D_HAVE_CUDA
  if (device == Device::Cuda) {
    cudaAccumulate(gradUv, static_cast<size_t>(d.count) * 2, accumulateUv,
                   [&](float* g) { cuda::textureBackward(d, tex, uv, gradOut, g, gradTex); });
    return;
  }
#else
  if (device == Device::Cuda) throw std::invalid_argument("this build of the addon has no CUDA support");
#endif
  textureBackward(d, tex, uv, gradOut, gradUv, gradTex, accumulateUv);
}
inline void antialiasForward(Device device, const AntialiasDims& d, const float* color, const float* rast,
                             const float* pos, const int32_t* tri, const int32_t* opp, float* out) {
  P3D_RASTER_DISPATCH(antialiasForward, d, color, rast, pos, tri, opp, out);
}
inline void antialiasBackward(Device device, const AntialiasDims& d, const float* color, const float* rast,
                              const float* pos, const int32_t* tri, const int32_t* opp, const float* gradOut,
                              float* gradColor, float* gradPos) {
  P3D_RASTER_DISPATCH(antialiasBackward, d, color, rast, pos, tri, opp, gradOut, gradColor, gradPos);
}

#undef P3D_RASTER_DISPATCH

}  // namespace raster
}  // namespace p3d

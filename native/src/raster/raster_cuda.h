// CUDA backend of the differentiable rasterizer (cuda/raster_cuda.cu): the same eight entry points, layouts,
// validation and results as the CPU kernels (raster.h, texture_antialias.h). Host arrays in, host arrays out:
// each call uploads its inputs to a persistent device workspace, runs and downloads the outputs before it
// returns. Only declared when the build has CUDA (P3D_HAVE_CUDA); raster_backend.h dispatches by device.
//
// Errors: invalid inputs throw std::invalid_argument (the CPU kernels' messages), CUDA failures std::runtime_error.
#pragma once
#include <cstdint>

#include "raster.h"
#include "texture_antialias.h"

#ifdef P3D_HAVE_CUDA
namespace p3d {
namespace raster {
namespace cuda {

void rasterizeForward(const RasterDims& d, const float* pos, const int32_t* tri, float* rast);
void rasterizeBackward(const RasterDims& d, const float* pos, const int32_t* tri, const float* rast,
                       const float* gradRast, float* gradPos);
void interpolateForward(const InterpDims& d, const float* attr, const float* rast, const int32_t* attrTri, float* out);
void interpolateBackward(const InterpDims& d, const float* attr, const float* rast, const int32_t* attrTri,
                         const float* gradOut, float* gradAttr, float* gradRast);
void textureForward(const TextureDims& d, const float* tex, const float* uv, float* out);
void textureBackward(const TextureDims& d, const float* tex, const float* uv, const float* gradOut, float* gradUv,
                     float* gradTex);
void antialiasForward(const AntialiasDims& d, const float* color, const float* rast, const float* pos,
                      const int32_t* tri, const int32_t* opp, float* out);
void antialiasBackward(const AntialiasDims& d, const float* color, const float* rast, const float* pos,
                       const int32_t* tri, const int32_t* opp, const float* gradOut, float* gradColor,
                       float* gradPos);

}  // namespace cuda
}  // namespace raster
}  // namespace p3d
#endif

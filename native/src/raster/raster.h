// Differentiable rasterizer, CPU kernels (kernels-design.md section 2): rasterize forward/backward and
// interpolate forward/backward. Layouts (float32 / int32, batch-major, channel-last, contiguous):
//   pos [B,V,4] clip space (x, y, z, w); tri / attrTri [T,3]; rast [B,H,W,4] = (u, v, z/w, triId+1), zeros
//   for background, row 0 = bottom; attr [Ba,Va,C] with Ba = 1 (broadcast) or B; interp [B,H,W,C];
//   gradRast [B,H,W,2] (du, dv); gradPos [B,V,4] (z channel 0).
// Every result is independent of the thread count: parallel tasks write disjoint outputs and every floating
// point sum runs in a fixed order (see raster_cpu.cc). No float atomics.
//
// Callers (the N-API binding) have already checked buffer lengths; these functions check every index
// (tri / attrTri entries, triangle ids read from rast) and throw std::invalid_argument before any work.
#pragma once
#include <cstdint>

#include "raster_math.h"

namespace p3d {
namespace raster {

struct RasterDims {
  int batch = 0, numVertices = 0, numTriangles = 0, height = 0, width = 0;
};

/** Forward rasterize: writes rast [B,H,W,4]. */
void rasterizeForward(const RasterDims& d, const float* pos, const int32_t* tri, float* rast);

/**
 * Backward of rasterize: gradRast [B,H,W,2] (du, dv) -> gradPos [B,V,4] (x, y, w; z = 0). rast is the forward
 * output (only its triangle ids are read; u, v are recomputed from pos at the pixel centre). accumulate:
 * gradPos[i] += the gradient (one float32 addition per element) instead of =.
 */
void rasterizeBackward(const RasterDims& d, const float* pos, const int32_t* tri, const float* rast,
                       const float* gradRast, float* gradPos, bool accumulate = false);

struct InterpDims {
  int batch = 0, height = 0, width = 0;  // of rast
  int attrBatch = 0;                     // 1 (broadcast) or batch
  int attrVertices = 0, channels = 0, numTriangles = 0;
};

/** out[b,y,x,c] = u*attr[i0,c] + v*attr[i1,c] + (1-u-v)*attr[i2,c]; zeros for background. */
void interpolateForward(const InterpDims& d, const float* attr, const float* rast, const int32_t* attrTri, float* out);

/**
 * Backward of interpolate for gradOut [B,H,W,C]: gradAttr [Ba,Va,C] (summed over the batch when Ba = 1) and
 * gradRast [B,H,W,2]; either output may be null (not computed). accumulateRast: gradRast[i] += the gradient (one
 * float32 addition per element) instead of =.
 */
void interpolateBackward(const InterpDims& d, const float* attr, const float* rast, const int32_t* attrTri,
                         const float* gradOut, float* gradAttr, float* gradRast, bool accumulateRast = false);

/**
 * interpolateBackward whose rast gradient goes straight on into rasterizeBackward, in one pass over the pixels:
 * gradAttr as interpolateBackward gives it (null: not computed) and gradPos [B,V,4] as rasterizeBackward(pos, tri,
 * rast, gradRast) gives it for the gradRast that interpolateBackward (accumulateRast false) would write;
 * accumulatePos: gradPos[i] += the gradient, as rasterizeBackward's accumulate. gradRastIn [B,H,W,2] (may be null):
 * a rast gradient of other ops on the same rast, to which this one is added as interpolateBackward's accumulateRast
 * adds it. The same bits as those two calls, without storing the rast gradient or scanning the pixels twice.
 * tri [T,3] indexes pos [B,V,4] (V = numVertices) and has attrTri's triangle count.
 */
void interpolateRasterizeBackward(const InterpDims& d, const float* attr, const float* rast, const int32_t* attrTri,
                                  const float* gradOut, float* gradAttr, const float* pos, int numVertices,
                                  const int32_t* tri, float* gradPos, bool accumulatePos = false,
                                  const float* gradRastIn = nullptr);

}  // namespace raster
}  // namespace p3d

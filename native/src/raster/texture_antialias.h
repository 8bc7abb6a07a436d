// Texture sampling and analytic silhouette antialiasing, CPU kernels (kernels-design.md 2.5 texture_bwd, 2.6).
//
// texture: tex [Ht,Wt,C], uv [N,2] -> out [N,C]; bilinear, texel (i, j) centred at uv ((i+0.5)/Wt, (j+0.5)/Ht),
//   u along the width (column), v along the height (row, v = 0 at row 0); out-of-range texel indices wrap
//   (modulo) or clamp to the edge; a non-finite uv gives 0 (and zero gradients). The per-pixel math runs in
//   float64 from the float32 inputs, so results match the float64 reference to float32 rounding.
//   Backward: gradUv [N,2] per pixel (exclusive writes); gradTex [Ht,Wt,C] (optional) is reduced without
//   atomics: texture rows are split into bands, each band task scans the pixels in ascending order and adds
//   the contributions that fall in its rows, so every texel sums in (pixel, corner) order for any band count.
//
// antialias: color [B,H,W,C], rast [B,H,W,4], pos [B,V,4], tri [T,3], opp [T,3] (opposite vertex of the other
//   triangle on edge k = (tri[t][k], tri[t][k+1]), -1 = boundary) -> out [B,H,W,C]. Every pixel's right and up
//   pair has a record (only pairs whose triangle ids differ can carry one); each pixel gathers its 4 incident
//   records in a fixed order (own horizontal, own vertical, left neighbour's horizontal, lower neighbour's
//   vertical). Work is split into bands of rows; a band analyses only its differing pairs and gathers only at the
//   pixels a record corrects (the others copy color), which gives the same results as a dense pass.
//   Backward: gradColor by the same gather; gradPos [B,V,4] (x, y, w; z = 0) sums each vertex's contributions in
//   ascending record order (bands produce them in parallel, a per-frame pass adds them in order), so results are
//   identical for any thread count and a frame in a batch equals the frame alone. Edge analysis in float64.
//
// Callers (the N-API binding) have checked buffer lengths; the kernels check every index (tri, opp, rast ids)
// and throw std::invalid_argument before any work.
#pragma once
#include <cstdint>

namespace p3d {
namespace raster {

struct TextureDims {
  int64_t count = 0;  // N uv pairs
  int texHeight = 0, texWidth = 0, channels = 0;
  bool wrap = true;  // false = clamp
};

void textureForward(const TextureDims& d, const float* tex, const float* uv, float* out);
/** gradUv and gradTex may each be null (not computed). accumulateUv: gradUv[i] += the float32 gradient instead of =. */
void textureBackward(const TextureDims& d, const float* tex, const float* uv, const float* gradOut, float* gradUv,
                     float* gradTex, bool accumulateUv = false);

struct AntialiasDims {
  int batch = 0, height = 0, width = 0, channels = 0, numVertices = 0, numTriangles = 0;
};

/**
 * Work buffer (optional): the forward's pair records, so that a backward for the same rast, pos, tri and opp (any
 * color) skips the pair analysis. int32 elements: a header (magic, batch, height, width, numTriangles, rows per
 * band), one record count per (frame, band of rows), then per (frame, band) a fixed-capacity region of records
 * (2 per pixel of the band: its right and upper pairs), each 4 int32: pair index within the band
 * ((row - first row) * width + column) * 2 + dir with edge | front1 << 2 | interior << 3 in bits 24..27, front
 * triangle, dF (float64 bits). Only pairs with a record (a silhouette crossing) are stored, in ascending index.
 * antialiasWorkSize: its length for d, or -1 when it would need more than 2^31 - 1 elements.
 */
int64_t antialiasWorkSize(const AntialiasDims& d);

/** work (optional, antialiasWorkSize(d) elements): filled with the records for antialiasBackward. */
void antialiasForward(const AntialiasDims& d, const float* color, const float* rast, const float* pos,
                      const int32_t* tri, const int32_t* opp, float* out, int32_t* work = nullptr);
/**
 * gradColor and gradPos may each be null (not computed). work (optional): a buffer filled by antialiasForward for
 * the same dims, rast, pos, tri and opp; it is checked (header, counts, every record's indices and ranges; throws
 * std::invalid_argument) before any output is written, and rast and opp are then not read. The results are
 * identical to a call without it (the caller must not pass a buffer from other inputs: that is not detectable).
 */
void antialiasBackward(const AntialiasDims& d, const float* color, const float* rast, const float* pos,
                       const int32_t* tri, const int32_t* opp, const float* gradOut, float* gradColor,
                       float* gradPos, const int32_t* work = nullptr);

}  // namespace raster
}  // namespace p3d

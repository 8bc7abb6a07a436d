// Triangle setup shared by the CPU kernels and the CUDA port (kernels-design.md 2.2): the snapped (1/16 px)
// vertices of a (sub-)triangle -> its coverage record. Integer arithmetic only, so both backends get the same record.
#pragma once
#include <cstdint>

#include "raster_math.h"  // P3D_HD

namespace p3d {
namespace raster {

/** floor(a / 16) and ceil(a / 16) for any sign (pixel centres sit at 16 i + 8 in fixed point). */
P3D_HD int64_t floorDiv16(int64_t a) { return a >= 0 ? a / 16 : -((-a + 15) / 16); }
P3D_HD int64_t ceilDiv16(int64_t a) { return -floorDiv16(-a); }

struct SubTri {
  int32_t X[3], Y[3];  // CCW (after the coverage-only swap)
  int32_t tri;
  int32_t px0, px1, py0, py1;  // inclusive pixel bounding box, clipped to the viewport
  uint8_t incl[3];             // edge k (vertex k -> k+1) owns E == 0 ties (top-left rule)
  uint8_t cw;                  // 1 when the snapped vertices were clockwise (swapped for coverage). Also fills the
};                             // last word: the CUDA kernels copy whole SubTris, so no byte may stay unwritten
                               // (compute-sanitizer initcheck reported the copy of an uninitialised byte)

/**
 * Orientation, coverage-only CCW swap, top-left flags and the pixel bounding box of one (sub-)triangle with snapped
 * vertices (X, Y), into st; false if it covers no pixel centre (zero area, or a bounding box outside the W x H
 * viewport).
 */
P3D_HD bool makeSubTri(int32_t X0, int32_t Y0, int32_t X1, int32_t Y1, int32_t X2, int32_t Y2, int32_t t, int W, int H,
                       SubTri& st) {
  const int64_t A = (static_cast<int64_t>(X1) - X0) * (static_cast<int64_t>(Y2) - Y0) -
                    (static_cast<int64_t>(X2) - X0) * (static_cast<int64_t>(Y1) - Y0);
  if (A == 0) return false;
  st.cw = A < 0 ? 1 : 0;
  if (A < 0) {
    const int32_t tx = X1, ty = Y1;
    X1 = X2;
    Y1 = Y2;
    X2 = tx;
    Y2 = ty;
  }
  auto min3 = [](int32_t a, int32_t b, int32_t c) { return static_cast<int64_t>(a < b ? (a < c ? a : c) : (b < c ? b : c)); };
  auto max3 = [](int32_t a, int32_t b, int32_t c) { return static_cast<int64_t>(a > b ? (a > c ? a : c) : (b > c ? b : c)); };
  const int64_t cx0 = ceilDiv16(min3(X0, X1, X2) - 8), cx1 = floorDiv16(max3(X0, X1, X2) - 8);
  const int64_t cy0 = ceilDiv16(min3(Y0, Y1, Y2) - 8), cy1 = floorDiv16(max3(Y0, Y1, Y2) - 8);
  const int64_t px0 = cx0 > 0 ? cx0 : 0, px1 = cx1 < W - 1 ? cx1 : W - 1;
  const int64_t py0 = cy0 > 0 ? cy0 : 0, py1 = cy1 < H - 1 ? cy1 : H - 1;
  if (px0 > px1 || py0 > py1) return false;
  st.X[0] = X0;
  st.X[1] = X1;
  st.X[2] = X2;
  st.Y[0] = Y0;
  st.Y[1] = Y1;
  st.Y[2] = Y2;
  for (int e = 0; e < 3; ++e) {
    const int e1 = e == 2 ? 0 : e + 1;
    st.incl[e] = (st.Y[e1] < st.Y[e] || (st.Y[e1] == st.Y[e] && st.X[e1] < st.X[e])) ? 1 : 0;
  }
  st.px0 = static_cast<int32_t>(px0);
  st.px1 = static_cast<int32_t>(px1);
  st.py0 = static_cast<int32_t>(py0);
  st.py1 = static_cast<int32_t>(py1);
  st.tri = t;
  return true;
}

}  // namespace raster
}  // namespace p3d

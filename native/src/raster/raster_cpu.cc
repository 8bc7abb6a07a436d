// CPU kernels of the differentiable rasterizer (kernels-design.md 2.2-2.5). See raster.h for layouts.
//
// Forward rasterize, per call:
//  1. Vertex stage (parallel over frames x vertex chunks): finite / behind-near-plane flags and the fixed-point
//     position (1/16 px, round-half-even, saturated to +-2^28), computed once per vertex, in float64 from the
//     float32 input so that the float64 TypeScript reference snaps identically.
//  2. Setup (parallel over frames x triangle chunks): drop non-finite / fully-behind triangles, clip against
//     the near plane only (canonical endpoint order, float64), fan into <= 2 sub-triangles, orientation (int64),
//     CCW swap for coverage only, top-left flags, pixel bounding box. Each (b, t) has 2 fixed slots.
//  3. Binning into 32x32 px tiles, each tile's list in two parts (clockwise, counter-clockwise sub-triangles):
//     counts from the setup tasks -> prefix sum in (tile, part, task) order -> fill in parallel over the setup
//     tasks, so every part is in ascending (t, sub-triangle) order.
//  4. Tile raster (parallel over frames x tiles): int64 edge functions with the top-left rule, float32 z/w on
//     the original triangle at the pixel centre, far reject z/w > 1, key = orderedBits(zw + 0) << 32 | t, min per
//     pixel in a tile-local buffer; then resolve (u, v, zw) with the clamps and write the tile's pixels. A tile's
//     clockwise sub-triangles are drawn first (FLAME's side facing the camera); each counter-clockwise one is then
//     skipped whole when it provably loses every pixel it could cover (occludedEverywhere).
// Keys are compared with an integer min, so the result does not depend on any order at all; every task writes
// disjoint pixels, so results are identical for any thread count.
//
// Backward passes never scatter with float atomics: each triangle's pixels are summed sequentially in ascending
// pixel order into per-triangle-corner sums (one task owns a range of triangle ids of a frame and scans the frame's
// pixels in order, so no pixel sort is needed; see sumPerTriangle), and each vertex gathers its corners in
// ascending corner order (tri*3 + k) through a vertex -> corner CSR. Broadcast attributes additionally sum over
// frames in ascending order.
#include <algorithm>
#include <limits>
#include <atomic>
#include <type_traits>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "../common/thread_pool.h"
#include "../common/zero_fill.h"
#include "raster.h"
#include "raster_setup.h"
#include "validate_cpu.h"

namespace p3d {
namespace raster {
namespace {

constexpr int kTile = 32;                 // tile side in pixels
constexpr double kSaturate = 268435456.0;  // 2^28, in 1/16 px
constexpr int kTriChunk = 512;             // triangles per setup / reduction task
constexpr int kVertexChunk = 512;          // vertices per vertex-stage / gather task (a few per thread: dispatch is cheap)
// Pixels per task of interpolate's forward: at 256x256, 4096 made 16 tasks of very different cost (a background
// chunk is a fill) and left the two cores up to one of them apart at the end of a call. The backward's separate
// rast-gradient pass keeps 4096 (no gain measured from smaller ones there).
constexpr int64_t kPixelChunk = 1024;
constexpr int64_t kRastGradChunk = 4096;
constexpr int kWideMax = 64;               // most channels of interpolateBackward's AVX2 paths (stack rows)

template <typename F>
void parallelFor(int64_t count, F&& fn) {
  if (count <= 0) return;
  if (count > 0x7fffffff) throw std::invalid_argument("raster: too many tasks");
  ThreadPool::instance().parallelFor(static_cast<int>(count), [&](int i) { fn(i); });
}

int64_t ceilDivPos(int64_t a, int64_t b) { return (a + b - 1) / b; }

/** Fixed-point coordinate (1/16 px) of an NDC coordinate along an axis of `size` pixels. */
int32_t toFixed(double ndc, int size) {
  const double s = 8.0 * static_cast<double>(size);
  double v = ndc * s + s;
  if (v > kSaturate) v = kSaturate;
  else if (v < -kSaturate) v = -kSaturate;
  if (v != v) return 0;  // only for vertices that are never used (w == 0 and x == 0)
  return static_cast<int32_t>(std::nearbyint(v));  // default rounding mode: half to even
}


/** 0 for background, t + 1 for triangle t; throws on anything that is not an integer in [0, T]. */
void checkIds(const float* rast, int64_t numPixels, int numTriangles, const char* where) {
  if (idsValid(rast, numPixels, numTriangles)) return;
  for (int64_t p = 0; p < numPixels; ++p) {
    const float id = rast[4 * p + 3];
    if (!idValid(id, static_cast<float>(numTriangles)))
      throw std::invalid_argument(std::string(where) + ": rast[" + std::to_string(p) +
                                  "] has triangle id " + std::to_string(id) + ", expected 0 or an integer in [1, " +
                                  std::to_string(numTriangles) + "]");
  }
}

void checkTriangles(const int32_t* tri, int numTriangles, int numVertices, const char* where) {
  if (indicesInRange(tri, 3 * static_cast<int64_t>(numTriangles), 0, numVertices)) return;
  for (int64_t i = 0; i < 3 * static_cast<int64_t>(numTriangles); ++i)
    if (tri[i] < 0 || tri[i] >= numVertices)
      throw std::invalid_argument(std::string(where) + ": triangle index " + std::to_string(tri[i]) + " at " +
                                  std::to_string(i) + " is outside [0, " + std::to_string(numVertices) + ")");
}

#if defined(__AVX2__)
/** For each 8-bit mask, the indices of its set bits in ascending order (then zeros), one per byte. */
struct Compress8Table {
  uint64_t entry[256];
  Compress8Table() {
    for (int m = 0; m < 256; ++m) {
      uint64_t e = 0;
      int n = 0;
      for (int j = 0; j < 8; ++j)
        if ((m >> j) & 1) e |= static_cast<uint64_t>(j) << (8 * n++);
      entry[m] = e;
    }
  }
  const uint64_t& operator[](uint32_t m) const { return entry[m]; }
};
const Compress8Table kCompress8;
#endif

/**
 * True when the triangle with clip-space vertices p0, p1, p2 cannot win any pixel of the rectangle [x0, x1] x [y0, y1]
 * (pixel centres fxTab / fyTab), given the z/w of each pixel's current winner in winZ (row stride `stride`, +inf where
 * nothing has won yet; NaN never passes): then skipping it changes no bit of the result (wherever it covers a pixel,
 * its key is larger). Conservative: false whenever the bound below is not good enough.
 *
 * It needs a lower bound of the float32 z/w that the tile stage computes for this triangle at any pixel centre f of
 * the rectangle: num / den, num = sum z_i a_i, den = sum w_i a_i, a_0 = q_1x q_2y - q_1y q_2x (cyclic), q_ix = x_i -
 * fx w_i, q_iy = y_i - fy w_i (baryAt, zwOf). Exactly, the fx fy terms of a_i cancel, so num is affine in f (smallest
 * at a corner of the rectangle) and den is constant (the determinant of the (x, y, w) rows). Rounding: float32, round
 * to nearest, u = 2^-24 relative per operation plus 2^-150 absolute where a result is subnormal (the CPU threads run
 * without denormals-are-zero). With Pm >= |x_i|, |y_i| + |f|max |w_i| and Qm >= the exact |q| over the rectangle:
 *   a computed q is off by <= eta = 2.01 u Pm (+ underflow) (a product, then a difference), so at most Q = Qm + eta;
 *   a computed a_i is off by <= aE = 2 eta (Q + Qm) + 4.01 u Q^2 (first-order terms of both products, their rounding,
 *   the difference's), so at most aB = 2 Qm^2 + aE;
 *   num is off by <= sum |z_i| (aE + 3.01 u aB) (the a_i's errors, three products, two sums); den alike with w.
 * The float64 evaluation here adds <= 1e-15 of the magnitudes it adds up (sum |z_i| 2 Pm^2), the factor 1.01 covers
 * the rounding of the bounds themselves. With den's interval away from 0, num / den over the two intervals is smallest
 * at one of their ends, and the final division adds a relative u. Sizes are bounded so that no float32 intermediate
 * overflows (none is then infinite or NaN). The CUDA kernels skip nothing: their bitwise agreement with these is the
 * check (host emulation in CI, GPU parity test); it resolves a bound wrong by more than its own slack (~1e-5 of the
 * depth for the test's triangles), the derivation above is what covers the rest.
 */
inline bool occludedEverywhere(const float* p0, const float* p1, const float* p2, const float* fxTab, const float* fyTab,
                               int x0, int x1, int y0, int y1, const float* winZ, int stride) {
  constexpr double u = 1.0 / 16777216.0;
  // Rectangle of pixel centres as centre +- radius (exact in float64: sums of two floats, halved).
  const double fxMid = 0.5 * (static_cast<double>(fxTab[x0]) + fxTab[x1]), fxRad = 0.5 * (static_cast<double>(fxTab[x1]) - fxTab[x0]);
  const double fyMid = 0.5 * (static_cast<double>(fyTab[y0]) + fyTab[y1]), fyRad = 0.5 * (static_cast<double>(fyTab[y1]) - fyTab[y0]);
  const double fxMax = std::fabs(fxMid) + fxRad, fyMax = std::fabs(fyMid) + fyRad;
  const float* p[3] = {p0, p1, p2};
  double Pm = 0, Qm = 0, zSum = 0, wSum = 0, n0 = 0, nx = 0, ny = 0, den = 0;
  for (int i = 0; i < 3; ++i) {
    const double x = p[i][0], y = p[i][1], z = p[i][2], w = p[i][3], aw = std::fabs(w);
    Pm = std::max(Pm, std::max(std::fabs(x) + fxMax * aw, std::fabs(y) + fyMax * aw));
    Qm = std::max(Qm, std::max(std::fabs(x - fxMid * w) + fxRad * aw, std::fabs(y - fyMid * w) + fyRad * aw));
    zSum += std::fabs(z);
    wSum += aw;
    const float* pj = p[i == 2 ? 0 : i + 1];
    const float* pk = p[i == 0 ? 2 : i - 1];
    const double c = static_cast<double>(pj[0]) * pk[1] - static_cast<double>(pj[1]) * pk[0];
    n0 += z * c;
    nx += z * (static_cast<double>(pj[1]) * pk[3] - static_cast<double>(pj[3]) * pk[1]);
    ny += z * (static_cast<double>(pj[3]) * pk[0] - static_cast<double>(pj[0]) * pk[3]);
    den += w * c;
  }
  const double mag = 2 * Pm * Pm;  // >= |c_i| + |cx_i| fxMax + |cy_i| fyMax, and any product of two q's
  if (!(Pm < 1e17 && zSum * mag < 1e36 && wSum * mag < 1e36)) return false;
  // Each float32 operation: relative error <= u, plus <= 2^-150 absolute where the result is subnormal.
  const double eta = 2.01 * u * Pm + 1.5e-45;                       // error of a computed q
  const double Q = Qm + eta;                                         // size of a computed q
  const double aE = 2 * eta * (Q + Qm) + 4.01 * u * Q * Q + 3e-45;   // error of a computed a_i
  const double aB = 2 * Qm * Qm + aE;                                // size of a computed a_i
  const double perUnit = 1.01 * (aE + 3.01 * u * aB) + 1e-15 * mag;
  const double eNum = zSum * perUnit + 1e-44, eDen = wSum * perUnit + 1e-44;
  const double numMid = n0 + nx * fxMid + ny * fyMid, numRad = std::fabs(nx) * fxRad + std::fabs(ny) * fyRad;
  const double numLo = numMid - numRad - eNum, numHi = numMid + numRad + eNum;
  const double denLo = den - eDen, denHi = den + eDen;
  if (!(denLo > 1e-20 || denHi < -1e-20)) return false;  // den keeps one sign, well away from underflow
  // The smallest num / den: over den > 0, numLo over the largest den if numLo >= 0, else over the smallest; mirrored.
  const double r = denLo > 0 ? numLo / (numLo >= 0 ? denHi : denLo) : numHi / (numHi >= 0 ? denHi : denLo);
  const double zwLo = r - std::fabs(r) * (2 * u) - 1e-30;
  // Every current winner's z/w must be below the bound (then below the computed z/w).
  for (int y = 0; y <= y1 - y0; ++y) {
    const float* row = winZ + static_cast<int64_t>(y) * stride;
    for (int x = 0; x <= x1 - x0; ++x)
      if (!(static_cast<double>(row[x]) < zwLo)) return false;
  }
  return true;
}

/** Inclusive tile rectangle of an unclipped triangle (tiles per axis <= 2^15: sizes are at most 2^20). */
struct TileRange {
  uint16_t x0, x1, y0, y1;
};

// Kind of a (frame, triangle) slot after the setup: covers nothing, 1 or 2 clipped sub-triangles stored in its two
// SubTri slots, or the unclipped triangle itself, stored in its first slot, with its tile range (see the setup).
constexpr uint8_t kDirect = 3;
// Bit of a kDirect slot's kind: the snapped triangle is clockwise (SubTri::cw).
constexpr uint8_t kDirectCw = 4;

struct ClipVert {
  double x, y, z, w;
  int32_t X, Y;
};

/** Vertex -> corner (3t + k) CSR of one topology: corners of vertex v at corner[start[v] .. start[v + 1]). */
struct CornerTable {
  std::vector<int32_t> tri;  // the topology it was built for
  int V = -1;                // its vertex count; -1: not built
  std::vector<int32_t> start, corner;
  uint64_t lastUse = 0;
};
// A tracker's backward alternates between two topologies (rasterize's position triangles, interpolate's attribute
// corners); a few tables are kept so that neither evicts the other.
constexpr int kCornerTables = 4;

/**
 * Per-calling-thread scratch buffers, reused across calls: fresh multi-megabyte allocations cost more than the
 * kernels themselves (page faults on first touch). Every buffer is fully overwritten before it is read, so reuse
 * never changes a result. thread_local: Node worker threads may call the kernels concurrently.
 */
struct Scratch {
  std::vector<int32_t> fixedX, fixedY;
  std::vector<uint8_t> flags, numSubs;
  std::vector<SubTri> subs;
  std::vector<TileRange> ranges;
  std::vector<std::vector<int64_t>> tileStart;
  std::vector<std::vector<int32_t>> tileList;
  std::vector<int64_t> tileCount;  // [B * tChunks * 2 * numTiles] per-setup-task tile counts, then fill cursors
  std::vector<float> fxTab, fyTab, G;
  std::vector<float> posSums;  // interpolateRasterizeBackward's per-triangle rows of rasterize-backward sums
  std::vector<int32_t> rowOf;
  CornerTable corners[kCornerTables];
  uint64_t cornerUses = 0;  // clock of CornerTable::lastUse
  std::vector<int32_t> cornerCursor;
  // sumPerTriangle's id ranges when it splits frames (see there): the cuts [B][K + 1] for calls of these sizes, and
  // the covered pixels per id bucket [B][K][kSplitBuckets] that its last call counted.
  struct {
    int B = -1, K = -1, T = -1;
    int64_t HW = -1;
    std::vector<int> cuts;
    std::vector<int64_t> counts;
  } split;
};
constexpr int kSplitBuckets = 256;

/**
 * Grows v to at least n elements and never shrinks it. resize() to a larger size value-initialises (memsets) the
 * new elements: for a buffer whose size alternates between calls (G: 9 floats per triangle in rasterizeBackward,
 * 3 * 16 for 15 channels in interpolateBackward) that was a multi-megabyte memset per call. Only for buffers whose
 * callers write every element before reading it.
 */
template <typename E>
void growTo(std::vector<E>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

#if defined(__AVX2__)
/** The triangle ids (rast channel 3, as floats) of the 8 pixels at r, in pixel order. */
inline __m256 idFloatsInPixelOrder(const float* r) {
  // shuffles give the ids in the lane order (p0 p2 p4 p6 | p1 p3 p5 p7); the permute restores pixel order.
  const __m256 a = _mm256_shuffle_ps(_mm256_loadu_ps(r), _mm256_loadu_ps(r + 8), _MM_SHUFFLE(3, 3, 3, 3));
  const __m256 b = _mm256_shuffle_ps(_mm256_loadu_ps(r + 16), _mm256_loadu_ps(r + 24), _MM_SHUFFLE(3, 3, 3, 3));
  return _mm256_permutevar8x32_ps(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/** raster_math.h's laneTreeSum of the eight lanes of l: ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)). */
inline float laneTreeSum8(__m256 l) {
  const __m128 x = _mm_add_ps(_mm256_castps256_ps128(l), _mm256_extractf128_ps(l, 1));  // l0+l4, l1+l5, l2+l6, l3+l7
  const __m128 y = _mm_add_ps(x, _mm_movehl_ps(x, x));                                 // x0+x2, x1+x3
  return _mm_cvtss_f32(_mm_add_ss(y, _mm_shuffle_ps(y, y, 1)));                          // y0+y1
}

/** In-place 8 x 8 transpose: r[i] lane j becomes r[j] lane i (element moves only). */
inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)), s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)), s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

#endif

/**
 * Rasterize-backward's terms of covered pixels, 8 at a time, of any triangles: push() queues a pixel (its triangle's
 * clip-space corners, its centre, (du, dv) and the triangle's row of 9 sums); every 8 pixels, and at flush(), the
 * pixels' terms are computed in the lanes of one vector pass (each lane doing the float32 operations of baryAt and
 * rasterBackwardPixel in their order, so with their values) and then added onto their rows one pixel after the other,
 * in the order pushed: a triangle's 9 sums get its pixels' terms (du, dv) in the order its pixels are pushed. (Per
 * pixel the terms are ~60 dependent scalar operations and a division; a triangle covers ~2 pixels of a run, so vectors
 * over one triangle's pixels would stay mostly empty.) One per thread (batchOfThread); sumPerTriangle hands it to a
 * task's runs and flushes it when the task ends.
 */
struct RasterPixelBatch {
  alignas(32) float x0[8], y0[8], w0[8], x1[8], y1[8], w1[8], x2[8], y2[8], w2[8], fx[8], fy[8], du[8], dv[8];
  float* row[8];
  int n = 0;
  // The per-triangle rows of the frame this thread is summing, when a task owns a whole frame and reduces it before
  // its next one (interpolateBackward's frame rows): reused frame after frame, so they stay in this core's cache
  // (rows of their own per frame made a batch of 16 write and read back ~30 MB through memory per call).
  std::vector<float> frameRowsG, frameRowsPos;
  void push(const float* p0, const float* p1, const float* p2, float pfx, float pfy, float pdu, float pdv, float* sums) {
    x0[n] = p0[0], y0[n] = p0[1], w0[n] = p0[3];
    x1[n] = p1[0], y1[n] = p1[1], w1[n] = p1[3];
    x2[n] = p2[0], y2[n] = p2[1], w2[n] = p2[3];
    fx[n] = pfx, fy[n] = pfy, du[n] = pdu, dv[n] = pdv;
    row[n] = sums;
    if (++n == 8) flush();
  }
  void flush() {
    if (n == 0) return;
    alignas(32) float c[9][8];
#if defined(__AVX2__)
    for (int k = n; k < 8; ++k) {  // unused lanes repeat lane 0 (defined values; their results are dropped)
      x0[k] = x0[0], y0[k] = y0[0], w0[k] = w0[0], x1[k] = x1[0], y1[k] = y1[0], w1[k] = w1[0];
      x2[k] = x2[0], y2[k] = y2[0], w2[k] = w2[0], fx[k] = fx[0], fy[k] = fy[0], du[k] = du[0], dv[k] = dv[0];
    }
    const __m256 FX = _mm256_load_ps(fx), FY = _mm256_load_ps(fy);
    const __m256 W0 = _mm256_load_ps(w0), W1 = _mm256_load_ps(w1), W2 = _mm256_load_ps(w2);
    // baryAt
    const __m256 q0x = _mm256_sub_ps(_mm256_load_ps(x0), _mm256_mul_ps(FX, W0));
    const __m256 q0y = _mm256_sub_ps(_mm256_load_ps(y0), _mm256_mul_ps(FY, W0));
    const __m256 q1x = _mm256_sub_ps(_mm256_load_ps(x1), _mm256_mul_ps(FX, W1));
    const __m256 q1y = _mm256_sub_ps(_mm256_load_ps(y1), _mm256_mul_ps(FY, W1));
    const __m256 q2x = _mm256_sub_ps(_mm256_load_ps(x2), _mm256_mul_ps(FX, W2));
    const __m256 q2y = _mm256_sub_ps(_mm256_load_ps(y2), _mm256_mul_ps(FY, W2));
    const __m256 a0 = _mm256_sub_ps(_mm256_mul_ps(q1x, q2y), _mm256_mul_ps(q1y, q2x));
    const __m256 a1 = _mm256_sub_ps(_mm256_mul_ps(q2x, q0y), _mm256_mul_ps(q2y, q0x));
    const __m256 a2 = _mm256_sub_ps(_mm256_mul_ps(q0x, q1y), _mm256_mul_ps(q0y, q1x));
    const __m256 sum = _mm256_add_ps(_mm256_add_ps(a0, a1), a2);
    // rasterBackwardPixel: eps = copysign(1e-6, s) (blendv takes the sign bit, as signbit does)
    const __m256 eps = _mm256_blendv_ps(_mm256_set1_ps(1e-6f), _mm256_set1_ps(-1e-6f), sum);
    const __m256 is = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(sum, eps));
    const __m256 b0 = _mm256_mul_ps(a0, is), b1 = _mm256_mul_ps(a1, is);
    const __m256 gb0 = _mm256_mul_ps(_mm256_load_ps(du), is), gb1 = _mm256_mul_ps(_mm256_load_ps(dv), is);
    const __m256 gbb = _mm256_add_ps(_mm256_mul_ps(gb0, b0), _mm256_mul_ps(gb1, b1));
    const __m256 signBit = _mm256_set1_ps(-0.0f);
    const __m256 ga0 = _mm256_sub_ps(gb0, gbb), ga1 = _mm256_sub_ps(gb1, gbb), ga2 = _mm256_xor_ps(gbb, signBit);
    const __m256 gq0x = _mm256_sub_ps(_mm256_mul_ps(q1y, ga2), _mm256_mul_ps(q2y, ga1));
    const __m256 gq0y = _mm256_sub_ps(_mm256_mul_ps(q2x, ga1), _mm256_mul_ps(q1x, ga2));
    const __m256 gq1x = _mm256_sub_ps(_mm256_mul_ps(q2y, ga0), _mm256_mul_ps(q0y, ga2));
    const __m256 gq1y = _mm256_sub_ps(_mm256_mul_ps(q0x, ga2), _mm256_mul_ps(q2x, ga0));
    const __m256 gq2x = _mm256_sub_ps(_mm256_mul_ps(q0y, ga1), _mm256_mul_ps(q1y, ga0));
    const __m256 gq2y = _mm256_sub_ps(_mm256_mul_ps(q1x, ga0), _mm256_mul_ps(q0x, ga1));
    const __m256 nfx = _mm256_xor_ps(FX, signBit);  // -fx * gq - fy * gq' is (-fx) * gq - fy * gq'
    // Terms 0-7 transposed into one vector per pixel, so that a pixel's row gets them as one vector add (each
    // lane the same float32 add as the scalar loop below: same bits); term 8 stays scalar.
    __m256 t[8] = {gq0x, gq0y, _mm256_sub_ps(_mm256_mul_ps(nfx, gq0x), _mm256_mul_ps(FY, gq0y)),
                   gq1x, gq1y, _mm256_sub_ps(_mm256_mul_ps(nfx, gq1x), _mm256_mul_ps(FY, gq1y)), gq2x, gq2y};
    _mm256_store_ps(c[8], _mm256_sub_ps(_mm256_mul_ps(nfx, gq2x), _mm256_mul_ps(FY, gq2y)));
    transpose8(t);
    // In the order pushed: a row met twice (two pixels of one triangle) gets its pixels' terms in that order.
    for (int k = 0; k < n; ++k) {
      float* r = row[k];
      _mm256_storeu_ps(r, _mm256_add_ps(_mm256_loadu_ps(r), t[k]));
      r[8] += c[8][k];
    }
#else
    for (int k = 0; k < n; ++k) {
      const float p0[4] = {x0[k], y0[k], 0.0f, w0[k]}, p1[4] = {x1[k], y1[k], 0.0f, w1[k]}, p2[4] = {x2[k], y2[k], 0.0f, w2[k]};
      float g[9];
      rasterBackwardPixel(baryAt(p0, p1, p2, fx[k], fy[k]), fx[k], fy[k], du[k], dv[k], g);
      for (int j = 0; j < 9; ++j) c[j][k] = g[j];
    }
    for (int k = 0; k < n; ++k) {
      float* r = row[k];
      for (int j = 0; j < 9; ++j) r[j] += c[j][k];
    }
#endif
    n = 0;
  }
};

RasterPixelBatch& batchOfThread() {
  thread_local RasterPixelBatch batch;
  return batch;
}

/** How many tasks sumPerTriangle splits each frame into (1: a task owns a whole frame and calls frameDone). */
int tasksPerFrame(int B, int T) {
  const int threads = ThreadPool::instance().threadCount();
  return B >= threads ? 1 : std::max(1, std::min(T, (threads + B - 1) / B));
}

/**
 * Per-triangle sums in ascending pixel order without sorting pixels: task (b, k) owns the k-th of K consecutive ranges
 * (K = tasksPerFrame, which the caller computes once and passes in) of triangle ids of frame b (cut as described below)
 * and scans the frame's pixels in ascending order, adding each pixel of its triangles to that triangle's sum. Every
 * triangle is summed by one task, over its pixels in ascending order, so the sums are the same as over the sorted
 * fragment lists, for any K (K > 1 only splits a frame across threads when there are fewer frames than threads). The
 * covered pixels of the task's triangles are handed out as runs: run(b, p0, p1, t, next, batch) for pixels [p0, p1)
 * (global indices, consecutive, all of triangle t), in ascending order, so that a caller can keep a triangle's sums in
 * registers over a run (a triangle covers ~2 consecutive pixels of a row on a detailed mesh; adding pixel by pixel
 * through memory made every add wait for the previous store). init(b, t0, t1, batch) clears the sums of the range first
 * (batch: the running thread's RasterPixelBatch, also handed to run and frameDone). next is a counter of the task that
 * starts at b*T + t0: a caller may allot per-triangle rows from it, in order of first use, within the task's own range
 * of rows [b*T + t0, b*T + t1). With wantBackground, background(p) is called once for every background pixel p (global
 * index), by the frame's task k == 0.
 * When one task owns a whole frame (K == 1), it calls frameDone(b, batch) after the scan, so that the caller can reduce
 * the frame's sums while they are still in cache; returns K == 1 (false: the caller reduces after the call).
 * With badIds, the scan also checks the rast's ids (each task those of its own K-th of the frame's pixels, in groups of
 * 8) and sets *badIds when one is not 0 or an integer in [1, T]; a task that finds one in its frame skips frameDone.
 * Ids that are not valid are never used as a triangle: run() only gets ids of the task's range, and a NaN or
 * out-of-range id is in no range.
 * (Tried: bucketing each frame's covered pixels by id range once, in parallel, and then splitting the ranges by pixel
 * count, to avoid the repeated scans and the 60/40 imbalance of equal id halves on the built-in head: the extra pass
 * cost more than it saved, 5-10% slower at B = 1 on two threads.)
 */
template <typename Init, typename Run, typename Done, typename Bg>
bool sumPerTriangle(const float* rast, int B, int64_t HW, int T, int K, Init&& init, Run&& run, Done&& frameDone, bool wantBackground,
                    Bg&& background, std::atomic<bool>* badIds = nullptr) {
  const float Tf = static_cast<float>(T);
  // A frame split into K id ranges: equal ranges hold very different numbers of covered pixels (60/40 for the halves
  // of the built-in head), and a task's work is mostly its pixels. So each task also counts its covered pixels per id
  // bucket, and the next call of the same sizes (an optimisation loop renders nearly the same image every step) cuts
  // the ids where those counts split evenly. Which task sums a triangle does not change its sum (see above), so the
  // cuts change no result, only the balance.
  auto& memo = scratch().split;
  if (K > 1 && !(memo.B == B && memo.K == K && memo.T == T && memo.HW == HW)) {
    memo.B = B;
    memo.K = K;
    memo.T = T;
    memo.HW = HW;
    memo.cuts.resize(static_cast<size_t>(B) * (K + 1));
    for (int b = 0; b < B; ++b)
      for (int k = 0; k <= K; ++k) memo.cuts[static_cast<size_t>(b) * (K + 1) + k] = static_cast<int>(static_cast<int64_t>(T) * k / K);
  }
  if (K > 1) memo.counts.assign(static_cast<size_t>(B) * K * kSplitBuckets, 0);
  const int* cuts = K > 1 ? memo.cuts.data() : nullptr;
  int64_t* counts = K > 1 ? memo.counts.data() : nullptr;
  parallelFor(static_cast<int64_t>(B) * K, [&](int64_t task) {
    const int b = static_cast<int>(task / K), k = static_cast<int>(task % K);
    const int t0 = K > 1 ? cuts[b * (K + 1) + k] : 0, t1 = K > 1 ? cuts[b * (K + 1) + k + 1] : T;
    int64_t* bucket = K > 1 ? counts + task * kSplitBuckets : nullptr;
    // The pixels whose ids this task checks: its K-th of the frame, cut at multiples of 8 (the last one up to HW).
    const int64_t c0 = badIds ? HW * k / K / 8 * 8 : 0, c1 = !badIds ? 0 : k + 1 == K ? HW : HW * (k + 1) / K / 8 * 8;
    bool bad = false;
    RasterPixelBatch& batch = batchOfThread();  // (once per task: a thread_local lookup in a shared library is a call)
    init(b, t0, t1, batch);
    int64_t next = static_cast<int64_t>(b) * T + t0;
    const float* r = rast + static_cast<int64_t>(b) * HW * 4;
    const int64_t base = static_cast<int64_t>(b) * HW;
    const bool bgHere = wantBackground && k == 0;
    // The open run [runBegin, runEnd) of triangle runT (frame-local pixel indices), handed out when it ends.
    int runT = -1;
    int64_t runBegin = 0, runEnd = 0;
    auto endRun = [&]() {
      if (bucket) bucket[static_cast<int64_t>(runT) * kSplitBuckets / T] += runEnd - runBegin;
      run(b, base + runBegin, base + runEnd, runT, next, batch);
    };
    auto visit = [&](int64_t q, int t) {
      if (t == runT && q == runEnd) {
        ++runEnd;
        return;
      }
      if (runT >= 0) endRun();
      runT = t;
      runBegin = q;
      runEnd = q + 1;
    };
    int64_t p = 0;
#if defined(__AVX2__)
    // Eight pixels at a time: a bit mask (in pixel order) of those with an id of the task's range, and of the
    // background ones when they are wanted; the marked pixels are then visited in ascending order, as below.
    // Most of a frame is background or other tasks' triangles, which this skips without a branch per pixel.
    const __m256i tLoMinus1 = _mm256_set1_epi32(t0 - 1), tHi = _mm256_set1_epi32(t1), one = _mm256_set1_epi32(1);
    const __m256 TfV = _mm256_set1_ps(Tf);
    __m256 badV = _mm256_setzero_ps();
    for (; p + 8 <= HW; p += 8) {
      const __m256 idF = idFloatsInPixelOrder(r + 4 * p);
      if (p >= c0 && p < c1) badV = _mm256_or_ps(badV, badIdLanes(idF, TfV));
      const __m256i id = _mm256_cvttps_epi32(idF);
      const __m256i t = _mm256_sub_epi32(id, one);  // -1 for background
      const uint32_t mine = static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(
          _mm256_and_si256(_mm256_cmpgt_epi32(t, tLoMinus1), _mm256_cmpgt_epi32(tHi, t)))));  // t in [t0, t1)
      const uint32_t bg = bgHere ? static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(
                                       _mm256_cmpeq_epi32(id, _mm256_setzero_si256()))))
                                 : 0u;
      for (uint32_t m = mine | bg; m; m &= m - 1) {
        const int j = __builtin_ctz(m);
        if ((bg >> j) & 1u) background(base + p + j);
        else visit(p + j, static_cast<int>(r[4 * (p + j) + 3]) - 1);
      }
    }
    bad = _mm256_movemask_ps(badV) != 0;
#endif
    for (; p < HW; ++p) {
      const float idF = r[4 * p + 3];
      if (!idValid(idF, Tf)) {  // (never converted: a float outside the int range has no defined conversion)
        if (p >= c0 && p < c1) bad = true;
        continue;
      }
      const int t = static_cast<int>(idF) - 1;  // -1 for background
      if (t < t0 || t >= t1) {
        if (t < 0 && bgHere) background(base + p);
        continue;
      }
      visit(p, t);
    }
    if (runT >= 0) endRun();
    batch.flush();  // the runs' queued pixels, before the sums are read (frameDone, or after the call)
    if (bad) badIds->store(true, std::memory_order_relaxed);
    else if (K == 1) frameDone(b, batch);
  });
  if (K > 1) {
    // The next call's cuts: per frame, at the bucket boundaries where the covered pixels counted here reach k/K of
    // the frame's total (equal ranges again when the frame had none).
    for (int b = 0; b < B; ++b) {
      int64_t merged[kSplitBuckets] = {};
      for (int k = 0; k < K; ++k)
        for (int i = 0; i < kSplitBuckets; ++i) merged[i] += counts[(static_cast<int64_t>(b) * K + k) * kSplitBuckets + i];
      int64_t total = 0;
      for (int i = 0; i < kSplitBuckets; ++i) total += merged[i];
      int* c = memo.cuts.data() + static_cast<size_t>(b) * (K + 1);
      int i = 0;
      int64_t below = 0;  // pixels in buckets [0, i)
      for (int k = 1; k < K; ++k) {
        if (total == 0) {
          c[k] = static_cast<int>(static_cast<int64_t>(T) * k / K);
          continue;
        }
        while (i < kSplitBuckets && 2 * (below + merged[i]) * K <= 2 * total * k + merged[i] * K) below += merged[i++];
        // bucket i covers ids [i*T/n, (i+1)*T/n): cut at its first id (the buckets below hold about k/K of the pixels)
        c[k] = std::max(c[k - 1], static_cast<int>((static_cast<int64_t>(i) * T + kSplitBuckets - 1) / kSplitBuckets));
      }
      c[0] = 0;
      c[K] = T;
    }
  }
  return K == 1;
}

/**
 * Vertex -> corner (3t + k) CSR of tri, corners in ascending order, from the calling thread's scratch. A tracker
 * passes the same topologies to every backward call, so the tables of the last few are kept and reused when tri
 * and V are unchanged (a compare is far cheaper than the serial build); the least recently used is rebuilt.
 */
const CornerTable& buildCorners(const int32_t* tri, int T, int V) {
  Scratch& sc = scratch();
  const size_t n = 3 * static_cast<size_t>(T);
  const uint64_t use = ++sc.cornerUses;
  for (CornerTable& e : sc.corners)
    if (e.V == V && e.tri.size() == n && (n == 0 || std::memcmp(e.tri.data(), tri, n * sizeof(int32_t)) == 0)) {
      e.lastUse = use;
      return e;
    }
  CornerTable* e = &sc.corners[0];
  for (CornerTable& c : sc.corners)
    if (c.lastUse < e->lastUse) e = &c;
  e->V = -1;  // no valid table until the rebuild completes (an allocation may throw)
  std::vector<int32_t>& start = e->start;
  std::vector<int32_t>& corner = e->corner;
  start.assign(static_cast<size_t>(V) + 1, 0);
  corner.resize(n);
  for (size_t c = 0; c < n; ++c) ++start[tri[c] + 1];
  for (int v = 0; v < V; ++v) start[v + 1] += start[v];
  std::vector<int32_t>& cursor = sc.cornerCursor;
  cursor.assign(start.begin(), start.end() - 1);
  for (size_t c = 0; c < n; ++c) corner[cursor[tri[c]]++] = static_cast<int32_t>(c);
  e->tri.assign(tri, tri + n);
  e->V = V;
  e->lastUse = use;
  return *e;
}

bool allZero(const float* g, int n) {
  uint32_t acc = 0;
  for (int i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, g + i, 4);
    acc |= bits << 1;  // ignore the sign: +-0 are both zero
  }
  return acc == 0;
}

/** The pixel-centre coordinates along a run of consecutive pixels of one frame (W x H, frame-local index). */
struct PixelCursor {
  int64_t py;
  int px, w, h;
  float fy;
  PixelCursor(int64_t local, int64_t HW, int width, int height) : w(width), h(height) {
    // (32-bit division where the frame allows: far cheaper than the 64-bit one, same quotient)
    py = HW <= 0xffffffffLL ? static_cast<uint32_t>(local) / static_cast<uint32_t>(w) : local / w;
    px = static_cast<int>(local - py * w);
    fy = pixelCentre(static_cast<int>(py), h);
  }
  float fx() const { return pixelCentre(px, w); }
  void advance() {  // (a run never leaves its row on a real mesh, but nothing here assumes so)
    if (++px == w) {
      px = 0;
      fy = pixelCentre(static_cast<int>(++py), h);
    }
  }
};

/**
 * gradPos [.., V, 4] of the vertices [v0, v1) of frame b: each vertex's corners' sums in ascending corner order.
 * sumsOf(t) gives triangle t's 9 sums (corner k at 3k: x, y, w), or null for a triangle without pixels, which is
 * skipped: its sums would be +0, and adding +0 to a sum that started at +0 never changes it (such a sum is never -0
 * in round-to-nearest).
 */
template <typename SumsOf>
void gatherPositionGradients(const CornerTable& corners, int64_t b, int64_t v0, int64_t v1, int V, SumsOf&& sumsOf,
                             float* gradPos, bool accumulate) {
  const int32_t* cStart = corners.start.data();
  const int32_t* corner = corners.corner.data();
  for (int64_t v = v0; v < v1; ++v) {
    float gx = 0.0f, gy = 0.0f, gw = 0.0f;
    for (int32_t i = cStart[v]; i < cStart[v + 1]; ++i) {
      const float* g = sumsOf(corner[i] / 3);
      if (!g) continue;
      g += 3 * (corner[i] % 3);
      gx += g[0];
      gy += g[1];
      gw += g[2];
    }
    float* out = gradPos + 4 * (b * V + v);
    if (accumulate) {
      out[0] += gx;
      out[1] += gy;
      out[2] += 0.0f;
      out[3] += gw;
    } else {
      out[0] = gx;
      out[1] = gy;
      out[2] = 0.0f;
      out[3] = gw;
    }
  }
}

}  // namespace

void rasterizeForward(const RasterDims& d, const float* pos, const int32_t* tri, float* rast) {
  const int B = d.batch, V = d.numVertices, T = d.numTriangles, H = d.height, W = d.width;
  if (B < 1 || V < 0 || T < 0 || H < 1 || W < 1 || H > (1 << 20) || W > (1 << 20))
    throw std::invalid_argument("rasterize: bad sizes");
  checkTriangles(tri, T, V, "rasterize");
  const int64_t HW = static_cast<int64_t>(H) * W;

  Scratch& sc = scratch();
  const int threads = ThreadPool::instance().threadCount();
  const bool frameAtATime = B >= 2 * threads;
  const int64_t vChunks = ceilDivPos(V, kVertexChunk);
  const int64_t tChunks = ceilDivPos(T, kTriChunk);
  const int tilesX = static_cast<int>(ceilDivPos(W, kTile)), tilesY = static_cast<int>(ceilDivPos(H, kTile));
  const int64_t numTiles = static_cast<int64_t>(tilesX) * tilesY;
  // A frame's intermediate data (stages 1-3), indexed by frame-local vertex, triangle, setup task and tile. Stage at
  // a time, frame b's slice of the calling thread's scratch, sized for the whole batch. Frame at a time (below), one
  // frame's worth in the running thread's own scratch, reused frame after frame: it stays in the core's cache (~1 MB
  // for the built-in head), where slices of their own made a batch of 16 stream ~16 MB through memory per call.
  struct FrameData {
    int32_t *fixedX, *fixedY;  // [V] snapped vertices
    uint8_t* flags;            // [V] bit 0: finite, bit 1: behind (z < -w)
    SubTri* subs;              // [2T] two sub-triangle slots per triangle
    uint8_t* numSubs;          // [T] the slot's kind: 0, 1 or 2 clipped sub-triangles, or kDirect
    TileRange* ranges;         // [T] an unclipped triangle's tiles
    int64_t* tileCount;        // [tChunks][2][numTiles] per-setup-task tile counts, then fill cursors
    std::vector<int64_t>* tileStart;
    std::vector<int32_t>* tileList;
  };
  // Grows s to `frames` frames (never shrinks: every element is written before it is read) and gives frame b's slice.
  auto frameDataIn = [&](Scratch& s, int64_t frames, int64_t b) {
    growTo(s.fixedX, frames * V);
    growTo(s.fixedY, frames * V);
    growTo(s.flags, frames * V);
    growTo(s.subs, frames * 2 * T);
    growTo(s.numSubs, frames * T);
    growTo(s.ranges, frames * T);
    growTo(s.tileCount, frames * tChunks * 2 * numTiles);
    if (s.tileStart.size() < static_cast<size_t>(frames)) {
      s.tileStart.resize(frames);
      s.tileList.resize(frames);
    }
    return FrameData{s.fixedX.data() + b * V, s.fixedY.data() + b * V, s.flags.data() + b * V, s.subs.data() + 2 * b * T,
                     s.numSubs.data() + b * T, s.ranges.data() + b * T, s.tileCount.data() + b * tChunks * 2 * numTiles,
                     &s.tileStart[b], &s.tileList[b]};
  };

  // 1. Vertex stage.
  auto vertexTask = [&](const FrameData& f, int64_t b, int64_t c) {
    const int64_t v0 = c * kVertexChunk, v1 = std::min<int64_t>(V, v0 + kVertexChunk);
    for (int64_t v = v0; v < v1; ++v) {
      const float* p = pos + 4 * (b * V + v);
      const bool finite = std::isfinite(p[0]) && std::isfinite(p[1]) && std::isfinite(p[2]) && std::isfinite(p[3]);
      f.flags[v] = static_cast<uint8_t>((finite ? 1 : 0) | (p[2] < -p[3] ? 2 : 0));
      if (finite) {
        f.fixedX[v] = toFixed(static_cast<double>(p[0]) / static_cast<double>(p[3]), W);
        f.fixedY[v] = toFixed(static_cast<double>(p[1]) / static_cast<double>(p[3]), H);
      } else {
        f.fixedX[v] = f.fixedY[v] = 0;
      }
    }
  };

  // 2. Setup: two sub-triangle slots per triangle of the frame. Each task also counts its sub-triangles per tile (binning, 3.).
  // An unclipped triangle (all of them, in a tracker) is stored too, with its tile range in 8 bytes besides, which is
  // all the fill reads of it. (Until stop 17, with a frame's stages split over threads, unclipped triangles were not
  // stored and the tile stage rebuilt each from the snapped vertices for every tile it touches, as storing them cost
  // a cross-core transfer per cache line then. Since the thread pool's home ranges give a core the same triangle
  // chunks and tiles at every call, storing them made rasterize 8% faster at batch 1 on two threads, and the compact
  // ranges 4-5% faster on one thread and at batch 16.)
  auto tileRangeOf = [](const SubTri& st) {
    return TileRange{static_cast<uint16_t>(st.px0 / kTile), static_cast<uint16_t>(st.px1 / kTile),
                     static_cast<uint16_t>(st.py0 / kTile), static_cast<uint16_t>(st.py1 / kTile)};
  };
  auto forTiles = [&](const TileRange& r, auto&& fn) {
    for (int ty = r.y0; ty <= r.y1; ++ty)
      for (int tx = r.x0; tx <= r.x1; ++tx) fn(static_cast<int64_t>(ty) * tilesX + tx);
  };
  // Each tile's list has two parts: clockwise sub-triangles, drawn first, then counter-clockwise ones, each tested by
  // occludedEverywhere before it is drawn (the order does not change any result, see the top of the file). For a
  // closed mesh drawn as the tracker's camera sees FLAME, the clockwise ones face the camera: the counter-clockwise
  // ones are its back, mostly hidden by then and skipped whole. (A mesh wound the other way loses only the skipping.)
  // Counts, then fill cursors, per setup task: [clockwise part of each tile | counter-clockwise part of each tile].
  auto setupTask = [&](const FrameData& f, int64_t b, int64_t c) {
    // Local copies of everything the loop reads through the closure: its stores (uint8_t numSubs, int32 SubTri
    // fields) may alias the captured variables, so the compiler would otherwise reload each of them after every
    // store (the stage ran ~10% slower so).
    const int32_t* const triL = tri;
    const float* const posL = pos + 4 * b * V;  // the frame's vertices
    const uint8_t* const flagsL = f.flags;
    const int32_t* const fixedXL = f.fixedX;
    const int32_t* const fixedYL = f.fixedY;
    uint8_t* const numSubsL = f.numSubs;
    SubTri* const subsL = f.subs;
    TileRange* const rangesL = f.ranges;
    const int TL = T, WL = W, HL = H, tilesXL = tilesX;
    const int64_t t0 = c * kTriChunk, t1 = std::min<int64_t>(TL, t0 + kTriChunk);
    int64_t* count = f.tileCount + c * 2 * numTiles;
    std::fill(count, count + 2 * numTiles, 0);
    for (int64_t t = t0; t < t1; ++t) {
      const size_t slot = static_cast<size_t>(t);
      numSubsL[slot] = 0;
      const int32_t idx[3] = {triL[3 * t], triL[3 * t + 1], triL[3 * t + 2]};
      int nb = 0;
      bool behind[3];
      bool finite = true;
      for (int k = 0; k < 3; ++k) {
        const uint8_t fl = flagsL[idx[k]];
        finite = finite && (fl & 1);
        behind[k] = (fl & 2) != 0;
        nb += behind[k] ? 1 : 0;
      }
      if (!finite || nb == 3) continue;
      auto countTiles = [&](const TileRange& r, bool cw) {
        int64_t* part = count + (cw ? 0 : numTiles);
        for (int ty = r.y0; ty <= r.y1; ++ty)
          for (int tx = r.x0; tx <= r.x1; ++tx) ++part[static_cast<int64_t>(ty) * tilesXL + tx];
      };
      // A clipped sub-triangle, stored in the slot's next SubTri.
      auto emit = [&](int32_t X0, int32_t Y0, int32_t X1, int32_t Y1, int32_t X2, int32_t Y2) {
        SubTri st;
        if (!makeSubTri(X0, Y0, X1, Y1, X2, Y2, static_cast<int32_t>(t), WL, HL, st)) return;
        subsL[2 * slot + numSubsL[slot]++] = st;
        countTiles(tileRangeOf(st), st.cw);
      };
      if (nb == 0) {
        // No near clipping: the triangle itself (w > 0 in float32 is the same test as in float64), not stored.
        const size_t i0 = static_cast<size_t>(idx[0]), i1 = static_cast<size_t>(idx[1]), i2 = static_cast<size_t>(idx[2]);
        if (!(posL[4 * i0 + 3] > 0 && posL[4 * i1 + 3] > 0 && posL[4 * i2 + 3] > 0)) continue;
        SubTri st;
        if (!makeSubTri(fixedXL[i0], fixedYL[i0], fixedXL[i1], fixedYL[i1], fixedXL[i2], fixedYL[i2], static_cast<int32_t>(t),
                        WL, HL, st))
          continue;
        subsL[2 * slot] = st;
        numSubsL[slot] = static_cast<uint8_t>(kDirect | (st.cw ? kDirectCw : 0));
        rangesL[slot] = tileRangeOf(st);
        countTiles(rangesL[slot], st.cw);
        continue;
      }
      auto original = [&](int k) {
        const size_t i = static_cast<size_t>(idx[k]);
        const float* p = posL + 4 * i;
        return ClipVert{p[0], p[1], p[2], p[3], fixedXL[i], fixedYL[i]};
      };
      ClipVert poly[4];
      int n = 0;
      for (int k = 0; k < 3; ++k) {
        const int kb = (k + 1) % 3;
        if (!behind[k]) poly[n++] = original(k);
        if (behind[k] != behind[kb]) {
          // Canonical order: the endpoint with the lower vertex index first.
          const bool aFirst = idx[k] < idx[kb];
          const ClipVert lo = original(aFirst ? k : kb), hi = original(aFirst ? kb : k);
          const double dlo = lo.z + lo.w, dhi = hi.z + hi.w;
          const double s = dlo / (dlo - dhi);
          ClipVert c;
          c.x = lo.x + s * (hi.x - lo.x);
          c.y = lo.y + s * (hi.y - lo.y);
          c.z = lo.z + s * (hi.z - lo.z);
          c.w = lo.w + s * (hi.w - lo.w);
          c.X = toFixed(c.x / c.w, WL);
          c.Y = toFixed(c.y / c.w, HL);
          poly[n++] = c;
        }
      }
      for (int k = 1; k + 1 < n; ++k) {
        const ClipVert* v0 = &poly[0];
        const ClipVert* v1 = &poly[k];
        const ClipVert* v2 = &poly[k + 1];
        if (!(v0->w > 0 && v1->w > 0 && v2->w > 0)) continue;
        emit(v0->X, v0->Y, v1->X, v1->Y, v2->X, v2->Y);
      }
    }
  };

  // 3. Binning, per frame, in ascending (t, sub-triangle) order: the setup tasks' counts -> offsets in (tile,
  // task) order -> fill, parallel over the setup tasks (each tile list is in ascending t for any split).
  // Entries (t << 2) | k, frame-local (t < 2^24): k = 0, 1 for the slot's stored sub-triangles (0 for an unclipped
  // triangle). tileStart[2 tile] and [2 tile + 1]: the starts of the tile's two parts.
  auto binOffsets = [&](const FrameData& f) {
    std::vector<int64_t>& start = *f.tileStart;
    start.resize(2 * numTiles + 1);
    int64_t off = 0;
    for (int64_t tile = 0; tile < numTiles; ++tile)
      for (int part = 0; part < 2; ++part) {
        start[2 * tile + part] = off;
        for (int64_t c = 0; c < tChunks; ++c) {
          int64_t& n = f.tileCount[c * 2 * numTiles + part * numTiles + tile];
          const int64_t k = n;
          n = off;  // becomes the fill cursor of (task, tile, part)
          off += k;
        }
      }
    start[2 * numTiles] = off;
    f.tileList->resize(off);
  };
  auto fillTask = [&](const FrameData& f, int64_t c) {
    const int64_t t0 = c * kTriChunk, t1 = std::min<int64_t>(T, t0 + kTriChunk);
    int64_t* const cursors = f.tileCount + c * 2 * numTiles;
    int32_t* list = f.tileList->data();
    const uint8_t* const numSubs = f.numSubs;
    for (int64_t t = t0; t < t1; ++t) {
      const int32_t entry = static_cast<int32_t>(t) << 2;
      if ((numSubs[t] & 3) == kDirect) {
        int64_t* cursor = cursors + ((numSubs[t] & kDirectCw) ? 0 : numTiles);
        forTiles(f.ranges[t], [&](int64_t tile) { list[cursor[tile]++] = entry; });
        continue;
      }
      for (int k = 0; k < numSubs[t]; ++k) {
        const SubTri& st = f.subs[2 * t + k];
        int64_t* cursor = cursors + (st.cw ? 0 : numTiles);
        forTiles(tileRangeOf(st), [&](int64_t tile) { list[cursor[tile]++] = entry | k; });
      }
    }
  };

  // Pixel-centre NDC x of every column (the same float32 expression as pixelCentre), padded so that 8-wide
  // loads past the last column stay in bounds.
  std::vector<float>& fxTab = sc.fxTab;
  fxTab.assign(static_cast<size_t>(W) + 16, 0.0f);
  for (int px = 0; px < W; ++px) fxTab[px] = pixelCentre(px, W);
  // And of every row (a division per covered row otherwise).
  std::vector<float>& fyTab = sc.fyTab;
  fyTab.resize(static_cast<size_t>(H));
  for (int py = 0; py < H; ++py) fyTab[py] = pixelCentre(py, H);

  // 4. Tile raster + resolve.
  auto tileTask = [&](const FrameData& f, int64_t b, int64_t tile) {
    const std::vector<int64_t>& tileStart = *f.tileStart;
    const int tx0 = static_cast<int>(tile % tilesX) * kTile, ty0 = static_cast<int>(tile / tilesX) * kTile;
    const int tx1 = std::min(W, tx0 + kTile) - 1, ty1 = std::min(H, ty0 + kTile) - 1;
    if (tileStart[2 * tile] == tileStart[2 * tile + 2]) {
      // No triangle touches the tile: all background, written directly (what resolve would write for it).
      for (int py = ty0; py <= ty1; ++py) {
        zeroFill(rast + 4 * (b * HW + static_cast<int64_t>(py) * W + tx0), 4 * static_cast<size_t>(tx1 - tx0 + 1));
      }
      return;
    }
    alignas(32) uint64_t key[kTile * kTile + 32];
    // Raw (a0/s, a1/s, z/w) of the current winner of each pixel: the values resolve would recompute with baryAt /
    // zwOf for the winning triangle at the same pixel centre (identical float32 operations), kept so that resolve
    // only applies the clamps.
    // Padded: the 8-wide row updates below may read and write back (unchanged) up to 2 * 8 entries past a row.
    // (winU / winV cleared although only entries that a winner wrote are used: thread_local buffers without the
    // clears measured 5% slower at B = 1, one thread; not investigated further.)
    alignas(32) float winU[kTile * kTile + 32], winV[kTile * kTile + 32], winZ[kTile * kTile + 32];
    std::fill(key, key + kTile * kTile + 32, ~0ull);
    std::fill(winU, winU + kTile * kTile + 32, 0.0f);
    std::fill(winV, winV + kTile * kTile + 32, 0.0f);
    // +inf where nothing has won yet: occludedEverywhere reads it as "not hidden" (resolve writes zeros there).
    std::fill(winZ, winZ + kTile * kTile + 32, std::numeric_limits<float>::infinity());
#if defined(__AVX2__)
    // Lanes of the packed path for narrow triangles (below): pixel-centre NDC and tile slot of each packed pixel,
    // 8 more than a vector so that a row's 8 permuted pixels can be stored at any free lane. Lanes past the packed
    // count are evaluated but never used; zeroed once so that they hold defined values.
    alignas(32) float laneFx[16] = {}, laneFy[16] = {};
    alignas(32) int32_t laneSlot[16] = {};
#endif
    const float* posB = pos + b * static_cast<int64_t>(V) * 4;
    const std::vector<int32_t>& list = *f.tileList;
    // The clockwise part, then the counter-clockwise part, whose entries are first tested (see binning).
    const int64_t secondPart = tileStart[2 * tile + 1];
    for (int64_t li = tileStart[2 * tile]; li < tileStart[2 * tile + 2]; ++li) {
      const int32_t entry = list[li];
      const int64_t t = entry >> 2;
      const int32_t* it = tri + 3 * t;
      const SubTri& st = f.subs[2 * t + (entry & 3)];
      const float *p0 = posB + 4 * it[0], *p1 = posB + 4 * it[1], *p2 = posB + 4 * it[2];
      const int x0 = std::max(tx0, static_cast<int>(st.px0)), x1 = std::min(tx1, static_cast<int>(st.px1));
      const int y0 = std::max(ty0, static_cast<int>(st.py0)), y1 = std::min(ty1, static_cast<int>(st.py1));
      if (li >= secondPart && occludedEverywhere(p0, p1, p2, fxTab.data(), fyTab.data(), x0, x1, y0, y1,
                                          winZ + (y0 - ty0) * kTile + (x0 - tx0), kTile))
        continue;
      int64_t dX[3], dY[3];
      for (int e = 0; e < 3; ++e) {
        const int e1 = (e + 1) % 3;
        dX[e] = static_cast<int64_t>(st.X[e1]) - st.X[e];
        dY[e] = static_cast<int64_t>(st.Y[e1]) - st.Y[e];
      }
      // E == 0 counts as inside only on top-left edges: inside iff E > -incl, i.e. E + incl > 0.
      const int64_t bias[3] = {st.incl[0] ? 1 : 0, st.incl[1] ? 1 : 0, st.incl[2] ? 1 : 0};
      const int64_t stepX[3] = {16 * dY[0], 16 * dY[1], 16 * dY[2]};
      const int64_t Px0 = 16 * static_cast<int64_t>(x0) + 8;
      int64_t Erow[3];
      {
        const int64_t Py = 16 * static_cast<int64_t>(y0) + 8;
        for (int e = 0; e < 3; ++e) Erow[e] = dX[e] * (Py - st.Y[e]) - dY[e] * (Px0 - st.X[e]) + bias[e];
      }
      const float x0c = p0[0], y0c = p0[1], z0c = p0[2], w0c = p0[3];
      const float x1c = p1[0], y1c = p1[1], z1c = p1[2], w1c = p1[3];
      const float x2c = p2[0], y2c = p2[1], z2c = p2[2], w2c = p2[3];
      const uint32_t triId = static_cast<uint32_t>(st.tri);
#if defined(__AVX2__)
      // Every edge value met in this (triangle, tile) rectangle lies between its values at the rectangle's
      // corners (it is linear); when all of them fit in int32 the stepping below is exact in int32 lanes.
      bool fits32 = true;
      for (int e = 0; e < 3; ++e) {
        const int64_t a = Erow[e], bx = -stepX[e] * (x1 - x0), by = 16 * dX[e] * (y1 - y0);
        const int64_t lo = a + std::min<int64_t>(0, bx) + std::min<int64_t>(0, by);
        const int64_t hi = a + std::max<int64_t>(0, bx) + std::max<int64_t>(0, by);
        fits32 = fits32 && lo > -(int64_t{1} << 30) && hi < (int64_t{1} << 30);
      }
      const __m256i laneIdx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
      __m256i laneStep[3];
      for (int e = 0; e < 3; ++e)
        laneStep[e] = _mm256_mullo_epi32(laneIdx, _mm256_set1_epi32(static_cast<int32_t>(fits32 ? stepX[e] : 0)));
      const __m256i zero = _mm256_setzero_si256();
      if (fits32 && x1 - x0 < 8) {
        // Narrow triangle (most of a detailed mesh: a few pixels each): one 8-pixel group per row would leave most
        // lanes idle, so the covered pixels of all its rows are packed into the lanes of as few groups as possible.
        // Each lane evaluates the same float32 expressions as the row path for its own pixel (q*y included), so the
        // values and keys are bit for bit the same; the lanes' keys are then merged one by one (the min of keys
        // does not depend on the order).
        // A row's covered pixels are appended to the lanes without a branch per pixel: its mask picks a lane order
        // from kCompress8, and the row's 8 pixel-centre x and tile slots are stored permuted at the next free lane
        // (lanes past the covered count are overwritten later). A loop over the mask's bits, one iteration per
        // covered pixel, ended on a mispredicted branch for most rows: the whole rasterize was 10% slower at B = 1.
        const __m256 X0 = _mm256_set1_ps(x0c), X1 = _mm256_set1_ps(x1c), X2 = _mm256_set1_ps(x2c);
        const __m256 Y0 = _mm256_set1_ps(y0c), Y1 = _mm256_set1_ps(y1c), Y2 = _mm256_set1_ps(y2c);
        const __m256 Z0 = _mm256_set1_ps(z0c), Z1 = _mm256_set1_ps(z1c), Z2 = _mm256_set1_ps(z2c);
        const __m256 W0 = _mm256_set1_ps(w0c), W1 = _mm256_set1_ps(w1c), W2 = _mm256_set1_ps(w2c);
        int n = 0;
        auto flush = [&] {
          const __m256 fx = _mm256_load_ps(laneFx), fy = _mm256_load_ps(laneFy);
          const __m256 q0x = _mm256_sub_ps(X0, _mm256_mul_ps(fx, W0));
          const __m256 q1x = _mm256_sub_ps(X1, _mm256_mul_ps(fx, W1));
          const __m256 q2x = _mm256_sub_ps(X2, _mm256_mul_ps(fx, W2));
          const __m256 q0y = _mm256_sub_ps(Y0, _mm256_mul_ps(fy, W0));
          const __m256 q1y = _mm256_sub_ps(Y1, _mm256_mul_ps(fy, W1));
          const __m256 q2y = _mm256_sub_ps(Y2, _mm256_mul_ps(fy, W2));
          const __m256 a0 = _mm256_sub_ps(_mm256_mul_ps(q1x, q2y), _mm256_mul_ps(q1y, q2x));
          const __m256 a1 = _mm256_sub_ps(_mm256_mul_ps(q2x, q0y), _mm256_mul_ps(q2y, q0x));
          const __m256 a2 = _mm256_sub_ps(_mm256_mul_ps(q0x, q1y), _mm256_mul_ps(q0y, q1x));
          const __m256 num = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(Z0, a0), _mm256_mul_ps(Z1, a1)), _mm256_mul_ps(Z2, a2));
          const __m256 den = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(W0, a0), _mm256_mul_ps(W1, a1)), _mm256_mul_ps(W2, a2));
          const __m256 sum = _mm256_add_ps(_mm256_add_ps(a0, a1), a2);
          alignas(32) float zw8[8], u8[8], v8[8];
          _mm256_store_ps(zw8, _mm256_div_ps(num, den));
          _mm256_store_ps(u8, _mm256_div_ps(a0, sum));
          _mm256_store_ps(v8, _mm256_div_ps(a1, sum));
          // Branch-free merge (selects, not jumps: whether a lane wins is close to random).
          for (int j = 0; j < n; ++j) {
            const uint64_t k = depthKey(zw8[j], triId);
            const int pi = laneSlot[j];
            const uint64_t old = key[pi];
            const bool win = !(zw8[j] > 1.0f) && k < old;
            key[pi] = win ? k : old;
            winU[pi] = win ? u8[j] : winU[pi];
            winV[pi] = win ? v8[j] : winV[pi];
            winZ[pi] = win ? zw8[j] : winZ[pi];
          }
          n = 0;
        };
        const uint32_t widthMask = (2u << (x1 - x0)) - 1u;
        for (int py = y0; py <= y1; ++py) {
          const __m256i e0 = _mm256_sub_epi32(_mm256_set1_epi32(static_cast<int32_t>(Erow[0])), laneStep[0]);
          const __m256i e1 = _mm256_sub_epi32(_mm256_set1_epi32(static_cast<int32_t>(Erow[1])), laneStep[1]);
          const __m256i e2 = _mm256_sub_epi32(_mm256_set1_epi32(static_cast<int32_t>(Erow[2])), laneStep[2]);
          for (int e = 0; e < 3; ++e) Erow[e] += 16 * dX[e];
          const __m256i in = _mm256_and_si256(
              _mm256_and_si256(_mm256_cmpgt_epi32(e0, zero), _mm256_cmpgt_epi32(e1, zero)), _mm256_cmpgt_epi32(e2, zero));
          uint32_t mask = static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(in))) & widthMask;
          const __m256i perm = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(&kCompress8[mask])));
          const int rowSlot = (py - ty0) * kTile + (x0 - tx0);
          _mm256_storeu_ps(laneFx + n, _mm256_permutevar8x32_ps(_mm256_loadu_ps(fxTab.data() + x0), perm));
          _mm256_storeu_ps(laneFy + n, _mm256_set1_ps(fyTab[py]));
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(laneSlot + n), _mm256_add_epi32(_mm256_set1_epi32(rowSlot), perm));
          n += __builtin_popcount(mask);
          if (n >= 8) {
            const int rest = n - 8;
            n = 8;
            flush();
            _mm256_store_ps(laneFx, _mm256_load_ps(laneFx + 8));
            _mm256_store_ps(laneFy, _mm256_load_ps(laneFy + 8));
            _mm256_store_si256(reinterpret_cast<__m256i*>(laneSlot), _mm256_load_si256(reinterpret_cast<const __m256i*>(laneSlot + 8)));
            n = rest;
          }
        }
        if (n) flush();
        continue;
      }
#endif
      for (int py = y0; py <= y1; ++py) {
        // Coverage of the row as a bit mask (edge functions stepped exactly: int32 lanes when fits32, else int64).
        uint32_t mask = 0;
#if defined(__AVX2__)
        if (fits32) {
          __m256i e0 = _mm256_sub_epi32(_mm256_set1_epi32(static_cast<int32_t>(Erow[0])), laneStep[0]);
          __m256i e1 = _mm256_sub_epi32(_mm256_set1_epi32(static_cast<int32_t>(Erow[1])), laneStep[1]);
          __m256i e2 = _mm256_sub_epi32(_mm256_set1_epi32(static_cast<int32_t>(Erow[2])), laneStep[2]);
          // Groups of 8 pixels; lanes past x1 may wrap around in int32 but are masked off below.
          for (int g = 0; g <= x1 - x0; g += 8) {
            if (g) {
              e0 = _mm256_sub_epi32(e0, _mm256_set1_epi32(static_cast<int32_t>(8 * stepX[0])));
              e1 = _mm256_sub_epi32(e1, _mm256_set1_epi32(static_cast<int32_t>(8 * stepX[1])));
              e2 = _mm256_sub_epi32(e2, _mm256_set1_epi32(static_cast<int32_t>(8 * stepX[2])));
            }
            const __m256i in = _mm256_and_si256(
                _mm256_and_si256(_mm256_cmpgt_epi32(e0, zero), _mm256_cmpgt_epi32(e1, zero)), _mm256_cmpgt_epi32(e2, zero));
            mask |= static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(in))) << g;
          }
          mask &= x1 - x0 >= 31 ? 0xFFFFFFFFu : (2u << (x1 - x0)) - 1u;
        } else
#endif
        {
          int64_t E0 = Erow[0], E1 = Erow[1], E2 = Erow[2];
          for (int i = 0; i <= x1 - x0; ++i) {
            mask |= static_cast<uint32_t>((E0 > 0) & (E1 > 0) & (E2 > 0)) << i;
            E0 -= stepX[0];
            E1 -= stepX[1];
            E2 -= stepX[2];
          }
        }
        for (int e = 0; e < 3; ++e) Erow[e] += 16 * dX[e];
        if (!mask) continue;
        // Row constants of baryAt (the same float32 operations as baryAt, evaluated once per row).
        const float fy = fyTab[py];
        const float q0y = y0c - fy * w0c, q1y = y1c - fy * w1c, q2y = y2c - fy * w2c;
        uint64_t* keyRow = key + (py - ty0) * kTile + (x0 - tx0);
        const float* fxRow = fxTab.data() + x0;
        for (int g = 0; g <= x1 - x0; g += 8) {
          const uint32_t m = (mask >> g) & 0xFFu;
          if (!m) continue;
#if defined(__AVX2__)
          {
            const __m256 fx = _mm256_loadu_ps(fxRow + g);
            const __m256 q0x = _mm256_sub_ps(_mm256_set1_ps(x0c), _mm256_mul_ps(fx, _mm256_set1_ps(w0c)));
            const __m256 q1x = _mm256_sub_ps(_mm256_set1_ps(x1c), _mm256_mul_ps(fx, _mm256_set1_ps(w1c)));
            const __m256 q2x = _mm256_sub_ps(_mm256_set1_ps(x2c), _mm256_mul_ps(fx, _mm256_set1_ps(w2c)));
            const __m256 Q0y = _mm256_set1_ps(q0y), Q1y = _mm256_set1_ps(q1y), Q2y = _mm256_set1_ps(q2y);
            const __m256 a0 = _mm256_sub_ps(_mm256_mul_ps(q1x, Q2y), _mm256_mul_ps(Q1y, q2x));
            const __m256 a1 = _mm256_sub_ps(_mm256_mul_ps(q2x, Q0y), _mm256_mul_ps(Q2y, q0x));
            const __m256 a2 = _mm256_sub_ps(_mm256_mul_ps(q0x, Q1y), _mm256_mul_ps(Q0y, q1x));
            const __m256 num = _mm256_add_ps(
                _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(z0c), a0), _mm256_mul_ps(_mm256_set1_ps(z1c), a1)),
                _mm256_mul_ps(_mm256_set1_ps(z2c), a2));
            const __m256 den = _mm256_add_ps(
                _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(w0c), a0), _mm256_mul_ps(_mm256_set1_ps(w1c), a1)),
                _mm256_mul_ps(_mm256_set1_ps(w2c), a2));
            const __m256 zw = _mm256_div_ps(num, den);
            const __m256 sum = _mm256_add_ps(_mm256_add_ps(a0, a1), a2);
            const __m256 u = _mm256_div_ps(a0, sum);
            const __m256 v = _mm256_div_ps(a1, sum);
            // Branch-free form of the scalar update below: a lane takes part iff it is covered and !(zw > 1);
            // key = orderedBits(zw + 0) << 32 | tri; it replaces the slot iff key < slot (unsigned).
            const __m256i bitSel = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
            const __m256i covered =
                _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(static_cast<int32_t>(m)), bitSel), bitSel);
            const __m256i far = _mm256_castps_si256(_mm256_cmp_ps(zw, _mm256_set1_ps(1.0f), _CMP_GT_OQ));
            const __m256i valid = _mm256_andnot_si256(far, covered);
            const __m256i zb = _mm256_castps_si256(_mm256_add_ps(zw, _mm256_setzero_ps()));
            const __m256i ob = _mm256_xor_si256(
                zb, _mm256_or_si256(_mm256_srai_epi32(zb, 31), _mm256_set1_epi32(static_cast<int32_t>(0x80000000u))));
            // Reorder to (0,1,4,5,2,3,6,7) so that unpacklo / unpackhi give pixels 0..3 / 4..7 in memory order.
            const __m256i perm = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
            const __m256i obP = _mm256_permutevar8x32_epi32(ob, perm);
            const __m256i validP = _mm256_permutevar8x32_epi32(valid, perm);
            const __m256i triV = _mm256_set1_epi32(static_cast<int32_t>(triId));
            const __m256i kLo = _mm256_unpacklo_epi32(triV, obP), kHi = _mm256_unpackhi_epi32(triV, obP);
            const __m256i vLo = _mm256_unpacklo_epi32(validP, validP), vHi = _mm256_unpackhi_epi32(validP, validP);
            uint64_t* slotP = keyRow + g;
            const __m256i sLo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(slotP));
            const __m256i sHi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(slotP + 4));
            const __m256i flip = _mm256_set1_epi64x(static_cast<int64_t>(0x8000000000000000ull));
            const __m256i bLo = _mm256_and_si256(
                vLo, _mm256_cmpgt_epi64(_mm256_xor_si256(sLo, flip), _mm256_xor_si256(kLo, flip)));
            const __m256i bHi = _mm256_and_si256(
                vHi, _mm256_cmpgt_epi64(_mm256_xor_si256(sHi, flip), _mm256_xor_si256(kHi, flip)));
            if (_mm256_testz_si256(_mm256_or_si256(bLo, bHi), _mm256_or_si256(bLo, bHi))) continue;
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(slotP), _mm256_blendv_epi8(sLo, kLo, bLo));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(slotP + 4), _mm256_blendv_epi8(sHi, kHi, bHi));
            // Per-pixel 32-bit lanes of the replace mask, in memory order.
            const __m256 b32 = _mm256_castsi256_ps(_mm256_permute4x64_epi64(
                _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(bLo), _mm256_castsi256_ps(bHi), _MM_SHUFFLE(2, 0, 2, 0))),
                _MM_SHUFFLE(3, 1, 2, 0)));
            const int pi = static_cast<int>(slotP - key);
            _mm256_storeu_ps(winU + pi, _mm256_blendv_ps(_mm256_loadu_ps(winU + pi), u, b32));
            _mm256_storeu_ps(winV + pi, _mm256_blendv_ps(_mm256_loadu_ps(winV + pi), v, b32));
            _mm256_storeu_ps(winZ + pi, _mm256_blendv_ps(_mm256_loadu_ps(winZ + pi), zw, b32));
          }
#else
          alignas(32) float zw8[8], u8[8], v8[8];
          for (int j = 0; j < 8; ++j) {
            if (!((m >> j) & 1u)) continue;
            const float fx = fxRow[g + j];
            const float q0x = x0c - fx * w0c, q1x = x1c - fx * w1c, q2x = x2c - fx * w2c;
            const float a0 = q1x * q2y - q1y * q2x;
            const float a1 = q2x * q0y - q2y * q0x;
            const float a2 = q0x * q1y - q0y * q1x;
            zw8[j] = (z0c * a0 + z1c * a1 + z2c * a2) / (w0c * a0 + w1c * a1 + w2c * a2);
            const float sum = a0 + a1 + a2;
            u8[j] = a0 / sum;
            v8[j] = a1 / sum;
          }
          for (uint32_t bits = m; bits; bits &= bits - 1) {
            const int j = __builtin_ctz(bits);
            const float zw = zw8[j];
            if (zw > 1.0f) continue;
            const uint64_t k = depthKey(zw, triId);
            uint64_t& slot = keyRow[g + j];
            if (k < slot) {
              slot = k;
              const int pi = static_cast<int>(&slot - key);
              winU[pi] = u8[j];
              winV[pi] = v8[j];
              winZ[pi] = zw;
            }
          }
#endif
        }
      }
    }
    for (int py = ty0; py <= ty1; ++py) {
      int px = tx0;
#if defined(__AVX2__)
      // 8 pixels at a time: the clamps of clampedOutputRaw as compare + blend (the same results, NaN -> 0
      // included), then a 4x8 transpose into (u, v, zw, id) quadruples.
      for (; px + 7 <= tx1; px += 8) {
        const int pi = (py - ty0) * kTile + (px - tx0);
        float* out = rast + 4 * (b * HW + static_cast<int64_t>(py) * W + px);
        const __m256i k0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(key + pi));
        const __m256i k1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(key + pi + 4));
        const __m256i ones = _mm256_set1_epi64x(-1);
        if (_mm256_testc_si256(_mm256_and_si256(k0, k1), ones)) {  // eight background pixels
          zeroFill(out, 32);
          continue;
        }
        auto clamp8 = [](__m256 x, float lo, float hi) {
          const __m256 L = _mm256_set1_ps(lo), Hh = _mm256_set1_ps(hi);
          __m256 r = _mm256_blendv_ps(x, L, _mm256_cmp_ps(x, L, _CMP_LT_OQ));
          r = _mm256_blendv_ps(r, Hh, _mm256_cmp_ps(x, Hh, _CMP_GT_OQ));
          return _mm256_blendv_ps(r, _mm256_setzero_ps(), _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
        };
        __m256 u = clamp8(_mm256_loadu_ps(winU + pi), 0.0f, 1.0f);
        __m256 v = clamp8(_mm256_loadu_ps(winV + pi), 0.0f, 1.0f);
        const __m256 sum = _mm256_add_ps(u, v);
        const __m256 over = _mm256_cmp_ps(sum, _mm256_set1_ps(1.0f), _CMP_GT_OQ);
        u = _mm256_blendv_ps(u, _mm256_div_ps(u, sum), over);
        v = _mm256_blendv_ps(v, _mm256_div_ps(v, sum), over);
        __m256 z = clamp8(_mm256_loadu_ps(winZ + pi), -1.0f, 1.0f);
        auto low32 = [](__m256i a, __m256i b) {  // low dwords of the 8 u64 lanes of (a, b), in order
          return _mm256_castps_si256(_mm256_castsi256_ps(_mm256_permute4x64_epi64(
              _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), _MM_SHUFFLE(2, 0, 2, 0))),
              _MM_SHUFFLE(3, 1, 2, 0))));
        };
        const __m256i t = low32(k0, k1);
        const __m256 bg = _mm256_castsi256_ps(low32(_mm256_cmpeq_epi64(k0, ones), _mm256_cmpeq_epi64(k1, ones)));
        __m256 id = _mm256_cvtepi32_ps(_mm256_add_epi32(t, _mm256_set1_epi32(1)));
        const __m256 zero = _mm256_setzero_ps();
        u = _mm256_blendv_ps(u, zero, bg);
        v = _mm256_blendv_ps(v, zero, bg);
        z = _mm256_blendv_ps(z, zero, bg);
        id = _mm256_blendv_ps(id, zero, bg);
        const __m256 t0 = _mm256_unpacklo_ps(u, v), t1 = _mm256_unpackhi_ps(u, v);
        const __m256 t2 = _mm256_unpacklo_ps(z, id), t3 = _mm256_unpackhi_ps(z, id);
        const __m256 a = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 bq = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
        const __m256 c = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 dq = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
        _mm256_storeu_ps(out, _mm256_permute2f128_ps(a, bq, 0x20));
        _mm256_storeu_ps(out + 8, _mm256_permute2f128_ps(c, dq, 0x20));
        _mm256_storeu_ps(out + 16, _mm256_permute2f128_ps(a, bq, 0x31));
        _mm256_storeu_ps(out + 24, _mm256_permute2f128_ps(c, dq, 0x31));
      }
#endif
      for (; px <= tx1; ++px) {
        float* out = rast + 4 * (b * HW + static_cast<int64_t>(py) * W + px);
        const uint64_t k = key[(py - ty0) * kTile + (px - tx0)];
        if (k == ~0ull) {
          out[0] = out[1] = out[2] = out[3] = 0.0f;
          continue;
        }
        const uint32_t t = static_cast<uint32_t>(k & 0xFFFFFFFFull);
        const int pi = (py - ty0) * kTile + (px - tx0);
        clampedOutputRaw(winU[pi], winV[pi], winZ[pi], out);
        out[3] = static_cast<float>(t + 1);
      }
    }
  };

  // Stage at a time (every stage split over B x chunks tasks), or, when there are enough frames to keep every
  // thread busy, frame at a time: a task runs all stages of one frame back to back, so that the frame's vertices,
  // sub-triangles and tile lists are still in cache when the next stage reads them (stage at a time, a batch's
  // intermediate data outgrows the caches). The tasks do the same work in both schedules, so the results are
  // identical.
  if (frameAtATime) {
    parallelFor(B, [&](int64_t b) {
      const FrameData f = frameDataIn(scratch(), 1, 0);
      for (int64_t c = 0; c < vChunks; ++c) vertexTask(f, b, c);
      for (int64_t c = 0; c < tChunks; ++c) setupTask(f, b, c);
      binOffsets(f);
      for (int64_t c = 0; c < tChunks; ++c) fillTask(f, c);
      for (int64_t tile = 0; tile < numTiles; ++tile) tileTask(f, b, tile);
    });
  } else {
    std::vector<FrameData> frames;
    frames.reserve(B);
    for (int64_t b = 0; b < B; ++b) frames.push_back(frameDataIn(sc, B, b));
    parallelFor(B * vChunks, [&](int64_t task) { vertexTask(frames[task / vChunks], task / vChunks, task % vChunks); });
    parallelFor(B * tChunks, [&](int64_t task) { setupTask(frames[task / tChunks], task / tChunks, task % tChunks); });
    for (int64_t b = 0; b < B; ++b) binOffsets(frames[b]);
    parallelFor(B * tChunks, [&](int64_t task) { fillTask(frames[task / tChunks], task % tChunks); });
    parallelFor(B * numTiles, [&](int64_t task) { tileTask(frames[task / numTiles], task / numTiles, task % numTiles); });
  }
}

void rasterizeBackward(const RasterDims& d, const float* pos, const int32_t* tri, const float* rast,
                       const float* gradRast, float* gradPos, bool accumulate) {
  const int B = d.batch, V = d.numVertices, T = d.numTriangles, H = d.height, W = d.width;
  if (B < 1 || V < 0 || T < 0 || H < 1 || W < 1) throw std::invalid_argument("rasterizeBackward: bad sizes");
  checkTriangles(tri, T, V, "rasterizeBackward");
  const int64_t HW = static_cast<int64_t>(H) * W;
  checkIds(rast, B * HW, T, "rasterizeBackward");
  // Per-triangle-corner sums G[b, t, k, (x, y, w)], each triangle's pixels in ascending order.
  std::vector<float>& G = scratch().G;
  growTo(G, static_cast<size_t>(B) * T * 9);  // every entry used is written below
  // Per vertex (gradPos[b, v]): its corners' sums in ascending corner order.
  const CornerTable& corners = buildCorners(tri, T, V);
  const int64_t vChunks = ceilDivPos(V, kVertexChunk);
  auto gatherTask = [&](int64_t task) {
    const int64_t b = task / vChunks, v0 = (task % vChunks) * kVertexChunk;
    const float* Gb = G.data() + b * static_cast<int64_t>(T) * 9;
    gatherPositionGradients(corners, b, v0, std::min<int64_t>(V, v0 + kVertexChunk), V,
                            [Gb](int32_t t) { return Gb + 9 * static_cast<int64_t>(t); }, gradPos, accumulate);
  };
  const bool gathered = sumPerTriangle(
      rast, B, HW, T, tasksPerFrame(B, T),
      [&](int b, int t0, int t1, RasterPixelBatch&) {
        std::fill(G.begin() + (static_cast<size_t>(b) * T + t0) * 9, G.begin() + (static_cast<size_t>(b) * T + t1) * 9, 0.0f);
      },
      [&](int b, int64_t pBegin, int64_t pEnd, int t, int64_t&, RasterPixelBatch& batch) {
        // The run's pixels go to the task's batch, which adds their terms onto the triangle's row in this order.
        const float* const gr = gradRast;
        const float* posB = pos + static_cast<int64_t>(b) * V * 4;
        const int32_t* it = tri + 3 * static_cast<int64_t>(t);
        const float *p0 = posB + 4 * it[0], *p1 = posB + 4 * it[1], *p2 = posB + 4 * it[2];
        float* sumRow = G.data() + (static_cast<size_t>(b) * T + t) * 9;
        PixelCursor at(pBegin - b * HW, HW, W, H);
        for (int64_t p = pBegin; p < pEnd; ++p, at.advance()) {
          const float* g = gr + 2 * p;
          if (!allZero(g, 2)) batch.push(p0, p1, p2, at.fx(), at.fy, g[0], g[1], sumRow);
        }
      },
      [&](int b, RasterPixelBatch&) {
        for (int64_t c = 0; c < vChunks; ++c) gatherTask(b * vChunks + c);
      },
      false, [](int64_t) {});
  if (!gathered) parallelFor(B * vChunks, gatherTask);
}

namespace {
/**
 * Calls fn with the channel count as a compile-time constant for small counts (so the per-channel loops unroll;
 * the float operations and their order are the same) and as a plain int otherwise.
 */
template <typename F>
void withChannels(int C, F&& fn) {
  switch (C) {
    case 1: fn(std::integral_constant<int, 1>{}); break;
    case 2: fn(std::integral_constant<int, 2>{}); break;
    case 3: fn(std::integral_constant<int, 3>{}); break;
    case 4: fn(std::integral_constant<int, 4>{}); break;
    default: fn(C); break;
  }
}

/**
 * The sizes and the attribute triangles; with `ids` also the rast's triangle ids (the callers that do not ask check
 * each id in their own pass over the pixels before using it, which saves a pass over the rast).
 */
void checkInterp(const InterpDims& d, const float* rast, const int32_t* attrTri, const char* where, bool ids = true) {
  if (d.batch < 1 || d.height < 1 || d.width < 1 || d.attrVertices < 0 || d.channels < 1 || d.numTriangles < 0 ||
      !(d.attrBatch == 1 || d.attrBatch == d.batch))
    throw std::invalid_argument(std::string(where) + ": bad sizes");
  checkTriangles(attrTri, d.numTriangles, d.attrVertices, where);
  if (ids) checkIds(rast, static_cast<int64_t>(d.batch) * d.height * d.width, d.numTriangles, where);
}
}  // namespace

void interpolateForward(const InterpDims& d, const float* attr, const float* rast, const int32_t* attrTri, float* out) {
  // The ids are checked pixel by pixel in the pass below (a pixel with a bad id is written as background and the
  // call then throws; `out` is only an output, so nothing the caller holds is left half-updated but `out` itself).
  checkInterp(d, rast, attrTri, "interpolate", false);
  const int64_t HW = static_cast<int64_t>(d.height) * d.width;
  const float Tf = static_cast<float>(d.numTriangles);
  withChannels(d.channels, [&](auto Cc) {
  const int C = Cc;
  // Chunks never straddle frames, so that a task knows its attribute frame without a division per pixel.
  const int64_t P = ceilDivPos(HW, kPixelChunk);
#if defined(__AVX2__)
  // Wide channel counts: 8 channels at a time, each lane with its channel's scalar operations (u*a0 + v*a1, then
  // + w*a2; no contraction), row tails through masked loads and stores (nothing outside the row is touched).
  const bool wide = C > 4;
  const int nVec = (C + 7) / 8;
  const __m256i tailMask = _mm256_cmpgt_epi32(_mm256_set1_epi32(C - 8 * (nVec - 1)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
#endif
  std::atomic<bool> badId{false};
  parallelFor(d.batch * P, [&](int64_t task) {
    const int64_t b = task / P, base = b * HW;
    const int64_t p0 = base + (task % P) * kPixelChunk, p1 = std::min(base + HW, p0 + kPixelChunk);
    const int64_t ab = d.attrBatch == 1 ? 0 : b;
    for (int64_t p = p0; p < p1; ++p) {
      float* o = out + p * C;
      const float* r = rast + 4 * p;
      const float idf = r[3];
      if (idf == 0.0f) {
        // A run of background pixels is zeroed as one block.
        int64_t q = p + 1;
        while (q < p1 && rast[4 * q + 3] == 0.0f) ++q;
        zeroFill(o, static_cast<size_t>(q - p) * C);
        p = q - 1;
        continue;
      }
      if (!idValid(idf, Tf)) {
        badId.store(true, std::memory_order_relaxed);
        std::fill(o, o + C, 0.0f);
        continue;
      }
      const int id = static_cast<int>(idf);
      const int32_t* it = attrTri + 3 * static_cast<int64_t>(id - 1);
      const float* a0 = attr + (ab * d.attrVertices + it[0]) * C;
      const float* a1 = attr + (ab * d.attrVertices + it[1]) * C;
      const float* a2 = attr + (ab * d.attrVertices + it[2]) * C;
      const float u = r[0], v = r[1], w = 1.0f - u - v;
#if defined(__AVX2__)
      if (wide) {
        const __m256 U = _mm256_set1_ps(u), Vv = _mm256_set1_ps(v), Wv = _mm256_set1_ps(w);
        for (int j = 0; j < nVec; ++j) {
          const bool tail = j + 1 == nVec;
          auto load = [&](const float* row) {
            return tail ? _mm256_maskload_ps(row + 8 * j, tailMask) : _mm256_loadu_ps(row + 8 * j);
          };
          const __m256 x = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(U, load(a0)), _mm256_mul_ps(Vv, load(a1))),
                                         _mm256_mul_ps(Wv, load(a2)));
          if (tail) _mm256_maskstore_ps(o + 8 * j, tailMask, x);
          else _mm256_storeu_ps(o + 8 * j, x);
        }
        continue;
      }
#endif
      for (int c = 0; c < C; ++c) o[c] = u * a0[c] + v * a1[c] + w * a2[c];
    }
  });
  if (badId.load()) checkIds(rast, static_cast<int64_t>(d.batch) * HW, d.numTriangles, "interpolate");  // throws
  });
}

namespace {
/** interpolateRasterizeBackward's rasterize side: positions [B,V,4], their triangles [T,3], the output. */
struct PositionChain {
  const float* pos;
  int V;
  const int32_t* tri;
  float* gradPos;
  bool accumulate;
  const float* gradRastIn;  // [B,H,W,2] added to each covered pixel's rast gradient, or null
};

/**
 * The rasterize side of one run of interpolateRasterizeBackward: the triangle's clip-space corners, its row of 9 sums
 * (which the task's RasterPixelBatch adds the run's pixels onto) and the pixel position along the run.
 */
struct RasterRunSide {
  const float *p0 = nullptr, *p1 = nullptr, *p2 = nullptr;
  float* row = nullptr;
  RasterPixelBatch* batch = nullptr;
  PixelCursor at{0, 1, 1, 1};
  void begin(const PositionChain& c, int b, int t, int64_t local, int64_t HW, int W, int H, float* sumsRow,
             RasterPixelBatch& pixels) {
    const float* posB = c.pos + static_cast<int64_t>(b) * c.V * 4;
    const int32_t* it = c.tri + 3 * static_cast<int64_t>(t);
    p0 = posB + 4 * it[0];
    p1 = posB + 4 * it[1];
    p2 = posB + 4 * it[2];
    row = sumsRow;
    gradRastIn = c.gradRastIn;
    batch = &pixels;
    at = PixelCursor(local, HW, W, H);
  }
  const float* gradRastIn = nullptr;
  /**
   * The current pixel p's rast gradient (du, dv) as interpolateBackward computes it (+0, +0 for a zero gradOut row),
   * plus the incoming one's as its accumulateRast adds it; nothing when both are +-0, as rasterizeBackward skips
   * such pixels.
   */
  __attribute__((always_inline)) void add(int64_t p, float du, float dv) {
    if (gradRastIn) {
      du = gradRastIn[2 * p] + du;
      dv = gradRastIn[2 * p + 1] + dv;
    }
    if (du == 0.0f && dv == 0.0f) return;
    batch->push(p0, p1, p2, at.fx(), at.fy, du, dv, row);
  }
  /** A pixel whose gradOut row is all +-0: its own rast gradient is (+0, +0), so only an incoming one counts. */
  void addZero(int64_t p) {
    if (gradRastIn) add(p, 0.0f, 0.0f);
  }
};

/**
 * interpolateBackward, or with `chain` interpolateRasterizeBackward (gradRast null): each covered pixel's rast
 * gradient is then computed in the per-triangle pass and its rasterize-backward terms summed there too, per
 * triangle in ascending pixel order as rasterizeBackward sums them.
 */
void interpolateBackwardImpl(const InterpDims& d, const float* attr, const float* rast, const int32_t* attrTri,
                             const float* gradOut, float* gradAttr, float* gradRast, bool accumulateRast,
                             const PositionChain* chain, const char* where) {
  // The chained call with its frames split over threads (a tracker's batch of 1) checks the ids in its sum pass,
  // which scans every pixel anyway and writes only scratch: a bad id throws after it, before any output is written.
  // A call that only writes gradRast (no accumulation, as the tracker's UV call) checks them in its rast-gradient
  // pass, which reads every id anyway: a bad id is written as background and the call throws after the pass, with
  // gradRast, an output only, written and nothing else the caller holds changed (as interpolate's forward does).
  // (Elsewhere a pass accumulates into gradRast or reduces frames as it goes, so the ids are checked first.)
  const bool idsInPass = chain && !gradRast && d.batch < ThreadPool::instance().threadCount();
  const bool idsInRastPass = gradRast && !accumulateRast && !gradAttr && !chain;
  checkInterp(d, rast, attrTri, where, !idsInPass && !idsInRastPass);
  if (chain) checkTriangles(chain->tri, d.numTriangles, chain->V, where);
  if ((gradAttr || chain) && static_cast<int64_t>(d.batch) * d.numTriangles > 0x7fffffff)  // rows are numbered in int32
    throw std::invalid_argument(std::string(where) + ": too many triangles");
  withChannels(d.channels, [&](auto Cc) {
  const int B = d.batch, T = d.numTriangles, Va = d.attrVertices;
  const int C = Cc;
  const int64_t HW = static_cast<int64_t>(d.height) * d.width;
  // Wide channel counts take AVX2 paths that work on 8 channels at a time. Every float operation there is
  // element-wise (a lane's c is the scalar loop's c) or an in-order scalar sum, so the bits are those of the scalar
  // loops. Row tails are read with masked loads (zero in the lanes past C, never past the end of a buffer).
#if defined(__AVX2__)
  const bool wide = C > 4 && C <= kWideMax;
#else
  const bool wide = false;
#endif
  // Row stride of the per-corner sums: C, or C rounded up to whole vectors on the wide path (the padding lanes
  // are never read back).
  const int Cs = wide ? (C + 7) / 8 * 8 : C;
  const int nVec = Cs / 8;
#if defined(__AVX2__)
  const __m256i tailMask = _mm256_cmpgt_epi32(_mm256_set1_epi32(C - 8 * (nVec - 1)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  auto loadRow = [&](const float* row, int j) {
    return j + 1 < nVec ? _mm256_loadu_ps(row + 8 * j) : _mm256_maskload_ps(row + 8 * j, tailMask);
  };
#endif
  // gradRast of pixel p (0 for background): (du, dv) = sum_c g[c] (a0[c] - a2[c], a1[c] - a2[c]), summed in the
  // order of rastGradSums (raster_math.h). Covered pixels are taken in groups (four, or eight with one pixel per
  // vector lane), in a pass of its own over pixel chunks, so that it splits evenly over the threads.
  auto store = [&](int64_t p, float du, float dv) {
    if (accumulateRast) {
      gradRast[2 * p] += du;
      gradRast[2 * p + 1] += dv;
    } else {
      gradRast[2 * p] = du;
      gradRast[2 * p + 1] = dv;
    }
  };
  // 1-4 channels (the wide counts take rastGradOct below), up to four pixels.
  auto rastGradQuad = [&](const int64_t* q, int n, int64_t ab) {  // ab: the pixels' attribute frame
    for (int k = 0; k < n; ++k) {
      const int64_t p = q[k];
      const int32_t* it = attrTri + 3 * (static_cast<int64_t>(rast[4 * p + 3]) - 1);
      float du, dv;
      rastGradSums(gradOut + p * C, attr + (ab * Va + it[0]) * C, attr + (ab * Va + it[1]) * C, attr + (ab * Va + it[2]) * C,
                   C, du, dv);
      store(p, du, dv);
    }
  };
#if defined(__AVX2__)
  // The wide channel counts, eight covered pixels at a time with one pixel per lane: each pixel's products
  // g[c] * (a0[c] - a2[c]) (and a1) are formed 8 channels at a time as above, an 8 x 8 transpose turns them into
  // one vector per channel, and rastGradSums' lane sums and tree then run as vector adds, each lane doing exactly
  // its pixel's scalar adds (so the bits are those of rastGradOne) with eight pixels per add.
  auto rastGradOct = [&](const int64_t* q, int n, int64_t ab) {
    const float* const at = attr;
    const int32_t* const aTri = attrTri;
    const float* const rs = rast;
    const float* const go = gradOut;
    const int c = C, va = Va, nv = nVec;
    const __m256i tail = tailMask;
    const float *a0[8], *a1[8], *a2[8], *g[8];
    for (int k = 0; k < 8; ++k) {
      const int64_t p = q[k < n ? k : 0];  // unused lanes repeat the first pixel; their results are dropped
      const int32_t* it = aTri + 3 * (static_cast<int64_t>(rs[4 * p + 3]) - 1);
      a0[k] = at + (ab * va + it[0]) * c;
      a1[k] = at + (ab * va + it[1]) * c;
      a2[k] = at + (ab * va + it[2]) * c;
      g[k] = go + p * c;
    }
    __m256 lu[8], lv[8];  // lane i of rastGradSums (channels i, i + 8, ...) of the eight pixels
    for (int i = 0; i < 8; ++i) lu[i] = lv[i] = _mm256_setzero_ps();
    for (int j = 0; j < nv; ++j) {
      __m256 tu[8], tv[8];
      for (int k = 0; k < 8; ++k) {
        auto load = [&](const float* row) {
          return j + 1 < nv ? _mm256_loadu_ps(row + 8 * j) : _mm256_maskload_ps(row + 8 * j, tail);
        };
        const __m256 gk = load(g[k]), a2k = load(a2[k]);
        tu[k] = _mm256_mul_ps(gk, _mm256_sub_ps(load(a0[k]), a2k));
        tv[k] = _mm256_mul_ps(gk, _mm256_sub_ps(load(a1[k]), a2k));
      }
      transpose8(tu);  // tu[i]: channel 8j + i of the eight pixels (+0 past the last channel)
      transpose8(tv);
      for (int i = 0; i < 8; ++i) {
        lu[i] = _mm256_add_ps(lu[i], tu[i]);
        lv[i] = _mm256_add_ps(lv[i], tv[i]);
      }
    }
    auto tree = [](const __m256* l) {
      return _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(l[0], l[4]), _mm256_add_ps(l[2], l[6])),
                           _mm256_add_ps(_mm256_add_ps(l[1], l[5]), _mm256_add_ps(l[3], l[7])));
    };
    const __m256 du = tree(lu), dv = tree(lv);
    alignas(32) float duL[8], dvL[8];
    _mm256_store_ps(duL, du);
    _mm256_store_ps(dvL, dv);
    for (int k = 0; k < n; ++k) store(q[k], duL[k], dvL[k]);
  };
#endif
  // One covered pixel p of triangle t (attribute frame ab): rastGradSums, with the wide counts' lane sums as vector
  // adds (8 channels per add; the same operations as a lane of rastGradOct).
  auto rastGradOf = [&](const float* g, const float* a0, const float* a1, const float* a2, float& du, float& dv) {
#if defined(__AVX2__)
    if (wide) {
      __m256 su = _mm256_setzero_ps(), sv = _mm256_setzero_ps();
      for (int j = 0; j < nVec; ++j) {
        const __m256 gj = loadRow(g, j), a2j = loadRow(a2, j);
        su = _mm256_add_ps(su, _mm256_mul_ps(gj, _mm256_sub_ps(loadRow(a0, j), a2j)));
        sv = _mm256_add_ps(sv, _mm256_mul_ps(gj, _mm256_sub_ps(loadRow(a1, j), a2j)));
      }
      du = laneTreeSum8(su);
      dv = laneTreeSum8(sv);
      return;
    }
#endif
    rastGradSums(g, a0, a1, a2, C, du, dv);
  };
  auto rastGradOne = [&](int64_t p, int t, int64_t ab) {
    const int32_t* it = attrTri + 3 * static_cast<int64_t>(t);
    float du, dv;
    rastGradOf(gradOut + p * C, attr + (ab * Va + it[0]) * C, attr + (ab * Va + it[1]) * C, attr + (ab * Va + it[2]) * C, du, dv);
    store(p, du, dv);
  };
  // With gradAttr and a frame per task (B >= threads), the sum pass below computes gradRast too, while each
  // pixel's gradOut row is in cache (a batch's gradOut outgrows the caches: read once instead of twice, about 10%
  // faster at B = 16). With frames split over threads the separate pass is kept: it takes several pixels at
  // a time (4 or 8), and is a few % faster there.
  const bool fuseRast = gradRast && gradAttr && B >= ThreadPool::instance().threadCount();
  if (gradRast && !fuseRast) {
    // Chunks never straddle frames, so that a task knows its frame (and attribute frame) without a division per
    // pixel.
    const int64_t P = ceilDivPos(HW, kRastGradChunk);
    const float Tf = static_cast<float>(T);
    std::atomic<bool> badId{false};
    parallelFor(B * P, [&](int64_t task) {
      const int64_t b = task / P, base = b * HW;
      const int64_t p0 = base + (task % P) * kRastGradChunk, p1 = std::min(base + HW, p0 + kRastGradChunk);
      const int64_t ab = d.attrBatch == 1 ? 0 : b;
      // Covered pixels are gathered into groups: 8 for the wide paths (one pixel per lane), 4 otherwise.
#if defined(__AVX2__)
      const int group = wide ? 8 : 4;
      auto flush = [&](const int64_t* qq, int nn) {
        if (wide) rastGradOct(qq, nn, ab);
        else rastGradQuad(qq, nn, ab);
      };
#else
      const int group = 4;
      auto flush = [&](const int64_t* qq, int nn) { rastGradQuad(qq, nn, ab); };
#endif
      int64_t q[8];
      int n = 0;
      for (int64_t p = p0; p < p1; ++p) {
        if (rast[4 * p + 3] == 0.0f) {
          if (accumulateRast) {
            store(p, 0.0f, 0.0f);  // (x + 0: -0 becomes +0, so this is not a no-op)
            continue;
          }
          // A run of background pixels is zeroed as one block.
          int64_t e = p + 1;
          while (e < p1 && rast[4 * e + 3] == 0.0f) ++e;
          zeroFill(gradRast + 2 * p, static_cast<size_t>(e - p) * 2);
          p = e - 1;
          continue;
        }
        if (!idValid(rast[4 * p + 3], Tf)) {  // (only with idsInRastPass: the ids were checked otherwise)
          badId.store(true, std::memory_order_relaxed);
          store(p, 0.0f, 0.0f);
          continue;
        }
        q[n++] = p;
        if (n == group) {
          flush(q, n);
          n = 0;
        }
      }
      if (n) flush(q, n);
    });
    if (badId.load()) checkIds(rast, static_cast<int64_t>(B) * HW, T, where);  // throws
  }
  if (!gradAttr && !chain) return;
  // Per-corner sums G[row, k, c], each triangle's pixels in ascending order. Only triangles that receive a
  // contribution get a row (rowOf[b, t], -1 = none), allotted in order of first use and cleared then, so that the
  // rows in use are contiguous (a frame touches a few thousand of its triangles, scattered over the ids); the
  // gather below skips the others. Skipping them does not change any bit: their rows would be +0, and adding +0
  // to a sum that started at +0 never changes it (such a sum is never -0 in round-to-nearest).
  // When a task owns a whole frame and reduces it right after its scan (every frame's attributes its own, or no
  // attribute gradient), the frame's rows live in the running thread's RasterPixelBatch::frameRows* instead, reused
  // frame after frame: row r of frame b at index r - b * T there (rows are numbered from b * T either way).
  const int Ba = d.attrBatch;
  const int tasksEach = tasksPerFrame(B, T);  // (once: another thread may resize the pool meanwhile)
  const bool frameRows = tasksEach == 1 && (!gradAttr || Ba == B);
  std::vector<float>& G = scratch().G;
  if (gradAttr && !frameRows) growTo(G, static_cast<size_t>(B) * T * 3 * Cs);  // rows are cleared when allotted
  std::vector<int32_t>& rowOf = scratch().rowOf;
  rowOf.resize(static_cast<size_t>(B) * T);
  // Per attribute vertex (gradAttr[ab, v]): its corners' sums in ascending corner order, over the frames in
  // ascending order for broadcast attributes. Row r's sums are at rows + (r - rowOffset) * 3 * Cs.
  const CornerTable* attrCorners = gradAttr ? &buildCorners(attrTri, T, Va) : nullptr;
  const int32_t* cStart = attrCorners ? attrCorners->start.data() : nullptr;
  const int32_t* corner = attrCorners ? attrCorners->corner.data() : nullptr;
  const int64_t vChunks = ceilDivPos(Va, kVertexChunk);
  auto gatherTask = [&](int64_t task, const float* rows, int64_t rowOffset) {
    const int64_t ab = task / vChunks, v0 = (task % vChunks) * kVertexChunk;
    const int64_t v1 = std::min<int64_t>(Va, v0 + kVertexChunk);
    const int64_t bBegin = Ba == 1 ? 0 : ab, bEnd = Ba == 1 ? B : ab + 1;
#if defined(__AVX2__)
    if (wide && nVec == 2) {
      // 9-16 channels (the tracker's 9, the benchmark's 15): both vectors of a corner's row per lookup.
      alignas(32) static const float zeros[16] = {};
      for (int64_t v = v0; v < v1; ++v) {
        float* out = gradAttr + (ab * Va + v) * C;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        for (int64_t b = bBegin; b < bEnd; ++b) {
          const int32_t* rowB = rowOf.data() + b * static_cast<int64_t>(T);
          for (int32_t i = cStart[v]; i < cStart[v + 1]; ++i) {
            // Triangles without a row read a row of zeros instead of branching (whether a vertex's triangle is
            // seen is close to random): adding +0 never changes these sums, which are never -0.
            const int32_t row = rowB[corner[i] / 3];
            const float* g = row < 0 ? zeros : rows + ((row - rowOffset) * 3 + corner[i] % 3) * Cs;
            acc0 = _mm256_add_ps(acc0, _mm256_loadu_ps(g));
            acc1 = _mm256_add_ps(acc1, _mm256_loadu_ps(g + 8));
          }
        }
        _mm256_storeu_ps(out, acc0);
        _mm256_maskstore_ps(out + 8, tailMask, acc1);
      }
      return;
    }
    if (wide) {
      // 8 channels at a time, each lane summing its channel over the same corners in the same order.
      for (int64_t v = v0; v < v1; ++v) {
        float* out = gradAttr + (ab * Va + v) * C;
        for (int j = 0; j < nVec; ++j) {
          __m256 acc = _mm256_setzero_ps();
          for (int64_t b = bBegin; b < bEnd; ++b) {
            const int32_t* rowB = rowOf.data() + b * static_cast<int64_t>(T);
            for (int32_t i = cStart[v]; i < cStart[v + 1]; ++i) {
              const int32_t row = rowB[corner[i] / 3];
              if (row < 0) continue;
              acc = _mm256_add_ps(acc, _mm256_loadu_ps(rows + ((row - rowOffset) * 3 + corner[i] % 3) * Cs + 8 * j));
            }
          }
          if (j + 1 < nVec) _mm256_storeu_ps(out + 8 * j, acc);
          else _mm256_maskstore_ps(out + 8 * j, tailMask, acc);
        }
      }
      return;
    }
#endif
    for (int64_t v = v0; v < v1; ++v) {
      float* out = gradAttr + (ab * Va + v) * C;
      for (int c = 0; c < C; ++c) out[c] = 0.0f;
      for (int64_t b = bBegin; b < bEnd; ++b) {
        const int32_t* rowB = rowOf.data() + b * static_cast<int64_t>(T);
        for (int32_t i = cStart[v]; i < cStart[v + 1]; ++i) {
          const int32_t row = rowB[corner[i] / 3];
          if (row < 0) continue;
          const float* g = rows + ((row - rowOffset) * 3 + corner[i] % 3) * Cs;
          for (int c = 0; c < C; ++c) out[c] += g[c];
        }
      }
    }
  };
  // Chained: rasterize-backward's per-triangle sums in rows of 9 (posSums; a row for every triangle with a pixel,
  // numbered as G's), gathered onto the position vertices through the position triangles' corner table.
  const CornerTable* posCorners = chain ? &buildCorners(chain->tri, T, chain->V) : nullptr;
  float* posSums = nullptr;
  if (chain && !frameRows) {
    growTo(scratch().posSums, static_cast<size_t>(B) * T * 9);  // rows are cleared when allotted
    posSums = scratch().posSums.data();
  }
  const int64_t pChunks = chain ? ceilDivPos(chain->V, kVertexChunk) : 0;
  auto positionGatherTask = [&](int64_t task, const float* sums, int64_t rowOffset) {
    const int64_t b = task / pChunks, v0 = (task % pChunks) * kVertexChunk;
    const int32_t* rowB = rowOf.data() + b * static_cast<int64_t>(T);
    gatherPositionGradients(
        *posCorners, b, v0, std::min<int64_t>(chain->V, v0 + kVertexChunk), chain->V,
        [rowB, sums, rowOffset](int32_t t) -> const float* { return rowB[t] < 0 ? nullptr : sums + 9 * (rowB[t] - rowOffset); },
        chain->gradPos, chain->accumulate);
  };
  // Per-frame attributes (Ba == B) are reduced frame by frame as soon as a frame's sums are complete.
  std::atomic<bool> badIds{false};
  const bool gathered = sumPerTriangle(
      rast, B, HW, T, tasksEach,
      [&](int b, int t0, int t1, RasterPixelBatch& batch) {
        std::fill(rowOf.begin() + static_cast<size_t>(b) * T + t0, rowOf.begin() + static_cast<size_t>(b) * T + t1, -1);
        if (frameRows) {
          if (gradAttr) growTo(batch.frameRowsG, static_cast<size_t>(T) * 3 * Cs);
          if (chain) growTo(batch.frameRowsPos, static_cast<size_t>(T) * 9);
        }
      },
      [&](int b, int64_t pBegin, int64_t pEnd, int t, int64_t& next, RasterPixelBatch& batch) {
        // (the sum pass visits every covered pixel exactly once; its value does not depend on the task)
        if (fuseRast)
          for (int64_t p = pBegin; p < pEnd; ++p) rastGradOne(p, t, Ba == 1 ? 0 : b);
        int32_t& row = rowOf[static_cast<size_t>(b) * T + t];
        const int64_t rowOffset = frameRows ? static_cast<int64_t>(b) * T : 0;
        float* const attrRows = frameRows ? batch.frameRowsG.data() : G.data();
        float* const posRows = frameRows ? batch.frameRowsPos.data() : posSums;
        // The triangle's row, allotted and cleared at its first pixel with a non-zero gradient (chained: at its first
        // pixel, for both kinds of sums).
        auto rowFor = [&]() {
          if (row < 0) {
            row = static_cast<int32_t>(next++);
            if (gradAttr) std::fill_n(attrRows + (row - rowOffset) * 3 * Cs, 3 * Cs, 0.0f);
            if (chain) std::fill_n(posRows + (row - rowOffset) * 9, 9, 0.0f);
          }
          return gradAttr ? attrRows + (row - rowOffset) * 3 * Cs : nullptr;
        };
        // Chained: the rasterize side of the run. Each pixel with a non-zero gradOut row gets its rast gradient
        // (du, dv) as rastGradOf computes it, and unless both are +-0 (rasterizeBackward's test) its terms are
        // added onto the triangle's 9 sums, kept in `side.sum` over the run.
        RasterRunSide side;
        if (chain) {
          rowFor();
          side.begin(*chain, b, t, pBegin - b * HW, HW, d.width, d.height, posRows + 9 * (row - rowOffset), batch);
        }
        const int64_t ab = Ba == 1 ? 0 : b;
        const int32_t* ia = attrTri + 3 * static_cast<int64_t>(t);
        const float *a0 = attr + (ab * Va + ia[0]) * C, *a1 = attr + (ab * Va + ia[1]) * C, *a2 = attr + (ab * Va + ia[2]) * C;
#if defined(__AVX2__)
        // 5-16 channels (the tracker's 5, the benchmark's 15): the row's 3 x NV vectors stay in registers over the
        // run (the same adds in the same order as the general path below). Locals, not the closure's references:
        // the compiler reloads anything reachable through the closure after every store.
        auto registerRun = [&](auto nv, auto chained) {
          constexpr int NV = decltype(nv)::value;
          constexpr bool Chained = decltype(chained)::value;
          const float* const go = gradOut;
          const float* const rs = rast;
          const int c = C, cs = Cs;
          const __m256i tail = tailMask;
          const __m256 noSign = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));  // +-0 are both zero
          auto load = [&](const float* r, int j) { return j + 1 < NV ? _mm256_loadu_ps(r + 8 * j) : _mm256_maskload_ps(r + 8 * j, tail); };
          float* sRow = nullptr;
          bool haveRow = false;
          __m256 acc[3][NV];  // corner k, channels 8j..8j+7
          __m256 d0[NV], d1[NV];  // chained: rastGradOf's a0 - a2 and a1 - a2 (the same subtractions, once per run)
          if constexpr (Chained)
            for (int j = 0; j < NV; ++j) {
              const __m256 a2j = load(a2, j);
              d0[j] = _mm256_sub_ps(load(a0, j), a2j);
              d1[j] = _mm256_sub_ps(load(a1, j), a2j);
            }
          for (int64_t p = pBegin; p < pEnd; ++p) {
            if constexpr (Chained)
              if (p != pBegin) side.at.advance();
            const float* g = go + p * c;
            __m256 gv[NV];
            for (int j = 0; j < NV; ++j) gv[j] = load(g, j);
            __m256 any = _mm256_and_ps(gv[0], noSign);
            for (int j = 1; j < NV; ++j) any = _mm256_or_ps(any, _mm256_and_ps(gv[j], noSign));
            if (_mm256_testz_si256(_mm256_castps_si256(any), _mm256_castps_si256(any))) {
              if constexpr (Chained) side.addZero(p);
              continue;
            }
            if (!haveRow) {
              haveRow = true;
              sRow = rowFor();
              if (sRow)
                for (int k = 0; k < 3; ++k)
                  for (int j = 0; j < NV; ++j) acc[k][j] = _mm256_loadu_ps(sRow + k * cs + 8 * j);
            }
            if (sRow) {
              const float u = rs[4 * p], v = rs[4 * p + 1], w = 1.0f - u - v;
              const __m256 bary[3] = {_mm256_set1_ps(u), _mm256_set1_ps(v), _mm256_set1_ps(w)};
              for (int k = 0; k < 3; ++k)
                for (int j = 0; j < NV; ++j) acc[k][j] = _mm256_add_ps(acc[k][j], _mm256_mul_ps(bary[k], gv[j]));
            }
            if constexpr (Chained) {
              // rastGradSums: the lane sums as vector adds, then the tree.
              __m256 su = _mm256_setzero_ps(), sv = _mm256_setzero_ps();
              for (int j = 0; j < NV; ++j) {
                su = _mm256_add_ps(su, _mm256_mul_ps(gv[j], d0[j]));
                sv = _mm256_add_ps(sv, _mm256_mul_ps(gv[j], d1[j]));
              }
              side.add(p, laneTreeSum8(su), laneTreeSum8(sv));
            }
          }
          if (sRow)
            for (int k = 0; k < 3; ++k)
              for (int j = 0; j < NV; ++j) _mm256_storeu_ps(sRow + k * cs + 8 * j, acc[k][j]);
        };
        if (wide && nVec <= 2) {
          if (chain) {
            if (nVec == 1) registerRun(std::integral_constant<int, 1>{}, std::true_type{});
            else registerRun(std::integral_constant<int, 2>{}, std::true_type{});
          } else {
            if (nVec == 1) registerRun(std::integral_constant<int, 1>{}, std::false_type{});
            else registerRun(std::integral_constant<int, 2>{}, std::false_type{});
          }
          return;
        }
#endif
        for (int64_t p = pBegin; p < pEnd; ++p) {
          if (chain && p != pBegin) side.at.advance();
          const float* g = gradOut + p * C;
#if defined(__AVX2__)
          if (wide) {
            // The same test and row handling as the scalar path below, 8 channels at a time.
            const __m256 noSign = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));  // +-0 are both zero
            __m256 any = _mm256_setzero_ps();
            for (int j = 0; j < nVec; ++j) any = _mm256_or_ps(any, _mm256_and_ps(loadRow(g, j), noSign));
            if (_mm256_testz_si256(_mm256_castps_si256(any), _mm256_castps_si256(any))) {
              if (chain) side.addZero(p);
              continue;
            }
          } else
#endif
          if (allZero(g, C)) {
            if (chain) side.addZero(p);
            continue;
          }
          if (chain) {
            float du, dv;
            rastGradOf(g, a0, a1, a2, du, dv);
            side.add(p, du, dv);
          }
          float* s = rowFor();
          if (!s) continue;
          const float u = rast[4 * p], v = rast[4 * p + 1], w = 1.0f - u - v;
#if defined(__AVX2__)
          if (wide) {
            const __m256 U = _mm256_set1_ps(u), Vv = _mm256_set1_ps(v), Wv = _mm256_set1_ps(w);
            for (int j = 0; j < nVec; ++j) {
              const __m256 gj = loadRow(g, j);
              float* s0 = s + 8 * j;
              _mm256_storeu_ps(s0, _mm256_add_ps(_mm256_loadu_ps(s0), _mm256_mul_ps(U, gj)));
              _mm256_storeu_ps(s0 + Cs, _mm256_add_ps(_mm256_loadu_ps(s0 + Cs), _mm256_mul_ps(Vv, gj)));
              _mm256_storeu_ps(s0 + 2 * Cs, _mm256_add_ps(_mm256_loadu_ps(s0 + 2 * Cs), _mm256_mul_ps(Wv, gj)));
            }
            continue;
          }
#endif
          for (int c = 0; c < C; ++c) {
            s[c] += u * g[c];
            s[C + c] += v * g[c];
            s[2 * C + c] += w * g[c];
          }
        }
      },
      [&](int b, RasterPixelBatch& batch) {
        const int64_t rowOffset = frameRows ? static_cast<int64_t>(b) * T : 0;
        if (gradAttr && Ba == B)
          for (int64_t c = 0; c < vChunks; ++c)
            gatherTask(b * vChunks + c, frameRows ? batch.frameRowsG.data() : G.data(), rowOffset);
        if (chain)
          for (int64_t c = 0; c < pChunks; ++c)
            positionGatherTask(b * pChunks + c, frameRows ? batch.frameRowsPos.data() : posSums, rowOffset);
      },
      fuseRast, [&](int64_t p) { store(p, 0.0f, 0.0f); }, idsInPass ? &badIds : nullptr);
  if (badIds.load()) checkIds(rast, static_cast<int64_t>(B) * HW, T, where);  // throws
  // What the frames did not gather as they finished, in one call: the attribute vertices' tasks, then the position
  // vertices'.
  const int64_t attrTasks = gradAttr && (!gathered || Ba != B) ? Ba * vChunks : 0;
  const int64_t positionTasks = chain && !gathered ? B * pChunks : 0;
  parallelFor(attrTasks + positionTasks, [&](int64_t task) {
    if (task < attrTasks) gatherTask(task, G.data(), 0);
    else positionGatherTask(task - attrTasks, posSums, 0);
  });
  });
}
}  // namespace

void interpolateBackward(const InterpDims& d, const float* attr, const float* rast, const int32_t* attrTri,
                         const float* gradOut, float* gradAttr, float* gradRast, bool accumulateRast) {
  interpolateBackwardImpl(d, attr, rast, attrTri, gradOut, gradAttr, gradRast, accumulateRast, nullptr, "interpolateBackward");
}

void interpolateRasterizeBackward(const InterpDims& d, const float* attr, const float* rast, const int32_t* attrTri,
                                  const float* gradOut, float* gradAttr, const float* pos, int numVertices,
                                  const int32_t* tri, float* gradPos, bool accumulatePos, const float* gradRastIn) {
  if (numVertices < 0) throw std::invalid_argument("interpolateRasterizeBackward: bad sizes");
  const PositionChain chain{pos, numVertices, tri, gradPos, accumulatePos, gradRastIn};
  interpolateBackwardImpl(d, attr, rast, attrTri, gradOut, gradAttr, nullptr, false, &chain, "interpolateRasterizeBackward");
}

}  // namespace raster
}  // namespace p3d

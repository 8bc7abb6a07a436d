// Fast pre-checks of the rasterizer kernels' index inputs (CPU). Every op scans its triangle ids and index
// buffers before touching memory through them; a chain calls several ops on the same buffers, so these scans
// are written to vectorise (branch-free, AVX2 where available) and to split large inputs over the thread pool.
// They only answer "all valid?"; callers re-scan with a plain loop to name the first bad entry in the error.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "../common/thread_pool.h"

namespace p3d {
namespace raster {

/** Whether a rast triangle id is valid: 0 (background) or an integer in [1, Tf] (NaN is not). */
inline bool idValid(float id, float Tf) { return id == 0.0f || (id >= 1.0f && id <= Tf && id == std::floor(id)); }

#if defined(__AVX2__)
/** idValid lane by lane: all ones in the lanes of `id` that are not valid ids, zero elsewhere. */
inline __m256 badIdLanes(__m256 id, __m256 Tf) {
  const __m256 integer = _mm256_and_ps(
      _mm256_and_ps(_mm256_cmp_ps(id, _mm256_set1_ps(1.0f), _CMP_GE_OQ), _mm256_cmp_ps(id, Tf, _CMP_LE_OQ)),
      _mm256_cmp_ps(id, _mm256_floor_ps(id), _CMP_EQ_OQ));
  const __m256 ok = _mm256_or_ps(_mm256_cmp_ps(id, _mm256_setzero_ps(), _CMP_EQ_OQ), integer);
  return _mm256_andnot_ps(ok, _mm256_castsi256_ps(_mm256_set1_epi32(-1)));
}
#endif

/** True iff every rast[4p + 3], p in [p0, p1), is a valid id (idValid). */
inline bool idsValidRange(const float* rast, int64_t p0, int64_t p1, float Tf) {
  int64_t p = p0;
  bool bad = false;
#if defined(__AVX2__)
  const __m256 top = _mm256_set1_ps(Tf);
  __m256 badV = _mm256_setzero_ps();
  for (; p + 8 <= p1; p += 8) {
    const float* r = rast + 4 * p;
    // The ids (lane 3 of every pixel) of 8 pixels; their order in the vector does not matter here.
    const __m256 a = _mm256_shuffle_ps(_mm256_loadu_ps(r), _mm256_loadu_ps(r + 8), _MM_SHUFFLE(3, 3, 3, 3));
    const __m256 b = _mm256_shuffle_ps(_mm256_loadu_ps(r + 16), _mm256_loadu_ps(r + 24), _MM_SHUFFLE(3, 3, 3, 3));
    badV = _mm256_or_ps(badV, badIdLanes(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), top));
  }
  bad = _mm256_movemask_ps(badV) != 0;
#endif
  for (; p < p1; ++p) bad |= !idValid(rast[4 * p + 3], Tf);
  return !bad;
}

/** idsValidRange over [0, n), split over the thread pool when n is large enough to pay for a dispatch. */
inline bool idsValid(const float* rast, int64_t n, int numTriangles) {
  constexpr int64_t kChunk = 1 << 15;  // pixels per task (128 KB of ids spread over 512 KB of rast)
  const float Tf = static_cast<float>(numTriangles);
  if (n <= kChunk) return idsValidRange(rast, 0, n, Tf);
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<uint8_t> ok(static_cast<size_t>(chunks));
  ThreadPool::instance().parallelFor(static_cast<int>(chunks), [&](int k) {
    ok[k] = idsValidRange(rast, k * kChunk, std::min(n, (k + 1) * kChunk), Tf);
  });
  return std::all_of(ok.begin(), ok.end(), [](uint8_t g) { return g != 0; });
}

/** True iff lo <= idx[i] < hi for every i in [0, n) (branch-free; vectorises). */
inline bool indicesInRange(const int32_t* idx, int64_t n, int32_t lo, int32_t hi) {
  const uint32_t span = static_cast<uint32_t>(static_cast<int64_t>(hi) - lo);
  uint32_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad |= static_cast<uint32_t>(static_cast<uint32_t>(idx[i]) - static_cast<uint32_t>(lo) >= span);
  return bad == 0;
}

}  // namespace raster
}  // namespace p3d

// Bilinear texture sampling (forward, backward to uv and to the texture), CPU. See texture_antialias.h.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "../common/thread_pool.h"
#include "texture_antialias.h"

namespace p3d {
namespace raster {
namespace {

constexpr int64_t kChunk = 1024;  // pixels per task (small, so that the cores end a call close together)

template <typename F>
void forTasks(int64_t count, F&& fn) {
  if (count <= 0) return;
  if (count > 0x7fffffff) throw std::invalid_argument("texture: too many tasks");
  ThreadPool::instance().parallelFor(static_cast<int>(count), [&](int i) { fn(i); });
}

/** Bilinear footprint of one uv: texel indices and weights (float64). */
struct Footprint {
  int64_t ia, ib, ja, jb;  // columns (a = i0, b = i0 + 1) and rows (a = j0, b = j0 + 1), wrapped or clamped
  double fs, ft;
  bool valid;
};

double wrapIndex(double i, int n, bool wrap) {
  // In range: fmod(i, n) == i and the result is i (an integer-valued double; -0 converts to index 0 either way).
  if (i >= 0.0 && i < static_cast<double>(n)) return i;
  // One period below (wrap): fmod(i, n) == i exactly, and r + n is i + n (-n gives fmod = -0 -> 0 = i + n).
  if (wrap && i < 0.0 && i >= -static_cast<double>(n)) return i + n;
  if (wrap) {
    double r = std::fmod(i, static_cast<double>(n));
    if (r < 0) r += n;
    return r + 0.0;
  }
  return std::min(static_cast<double>(n - 1), std::max(0.0, i));
}

Footprint footprint(const TextureDims& d, float u, float v) {
  Footprint f{};
  if (!std::isfinite(u) || !std::isfinite(v)) {
    f.valid = false;
    return f;
  }
  const double s = static_cast<double>(u) * d.texWidth - 0.5;
  const double t = static_cast<double>(v) * d.texHeight - 0.5;
  const double i0 = std::floor(s);
  const double j0 = std::floor(t);
  f.fs = s - i0;
  f.ft = t - j0;
  f.ia = static_cast<int64_t>(wrapIndex(i0, d.texWidth, d.wrap));
  f.ib = static_cast<int64_t>(wrapIndex(i0 + 1, d.texWidth, d.wrap));
  f.ja = static_cast<int64_t>(wrapIndex(j0, d.texHeight, d.wrap));
  f.jb = static_cast<int64_t>(wrapIndex(j0 + 1, d.texHeight, d.wrap));
  f.valid = true;
  return f;
}

void checkDims(const TextureDims& d) {
  if (d.count < 0 || d.texHeight < 1 || d.texWidth < 1 || d.channels < 1)
    throw std::invalid_argument("texture: bad sizes");
}

}  // namespace

/**
 * Footprints of a block of up to kBlock pixels, computed first and their texels prefetched, so that the texture
 * reads of a block (scattered over a large texture) overlap instead of stalling one pixel at a time.
 */
constexpr int kBlock = 32;
// Groups of 4 pixels between a prefetch and the gathers it is for (2 to 6 measured alike on a cold 2048² texture,
// 16 worse).
constexpr int kAhead = 4;

void blockFootprints(const TextureDims& d, const float* tex, const float* uv, int64_t p0, int n, Footprint* f) {
  const int64_t W = d.texWidth, C = d.channels;
  for (int i = 0; i < n; ++i) {
    f[i] = footprint(d, uv[2 * (p0 + i)], uv[2 * (p0 + i) + 1]);
    if (f[i].valid) {
      __builtin_prefetch(tex + (f[i].ja * W + f[i].ia) * C);
      __builtin_prefetch(tex + (f[i].jb * W + f[i].ia) * C);
    }
  }
}

#if defined(__AVX2__)
#define P3D_INLINE inline __attribute__((always_inline))

/**
 * wrapIndex of 4 integer-valued lanes, for the cases that need no fmod (the same values): in range; wrap: one
 * period below or above (fmod is exact there: x + n, x - n); clamp: min(n - 1, max(0, x)). Lanes of other cases
 * are cleared in ok.
 */
P3D_INLINE __m256d wrapIndex4(__m256d x, int n, bool wrap, __m256d& ok) {
  const __m256d N = _mm256_set1_pd(static_cast<double>(n)), zero = _mm256_setzero_pd();
  if (!wrap) return _mm256_min_pd(_mm256_max_pd(x, zero), _mm256_set1_pd(static_cast<double>(n - 1)));
  const __m256d below = _mm256_and_pd(_mm256_cmp_pd(x, zero, _CMP_LT_OQ), _mm256_cmp_pd(x, _mm256_sub_pd(zero, N), _CMP_GE_OQ));
  const __m256d above = _mm256_and_pd(_mm256_cmp_pd(x, N, _CMP_GE_OQ), _mm256_cmp_pd(x, _mm256_add_pd(N, N), _CMP_LT_OQ));
  const __m256d inRange = _mm256_and_pd(_mm256_cmp_pd(x, zero, _CMP_GE_OQ), _mm256_cmp_pd(x, N, _CMP_LT_OQ));
  ok = _mm256_and_pd(ok, _mm256_or_pd(inRange, _mm256_or_pd(below, above)));
  return _mm256_blendv_pd(_mm256_blendv_pd(x, _mm256_add_pd(x, N), below), _mm256_sub_pd(x, N), above);
}

/**
 * Bilinear footprints of the 4 uv pairs at uv[0..7] in AVX2 lanes, for one-channel textures: the same float64
 * operations per lane as footprint() (no FMA), the 4 texel values (t00, t10, t01, t11, as float64) gathered.
 * False when a lane needs the scalar path (a non-finite uv, or wrapping by more than one period).
 */
struct Sample4 {
  __m256d fs, ft, t00, t10, t01, t11;
};

P3D_INLINE bool sample4(const TextureDims& d, const float* tex, const float* uv, Sample4& r) {
  const __m256 uv8 = _mm256_loadu_ps(uv);  // u0 v0 u1 v1 u2 v2 u3 v3
  const __m128 lo = _mm256_castps256_ps128(uv8), hi = _mm256_extractf128_ps(uv8, 1);
  const __m128 u = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)), v = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
  // x - x is 0 exactly for finite x (NaN for NaN and infinities).
  const __m128 finite = _mm_and_ps(_mm_cmp_ps(_mm_sub_ps(u, u), _mm_setzero_ps(), _CMP_EQ_OQ),
                                   _mm_cmp_ps(_mm_sub_ps(v, v), _mm_setzero_ps(), _CMP_EQ_OQ));
  if (_mm_movemask_ps(finite) != 0xF) return false;
  const __m256d half = _mm256_set1_pd(0.5), one = _mm256_set1_pd(1.0);
  const __m256d s = _mm256_sub_pd(_mm256_mul_pd(_mm256_cvtps_pd(u), _mm256_set1_pd(static_cast<double>(d.texWidth))), half);
  const __m256d t = _mm256_sub_pd(_mm256_mul_pd(_mm256_cvtps_pd(v), _mm256_set1_pd(static_cast<double>(d.texHeight))), half);
  const __m256d i0 = _mm256_floor_pd(s), j0 = _mm256_floor_pd(t);
  const __m256d i1 = _mm256_add_pd(i0, one), j1 = _mm256_add_pd(j0, one);
  __m256d ia = i0, ib = i1, ja = j0, jb = j1;
  // Footprints inside the texture (the usual case) need no wrapping or clamping: wrapIndex returns the index.
  const __m256d zero = _mm256_setzero_pd();
  const __m256d inside = _mm256_and_pd(
      _mm256_and_pd(_mm256_cmp_pd(i0, zero, _CMP_GE_OQ), _mm256_cmp_pd(i1, _mm256_set1_pd(static_cast<double>(d.texWidth)), _CMP_LT_OQ)),
      _mm256_and_pd(_mm256_cmp_pd(j0, zero, _CMP_GE_OQ), _mm256_cmp_pd(j1, _mm256_set1_pd(static_cast<double>(d.texHeight)), _CMP_LT_OQ)));
  if (_mm256_movemask_pd(inside) != 0xF) {
    __m256d ok = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
    ia = wrapIndex4(i0, d.texWidth, d.wrap, ok);
    ib = wrapIndex4(i1, d.texWidth, d.wrap, ok);
    ja = wrapIndex4(j0, d.texHeight, d.wrap, ok);
    jb = wrapIndex4(j1, d.texHeight, d.wrap, ok);
    if (_mm256_movemask_pd(ok) != 0xF) return false;
  }
  r.fs = _mm256_sub_pd(s, i0);
  r.ft = _mm256_sub_pd(t, j0);
  // Texel offsets row * W + column, exact in int32 (the caller checks that the texture has fewer than 2^31 texels).
  const __m128i Wi = _mm_set1_epi32(d.texWidth);
  const __m128i ca = _mm256_cvttpd_epi32(ia), cb = _mm256_cvttpd_epi32(ib);
  const __m128i ra = _mm_mullo_epi32(_mm256_cvttpd_epi32(ja), Wi), rb = _mm_mullo_epi32(_mm256_cvttpd_epi32(jb), Wi);
  r.t00 = _mm256_cvtps_pd(_mm_i32gather_ps(tex, _mm_add_epi32(ra, ca), 4));
  r.t10 = _mm256_cvtps_pd(_mm_i32gather_ps(tex, _mm_add_epi32(ra, cb), 4));
  r.t01 = _mm256_cvtps_pd(_mm_i32gather_ps(tex, _mm_add_epi32(rb, ca), 4));
  r.t11 = _mm256_cvtps_pd(_mm_i32gather_ps(tex, _mm_add_epi32(rb, cb), 4));
  return true;
}

/**
 * Prefetches the two texel rows of the footprints of the 4 uv pairs at uv[0..7] (a group a few groups ahead), so
 * that the gathers of the groups in between overlap the texture's cache misses. Only an address hint: approximate
 * float32 indices clamped into the texture (the exact footprints are computed later).
 */
P3D_INLINE void prefetch4(const TextureDims& d, const float* tex, const float* uv) {
  const __m256 uv8 = _mm256_loadu_ps(uv);
  const __m256 st = _mm256_sub_ps(_mm256_mul_ps(uv8, _mm256_setr_ps(d.texWidth, d.texHeight, d.texWidth, d.texHeight,
                                                                    d.texWidth, d.texHeight, d.texWidth, d.texHeight)),
                                  _mm256_set1_ps(0.5f));
  // NaN and out-of-range lanes convert to INT_MIN and end up clamped.
  __m256i ij = _mm256_cvttps_epi32(st);
  ij = _mm256_max_epi32(ij, _mm256_setzero_si256());
  ij = _mm256_min_epi32(ij, _mm256_setr_epi32(d.texWidth - 1, d.texHeight - 2, d.texWidth - 1, d.texHeight - 2,
                                              d.texWidth - 1, d.texHeight - 2, d.texWidth - 1, d.texHeight - 2));
  alignas(32) int32_t k[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(k), ij);
  const int64_t W = d.texWidth;
  for (int i = 0; i < 4; ++i) {
    const float* t = tex + std::max<int64_t>(0, k[2 * i + 1]) * W + k[2 * i];
    __builtin_prefetch(t);
    __builtin_prefetch(t + W);
  }
}

/** Whether the one-channel AVX2 paths apply (texel offsets fit in int32). */
bool oneChannelVector(const TextureDims& d) {
  return d.channels == 1 && static_cast<int64_t>(d.texHeight) * d.texWidth < (int64_t{1} << 31);
}
#endif

void textureForward(const TextureDims& d, const float* tex, const float* uv, float* out) {
  checkDims(d);
  const int C = d.channels;
  const int64_t W = d.texWidth;
  // Pixels [q0, q1), scalar, in blocks (footprints first, their texels prefetched).
  auto scalarRange = [&](int64_t q0, int64_t q1) {
    Footprint fb[kBlock];
    for (int64_t q = q0; q < q1; q += kBlock) {
      const int n = static_cast<int>(std::min<int64_t>(kBlock, q1 - q));
      blockFootprints(d, tex, uv, q, n, fb);
      for (int i = 0; i < n; ++i) {
        const int64_t p = q + i;
        const Footprint& f = fb[i];
        float* o = out + p * C;
        if (!f.valid) {
          for (int c = 0; c < C; ++c) o[c] = 0.0f;
          continue;
        }
        const float* t00 = tex + (f.ja * W + f.ia) * C;
        const float* t10 = tex + (f.ja * W + f.ib) * C;
        const float* t01 = tex + (f.jb * W + f.ia) * C;
        const float* t11 = tex + (f.jb * W + f.ib) * C;
        const double w00 = (1 - f.fs) * (1 - f.ft), w10 = f.fs * (1 - f.ft), w01 = (1 - f.fs) * f.ft, w11 = f.fs * f.ft;
        for (int c = 0; c < C; ++c)
          o[c] = static_cast<float>(w00 * t00[c] + w10 * t10[c] + w01 * t01[c] + w11 * t11[c]);
      }
    }
  };
  forTasks((d.count + kChunk - 1) / kChunk, [&](int64_t task) {
    const int64_t p1 = std::min(d.count, (task + 1) * kChunk);
    int64_t q = task * kChunk;
#if defined(__AVX2__)
    // One channel, 4 pixels at a time: the expressions of the scalar path, lane by lane (texel gathers instead of
    // prefetches); a group with a lane the vector path does not cover takes the scalar path.
    if (oneChannelVector(d)) {
      const __m256d one = _mm256_set1_pd(1.0);
      // The output is a function of the uv bits alone, so a group whose 8 uv floats equal the previous vector
      // group's bit for bit reuses its 4 outputs: every background pixel has the same uv (interpolate writes 0
      // there), so most groups of a render take this exit.
      __m256i lastUv = _mm256_setzero_si256();
      __m128 lastOut = _mm_setzero_ps();
      bool haveLast = false;
      for (; q + 4 <= p1; q += 4) {
        const __m256i uvBits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(uv + 2 * q));
        if (haveLast && _mm256_movemask_epi8(_mm256_cmpeq_epi32(uvBits, lastUv)) == -1) {
          _mm_storeu_ps(out + q, lastOut);
          continue;
        }
        if (q + 4 * (kAhead + 1) <= p1) prefetch4(d, tex, uv + 2 * (q + 4 * kAhead));
        Sample4 r;
        if (!sample4(d, tex, uv + 2 * q, r)) {
          scalarRange(q, q + 4);
          continue;
        }
        const __m256d omf = _mm256_sub_pd(one, r.fs), omt = _mm256_sub_pd(one, r.ft);
        const __m256d w00 = _mm256_mul_pd(omf, omt), w10 = _mm256_mul_pd(r.fs, omt);
        const __m256d w01 = _mm256_mul_pd(omf, r.ft), w11 = _mm256_mul_pd(r.fs, r.ft);
        const __m256d o = _mm256_add_pd(
            _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(w00, r.t00), _mm256_mul_pd(w10, r.t10)), _mm256_mul_pd(w01, r.t01)),
            _mm256_mul_pd(w11, r.t11));
        lastOut = _mm256_cvtpd_ps(o);
        lastUv = uvBits;
        haveLast = true;
        _mm_storeu_ps(out + q, lastOut);
      }
    }
#endif
    scalarRange(q, p1);
  });
}

void textureBackward(const TextureDims& d, const float* tex, const float* uv, const float* gradOut, float* gradUv,
                     float* gradTex, bool accumulateUv) {
  checkDims(d);
  const int C = d.channels;
  const int64_t W = d.texWidth, H = d.texHeight;
  if (gradUv) {
    // Pixels [q0, q1), scalar, in blocks (footprints first, their texels prefetched).
    auto scalarRange = [&](int64_t q0, int64_t q1) {
      Footprint fb[kBlock];
      for (int64_t q = q0; q < q1; q += kBlock) {
        const int n = static_cast<int>(std::min<int64_t>(kBlock, q1 - q));
        blockFootprints(d, tex, uv, q, n, fb);
        for (int i = 0; i < n; ++i) {
          const int64_t p = q + i;
          const Footprint& f = fb[i];
          double gu = 0, gv = 0;
          if (f.valid) {
            const float* t00 = tex + (f.ja * W + f.ia) * C;
            const float* t10 = tex + (f.ja * W + f.ib) * C;
            const float* t01 = tex + (f.jb * W + f.ia) * C;
            const float* t11 = tex + (f.jb * W + f.ib) * C;
            const float* g = gradOut + p * C;
            for (int c = 0; c < C; ++c) {
              const double dc = g[c];
              gu += dc * ((1 - f.ft) * (static_cast<double>(t10[c]) - t00[c]) + f.ft * (static_cast<double>(t11[c]) - t01[c]));
              gv += dc * ((1 - f.fs) * (static_cast<double>(t01[c]) - t00[c]) + f.fs * (static_cast<double>(t11[c]) - t10[c]));
            }
            gu *= static_cast<double>(W);
            gv *= static_cast<double>(H);
          }
          if (accumulateUv) {
            gradUv[2 * p] += static_cast<float>(gu);
            gradUv[2 * p + 1] += static_cast<float>(gv);
          } else {
            gradUv[2 * p] = static_cast<float>(gu);
            gradUv[2 * p + 1] = static_cast<float>(gv);
          }
        }
      }
    };
    forTasks((d.count + kChunk - 1) / kChunk, [&](int64_t task) {
      const int64_t p1 = std::min(d.count, (task + 1) * kChunk);
      int64_t q = task * kChunk;
#if defined(__AVX2__)
      // One channel, 4 pixels at a time: the expressions of the scalar path, lane by lane (gu and gv start at +0
      // there, so the + 0 is kept: it turns -0 into +0); a group with a lane the vector path does not cover takes
      // the scalar path.
      if (oneChannelVector(d)) {
        const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd();
        const __m256d Wd = _mm256_set1_pd(static_cast<double>(W)), Hd = _mm256_set1_pd(static_cast<double>(H));
        // su, sv (the texture's slopes at the footprint) depend on the uv bits alone: a group whose 8 uv floats
        // equal the previous vector group's bit for bit reuses them (the background pixels share one uv).
        __m256i lastUv = _mm256_setzero_si256();
        __m256d su = zero, sv = zero;
        bool haveLast = false;
        for (; q + 4 <= p1; q += 4) {
          const __m256i uvBits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(uv + 2 * q));
          if (!haveLast || _mm256_movemask_epi8(_mm256_cmpeq_epi32(uvBits, lastUv)) != -1) {
            if (q + 4 * (kAhead + 1) <= p1) prefetch4(d, tex, uv + 2 * (q + 4 * kAhead));
            Sample4 r;
            if (!sample4(d, tex, uv + 2 * q, r)) {
              scalarRange(q, q + 4);
              continue;
            }
            const __m256d omf = _mm256_sub_pd(one, r.fs), omt = _mm256_sub_pd(one, r.ft);
            su = _mm256_add_pd(_mm256_mul_pd(omt, _mm256_sub_pd(r.t10, r.t00)), _mm256_mul_pd(r.ft, _mm256_sub_pd(r.t11, r.t01)));
            sv = _mm256_add_pd(_mm256_mul_pd(omf, _mm256_sub_pd(r.t01, r.t00)), _mm256_mul_pd(r.fs, _mm256_sub_pd(r.t11, r.t10)));
            lastUv = uvBits;
            haveLast = true;
          }
          const __m256d dc = _mm256_cvtps_pd(_mm_loadu_ps(gradOut + q));
          const __m128 gu = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_add_pd(zero, _mm256_mul_pd(dc, su)), Wd));
          const __m128 gv = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_add_pd(zero, _mm256_mul_pd(dc, sv)), Hd));
          __m128 lo = _mm_unpacklo_ps(gu, gv), hi = _mm_unpackhi_ps(gu, gv);  // (gu, gv) pairs of pixels 0-1, 2-3
          float* o = gradUv + 2 * q;
          if (accumulateUv) {
            lo = _mm_add_ps(_mm_loadu_ps(o), lo);
            hi = _mm_add_ps(_mm_loadu_ps(o + 4), hi);
          }
          _mm_storeu_ps(o, lo);
          _mm_storeu_ps(o + 4, hi);
        }
      }
#endif
      scalarRange(q, p1);
    });
  }
  if (gradTex) {
    // Bands of texture rows; every texel's sum runs over the pixels in ascending order and, within a pixel,
    // over the corners in the order 00, 10, 01, 11, whatever the band count.
    const int64_t bands = std::min<int64_t>(H, std::max(1, ThreadPool::instance().threadCount()) * 4);
    const int64_t rowsPerBand = (H + bands - 1) / bands;
    const int64_t nb = (H + rowsPerBand - 1) / rowsPerBand;
    forTasks(nb, [&](int64_t band) {
      const int64_t r0 = band * rowsPerBand, r1 = std::min(H, r0 + rowsPerBand);
      std::memset(gradTex + r0 * W * C, 0, sizeof(float) * static_cast<size_t>((r1 - r0) * W * C));
      for (int64_t p = 0; p < d.count; ++p) {
        const Footprint f = footprint(d, uv[2 * p], uv[2 * p + 1]);
        if (!f.valid) continue;
        const bool inA = f.ja >= r0 && f.ja < r1, inB = f.jb >= r0 && f.jb < r1;
        if (!inA && !inB) continue;
        const float* g = gradOut + p * C;
        const double w00 = (1 - f.fs) * (1 - f.ft), w10 = f.fs * (1 - f.ft), w01 = (1 - f.fs) * f.ft, w11 = f.fs * f.ft;
        if (inA) {
          float* t00 = gradTex + (f.ja * W + f.ia) * C;
          for (int c = 0; c < C; ++c) t00[c] += static_cast<float>(w00 * g[c]);
          float* t10 = gradTex + (f.ja * W + f.ib) * C;
          for (int c = 0; c < C; ++c) t10[c] += static_cast<float>(w10 * g[c]);
        }
        if (inB) {
          float* t01 = gradTex + (f.jb * W + f.ia) * C;
          for (int c = 0; c < C; ++c) t01[c] += static_cast<float>(w01 * g[c]);
          float* t11 = gradTex + (f.jb * W + f.ib) * C;
          for (int c = 0; c < C; ++c) t11[c] += static_cast<float>(w11 * g[c]);
        }
      }
    });
  }
}

}  // namespace raster
}  // namespace p3d

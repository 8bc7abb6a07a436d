// Bilinear texture sampling (forward, backward to uv and to the texture), CPU. See texture_antialias.h.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "../common/thread_pool.h"
#include "texture_antialias.h"

namespace p3d {
namespace raster {
namespace {

constexpr int64_t kChunk = 4096;  // pixels per task

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

void textureForward(const TextureDims& d, const float* tex, const float* uv, float* out) {
  checkDims(d);
  const int C = d.channels;
  const int64_t W = d.texWidth;
  forTasks((d.count + kChunk - 1) / kChunk, [&](int64_t task) {
    const int64_t p1 = std::min(d.count, (task + 1) * kChunk);
    Footprint fb[kBlock];
    for (int64_t q = task * kChunk; q < p1; q += kBlock) {
      const int n = static_cast<int>(std::min<int64_t>(kBlock, p1 - q));
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
  });
}

void textureBackward(const TextureDims& d, const float* tex, const float* uv, const float* gradOut, float* gradUv,
                     float* gradTex, bool accumulateUv) {
  checkDims(d);
  const int C = d.channels;
  const int64_t W = d.texWidth, H = d.texHeight;
  if (gradUv) {
    forTasks((d.count + kChunk - 1) / kChunk, [&](int64_t task) {
      const int64_t p1 = std::min(d.count, (task + 1) * kChunk);
      Footprint fb[kBlock];
      for (int64_t q = task * kChunk; q < p1; q += kBlock) {
      const int n = static_cast<int>(std::min<int64_t>(kBlock, p1 - q));
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

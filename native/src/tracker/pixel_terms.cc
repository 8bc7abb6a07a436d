// See pixel_terms.h. Every expression below mirrors the TypeScript reference: JavaScript numbers are float64, a
// float32 array element is read exactly into one and rounded once when stored, so each value here is computed
// in double from the float32 inputs and converted to float only where the reference stores into a
// Float32Array. (Built with -ffp-contract=off: no fused multiply-adds.)
#include "pixel_terms.h"

#include "../common/thread_pool.h"
#include "../raster/validate_cpu.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace p3d {
namespace pixel_terms {
namespace {

/** torch.sign (sign(0) = 0; NaN compares false both ways and gives 0, as the reference's x > 0 ? 1 : x < 0 ? -1 : 0). */
inline double sign(double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; }

}  // namespace

namespace {
/** A pixel's term: added to the sum, or appended to terms when the caller adds them later (see pixel_terms.h). */
struct TermSink {
  std::vector<double>* terms;
  double sum = 0;
  void add(double term) {
    if (terms) terms->push_back(term);
    else sum += term;
  }
};
}  // namespace

double uvImageLoss(int64_t i0, int64_t i1, const float* target, const uint8_t* mask, const float* rendered, bool l2,
                   double k, StridedOut grad, std::vector<double>* terms) {
  TermSink sink{terms};
  double& sum = sink.sum;
  float* const g = grad.data;
  const int64_t gs = grad.stride;
  int64_t q = grad.offset + i0 * gs;
  for (int64_t i = i0; i < i1; ++i, q += gs) {
    if (!mask[i]) {
      g[q] = g[q + 1] = 0.0f;
      continue;
    }
    const double e0 = static_cast<double>(target[2 * i]) - rendered[2 * i];
    const double e1 = static_cast<double>(target[2 * i + 1]) - rendered[2 * i + 1];
    if (l2) {
      sink.add(e0 * e0 + e1 * e1);
      g[q] = static_cast<float>(k * e0);
      g[q + 1] = static_cast<float>(k * e1);
    } else {
      sink.add(std::fabs(e0) + std::fabs(e1));
      g[q] = static_cast<float>(k * sign(e0));
      g[q + 1] = static_cast<float>(k * sign(e1));
    }
  }
  return sum;
}

double normalImageLoss(int64_t i0, int64_t i1, const float* target, const uint8_t* mask, const uint8_t* exclusion,
                       Strided rendered, double deltaN, bool l2, double k, StridedOut grad, std::vector<double>* terms) {
  TermSink sink{terms};
  double& sum = sink.sum;
  float* const g = grad.data;
  const float* const r = rendered.data;
  for (int64_t i = i0; i < i1; ++i) {
    double g0 = 0, g1 = 0, g2 = 0;
    if (mask[i] && exclusion[i]) {
      const int64_t o = i * rendered.stride + rendered.offset;
      const double e0 = static_cast<double>(target[3 * i]) - r[o];
      const double e1 = static_cast<double>(target[3 * i + 1]) - r[o + 1];
      const double e2 = static_cast<double>(target[3 * i + 2]) - r[o + 2];
      if ((std::fabs(e0) + std::fabs(e1) + std::fabs(e2)) / 3 < deltaN) {
        if (l2) {
          sink.add(e0 * e0 + e1 * e1 + e2 * e2);
          g0 = k * e0;
          g1 = k * e1;
          g2 = k * e2;
        } else {
          sink.add(std::fabs(e0) + std::fabs(e1) + std::fabs(e2));
          g0 = k * sign(e0);
          g1 = k * sign(e1);
          g2 = k * sign(e2);
        }
      }
    }
    const int64_t q = i * grad.stride + grad.offset;
    g[q] = static_cast<float>(g0);
    g[q + 1] = static_cast<float>(g1);
    g[q + 2] = static_cast<float>(g2);
  }
  return sum;
}

double silhouetteImageLoss(int64_t i0, int64_t i1, const uint8_t* foreground, const uint8_t* validBackground,
                           const float* rendered, double k, float* grad, std::vector<double>* terms) {
  TermSink sink{terms};
  double& sum = sink.sum;
  std::fill(grad + i0, grad + i1, 0.0f);
  for (int64_t i = i0; i < i1; ++i) {
    if (!validBackground[i]) continue;
    const double e = static_cast<double>(foreground[i]) - rendered[i];
    if (e == 0) continue;
    sink.add(std::fabs(e));
    grad[i] = static_cast<float>(k * sign(e));
  }
  return sum;
}

namespace {
/** Math.sign: +-1, and the zero itself (keeping its sign) for +-0. */
inline double jsSign(double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : x; }
}  // namespace

double uvCorrespondenceLoss(const UvCorrespondenceArgs& a) {
  const int B = a.frames, J = a.numValid, S = a.size;
  const int64_t V = a.numVertices, SS = static_cast<int64_t>(S) * S;
  const double SSd = static_cast<double>(S) * S, Sd = S;
  // Pairs [j0, j1) of frame b: each counted pair's term appended to terms, in order. A pair writes only its own
  // vertex's gradient, so tasks of different frames, or of one frame's disjoint pairs when the valid vertices are
  // distinct (checked below), never write the same element.
  auto pairs = [&](int b, int j0, int j1, std::vector<double>& terms) {
    const int32_t* px = a.pixels[b];
    const float* d2 = a.dist2[b];
    for (int j = j0; j < j1; ++j) {
      if (!(static_cast<double>(d2[j]) < a.deltaUv)) continue;
      const int64_t o = 3 * (b * V + a.valid[j]);
      const double x = a.projected[o], y = a.projected[o + 1];
      const double dx = px[2 * j] + a.offsetX - x, dy = px[2 * j + 1] + a.offsetY - y;
      if (!(std::fabs(dx) + std::fabs(dy) < a.distUv)) continue;  // (also every non-finite projection)
      if (a.depth) {
        // Truncation toward zero, then clamping, as the original's int() indexing (x, y are finite here).
        double col = std::trunc(x), row = std::trunc(y);
        col = col < 0 ? 0 : col > S - 1 ? S - 1 : col;
        row = row < 0 ? 0 : row > S - 1 ? S - 1 : row;
        const int64_t i = b * SS + static_cast<int64_t>(row) * S + static_cast<int64_t>(col);
        const double z = a.depth[i * a.depthStride + a.depthOffset];
        if (!(z < static_cast<double>(a.projected[o + 2]) + a.margin)) continue;
      }
      if (a.l2) {
        terms.push_back((dx * dx + dy * dy) / SSd);
        a.gradProjected[o] += a.gradScale * dx;
        a.gradProjected[o + 1] += a.gradScale * dy;
      } else {
        terms.push_back((std::fabs(dx) + std::fabs(dy)) / Sd);
        a.gradProjected[o] += a.gradScale * jsSign(dx);
        a.gradProjected[o + 1] += a.gradScale * jsSign(dy);
      }
    }
  };
  ThreadPool& pool = ThreadPool::instance();
  bool distinct = true;  // strictly increasing, hence distinct
  for (int j = 1; j < J && distinct; ++j) distinct = a.valid[j] > a.valid[j - 1];
  constexpr int kPairBlock = 1024;
  const int blocks = B < pool.threadCount() && distinct ? std::max(1, (J + kPairBlock - 1) / kPairBlock) : 1;
  const int per = (J + blocks - 1) / blocks;
  thread_local std::vector<std::vector<double>> termStorage;
  std::vector<std::vector<double>>& terms = termStorage;  // (the calling thread's, filled by every task)
  if (terms.size() < static_cast<size_t>(B) * blocks) terms.resize(static_cast<size_t>(B) * blocks);
  pool.parallelFor(B * blocks, [&](int u) {
    const int b = u / blocks, k = u % blocks;
    terms[u].clear();
    pairs(b, std::min(J, k * per), std::min(J, (k + 1) * per), terms[u]);
  });
  double sum = 0;
  for (int u = 0; u < B * blocks; ++u)
    for (double t : terms[u]) sum += t;
  return sum;
}

void cornerChannels(const CornerChannelArgs& a) {
  constexpr int kCornerChunk = 2048;
  const int64_t NC = a.numCorners, V = a.numVertices;
  const int64_t chunks = (NC + kCornerChunk - 1) / kCornerChunk;
  if (chunks == 0) return;
  ThreadPool::instance().parallelFor(static_cast<int>(a.frames * chunks), [&](int task) {
    const int64_t b = task / chunks, c0 = (task % chunks) * kCornerChunk, c1 = std::min(NC, c0 + kCornerChunk);
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t v = 3 * (b * V + a.cornerVertex[c]);
      float* at = a.attr + (b * NC + c) * a.attrStride;
      at[a.depthChannel] = static_cast<float>(static_cast<double>(a.world[v + 2]) - a.cameraZ);
      if (a.normals) {
        float* g = a.gradAttr + (b * NC + c) * a.gradStride + a.gradNormalChannel;
        for (int k = 0; k < 3; ++k) at[a.normalChannel + k] = g[k] = a.normals[v + k];
      }
    }
  });
}

void gatherCornerNormals(int frames, int numVertices, int numCorners, const int32_t* cornerVertex, const float* gradAttr,
                         int gradStride, int gradNormalChannel, double* out) {
  const int64_t V = numVertices, NC = numCorners;
  ThreadPool::instance().parallelFor(frames, [&](int b) {
    double* gv = out + 3 * b * V;
    std::fill(gv, gv + 3 * V, 0.0);
    for (int64_t c = 0; c < NC; ++c) {
      const float* g = gradAttr + (b * NC + c) * gradStride + gradNormalChannel;
      double* s = gv + 3 * static_cast<int64_t>(cornerVertex[c]);
      s[0] += g[0];
      s[1] += g[1];
      s[2] += g[2];
    }
  });
}

namespace {

#if defined(__AVX2__)
/** Channel 3 (the triangle id) of the 8 rast pixels at r, in pixel order. */
inline __m256 ids8(const float* r) {
  // The shuffles give the lane order (p0 p2 p4 p6 | p1 p3 p5 p7); the permute restores pixel order.
  const __m256 a = _mm256_shuffle_ps(_mm256_loadu_ps(r), _mm256_loadu_ps(r + 8), _MM_SHUFFLE(3, 3, 3, 3));
  const __m256 b = _mm256_shuffle_ps(_mm256_loadu_ps(r + 16), _mm256_loadu_ps(r + 24), _MM_SHUFFLE(3, 3, 3, 3));
  return _mm256_permutevar8x32_ps(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}
#endif

}  // namespace

bool coveragePass(const CoverageArgs& a, int64_t* numCovered, int64_t* numSampled) {
  // Locals: the stores below (int32 and float) could alias the argument struct's fields, which the compiler would
  // otherwise reload after each of them.
  const int B = a.batch;
  const int32_t S = a.size;
  const int64_t P = static_cast<int64_t>(S) * S, total = B * P;
  const float* const rast = a.rast;
  const float* const aux = a.aux;
  const int64_t auxChannels = a.auxChannels, texcChannel = a.texcChannel;
  const uint8_t* const eyeTriangle = a.eyeTriangle;
  const float* const uniform = a.uniform;
  const bool silhouette = a.silhouette;
  int32_t* const covered = a.covered;
  float* const uvImages = a.uvImages;
  float* const color = a.color;
  int32_t* const sampled = a.sampled;
  float* const texcSampled = a.texcSampled;
  // Ids first, so that a bad one leaves every output untouched.
  if (!raster::idsValid(rast, total, a.numTriangles)) return false;  // (split over the threads)
  ThreadPool& pool = ThreadPool::instance();
  // The previous call's covered pixels back to the background's uv image (1, 0) (distinct pixels: any split).
  constexpr int64_t kResetChunk = 1 << 14;
  pool.parallelFor(static_cast<int>((a.previousCovered + kResetChunk - 1) / kResetChunk), [&](int chunk) {
    const int64_t j1 = std::min(a.previousCovered, (chunk + 1) * kResetChunk);
    for (int64_t j = chunk * kResetChunk; j < j1; ++j) {
      const int64_t p = covered[j];
      uvImages[2 * p] = 1.0f;
      uvImages[2 * p + 1] = 0.0f;
    }
  });
  // Units of rows run in parallel: a whole frame each when there are frames enough to keep every thread busy, else
  // blocks of kUnitRows rows (a single frame ran on one thread: 0.3-0.4 ms of a batch-1 tracker iteration). Unit u's
  // covered pixels go to covered[coveredStart[u] ...), where the starts are the units' counts summed in unit order
  // (frames, then rows, ascending), so the list is the one a single pass in pixel order writes; its sampled pixels
  // (how many is known only after its pass) go first to the unit's own region, at its first pixel's index, and are
  // moved down into place, in unit order, afterwards. The eye boxes are merged over a frame's units (min / max).
  constexpr int32_t kUnitRows = 16;
  const int unitsPerFrame = B >= pool.threadCount() ? 1 : static_cast<int>((S + kUnitRows - 1) / kUnitRows);
  const int32_t unitRows = unitsPerFrame == 1 ? S : kUnitRows;
  const int units = B * unitsPerFrame;
  auto unitFirstPixel = [&](int u) {
    const int b = u / unitsPerFrame;
    const int32_t y0 = static_cast<int32_t>(u % unitsPerFrame) * unitRows;
    return b * P + static_cast<int64_t>(y0) * S;
  };
  auto unitEndPixel = [&](int u) {
    const int b = u / unitsPerFrame;
    const int32_t y1 = std::min(S, static_cast<int32_t>(u % unitsPerFrame + 1) * unitRows);
    return b * P + static_cast<int64_t>(y1) * S;
  };
  std::vector<int64_t> coveredStart(units + 1, 0), sampledCount(units, 0);
  std::vector<int32_t> boxes(static_cast<size_t>(units) * 4);
  if (units > 1) {
    pool.parallelFor(units, [&](int u) {
      int64_t count = 0;
      int64_t p = unitFirstPixel(u);
      const int64_t end = unitEndPixel(u);
#if defined(__AVX2__)
      for (; p + 8 <= end; p += 8)
        count += __builtin_popcount(static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(ids8(rast + 4 * p), _mm256_setzero_ps(), _CMP_NEQ_UQ))));
#endif
      for (; p < end; ++p) count += rast[4 * p + 3] != 0 ? 1 : 0;
      coveredStart[u + 1] = count;
    });
    for (int u = 0; u < units; ++u) coveredStart[u + 1] += coveredStart[u];
  }
  pool.parallelFor(units, [&](int u) {
    const int b = u / unitsPerFrame;
    const int32_t y0 = static_cast<int32_t>(u % unitsPerFrame) * unitRows, y1 = std::min(S, y0 + unitRows);
    const int64_t first = unitFirstPixel(u);
    if (silhouette) std::fill(color + first, color + unitEndPixel(u), 0.0f);
    int64_t n = coveredStart[u], m = first;
    // One covered pixel p at (x, y), in pixel order.
    auto visit = [&](int64_t p, int32_t x, int32_t y, int32_t box[4]) {
      covered[n] = static_cast<int32_t>(p);
      const int t = static_cast<int>(rast[4 * p + 3]) - 1;
      if (eyeTriangle[t] != 0) {
        box[0] = std::min(box[0], x);
        box[1] = std::max(box[1], x);
        box[2] = std::min(box[2], y);
        box[3] = y;
      }
      const float* texc = aux + p * auxChannels + texcChannel;
      const double tu = texc[0], tv = texc[1];
      uvImages[2 * p] = static_cast<float>(1 - tu);
      uvImages[2 * p + 1] = static_cast<float>(tv);
      if (silhouette) {
        const double c = uniform[t];
        if (c == c && tu - tu == 0 && tv - tv == 0) {
          color[p] = static_cast<float>(c);
        } else {
          sampled[m] = static_cast<int32_t>(n);
          texcSampled[2 * m] = static_cast<float>(tu);
          texcSampled[2 * m + 1] = static_cast<float>(tv);
          ++m;
        }
      }
      ++n;
    };
    int32_t box[4] = {S, -1, S, -1};  // x0, x1, y0, y1 of the eye triangles' pixels
    for (int32_t y = y0; y < y1; ++y) {
      const int64_t row = b * P + static_cast<int64_t>(y) * S;
      int32_t x = 0;
#if defined(__AVX2__)
      // Eight pixels at a time: the covered ones (id != 0) as a bit mask, visited in ascending order.
      for (; x + 8 <= S; x += 8) {
        const __m256 id = ids8(rast + 4 * (row + x));
        const uint32_t covered8 = static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(id, _mm256_setzero_ps(), _CMP_NEQ_UQ)));
        if (covered8 == 0xFFu) {
          // Inside the face (most groups): a loop of fixed length, whose exit the CPU predicts (the bit loop's exit
          // was a mispredicted branch per group; the pass is ~5% faster so).
          for (int j = 0; j < 8; ++j) visit(row + x + j, x + j, y, box);
          continue;
        }
        for (uint32_t bits = covered8; bits; bits &= bits - 1) {
          const int j = __builtin_ctz(bits);
          visit(row + x + j, x + j, y, box);
        }
      }
#endif
      for (; x < S; ++x)
        if (rast[4 * (row + x) + 3] != 0) visit(row + x, x, y, box);
    }
    for (int k = 0; k < 4; ++k) boxes[4 * static_cast<size_t>(u) + k] = box[k];
    if (units == 1) coveredStart[1] = n;
    sampledCount[u] = m - first;
  });
  for (int b = 0; b < B; ++b) {
    int32_t box[4] = {S, -1, S, -1};
    for (int u = b * unitsPerFrame; u < (b + 1) * unitsPerFrame; ++u) {
      const int32_t* ub = &boxes[4 * static_cast<size_t>(u)];
      box[0] = std::min(box[0], ub[0]);
      box[1] = std::max(box[1], ub[1]);
      box[2] = std::min(box[2], ub[2]);
      box[3] = std::max(box[3], ub[3]);
    }
    for (int k = 0; k < 4; ++k) a.eyeBoxes[4 * b + k] = box[k];
  }
  // The sampled entries down into one list, unit after unit (unit u's region starts at its first pixel, at or after
  // its place, and every earlier unit is already in place).
  int64_t m = 0;
  for (int u = 0; u < units; ++u) {
    const int64_t first = unitFirstPixel(u);
    if (m != first) {
      std::memmove(sampled + m, sampled + first, sizeof(int32_t) * sampledCount[u]);
      std::memmove(texcSampled + 2 * m, texcSampled + 2 * first, sizeof(float) * 2 * sampledCount[u]);
    }
    m += sampledCount[u];
  }
  *numCovered = coveredStart[units];
  *numSampled = m;
  return true;
}

void texcGradient(float* g, int64_t gStride, int64_t texcOffset, const int32_t* covered, int64_t n, Strided gu, bool plusZero) {
  constexpr int64_t kChunk = 1 << 13;
  ThreadPool::instance().parallelFor(static_cast<int>((n + kChunk - 1) / kChunk), [&](int chunk) {
    const int64_t j1 = std::min(n, (chunk + 1) * kChunk);
    for (int64_t j = chunk * kChunk; j < j1; ++j) {
      const int64_t p = covered[j];
      float* o = g + p * gStride + texcOffset;
      if (!gu.data) {
        o[0] = o[1] = 0.0f;
        continue;
      }
      const float* u = gu.data + p * gu.stride + gu.offset;
      const float du = -u[0], dv = u[1];
      o[0] = plusZero ? du + 0.0f : du;
      o[1] = plusZero ? dv + 0.0f : dv;
    }
  });
}

namespace {
/** Epsilon of F.normalize in the original (vertex-normals.ts, NORMAL_EPS). */
constexpr double kNormalEps = 1e-6;
}  // namespace

void vertexNormals(const float* positions, int frames, int numVertices, const int32_t* faces, int numFaces, double* sums,
                   float* out) {
  const int64_t n3 = 3 * static_cast<int64_t>(numVertices);
  ThreadPool::instance().parallelFor(frames, [&](int b) {
    const float* p = positions + b * n3;
    double* s = sums + b * n3;
    float* o = out + b * n3;
    std::fill(s, s + n3, 0.0);
    for (int f = 0; f < numFaces; ++f) {
      const int64_t i0 = 3 * static_cast<int64_t>(faces[3 * f]), i1 = 3 * static_cast<int64_t>(faces[3 * f + 1]),
                    i2 = 3 * static_cast<int64_t>(faces[3 * f + 2]);
      const double ax = static_cast<double>(p[i1]) - p[i0], ay = static_cast<double>(p[i1 + 1]) - p[i0 + 1],
                   az = static_cast<double>(p[i1 + 2]) - p[i0 + 2];
      const double bx = static_cast<double>(p[i2]) - p[i0], by = static_cast<double>(p[i2 + 1]) - p[i0 + 1],
                   bz = static_cast<double>(p[i2 + 2]) - p[i0 + 2];
      const double cx = ay * bz - az * by, cy = az * bx - ax * bz, cz = ax * by - ay * bx;
      for (const int64_t i : {i0, i1, i2}) {
        s[i] += cx;
        s[i + 1] += cy;
        s[i + 2] += cz;
      }
    }
    for (int64_t i = 0; i < n3; i += 3) {
      // Math.max(NaN, eps) is NaN, as std::max(NaN, eps) with NaN first.
      const double inv = 1 / std::max(std::sqrt(s[i] * s[i] + s[i + 1] * s[i + 1] + s[i + 2] * s[i + 2]), kNormalEps);
      o[i] = static_cast<float>(s[i] * inv);
      o[i + 1] = static_cast<float>(s[i + 1] * inv);
      o[i + 2] = static_cast<float>(s[i + 2] * inv);
    }
  });
}

void vertexNormalsBackward(const float* positions, int frames, int numVertices, const int32_t* faces, int numFaces,
                           const double* sums, const double* gradNormals, double* gradSums, float* gradPositions) {
  const int64_t n3 = 3 * static_cast<int64_t>(numVertices);
  ThreadPool::instance().parallelFor(frames, [&](int b) {
    const float* p = positions + b * n3;
    const double* s = sums + b * n3;
    const double* gn = gradNormals + b * n3;
    double* gs = gradSums + b * n3;
    float* gp = gradPositions + b * n3;
    // n = s / |s|: dn/ds = (I - n nT) / |s| above the epsilon, I / eps below it.
    for (int64_t i = 0; i < n3; i += 3) {
      const double sx = s[i], sy = s[i + 1], sz = s[i + 2];
      const double len = std::sqrt(sx * sx + sy * sy + sz * sz);
      const double gx = gn[i], gy = gn[i + 1], gz = gn[i + 2];
      if (len > kNormalEps) {
        const double inv = 1 / len;
        const double nx = sx * inv, ny = sy * inv, nz = sz * inv;
        const double d = nx * gx + ny * gy + nz * gz;
        gs[i] = (gx - nx * d) * inv;
        gs[i + 1] = (gy - ny * d) * inv;
        gs[i + 2] = (gz - nz * d) * inv;
      } else {
        gs[i] = gx / kNormalEps;
        gs[i + 1] = gy / kNormalEps;
        gs[i + 2] = gz / kNormalEps;
      }
    }
    // c = e1 x e2 feeds its three vertices' sums: d(g.c) = de1.(e2 x g) + de2.(g x e1); faces whose g is 0 add
    // nothing (skipped, as in the reference).
    auto add = [](float& x, double v) { x = static_cast<float>(static_cast<double>(x) + v); };
    auto sub = [](float& x, double v) { x = static_cast<float>(static_cast<double>(x) - v); };
    for (int f = 0; f < numFaces; ++f) {
      const int64_t i0 = 3 * static_cast<int64_t>(faces[3 * f]), i1 = 3 * static_cast<int64_t>(faces[3 * f + 1]),
                    i2 = 3 * static_cast<int64_t>(faces[3 * f + 2]);
      const double gx = gs[i0] + gs[i1] + gs[i2];
      const double gy = gs[i0 + 1] + gs[i1 + 1] + gs[i2 + 1];
      const double gz = gs[i0 + 2] + gs[i1 + 2] + gs[i2 + 2];
      if (gx == 0 && gy == 0 && gz == 0) continue;
      const double ax = static_cast<double>(p[i1]) - p[i0], ay = static_cast<double>(p[i1 + 1]) - p[i0 + 1],
                   az = static_cast<double>(p[i1 + 2]) - p[i0 + 2];
      const double bx = static_cast<double>(p[i2]) - p[i0], by = static_cast<double>(p[i2 + 1]) - p[i0 + 1],
                   bz = static_cast<double>(p[i2 + 2]) - p[i0 + 2];
      const double d1x = by * gz - bz * gy, d1y = bz * gx - bx * gz, d1z = bx * gy - by * gx;  // e2 x g
      const double d2x = gy * az - gz * ay, d2y = gz * ax - gx * az, d2z = gx * ay - gy * ax;  // g x e1
      add(gp[i1], d1x);
      add(gp[i1 + 1], d1y);
      add(gp[i1 + 2], d1z);
      add(gp[i2], d2x);
      add(gp[i2 + 1], d2y);
      add(gp[i2 + 2], d2z);
      sub(gp[i0], d1x + d2x);
      sub(gp[i0 + 1], d1y + d2y);
      sub(gp[i0 + 2], d1z + d2z);
    }
  });
}

}  // namespace pixel_terms
}  // namespace p3d

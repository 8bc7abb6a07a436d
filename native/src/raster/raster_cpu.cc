// CPU kernels of the differentiable rasterizer (kernels-design.md 2.2-2.5). See raster.h for layouts.
//
// Forward rasterize, per call:
//  1. Vertex stage (parallel over frames x vertex chunks): finite / behind-near-plane flags and the fixed-point
//     position (1/16 px, round-half-even, saturated to +-2^28), computed once per vertex, in float64 from the
//     float32 input so that the float64 TypeScript reference snaps identically.
//  2. Setup (parallel over frames x triangle chunks): drop non-finite / fully-behind triangles, clip against
//     the near plane only (canonical endpoint order, float64), fan into <= 2 sub-triangles, orientation (int64),
//     CCW swap for coverage only, top-left flags, pixel bounding box. Each (b, t) has 2 fixed slots.
//  3. Binning (parallel over frames): 16x16 px tiles; count -> prefix sum -> fill, in ascending (t, sub-triangle)
//     order, so every tile list is in a fixed order.
//  4. Tile raster (parallel over frames x tiles): int64 edge functions with the top-left rule, float32 z/w on
//     the original triangle at the pixel centre, far reject z/w > 1, key = orderedBits(zw + 0) << 32 | t, min per
//     pixel in a tile-local buffer; then resolve (u, v, zw) with the clamps and write the tile's pixels.
// Keys are compared with an integer min, so the result does not depend on any order at all; every task writes
// disjoint pixels, so results are identical for any thread count.
//
// Backward passes never scatter with float atomics: pixels are grouped by (frame, triangle) with a counting
// sort (ascending pixel index inside a group), each group is summed sequentially in pixel order into
// per-triangle-corner sums, and each vertex gathers its corners in ascending corner order (tri*3 + k) through
// a vertex -> corner CSR. Broadcast attributes additionally sum over frames in ascending order.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../common/thread_pool.h"
#include "raster.h"

namespace p3d {
namespace raster {
namespace {

constexpr int kTile = 16;                 // tile side in pixels
constexpr double kSaturate = 268435456.0;  // 2^28, in 1/16 px
constexpr int kTriChunk = 512;             // triangles per setup / reduction task
constexpr int kVertexChunk = 2048;         // vertices per vertex-stage / gather task
constexpr int64_t kPixelChunk = 4096;      // pixels per interpolate task

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

int64_t floorDiv16(int64_t a) { return a >= 0 ? a / 16 : -((-a + 15) / 16); }
int64_t ceilDiv16(int64_t a) { return -floorDiv16(-a); }

/** 0 for background, t + 1 for triangle t; throws on anything that is not an integer in [0, T]. */
void checkIds(const float* rast, int64_t numPixels, int numTriangles, const char* where) {
  for (int64_t p = 0; p < numPixels; ++p) {
    const float id = rast[4 * p + 3];
    if (id == 0.0f) continue;
    if (!(id >= 1.0f && id <= static_cast<float>(numTriangles)) || id != std::floor(id))
      throw std::invalid_argument(std::string(where) + ": rast[" + std::to_string(p) +
                                  "] has triangle id " + std::to_string(id) + ", expected 0 or an integer in [1, " +
                                  std::to_string(numTriangles) + "]");
  }
}

void checkTriangles(const int32_t* tri, int numTriangles, int numVertices, const char* where) {
  for (int64_t i = 0; i < 3 * static_cast<int64_t>(numTriangles); ++i)
    if (tri[i] < 0 || tri[i] >= numVertices)
      throw std::invalid_argument(std::string(where) + ": triangle index " + std::to_string(tri[i]) + " at " +
                                  std::to_string(i) + " is outside [0, " + std::to_string(numVertices) + ")");
}

struct SubTri {
  int32_t X[3], Y[3];  // CCW (after the coverage-only swap)
  int32_t tri;
  int32_t px0, px1, py0, py1;  // inclusive pixel bounding box, clipped to the viewport
  uint8_t incl[3];             // edge k (vertex k -> k+1) owns E == 0 ties (top-left rule)
};

struct ClipVert {
  double x, y, z, w;
  int32_t X, Y;
};

/**
 * Pixels grouped by (frame, triangle id): group (b, t) is frag[start[b*(T+1) + t] .. start[b*(T+1) + t + 1])
 * with pixel indices (global, b*H*W + local) in ascending order.
 */
struct Fragments {
  std::vector<int64_t> start;  // [B * (T + 1)], offsets into frag (global)
  std::vector<int64_t> frag;   // [B * H * W] (only the covered prefix of each frame's range is used)
  int T = 0;
  int64_t begin(int b, int t) const { return start[static_cast<size_t>(b) * (T + 1) + t]; }
  int64_t end(int b, int t) const { return start[static_cast<size_t>(b) * (T + 1) + t + 1]; }
};

Fragments buildFragments(const float* rast, int B, int64_t HW, int T) {
  Fragments f;
  f.T = T;
  f.start.assign(static_cast<size_t>(B) * (T + 1), 0);
  f.frag.resize(static_cast<size_t>(B) * HW);
  parallelFor(B, [&](int64_t b) {
    int64_t* st = f.start.data() + b * (T + 1);
    const float* r = rast + b * HW * 4;
    std::vector<int64_t> count(static_cast<size_t>(T) + 1, 0);
    for (int64_t p = 0; p < HW; ++p) {
      const int id = static_cast<int>(r[4 * p + 3]);
      if (id > 0) ++count[id - 1];
    }
    int64_t off = b * HW;
    for (int t = 0; t < T; ++t) {
      st[t] = off;
      off += count[t];
      count[t] = st[t];  // becomes the fill cursor
    }
    st[T] = off;
    for (int64_t p = 0; p < HW; ++p) {
      const int id = static_cast<int>(r[4 * p + 3]);
      if (id > 0) f.frag[count[id - 1]++] = b * HW + p;
    }
  });
  return f;
}

/** Vertex -> corner (3t + k) CSR, corners in ascending order. */
void buildCorners(const int32_t* tri, int T, int V, std::vector<int32_t>& start, std::vector<int32_t>& corner) {
  start.assign(static_cast<size_t>(V) + 1, 0);
  corner.resize(3 * static_cast<size_t>(T));
  for (int64_t c = 0; c < 3 * static_cast<int64_t>(T); ++c) ++start[tri[c] + 1];
  for (int v = 0; v < V; ++v) start[v + 1] += start[v];
  std::vector<int32_t> cursor(start.begin(), start.end() - 1);
  for (int64_t c = 0; c < 3 * static_cast<int64_t>(T); ++c) corner[cursor[tri[c]]++] = static_cast<int32_t>(c);
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

}  // namespace

void rasterizeForward(const RasterDims& d, const float* pos, const int32_t* tri, float* rast) {
  const int B = d.batch, V = d.numVertices, T = d.numTriangles, H = d.height, W = d.width;
  if (B < 1 || V < 0 || T < 0 || H < 1 || W < 1 || H > (1 << 20) || W > (1 << 20))
    throw std::invalid_argument("rasterize: bad sizes");
  checkTriangles(tri, T, V, "rasterize");
  const int64_t HW = static_cast<int64_t>(H) * W;

  // 1. Vertex stage.
  const size_t BV = static_cast<size_t>(B) * V;
  std::unique_ptr<int32_t[]> fixedX(new int32_t[BV]), fixedY(new int32_t[BV]);
  std::unique_ptr<uint8_t[]> flags(new uint8_t[BV]);  // bit 0: finite, bit 1: behind (z < -w)
  const int64_t vChunks = ceilDivPos(V, kVertexChunk);
  parallelFor(B * vChunks, [&](int64_t task) {
    const int64_t b = task / vChunks, v0 = (task % vChunks) * kVertexChunk;
    const int64_t v1 = std::min<int64_t>(V, v0 + kVertexChunk);
    for (int64_t v = v0; v < v1; ++v) {
      const size_t i = static_cast<size_t>(b * V + v);
      const float* p = pos + 4 * i;
      const bool finite = std::isfinite(p[0]) && std::isfinite(p[1]) && std::isfinite(p[2]) && std::isfinite(p[3]);
      flags[i] = static_cast<uint8_t>((finite ? 1 : 0) | (p[2] < -p[3] ? 2 : 0));
      if (finite) {
        fixedX[i] = toFixed(static_cast<double>(p[0]) / static_cast<double>(p[3]), W);
        fixedY[i] = toFixed(static_cast<double>(p[1]) / static_cast<double>(p[3]), H);
      } else {
        fixedX[i] = fixedY[i] = 0;
      }
    }
  });

  // 2. Setup: two sub-triangle slots per (b, t).
  const size_t BT = static_cast<size_t>(B) * T;
  std::unique_ptr<SubTri[]> subs(new SubTri[2 * BT]);
  std::unique_ptr<uint8_t[]> numSubs(new uint8_t[BT]);
  const int64_t tChunks = ceilDivPos(T, kTriChunk);
  parallelFor(B * tChunks, [&](int64_t task) {
    const int64_t b = task / tChunks, t0 = (task % tChunks) * kTriChunk;
    const int64_t t1 = std::min<int64_t>(T, t0 + kTriChunk);
    for (int64_t t = t0; t < t1; ++t) {
      const size_t slot = static_cast<size_t>(b * T + t);
      numSubs[slot] = 0;
      const int32_t idx[3] = {tri[3 * t], tri[3 * t + 1], tri[3 * t + 2]};
      int nb = 0;
      bool behind[3];
      bool finite = true;
      for (int k = 0; k < 3; ++k) {
        const uint8_t f = flags[b * V + idx[k]];
        finite = finite && (f & 1);
        behind[k] = (f & 2) != 0;
        nb += behind[k] ? 1 : 0;
      }
      if (!finite || nb == 3) continue;
      auto original = [&](int k) {
        const size_t i = static_cast<size_t>(b * V + idx[k]);
        const float* p = pos + 4 * i;
        return ClipVert{p[0], p[1], p[2], p[3], fixedX[i], fixedY[i]};
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
          c.X = toFixed(c.x / c.w, W);
          c.Y = toFixed(c.y / c.w, H);
          poly[n++] = c;
        }
      }
      for (int k = 1; k + 1 < n; ++k) {
        const ClipVert* v0 = &poly[0];
        const ClipVert* v1 = &poly[k];
        const ClipVert* v2 = &poly[k + 1];
        if (!(v0->w > 0 && v1->w > 0 && v2->w > 0)) continue;
        const int64_t A = (static_cast<int64_t>(v1->X) - v0->X) * (static_cast<int64_t>(v2->Y) - v0->Y) -
                          (static_cast<int64_t>(v2->X) - v0->X) * (static_cast<int64_t>(v1->Y) - v0->Y);
        if (A == 0) continue;
        if (A < 0) std::swap(v1, v2);
        SubTri st;
        const ClipVert* vs[3] = {v0, v1, v2};
        for (int e = 0; e < 3; ++e) {
          st.X[e] = vs[e]->X;
          st.Y[e] = vs[e]->Y;
        }
        for (int e = 0; e < 3; ++e) {
          const int e1 = (e + 1) % 3;
          st.incl[e] = (st.Y[e1] < st.Y[e] || (st.Y[e1] == st.Y[e] && st.X[e1] < st.X[e])) ? 1 : 0;
        }
        const int64_t minX = std::min({st.X[0], st.X[1], st.X[2]}), maxX = std::max({st.X[0], st.X[1], st.X[2]});
        const int64_t minY = std::min({st.Y[0], st.Y[1], st.Y[2]}), maxY = std::max({st.Y[0], st.Y[1], st.Y[2]});
        const int64_t px0 = std::max<int64_t>(0, ceilDiv16(minX - 8)), px1 = std::min<int64_t>(W - 1, floorDiv16(maxX - 8));
        const int64_t py0 = std::max<int64_t>(0, ceilDiv16(minY - 8)), py1 = std::min<int64_t>(H - 1, floorDiv16(maxY - 8));
        if (px0 > px1 || py0 > py1) continue;
        st.px0 = static_cast<int32_t>(px0);
        st.px1 = static_cast<int32_t>(px1);
        st.py0 = static_cast<int32_t>(py0);
        st.py1 = static_cast<int32_t>(py1);
        st.tri = static_cast<int32_t>(t);
        subs[2 * slot + numSubs[slot]++] = st;
      }
    }
  });

  // 3. Binning, per frame, in ascending (t, sub-triangle) order.
  const int tilesX = static_cast<int>(ceilDivPos(W, kTile)), tilesY = static_cast<int>(ceilDivPos(H, kTile));
  const int64_t numTiles = static_cast<int64_t>(tilesX) * tilesY;
  std::vector<std::vector<int64_t>> tileStart(B), tileList(B);
  parallelFor(B, [&](int64_t b) {
    std::vector<int64_t>& start = tileStart[b];
    start.assign(numTiles + 1, 0);
    auto forTiles = [&](const SubTri& st, auto&& fn) {
      for (int ty = st.py0 / kTile; ty <= st.py1 / kTile; ++ty)
        for (int tx = st.px0 / kTile; tx <= st.px1 / kTile; ++tx) fn(static_cast<int64_t>(ty) * tilesX + tx);
    };
    for (int64_t t = 0; t < T; ++t) {
      const size_t slot = static_cast<size_t>(b * T + t);
      for (int k = 0; k < numSubs[slot]; ++k) forTiles(subs[2 * slot + k], [&](int64_t tile) { ++start[tile + 1]; });
    }
    for (int64_t i = 0; i < numTiles; ++i) start[i + 1] += start[i];
    std::vector<int64_t> cursor(start.begin(), start.end() - 1);
    tileList[b].resize(start[numTiles]);
    for (int64_t t = 0; t < T; ++t) {
      const size_t slot = static_cast<size_t>(b * T + t);
      for (int k = 0; k < numSubs[slot]; ++k)
        forTiles(subs[2 * slot + k], [&](int64_t tile) { tileList[b][cursor[tile]++] = static_cast<int64_t>(2 * slot + k); });
    }
  });

  // 4. Tile raster + resolve.
  parallelFor(B * numTiles, [&](int64_t task) {
    const int64_t b = task / numTiles, tile = task % numTiles;
    const int tx0 = static_cast<int>(tile % tilesX) * kTile, ty0 = static_cast<int>(tile / tilesX) * kTile;
    const int tx1 = std::min(W, tx0 + kTile) - 1, ty1 = std::min(H, ty0 + kTile) - 1;
    uint64_t key[kTile * kTile];
    std::fill(key, key + kTile * kTile, ~0ull);
    const float* posB = pos + b * static_cast<int64_t>(V) * 4;
    const std::vector<int64_t>& list = tileList[b];
    for (int64_t li = tileStart[b][tile]; li < tileStart[b][tile + 1]; ++li) {
      const SubTri& st = subs[list[li]];
      const int32_t* it = tri + 3 * static_cast<int64_t>(st.tri);
      const float *p0 = posB + 4 * it[0], *p1 = posB + 4 * it[1], *p2 = posB + 4 * it[2];
      const int x0 = std::max(tx0, static_cast<int>(st.px0)), x1 = std::min(tx1, static_cast<int>(st.px1));
      const int y0 = std::max(ty0, static_cast<int>(st.py0)), y1 = std::min(ty1, static_cast<int>(st.py1));
      int64_t dX[3], dY[3];
      for (int e = 0; e < 3; ++e) {
        const int e1 = (e + 1) % 3;
        dX[e] = static_cast<int64_t>(st.X[e1]) - st.X[e];
        dY[e] = static_cast<int64_t>(st.Y[e1]) - st.Y[e];
      }
      for (int py = y0; py <= y1; ++py) {
        const int64_t Py = 16 * static_cast<int64_t>(py) + 8, Px0 = 16 * static_cast<int64_t>(x0) + 8;
        int64_t E[3];
        for (int e = 0; e < 3; ++e) E[e] = dX[e] * (Py - st.Y[e]) - dY[e] * (Px0 - st.X[e]);
        const float fy = pixelCentre(py, H);
        for (int px = x0; px <= x1; ++px) {
          const bool inside = (E[0] > 0 || (E[0] == 0 && st.incl[0])) && (E[1] > 0 || (E[1] == 0 && st.incl[1])) &&
                              (E[2] > 0 || (E[2] == 0 && st.incl[2]));
          for (int e = 0; e < 3; ++e) E[e] -= 16 * dY[e];
          if (!inside) continue;
          const Bary r = baryAt(p0, p1, p2, pixelCentre(px, W), fy);
          const float zw = zwOf(r, p0, p1, p2);
          if (zw > 1.0f) continue;
          const uint64_t k = depthKey(zw, static_cast<uint32_t>(st.tri));
          uint64_t& slot = key[(py - ty0) * kTile + (px - tx0)];
          if (k < slot) slot = k;
        }
      }
    }
    for (int py = ty0; py <= ty1; ++py) {
      const float fy = pixelCentre(py, H);
      for (int px = tx0; px <= tx1; ++px) {
        float* out = rast + 4 * (b * HW + static_cast<int64_t>(py) * W + px);
        const uint64_t k = key[(py - ty0) * kTile + (px - tx0)];
        if (k == ~0ull) {
          out[0] = out[1] = out[2] = out[3] = 0.0f;
          continue;
        }
        const uint32_t t = static_cast<uint32_t>(k & 0xFFFFFFFFull);
        const int32_t* it = tri + 3 * static_cast<int64_t>(t);
        const float *p0 = posB + 4 * it[0], *p1 = posB + 4 * it[1], *p2 = posB + 4 * it[2];
        const Bary r = baryAt(p0, p1, p2, pixelCentre(px, W), fy);
        clampedOutput(r, zwOf(r, p0, p1, p2), out);
        out[3] = static_cast<float>(t + 1);
      }
    }
  });
}

void rasterizeBackward(const RasterDims& d, const float* pos, const int32_t* tri, const float* rast,
                       const float* gradRast, float* gradPos) {
  const int B = d.batch, V = d.numVertices, T = d.numTriangles, H = d.height, W = d.width;
  if (B < 1 || V < 0 || T < 0 || H < 1 || W < 1) throw std::invalid_argument("rasterizeBackward: bad sizes");
  checkTriangles(tri, T, V, "rasterizeBackward");
  const int64_t HW = static_cast<int64_t>(H) * W;
  checkIds(rast, B * HW, T, "rasterizeBackward");
  const Fragments f = buildFragments(rast, B, HW, T);

  // Per-triangle-corner sums G[b, t, k, (x, y, w)], each group in ascending pixel order.
  std::vector<float> G(static_cast<size_t>(B) * T * 9);
  const int64_t tChunks = ceilDivPos(T, kTriChunk);
  parallelFor(B * tChunks, [&](int64_t task) {
    const int64_t b = task / tChunks, t0 = (task % tChunks) * kTriChunk;
    const int64_t t1 = std::min<int64_t>(T, t0 + kTriChunk);
    const float* posB = pos + b * static_cast<int64_t>(V) * 4;
    for (int64_t t = t0; t < t1; ++t) {
      float sum[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
      const int32_t* it = tri + 3 * t;
      const float *p0 = posB + 4 * it[0], *p1 = posB + 4 * it[1], *p2 = posB + 4 * it[2];
      for (int64_t i = f.begin(static_cast<int>(b), static_cast<int>(t)); i < f.end(static_cast<int>(b), static_cast<int>(t)); ++i) {
        const int64_t p = f.frag[i];
        const float* g = gradRast + 2 * p;
        if (allZero(g, 2)) continue;
        const int64_t local = p - b * HW;
        const float fx = pixelCentre(static_cast<int>(local % W), W), fy = pixelCentre(static_cast<int>(local / W), H);
        const Bary r = baryAt(p0, p1, p2, fx, fy);
        float c[9];
        rasterBackwardPixel(r, fx, fy, g[0], g[1], c);
        for (int j = 0; j < 9; ++j) sum[j] += c[j];
      }
      std::memcpy(&G[static_cast<size_t>(b * T + t) * 9], sum, sizeof(sum));
    }
  });

  std::vector<int32_t> cStart, corner;
  buildCorners(tri, T, V, cStart, corner);
  const int64_t vChunks = ceilDivPos(V, kVertexChunk);
  parallelFor(B * vChunks, [&](int64_t task) {
    const int64_t b = task / vChunks, v0 = (task % vChunks) * kVertexChunk;
    const int64_t v1 = std::min<int64_t>(V, v0 + kVertexChunk);
    const float* Gb = G.data() + b * static_cast<int64_t>(T) * 9;
    for (int64_t v = v0; v < v1; ++v) {
      float gx = 0.0f, gy = 0.0f, gw = 0.0f;
      for (int32_t i = cStart[v]; i < cStart[v + 1]; ++i) {
        const float* g = Gb + 3 * static_cast<int64_t>(corner[i]);
        gx += g[0];
        gy += g[1];
        gw += g[2];
      }
      float* out = gradPos + 4 * (b * V + v);
      out[0] = gx;
      out[1] = gy;
      out[2] = 0.0f;
      out[3] = gw;
    }
  });
}

namespace {
void checkInterp(const InterpDims& d, const float* rast, const int32_t* attrTri, const char* where) {
  if (d.batch < 1 || d.height < 1 || d.width < 1 || d.attrVertices < 0 || d.channels < 1 || d.numTriangles < 0 ||
      !(d.attrBatch == 1 || d.attrBatch == d.batch))
    throw std::invalid_argument(std::string(where) + ": bad sizes");
  checkTriangles(attrTri, d.numTriangles, d.attrVertices, where);
  checkIds(rast, static_cast<int64_t>(d.batch) * d.height * d.width, d.numTriangles, where);
}
}  // namespace

void interpolateForward(const InterpDims& d, const float* attr, const float* rast, const int32_t* attrTri, float* out) {
  checkInterp(d, rast, attrTri, "interpolate");
  const int64_t HW = static_cast<int64_t>(d.height) * d.width, N = d.batch * HW;
  const int C = d.channels;
  parallelFor(ceilDivPos(N, kPixelChunk), [&](int64_t task) {
    const int64_t p1 = std::min(N, (task + 1) * kPixelChunk);
    for (int64_t p = task * kPixelChunk; p < p1; ++p) {
      float* o = out + p * C;
      const float* r = rast + 4 * p;
      const int id = static_cast<int>(r[3]);
      if (id == 0) {
        for (int c = 0; c < C; ++c) o[c] = 0.0f;
        continue;
      }
      const int64_t ab = d.attrBatch == 1 ? 0 : p / HW;
      const int32_t* it = attrTri + 3 * static_cast<int64_t>(id - 1);
      const float* a0 = attr + (ab * d.attrVertices + it[0]) * C;
      const float* a1 = attr + (ab * d.attrVertices + it[1]) * C;
      const float* a2 = attr + (ab * d.attrVertices + it[2]) * C;
      const float u = r[0], v = r[1], w = 1.0f - u - v;
      for (int c = 0; c < C; ++c) o[c] = u * a0[c] + v * a1[c] + w * a2[c];
    }
  });
}

void interpolateBackward(const InterpDims& d, const float* attr, const float* rast, const int32_t* attrTri,
                         const float* gradOut, float* gradAttr, float* gradRast) {
  checkInterp(d, rast, attrTri, "interpolateBackward");
  const int B = d.batch, T = d.numTriangles, Va = d.attrVertices, C = d.channels;
  const int64_t HW = static_cast<int64_t>(d.height) * d.width, N = B * HW;
  if (gradRast) {
    parallelFor(ceilDivPos(N, kPixelChunk), [&](int64_t task) {
      const int64_t p1 = std::min(N, (task + 1) * kPixelChunk);
      for (int64_t p = task * kPixelChunk; p < p1; ++p) {
        const float* r = rast + 4 * p;
        const int id = static_cast<int>(r[3]);
        float du = 0.0f, dv = 0.0f;
        if (id != 0) {
          const int64_t ab = d.attrBatch == 1 ? 0 : p / HW;
          const int32_t* it = attrTri + 3 * static_cast<int64_t>(id - 1);
          const float* a0 = attr + (ab * Va + it[0]) * C;
          const float* a1 = attr + (ab * Va + it[1]) * C;
          const float* a2 = attr + (ab * Va + it[2]) * C;
          const float* g = gradOut + p * C;
          for (int c = 0; c < C; ++c) {
            du += g[c] * (a0[c] - a2[c]);
            dv += g[c] * (a1[c] - a2[c]);
          }
        }
        gradRast[2 * p] = du;
        gradRast[2 * p + 1] = dv;
      }
    });
  }
  if (!gradAttr) return;
  const Fragments f = buildFragments(rast, B, HW, T);
  // Per-corner sums G[b, t, k, c], each (b, t) group in ascending pixel order.
  std::vector<float> G(static_cast<size_t>(B) * T * 3 * C);
  const int64_t tChunks = ceilDivPos(T, kTriChunk);
  parallelFor(B * tChunks, [&](int64_t task) {
    const int64_t b = task / tChunks, t0 = (task % tChunks) * kTriChunk;
    const int64_t t1 = std::min<int64_t>(T, t0 + kTriChunk);
    for (int64_t t = t0; t < t1; ++t) {
      float* s = G.data() + (b * T + t) * 3 * C;
      for (int j = 0; j < 3 * C; ++j) s[j] = 0.0f;
      for (int64_t i = f.begin(static_cast<int>(b), static_cast<int>(t)); i < f.end(static_cast<int>(b), static_cast<int>(t)); ++i) {
        const int64_t p = f.frag[i];
        const float* g = gradOut + p * C;
        if (allZero(g, C)) continue;
        const float u = rast[4 * p], v = rast[4 * p + 1], w = 1.0f - u - v;
        for (int c = 0; c < C; ++c) {
          s[c] += u * g[c];
          s[C + c] += v * g[c];
          s[2 * C + c] += w * g[c];
        }
      }
    }
  });
  std::vector<int32_t> cStart, corner;
  buildCorners(attrTri, T, Va, cStart, corner);
  const int Ba = d.attrBatch;
  const int64_t vChunks = ceilDivPos(Va, kVertexChunk);
  parallelFor(Ba * vChunks, [&](int64_t task) {
    const int64_t ab = task / vChunks, v0 = (task % vChunks) * kVertexChunk;
    const int64_t v1 = std::min<int64_t>(Va, v0 + kVertexChunk);
    const int64_t bBegin = Ba == 1 ? 0 : ab, bEnd = Ba == 1 ? B : ab + 1;
    for (int64_t v = v0; v < v1; ++v) {
      float* out = gradAttr + (ab * Va + v) * C;
      for (int c = 0; c < C; ++c) out[c] = 0.0f;
      for (int64_t b = bBegin; b < bEnd; ++b) {
        const float* Gb = G.data() + b * static_cast<int64_t>(T) * 3 * C;
        for (int32_t i = cStart[v]; i < cStart[v + 1]; ++i) {
          const float* g = Gb + static_cast<int64_t>(corner[i]) * C;
          for (int c = 0; c < C; ++c) out[c] += g[c];
        }
      }
    }
  });
}

}  // namespace raster
}  // namespace p3d

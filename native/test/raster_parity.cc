// The rasterizer part of gpu_parity: every raster op (rasterize, interpolate, texture, antialias; forward and
// backward) on Device::Cuda against Device::Cpu (kernels-design.md 5.3), on several meshes:
//   - a subdivided, jittered plane covering the viewport (shared edges everywhere, perspective w),
//   - a closed UV sphere in perspective (front and back layers, silhouettes),
//   - random triangles crossing the near plane (one or two vertices behind, some fully behind, w == 0,
//     NaN / Inf vertices, degenerate and repeated-index triangles),
//   - a batch of 16 frames (sphere + plane, random rotations),
//   - exact ties and extremes (vertices on sample points and pixel edges, duplicate triangles, guard band, a vertex
//     on the near plane, all w < 0, a sliver, a 1-pixel strip) with 9 channels, and a sphere with 1 channel.
// Checks per mesh:
//   - rasterize forward: bitwise equal (required; with --strict-bits every output below must be bitwise too);
//   - interpolate, texture (wrap and clamp), antialias forward: max |diff| <= 1e-6 * max(1, max |ref|) (required),
//     and whether they are bitwise equal (reported; the CUDA port is meant to be bitwise);
//   - every gradient (rasterize -> pos; interpolate -> attr (broadcast and per frame, shared and separate
//     attribute topology) and rast; texture -> uv and tex; antialias -> color and pos): same tolerance, bitwise
//     reported;
//   - run-to-run bitwise determinism of the device results, and frame b of a batch == that frame alone.
// Timing (unless --no-timing): median ms per op over a few repetitions, CPU and device, whole calls (the CUDA
// ones include the host validation and the copies in and out).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "parity_common.h"
#include "raster/raster_backend.h"

namespace {

using p3d::Device;
namespace r = p3d::raster;

constexpr double kTolerance = 1e-6;
bool gStrictBits = false;  // --strict-bits: every output must be bitwise equal, not only within the tolerance

using p3d_test::kPi;
using p3d_test::Rng;

struct Counts {
  int passed = 0, failed = 0;
  bool quiet = false;        // print failures only (fuzz cases)
  std::string context;       // printed before the first failure of a quiet case
  void report(bool ok, const std::string& name, const std::string& detail) {
    (ok ? passed : failed) += 1;
    if (quiet && ok) return;
    if (quiet && !context.empty()) {
      std::printf("%s\n", context.c_str());
      context.clear();
    }
    std::printf("  %-4s  %-52s %s\n", ok ? "ok" : "FAIL", name.c_str(), detail.c_str());
  }
  void info(const std::string& text) { std::printf("  info  %s\n", text.c_str()); }
};

/** Bitwise equality, treating any two NaNs as equal (x86 and CUDA NaN payloads differ). */
bool sameBits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != a[i] && b[i] != b[i]) continue;
    uint32_t x, y;
    std::memcpy(&x, &a[i], 4);
    std::memcpy(&y, &b[i], 4);
    if (x != y) return false;
  }
  return true;
}

/** Required: bitwise equal. */
void exact(Counts& ck, const std::string& name, const std::vector<float>& ref, const std::vector<float>& got) {
  size_t diff = 0;
  for (size_t i = 0; i < std::min(ref.size(), got.size()); ++i) {
    uint32_t x, y;
    std::memcpy(&x, &ref[i], 4);
    std::memcpy(&y, &got[i], 4);
    if (x != y && !(ref[i] != ref[i] && got[i] != got[i])) ++diff;
  }
  char line[160];
  std::snprintf(line, sizeof(line), "n %-9zu elements differing in bits: %zu", ref.size(), diff);
  ck.report(ref.size() == got.size() && diff == 0, name + " (bitwise)", line);
}

/** Required: max |diff| <= tol * max(1, max |ref|) (NaN only where the reference has NaN); bitwise reported. */
void close(Counts& ck, const std::string& name, const std::vector<float>& ref, const std::vector<float>& got) {
  if (ref.size() != got.size()) {
    ck.report(false, name, "size " + std::to_string(got.size()) + " != " + std::to_string(ref.size()));
    return;
  }
  double maxDiff = 0, maxRef = 0;
  bool nanOk = true;
  for (size_t i = 0; i < ref.size(); ++i) {
    const bool rn = ref[i] != ref[i], gn = got[i] != got[i];
    if (rn || gn) {
      nanOk = nanOk && rn == gn;
      continue;
    }
    maxDiff = std::max(maxDiff, std::fabs(static_cast<double>(got[i]) - ref[i]));
    maxRef = std::max(maxRef, std::fabs(static_cast<double>(ref[i])));
  }
  const bool bits = sameBits(ref, got);
  char line[200];
  std::snprintf(line, sizeof(line), "n %-9zu max|diff| %.3e  max|ref| %.3e  bitwise %s%s", ref.size(), maxDiff, maxRef,
                bits ? "yes" : "NO", nanOk ? "" : "  NaN MISMATCH");
  ck.report(nanOk && maxDiff <= kTolerance * std::max(1.0, maxRef) && (bits || !gStrictBits), name, line);
}

// ---------------------------------------------------------------------------------------------------------
// Meshes (clip-space positions per frame)

struct Mesh {
  std::string name;
  int B = 1, V = 0, H = 0, W = 0;
  int C = 3;                 // channels of the attributes, textures and antialiased colours
  int texH = 13, texW = 17;  // texture size
  std::vector<float> pos;   // [B,V,4]
  std::vector<int32_t> tri;  // [T,3]
  int T() const { return static_cast<int>(tri.size() / 3); }
};

/** OpenGL perspective of a view-space point (camera looking down -z), focal f, near 0.1, far 20. */
void project(const double p[3], double f, double aspect, float* out) {
  const double n = 0.1, fa = 20.0;
  out[0] = static_cast<float>(f / aspect * p[0]);
  out[1] = static_cast<float>(f * p[1]);
  out[2] = static_cast<float>((fa + n) / (n - fa) * p[2] + 2 * fa * n / (n - fa));
  out[3] = static_cast<float>(-p[2]);
}

void rotate(const double axisAngle[3], const double in[3], double out[3]) {
  const double th = std::sqrt(axisAngle[0] * axisAngle[0] + axisAngle[1] * axisAngle[1] + axisAngle[2] * axisAngle[2]);
  if (th == 0) {
    std::copy(in, in + 3, out);
    return;
  }
  const double k[3] = {axisAngle[0] / th, axisAngle[1] / th, axisAngle[2] / th};
  const double c = std::cos(th), s = std::sin(th), dot = k[0] * in[0] + k[1] * in[1] + k[2] * in[2];
  const double cr[3] = {k[1] * in[2] - k[2] * in[1], k[2] * in[0] - k[0] * in[2], k[0] * in[1] - k[1] * in[0]};
  for (int d = 0; d < 3; ++d) out[d] = in[d] * c + cr[d] * s + k[d] * dot * (1 - c);
}

/** n x n quads over [-1.1, 1.1]^2 at view depth ~ -2.5 (tilted), vertices jittered by ~1/4 cell. */
void planeGeometry(int n, Rng& rng, std::vector<double>& view, std::vector<int32_t>& tri) {
  const int vn = n + 1;
  view.clear();
  tri.clear();
  for (int j = 0; j < vn; ++j)
    for (int i = 0; i < vn; ++i) {
      const double cell = 2.2 / n;
      const bool edge = i == 0 || j == 0 || i == n || j == n;
      const double x = -1.1 + i * cell + (edge ? 0 : 0.25 * cell * rng.uniform(-1, 1));
      const double y = -1.1 + j * cell + (edge ? 0 : 0.25 * cell * rng.uniform(-1, 1));
      view.push_back(x);
      view.push_back(y);
      view.push_back(-2.5 + 0.3 * x + 0.05 * rng.uniform(-1, 1));
    }
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      const int a = j * vn + i, b = a + 1, c = a + vn, d = c + 1;
      if ((i + j) % 2) {
        tri.insert(tri.end(), {a, b, d, a, d, c});
      } else {
        tri.insert(tri.end(), {a, b, c, b, d, c});
      }
    }
}

/** Closed UV sphere (poles shared) of radius rad around (0, 0, -3). */
void sphereGeometry(int rings, int segs, double rad, std::vector<double>& view, std::vector<int32_t>& tri) {
  view.clear();
  tri.clear();
  view.insert(view.end(), {0.0, rad, 0.0});  // north pole = 0
  for (int i = 1; i < rings; ++i) {
    const double th = kPi * i / rings;
    for (int j = 0; j < segs; ++j) {
      const double ph = 2 * kPi * j / segs;
      view.insert(view.end(), {rad * std::sin(th) * std::cos(ph), rad * std::cos(th), rad * std::sin(th) * std::sin(ph)});
    }
  }
  const int south = 1 + (rings - 1) * segs;
  view.insert(view.end(), {0.0, -rad, 0.0});
  auto ring = [&](int i, int j) { return 1 + (i - 1) * segs + ((j % segs) + segs) % segs; };
  for (int j = 0; j < segs; ++j) tri.insert(tri.end(), {0, ring(1, j + 1), ring(1, j)});
  for (int i = 1; i + 1 < rings; ++i)
    for (int j = 0; j < segs; ++j) {
      const int a = ring(i, j), b = ring(i, j + 1), c = ring(i + 1, j), d = ring(i + 1, j + 1);
      tri.insert(tri.end(), {a, b, d, a, d, c});
    }
  for (int j = 0; j < segs; ++j) tri.insert(tri.end(), {south, ring(rings - 1, j), ring(rings - 1, j + 1)});
}

/** Frames of one geometry: frame b rotated by a random axis-angle (frame 0 unrotated), translated to z = -3. */
void frames(Mesh& m, const std::vector<double>& view, bool centre, Rng& rng) {
  m.V = static_cast<int>(view.size() / 3);
  m.pos.assign(static_cast<size_t>(m.B) * m.V * 4, 0.0f);
  const double aspect = static_cast<double>(m.W) / m.H;
  for (int b = 0; b < m.B; ++b) {
    double aa[3] = {0, 0, 0};
    if (b > 0)
      for (double& x : aa) x = 0.4 * rng.normal();
    for (int v = 0; v < m.V; ++v) {
      double p[3] = {view[3 * v], view[3 * v + 1], view[3 * v + 2]}, q[3];
      if (centre) {
        rotate(aa, p, q);
        q[2] -= 3.0;
      } else {
        const double c[3] = {0, 0, -2.5};
        const double rel[3] = {p[0] - c[0], p[1] - c[1], p[2] - c[2]};
        const double small[3] = {0.2 * aa[0], 0.2 * aa[1], 0.2 * aa[2]};
        rotate(small, rel, q);
        for (int d = 0; d < 3; ++d) q[d] += c[d];
      }
      project(q, 1.6, aspect, &m.pos[(static_cast<size_t>(b) * m.V + v) * 4]);
    }
  }
}

Mesh planeMesh(int B, int n, int H, int W, uint64_t seed) {
  Rng rng(seed);
  Mesh m;
  m.name = "jittered plane " + std::to_string(n) + "x" + std::to_string(n);
  m.B = B;
  m.H = H;
  m.W = W;
  std::vector<double> view;
  planeGeometry(n, rng, view, m.tri);
  frames(m, view, false, rng);
  return m;
}

Mesh sphereMesh(int B, int rings, int segs, int H, int W, uint64_t seed) {
  Rng rng(seed);
  Mesh m;
  m.name = "closed sphere " + std::to_string(rings) + "x" + std::to_string(segs);
  m.B = B;
  m.H = H;
  m.W = W;
  std::vector<double> view;
  sphereGeometry(rings, segs, 1.0, view, m.tri);
  frames(m, view, true, rng);
  return m;
}

/** Random triangles around the near plane plus special cases (w == 0, NaN, Inf, degenerate, repeated index). */
Mesh nearPlaneMesh(int B, int count, int H, int W, uint64_t seed) {
  Rng rng(seed);
  Mesh m;
  m.name = "near-plane crossing triangles";
  m.B = B;
  m.H = H;
  m.W = W;
  const int V = 3 * count + 12;
  m.V = V;
  m.pos.assign(static_cast<size_t>(B) * V * 4, 0.0f);
  const double aspect = static_cast<double>(W) / H;
  for (int b = 0; b < B; ++b) {
    for (int v = 0; v < V; ++v) {
      // View depth in [-1.5, 0.3]: some vertices between the near plane (-0.1) and the camera, some behind it.
      const double p[3] = {rng.uniform(-0.8, 0.8), rng.uniform(-0.8, 0.8), rng.uniform(-1.5, 0.3)};
      project(p, 1.6, aspect, &m.pos[(static_cast<size_t>(b) * V + v) * 4]);
    }
    float* special = &m.pos[(static_cast<size_t>(b) * V + 3 * count) * 4];
    const float nan = std::nanf(""), inf = INFINITY;
    const float sp[12][4] = {{0.1f, 0.1f, 0.5f, 0.0f},  {0.5f, 0.2f, 0.5f, 1.0f},  {0.2f, 0.6f, 0.5f, 1.0f},
                             {nan, 0.1f, 0.5f, 1.0f},   {0.5f, 0.2f, 0.5f, 1.0f},  {0.2f, 0.6f, 0.5f, 1.0f},
                             {0.1f, inf, 0.5f, 1.0f},   {-0.5f, -0.5f, 0.2f, 1.0f}, {0.0f, 0.0f, 0.2f, 1.0f},
                             {0.5f, 0.5f, 0.2f, 1.0f},  {-0.9f, 0.9f, -0.3f, 1.0f}, {0.9f, -0.9f, -0.3f, 1.0f}};
    for (int k = 0; k < 12; ++k) std::copy(sp[k], sp[k] + 4, special + 4 * k);
  }
  for (int t = 0; t < count; ++t) m.tri.insert(m.tri.end(), {3 * t, 3 * t + 1, 3 * t + 2});
  const int s = 3 * count;
  // w == 0 vertex; NaN vertex; Inf vertex; collinear (7, 8, 9); repeated index; a large background triangle.
  m.tri.insert(m.tri.end(), {s + 0, s + 1, s + 2, s + 3, s + 4, s + 5, s + 6, s + 1, s + 2, s + 7, s + 8, s + 9,
                             s + 7, s + 7, s + 9, s + 10, s + 7, s + 11});
  return m;
}

Mesh batchMesh(int B, int H, int W, uint64_t seed) {
  Rng rng(seed);
  Mesh m;
  m.name = "batch of " + std::to_string(B) + " frames: sphere + plane";
  m.B = B;
  m.H = H;
  m.W = W;
  std::vector<double> sv, pv;
  std::vector<int32_t> st, pt;
  sphereGeometry(24, 32, 0.8, sv, st);
  planeGeometry(20, rng, pv, pt);
  for (size_t i = 2; i < pv.size(); i += 3) pv[i] -= 1.5;  // the plane behind the sphere
  const int offset = static_cast<int>(sv.size() / 3);
  std::vector<double> view = sv;
  view.insert(view.end(), pv.begin(), pv.end());
  m.tri = st;
  for (int32_t i : pt) m.tri.push_back(i + offset);
  frames(m, view, true, rng);
  return m;
}

/**
 * Exact ties and extremes: vertices exactly on pixel centres (sample points) and on pixel edges, so shared edges
 * pass through samples (top-left rule); the same triangle twice (equal depth: the smaller id must win); a triangle
 * far outside the viewport (guard band, saturation); one vertex exactly on the near plane; a triangle with all
 * w < 0; a sliver; a 1-pixel-wide strip. W and H odd and different.
 */
Mesh edgeCaseMesh(int B, int H, int W, uint64_t seed) {
  Rng rng(seed);
  Mesh m;
  m.name = "ties on samples / pixel edges, duplicates, guard band";
  m.B = B;
  m.H = H;
  m.W = W;
  std::vector<float> v;  // one frame of [x, y, z, w]
  auto add = [&](double x, double y, double z, double w) {
    v.insert(v.end(), {static_cast<float>(x), static_cast<float>(y), static_cast<float>(z), static_cast<float>(w)});
    return static_cast<int32_t>(v.size() / 4 - 1);
  };
  auto cx = [&](double px) { return (2 * px + 1) / W - 1; };  // NDC of pixel centre px (fractions: pixel edges)
  auto cy = [&](double py) { return (2 * py + 1) / H - 1; };
  // A grid of 6 x 5 cells with corners on pixel centres (w = 1), both diagonals alternating.
  const int gx = 6, gy = 5, step = 3;
  const int32_t base = 0;
  for (int j = 0; j <= gy; ++j)
    for (int i = 0; i <= gx; ++i) add(cx(1 + step * i), cy(1 + step * j), 0.1 * rng.uniform(-1, 1), 1.0);
  for (int j = 0; j < gy; ++j)
    for (int i = 0; i < gx; ++i) {
      const int32_t a = base + j * (gx + 1) + i, b = a + 1, c = a + gx + 1, d = c + 1;
      if ((i + j) % 2) m.tri.insert(m.tri.end(), {a, b, d, a, d, c});
      else m.tri.insert(m.tri.end(), {a, b, c, b, d, c});
    }
  // The same grid cell twice (coplanar duplicates) and a quad on pixel edges (half-integer pixel positions), w = 2.
  const int32_t d0 = add(cx(22.5) * 2, cy(2.5) * 2, 0.3, 2.0), d1 = add(cx(28.5) * 2, cy(2.5) * 2, 0.3, 2.0),
                d2 = add(cx(28.5) * 2, cy(9.5) * 2, 0.3, 2.0), d3 = add(cx(22.5) * 2, cy(9.5) * 2, 0.3, 2.0);
  m.tri.insert(m.tri.end(), {d0, d1, d2, d0, d2, d3, d0, d1, d2});
  // Guard band: a huge triangle (screen coordinates ~1e4 viewports) behind everything.
  const int32_t g0 = add(-1e4, -1e4, 0.9, 1.0), g1 = add(1e4, -1e4, 0.9, 1.0), g2 = add(0.0, 1e4, 0.9, 1.0);
  m.tri.insert(m.tri.end(), {g0, g1, g2});
  // One vertex exactly on the near plane (z = -w), the others in front.
  const int32_t n0 = add(0.2, 0.3, -0.5, 0.5), n1 = add(0.6, 0.2, 0.2, 1.0), n2 = add(0.3, 0.7, 0.2, 1.0);
  m.tri.insert(m.tri.end(), {n0, n1, n2});
  // All w < 0 (not behind the near plane by the z test, dropped by w <= 0).
  const int32_t w0 = add(0.1, 0.1, 2.0, -1.0), w1 = add(0.5, 0.1, 2.0, -1.0), w2 = add(0.1, 0.5, 2.0, -1.0);
  m.tri.insert(m.tri.end(), {w0, w1, w2});
  // A sliver and a 1-pixel-wide vertical strip.
  const int32_t s0 = add(cx(2), cy(H - 3), 0.0, 1.0), s1 = add(cx(W - 3), cy(H - 3) + 0.2 / H, 0.0, 1.0),
                s2 = add(cx(W - 3), cy(H - 3) + 0.25 / H, 0.0, 1.0);
  m.tri.insert(m.tri.end(), {s0, s1, s2});
  const int32_t t0 = add(cx(W - 2) - 1.0 / W, cy(0), -0.2, 1.0), t1 = add(cx(W - 2) + 1.0 / W, cy(0), -0.2, 1.0),
                t2 = add(cx(W - 2) + 1.0 / W, cy(H - 1), -0.2, 1.0), t3 = add(cx(W - 2) - 1.0 / W, cy(H - 1), -0.2, 1.0);
  m.tri.insert(m.tri.end(), {t0, t1, t2, t0, t2, t3});
  m.V = static_cast<int>(v.size() / 4);
  m.pos.clear();
  for (int b = 0; b < B; ++b) {
    m.pos.insert(m.pos.end(), v.begin(), v.end());
    if (b > 0)  // later frames: the grid shifted by whole pixels (ties stay ties)
      for (int i = 0; i < (gx + 1) * (gy + 1); ++i) {
        float* p = &m.pos[(static_cast<size_t>(b) * m.V + i) * 4];
        p[0] += static_cast<float>(2.0 * b / W);
      }
  }
  return m;
}

/**
 * Two layers of small triangles over the same pixels, wound opposite ways in most cells (so the CPU's tile stage
 * draws one layer first and tests the other's triangles with occludedEverywhere before drawing them), at depth gaps
 * from 0 and a few float32 ulps to 1e-3 either way, the second layer jittered and tilted so that the layers cross
 * inside triangles (each wins part of the other's pixels); perspective (w from 0.5 to 3), slivers just in front of or
 * behind the first layer, triangles larger than a tile, and triangles crossing the near plane. The CPU skips hidden
 * triangles and the CUDA kernels skip nothing, so their bitwise agreement checks that no skip changed a bit.
 */
Mesh occlusionMesh(int B, int H, int W, uint64_t seed) {
  Rng rng(seed);
  Mesh m;
  m.name = "opposite-wound layers at tiny depth gaps (occlusion skipping)";
  m.B = B;
  m.H = H;
  m.W = W;
  const int n = 12, nodes = (n + 1) * (n + 1), cells = n * n;
  const int extra = 4 * 3 + 6;  // slivers, large triangles, near-plane crossing
  m.V = nodes + 4 * cells + extra;
  m.pos.assign(static_cast<size_t>(B) * m.V * 4, 0.0f);
  // Depth gaps of the second layer's cells: 0 (coplanar: float32 rounding decides), a few ulps (ulp(0.4) = 3e-8),
  // up to 1e-3, either way.
  const double gaps[] = {0.0, 0.0, 6e-8, -6e-8, 1.2e-7, -1.2e-7, 4.8e-7, -4.8e-7, 1e-6, -1e-6, 1e-5, -1e-5, 1e-3, -1e-3};
  auto set = [&](int b, int v, double ndcX, double ndcY, double ndcZ, double w) {
    float* q = &m.pos[(static_cast<size_t>(b) * m.V + v) * 4];
    q[0] = static_cast<float>(ndcX * w);
    q[1] = static_cast<float>(ndcY * w);
    q[2] = static_cast<float>(ndcZ * w);
    q[3] = static_cast<float>(w);
  };
  auto gridX = [&](double i) { return -0.95 + 1.9 * i / n; };
  // First layer: flat in the lower half (the second layer's cells there are coplanar with it up to their gap), gently
  // curved above; w from 0.5 to 3 at every vertex.
  auto depthA = [&](int b, double i, double j) {
    return 0.4 + 0.1 * b + (2 * j < n ? 0.0 : 2e-5 * std::sin(0.7 * i + 1.3 * j + b));
  };
  for (int b = 0; b < B; ++b) {
    for (int j = 0; j <= n; ++j)
      for (int i = 0; i <= n; ++i) set(b, j * (n + 1) + i, gridX(i), gridX(j), depthA(b, i, j), rng.uniform(0.5, 3.0));
    // Second layer: four vertices of its own per cell, corners moved by up to 0.4 px, the cell's gap added.
    for (int c = 0; c < cells; ++c) {
      const int i = c % n, j = c / n;
      const double gap = gaps[rng.index(static_cast<int>(sizeof(gaps) / sizeof(gaps[0])))];
      for (int k = 0; k < 4; ++k) {
        const double ci = i + (k & 1) + rng.uniform(-0.4, 0.4) * n / (0.95 * W);
        const double cj = j + (k >> 1) + rng.uniform(-0.4, 0.4) * n / (0.95 * H);
        set(b, nodes + 4 * c + k, gridX(ci), gridX(cj), depthA(b, std::round(ci), std::round(cj)) + gap, rng.uniform(0.5, 3.0));
      }
    }
    int v = nodes + 4 * cells;
    // Slivers (about 0.02 px tall) across several cells, just in front of and just behind the first layer.
    for (int k = 0; k < 4; ++k) {
      const double y = -0.8 + 0.1 * k, z = 0.4 + 0.1 * b + (k % 2 ? 2e-6 : -2e-6);
      set(b, v++, -0.8, y, z, 1.0);
      set(b, v++, 0.7, y + 0.01 * 2.0 / H, z, 1.7);
      set(b, v++, 0.7, y + 0.03 * 2.0 / H, z, 1.7);
    }
    // A triangle over the whole image far behind, and one larger than a tile just in front of it with a vertex behind
    // the near plane (z < -w, w < 0: clipped sub-triangles of the original triangle).
    set(b, v++, -3.0, -3.0, 0.95, 1.0);
    set(b, v++, 3.0, -3.0, 0.95, 1.0);
    set(b, v++, 0.0, 3.0, 0.95, 1.0);
    set(b, v++, -0.9, -0.9, 0.95 - 1e-6, 1.0);
    set(b, v++, 0.9, -0.2, 0.95 - 1e-6, 1.0);
    float* q = &m.pos[(static_cast<size_t>(b) * m.V + v++) * 4];
    q[0] = 0.1f, q[1] = 0.9f, q[2] = -0.5f, q[3] = -0.2f;
  }
  // Both windings of each cell's triangles (most cells: the layers opposite, some alike).
  auto add = [&](bool flip, int p0, int p1, int p2) {
    if (flip) m.tri.insert(m.tri.end(), {p0, p2, p1});
    else m.tri.insert(m.tri.end(), {p0, p1, p2});
  };
  for (int c = 0; c < cells; ++c) {
    const int i = c % n, j = c / n;
    const int a = j * (n + 1) + i, bb = a + 1, cc = a + n + 1, d = cc + 1, o = nodes + 4 * c;
    const bool flipA = rng.uniform(0, 1) < 0.5, flipB = rng.uniform(0, 1) < 0.15 ? flipA : !flipA;
    add(flipA, a, bb, d);
    add(flipA, a, d, cc);
    add(flipB, o, o + 1, o + 3);
    add(flipB, o, o + 3, o + 2);
  }
  const int e = nodes + 4 * cells;
  for (int k = 0; k < 4; ++k) {
    m.tri.insert(m.tri.end(), {e + 3 * k, e + 3 * k + 1, e + 3 * k + 2});
    m.tri.insert(m.tri.end(), {e + 3 * k, e + 3 * k + 2, e + 3 * k + 1});
  }
  m.tri.insert(m.tri.end(), {e + 12, e + 13, e + 14, e + 12, e + 14, e + 13});
  m.tri.insert(m.tri.end(), {e + 15, e + 16, e + 17, e + 15, e + 17, e + 16});
  return m;
}

/**
 * A random problem: 1-3 frames, images from 1x1 to 40x40, 1-10 channels, textures from 1x1 to 6x6, a few dozen
 * vertices shared by random (often adjacent, sometimes repeated-index or non-manifold) triangles; positions mostly
 * in view, some far outside (guard band), some with w <= 0 or behind the near plane.
 */
Mesh fuzzMesh(uint64_t seed) {
  Rng rng(seed);
  Mesh m;
  m.name = "fuzz seed " + std::to_string(seed);
  m.B = 1 + rng.index(3);
  m.H = 1 + rng.index(40);
  m.W = 1 + rng.index(40);
  m.C = 1 + rng.index(10);
  m.texH = 1 + rng.index(6);
  m.texW = 1 + rng.index(6);
  m.V = 3 + rng.index(40);
  const int T = rng.index(60);
  for (int t = 0; t < T; ++t) {
    const int a = rng.index(m.V);
    // Mostly nearby indices (shared edges), sometimes a repeated index.
    const int b = rng.uniform(0, 1) < 0.05 ? a : (a + 1 + rng.index(3)) % m.V;
    const int c = (b + 1 + rng.index(3)) % m.V;
    m.tri.insert(m.tri.end(), {a, b, c});
  }
  m.pos.resize(static_cast<size_t>(m.B) * m.V * 4);
  for (int b = 0; b < m.B; ++b)
    for (int v = 0; v < m.V; ++v) {
      const double roll = rng.uniform(0, 1);
      double w = rng.uniform(0.5, 3.0);
      if (roll < 0.04) w = rng.uniform(-1.0, 0.05);
      const double span = roll > 0.97 ? 200.0 : 1.3;
      float* p = &m.pos[(static_cast<size_t>(b) * m.V + v) * 4];
      p[0] = static_cast<float>(rng.uniform(-span, span) * w);
      p[1] = static_cast<float>(rng.uniform(-span, span) * w);
      p[2] = static_cast<float>(rng.uniform(-1.3, 1.1) * w);
      p[3] = static_cast<float>(w);
    }
  return m;
}

/** Opposite-vertex table of antialiasTopology (packages/render/src/antialias.ts): -1 = boundary / non-manifold. */
std::vector<int32_t> topology(const std::vector<int32_t>& tri) {
  const int T = static_cast<int>(tri.size() / 3);
  std::vector<int32_t> opp(tri.size(), -1);
  std::map<std::pair<int, int>, std::vector<int>> edges;  // undirected edge -> corners 3t + k
  for (int t = 0; t < T; ++t) {
    const int a = tri[3 * t], b = tri[3 * t + 1], c = tri[3 * t + 2];
    if (a == b || b == c || a == c) continue;
    for (int k = 0; k < 3; ++k) {
      const int u = tri[3 * t + k], v = tri[3 * t + (k + 1) % 3];
      edges[{std::min(u, v), std::max(u, v)}].push_back(3 * t + k);
    }
  }
  for (const auto& e : edges) {
    if (e.second.size() != 2) continue;
    for (int s = 0; s < 2; ++s) {
      const int other = e.second[1 - s], t = other / 3, k = other % 3;
      opp[e.second[s]] = tri[3 * t + (k + 2) % 3];
    }
  }
  return opp;
}

std::vector<float> randomVector(size_t n, Rng& rng, double zeroFraction = 0.0) {
  std::vector<float> v(n);
  for (float& x : v) x = rng.uniform(0, 1) < zeroFraction ? 0.0f : static_cast<float>(rng.normal());
  return v;
}

// ---------------------------------------------------------------------------------------------------------
// One mesh through every op on both devices

struct Outputs {
  std::vector<float> rast, gradPos;
  std::vector<float> interp, interpB, gradAttr, gradAttrB, gradRastI, interpSeam, gradAttrSeam;
  std::vector<float> gradAttrChain, gradPosChain;  // interpolateRasterizeBackward (seam attributes, accumulated)
  std::vector<float> texWrap, texClamp, gradUvWrap, gradTexWrap, gradUvClamp, gradTexClamp;
  std::vector<float> aa, aaGradColor, aaGradPos;
};

struct Inputs {
  std::vector<float> gradRast;                 // [B,H,W,2]
  std::vector<float> attr, attrB;              // [1,V,3], [B,V,3]
  std::vector<float> gradInterp;               // [B,H,W,3]
  std::vector<int32_t> seamTri;                // [T,3] -> 3T attribute vertices
  std::vector<float> seamAttr;                 // [1,3T,2]
  std::vector<float> gradSeam;                 // [B,H,W,2]
  std::vector<float> tex;                      // [Ht,Wt,C]
  int texH = 0, texW = 0;
  std::vector<float> gradTexOut;               // [B*H*W, 3]
  std::vector<int32_t> opp;
  std::vector<float> gradAa;                   // [B,H,W,3]
};

Inputs makeInputs(const Mesh& m, uint64_t seed) {
  Rng rng(seed);
  Inputs in;
  in.texH = m.texH;
  in.texW = m.texW;
  const size_t pix = static_cast<size_t>(m.B) * m.H * m.W;
  in.gradRast = randomVector(pix * 2, rng, 0.2);
  in.attr = randomVector(static_cast<size_t>(m.V) * m.C, rng);
  in.attrB = randomVector(static_cast<size_t>(m.B) * m.V * m.C, rng);
  in.gradInterp = randomVector(pix * m.C, rng, 0.2);
  const int T = m.T();
  for (int c = 0; c < 3 * T; ++c) in.seamTri.push_back(c);
  // UVs per corner, spanning [-0.3, 1.3] so that wrap and clamp both matter.
  for (int c = 0; c < 3 * T; ++c) {
    in.seamAttr.push_back(static_cast<float>(rng.uniform(-0.3, 1.3)));
    in.seamAttr.push_back(static_cast<float>(rng.uniform(-0.3, 1.3)));
  }
  in.gradSeam = randomVector(pix * 2, rng, 0.2);
  in.tex = randomVector(static_cast<size_t>(in.texH) * in.texW * m.C, rng);
  in.gradTexOut = randomVector(pix * m.C, rng, 0.2);
  in.opp = topology(m.tri);
  in.gradAa = randomVector(pix * m.C, rng, 0.1);
  return in;
}

Outputs runAll(const Mesh& m, const Inputs& in, Device dev) {
  Outputs o;
  const int B = m.B, V = m.V, T = m.T(), H = m.H, W = m.W;
  const size_t pix = static_cast<size_t>(B) * H * W;
  r::RasterDims rd;
  rd.batch = B;
  rd.numVertices = V;
  rd.numTriangles = T;
  rd.height = H;
  rd.width = W;
  o.rast.assign(pix * 4, -1.0f);
  r::rasterizeForward(dev, rd, m.pos.data(), m.tri.data(), o.rast.data());
  o.gradPos.assign(static_cast<size_t>(B) * V * 4, -1.0f);
  r::rasterizeBackward(dev, rd, m.pos.data(), m.tri.data(), o.rast.data(), in.gradRast.data(), o.gradPos.data());

  r::InterpDims id;
  id.batch = B;
  id.height = H;
  id.width = W;
  id.attrBatch = 1;
  id.attrVertices = V;
  id.channels = m.C;
  id.numTriangles = T;
  o.interp.assign(pix * m.C, -1.0f);
  r::interpolateForward(dev, id, in.attr.data(), o.rast.data(), m.tri.data(), o.interp.data());
  o.gradAttr.assign(static_cast<size_t>(V) * m.C, -1.0f);
  o.gradRastI.assign(pix * 2, -1.0f);
  r::interpolateBackward(dev, id, in.attr.data(), o.rast.data(), m.tri.data(), in.gradInterp.data(), o.gradAttr.data(),
                         o.gradRastI.data());
  id.attrBatch = B;
  o.interpB.assign(pix * m.C, -1.0f);
  r::interpolateForward(dev, id, in.attrB.data(), o.rast.data(), m.tri.data(), o.interpB.data());
  o.gradAttrB.assign(static_cast<size_t>(B) * V * m.C, -1.0f);
  r::interpolateBackward(dev, id, in.attrB.data(), o.rast.data(), m.tri.data(), in.gradInterp.data(),
                         o.gradAttrB.data(), nullptr);
  // Separate attribute topology (every corner its own UV vertex), broadcast.
  id.attrBatch = 1;
  id.attrVertices = 3 * T;
  id.channels = 2;
  o.interpSeam.assign(pix * 2, -1.0f);
  r::interpolateForward(dev, id, in.seamAttr.data(), o.rast.data(), in.seamTri.data(), o.interpSeam.data());
  o.gradAttrSeam.assign(static_cast<size_t>(3) * T * 2, -1.0f);
  r::interpolateBackward(dev, id, in.seamAttr.data(), o.rast.data(), in.seamTri.data(), in.gradSeam.data(),
                         o.gradAttrSeam.data(), nullptr);
  // The same backward chained into rasterize's, with an incoming rast gradient, accumulated onto rasterize
  // backward's gradPos.
  o.gradAttrChain.assign(static_cast<size_t>(3) * T * 2, -1.0f);
  o.gradPosChain = o.gradPos;
  r::interpolateRasterizeBackward(dev, id, in.seamAttr.data(), o.rast.data(), in.seamTri.data(), in.gradSeam.data(),
                                  o.gradAttrChain.data(), m.pos.data(), V, m.tri.data(), o.gradPosChain.data(), true,
                                  in.gradRast.data());

  // Texture lookups at the interpolated UVs (background pixels sample uv = (0, 0)); one NaN uv.
  std::vector<float> uv = o.interpSeam;
  if (!uv.empty()) uv[0] = std::nanf("");
  r::TextureDims td;
  td.count = static_cast<int64_t>(pix);
  td.texHeight = in.texH;
  td.texWidth = in.texW;
  td.channels = m.C;
  for (int mode = 0; mode < 2; ++mode) {
    td.wrap = mode == 0;
    std::vector<float>& out = mode == 0 ? o.texWrap : o.texClamp;
    std::vector<float>& gUv = mode == 0 ? o.gradUvWrap : o.gradUvClamp;
    std::vector<float>& gTex = mode == 0 ? o.gradTexWrap : o.gradTexClamp;
    out.assign(pix * m.C, -1.0f);
    r::textureForward(dev, td, in.tex.data(), uv.data(), out.data());
    gUv.assign(pix * 2, -1.0f);
    gTex.assign(in.tex.size(), -1.0f);
    r::textureBackward(dev, td, in.tex.data(), uv.data(), in.gradTexOut.data(), gUv.data(), gTex.data());
  }

  r::AntialiasDims ad;
  ad.batch = B;
  ad.height = H;
  ad.width = W;
  ad.channels = m.C;
  ad.numVertices = V;
  ad.numTriangles = T;
  o.aa.assign(pix * m.C, -1.0f);
  r::antialiasForward(dev, ad, o.interpB.data(), o.rast.data(), m.pos.data(), m.tri.data(), in.opp.data(), o.aa.data());
  o.aaGradColor.assign(pix * m.C, -1.0f);
  o.aaGradPos.assign(static_cast<size_t>(B) * V * 4, -1.0f);
  r::antialiasBackward(dev, ad, o.interpB.data(), o.rast.data(), m.pos.data(), m.tri.data(), in.opp.data(),
                       in.gradAa.data(), o.aaGradColor.data(), o.aaGradPos.data());
  return o;
}

bool sameOutputs(const Outputs& a, const Outputs& b) {
  const std::vector<float> Outputs::*fields[] = {
      &Outputs::rast,        &Outputs::gradPos,      &Outputs::interp,      &Outputs::interpB,     &Outputs::gradAttr,
      &Outputs::gradAttrB,   &Outputs::gradRastI,    &Outputs::interpSeam,  &Outputs::gradAttrSeam, &Outputs::texWrap,
      &Outputs::texClamp,    &Outputs::gradUvWrap,   &Outputs::gradTexWrap, &Outputs::gradUvClamp, &Outputs::gradTexClamp,
      &Outputs::aa,          &Outputs::aaGradColor,  &Outputs::aaGradPos,   &Outputs::gradAttrChain, &Outputs::gradPosChain};
  for (auto f : fields)
    if (!sameBits(a.*f, b.*f)) return false;
  return true;
}

void runMesh(Counts& ck, const Mesh& m, Device dev, uint64_t seed) {
  int covered = 0;
  const Inputs in = makeInputs(m, seed);
  const Outputs cpu = runAll(m, in, Device::Cpu);
  {
    // The CPU's one-pass interpolateRasterizeBackward against its two CPU kernels in turn: the same bits.
    r::InterpDims id;
    id.batch = m.B;
    id.height = m.H;
    id.width = m.W;
    id.attrBatch = 1;
    id.attrVertices = 3 * m.T();
    id.channels = 2;
    id.numTriangles = m.T();
    r::RasterDims rd;
    rd.batch = m.B;
    rd.numVertices = m.V;
    rd.numTriangles = m.T();
    rd.height = m.H;
    rd.width = m.W;
    std::vector<float> gradAttr(static_cast<size_t>(3) * m.T() * 2), gradRast = in.gradRast;
    std::vector<float> gradPos = cpu.gradPos;
    r::interpolateBackward(Device::Cpu, id, in.seamAttr.data(), cpu.rast.data(), in.seamTri.data(), in.gradSeam.data(),
                           gradAttr.data(), gradRast.data(), true);
    r::rasterizeBackward(Device::Cpu, rd, m.pos.data(), m.tri.data(), cpu.rast.data(), gradRast.data(), gradPos.data(), true);
    exact(ck, "CPU: interpolate + rasterize backward in one == the two kernels: gradAttr", gradAttr, cpu.gradAttrChain);
    exact(ck, "CPU: interpolate + rasterize backward in one == the two kernels: gradPos", gradPos, cpu.gradPosChain);
  }
  for (size_t p = 0; p < cpu.rast.size() / 4; ++p) covered += cpu.rast[4 * p + 3] != 0.0f;
  char header[256];
  std::snprintf(header, sizeof(header), "[raster: %s; B = %d, V = %d, T = %d, %dx%d, C = %d, tex %dx%d, %d covered pixels]",
                m.name.c_str(), m.B, m.V, m.T(), m.W, m.H, m.C, m.texW, m.texH, covered);
  if (ck.quiet) ck.context = header;
  else std::printf("%s\n", header);
  const Outputs got = runAll(m, in, dev);
  exact(ck, "rasterize forward", cpu.rast, got.rast);
  close(ck, "rasterize backward: gradPos", cpu.gradPos, got.gradPos);
  close(ck, "interpolate forward (attr [1,V,C])", cpu.interp, got.interp);
  close(ck, "interpolate forward (attr [B,V,C])", cpu.interpB, got.interpB);
  close(ck, "interpolate forward (own attrTri, [1,3T,2])", cpu.interpSeam, got.interpSeam);
  close(ck, "interpolate backward: gradAttr [1,V,C]", cpu.gradAttr, got.gradAttr);
  close(ck, "interpolate backward: gradAttr [B,V,C]", cpu.gradAttrB, got.gradAttrB);
  close(ck, "interpolate backward: gradAttr own attrTri", cpu.gradAttrSeam, got.gradAttrSeam);
  close(ck, "interpolate backward: gradRast", cpu.gradRastI, got.gradRastI);
  close(ck, "interpolate + rasterize backward: gradAttr", cpu.gradAttrChain, got.gradAttrChain);
  close(ck, "interpolate + rasterize backward: gradPos", cpu.gradPosChain, got.gradPosChain);
  close(ck, "texture forward (wrap)", cpu.texWrap, got.texWrap);
  close(ck, "texture forward (clamp)", cpu.texClamp, got.texClamp);
  close(ck, "texture backward: gradUv (wrap)", cpu.gradUvWrap, got.gradUvWrap);
  close(ck, "texture backward: gradTex (wrap)", cpu.gradTexWrap, got.gradTexWrap);
  close(ck, "texture backward: gradUv (clamp)", cpu.gradUvClamp, got.gradUvClamp);
  close(ck, "texture backward: gradTex (clamp)", cpu.gradTexClamp, got.gradTexClamp);
  close(ck, "antialias forward", cpu.aa, got.aa);
  close(ck, "antialias backward: gradColor", cpu.aaGradColor, got.aaGradColor);
  close(ck, "antialias backward: gradPos", cpu.aaGradPos, got.aaGradPos);
  const Outputs again = runAll(m, in, dev);
  ck.report(sameOutputs(got, again), "run-to-run bitwise (every output)", "");
  if (m.B > 1) {
    // Frame b alone == frame b of the batch, for rasterize forward and backward.
    const int b = m.B - 1;
    Mesh one = m;
    one.B = 1;
    one.pos.assign(m.pos.begin() + static_cast<size_t>(b) * m.V * 4, m.pos.begin() + static_cast<size_t>(b + 1) * m.V * 4);
    const size_t pix1 = static_cast<size_t>(m.H) * m.W;
    r::RasterDims rd;
    rd.batch = 1;
    rd.numVertices = m.V;
    rd.numTriangles = m.T();
    rd.height = m.H;
    rd.width = m.W;
    std::vector<float> rast(pix1 * 4), gradPos(static_cast<size_t>(m.V) * 4);
    r::rasterizeForward(dev, rd, one.pos.data(), one.tri.data(), rast.data());
    const std::vector<float> gradRast(in.gradRast.begin() + b * pix1 * 2, in.gradRast.begin() + (b + 1) * pix1 * 2);
    r::rasterizeBackward(dev, rd, one.pos.data(), one.tri.data(), rast.data(), gradRast.data(), gradPos.data());
    const std::vector<float> rastB(got.rast.begin() + b * pix1 * 4, got.rast.begin() + (b + 1) * pix1 * 4);
    const std::vector<float> gradPosB(got.gradPos.begin() + static_cast<size_t>(b) * m.V * 4,
                                      got.gradPos.begin() + static_cast<size_t>(b + 1) * m.V * 4);
    ck.report(sameBits(rast, rastB) && sameBits(gradPos, gradPosB),
              "frame " + std::to_string(b) + " alone == in the batch (rasterize fwd + bwd)", "");
  }
}

double medianMs(const std::function<void()>& fn, int reps) {
  fn();  // warm-up (allocations, first-touch)
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void runTiming(Counts& ck, const Mesh& m, Device dev) {
  std::printf("[raster timing: %s, B = %d, V = %d, T = %d, %dx%d; median ms per whole call]\n", m.name.c_str(), m.B, m.V,
              m.T(), m.W, m.H);
  const Inputs in = makeInputs(m, 31337);
  const Outputs ref = runAll(m, in, Device::Cpu);
  const int B = m.B, V = m.V, T = m.T(), H = m.H, W = m.W;
  const size_t pix = static_cast<size_t>(B) * H * W;
  r::RasterDims rd{B, V, T, H, W};
  r::InterpDims id;
  id.batch = B;
  id.height = H;
  id.width = W;
  id.attrBatch = 1;
  id.attrVertices = V;
  id.channels = 3;
  id.numTriangles = T;
  r::TextureDims td;
  td.count = static_cast<int64_t>(pix);
  td.texHeight = in.texH;
  td.texWidth = in.texW;
  td.channels = 3;
  r::AntialiasDims ad;
  ad.batch = B;
  ad.height = H;
  ad.width = W;
  ad.channels = 3;
  ad.numVertices = V;
  ad.numTriangles = T;
  std::vector<float> rast(pix * 4), gradPos(static_cast<size_t>(B) * V * 4), out3(pix * 3), gAttr(static_cast<size_t>(V) * 3),
      gRast(pix * 2), gUv(pix * 2), gTex(in.tex.size()), gColor(pix * 3);
  const std::vector<float>& uv = ref.interpSeam;
  // The tracker's texture case: a 2048 x 2048 one-channel mask, where texels are rarely shared by pixels (the
  // 17 x 13 test texture above is the opposite extreme: every texel is summed over thousands of pixels).
  r::TextureDims maskDims = td;
  maskDims.texHeight = maskDims.texWidth = 2048;
  maskDims.channels = 1;
  std::vector<float> mask(static_cast<size_t>(2048) * 2048), gMask(mask.size()), out1(pix);
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = static_cast<float>((i * 2654435761u) % 1000) / 1000.0f;
  struct Op {
    const char* name;
    std::function<void(Device)> fn;
  };
  const Op ops[] = {
      {"rasterize forward", [&](Device d) { r::rasterizeForward(d, rd, m.pos.data(), m.tri.data(), rast.data()); }},
      {"rasterize backward",
       [&](Device d) {
         r::rasterizeBackward(d, rd, m.pos.data(), m.tri.data(), ref.rast.data(), in.gradRast.data(), gradPos.data());
       }},
      {"interpolate forward (C = 3)",
       [&](Device d) { r::interpolateForward(d, id, in.attr.data(), ref.rast.data(), m.tri.data(), out3.data()); }},
      {"interpolate backward (attr + rast)",
       [&](Device d) {
         r::interpolateBackward(d, id, in.attr.data(), ref.rast.data(), m.tri.data(), in.gradInterp.data(), gAttr.data(),
                                gRast.data());
       }},
      {"texture forward", [&](Device d) { r::textureForward(d, td, in.tex.data(), uv.data(), out3.data()); }},
      {"texture backward (uv + tex)",
       [&](Device d) { r::textureBackward(d, td, in.tex.data(), uv.data(), in.gradTexOut.data(), gUv.data(), gTex.data()); }},
      {"texture forward, 2048^2 x 1 mask",
       [&](Device d) { r::textureForward(d, maskDims, mask.data(), uv.data(), out1.data()); }},
      {"texture backward (uv), 2048^2 x 1 mask",
       [&](Device d) {
         r::textureBackward(d, maskDims, mask.data(), uv.data(), in.gradTexOut.data(), gUv.data(), nullptr);
       }},
      {"texture backward (uv + tex), 2048^2 x 1",
       [&](Device d) {
         r::textureBackward(d, maskDims, mask.data(), uv.data(), in.gradTexOut.data(), gUv.data(), gMask.data());
       }},
      {"antialias forward",
       [&](Device d) {
         r::antialiasForward(d, ad, ref.interpB.data(), ref.rast.data(), m.pos.data(), m.tri.data(), in.opp.data(),
                             out3.data());
       }},
      {"antialias backward (color + pos)",
       [&](Device d) {
         r::antialiasBackward(d, ad, ref.interpB.data(), ref.rast.data(), m.pos.data(), m.tri.data(), in.opp.data(),
                              in.gradAa.data(), gColor.data(), gradPos.data());
       }},
  };
  const char* devName = dev == Device::Cuda ? "CUDA" : "CPU ";
  for (const Op& op : ops) {
    const double cpuMs = medianMs([&] { op.fn(Device::Cpu); }, 7);
    const double devMs = medianMs([&] { op.fn(dev); }, 7);
    char line[200];
    std::snprintf(line, sizeof(line), "%-40s CPU %9.3f ms   %s %9.3f ms", op.name, cpuMs, devName, devMs);
    ck.info(line);
  }
}

}  // namespace

/** `count` random problems (fuzzMesh), every check of runMesh, failures printed only. */
void runRasterFuzz(Device dev, int count, bool strictBits, int* passed, int* failed) {
  Counts ck;
  ck.quiet = true;
  gStrictBits = strictBits;
  std::printf("[raster fuzz: %d random problems, failures only]\n", count);
  for (int i = 0; i < count; ++i) runMesh(ck, fuzzMesh(1000 + i), dev, 7000 + i);
  std::printf("  info  raster fuzz: %d checks passed, %d failed\n", ck.passed, ck.failed);
  *passed += ck.passed;
  *failed += ck.failed;
}

/**
 * Runs the rasterizer parity checks; adds to passed / failed. strictBits: every output must be bitwise equal
 * (otherwise only rasterize forward, the rest within the tolerance). Exceptions propagate to the caller.
 */
void runRasterParity(Device dev, bool small, bool timing, bool strictBits, int* passed, int* failed) {
  Counts ck;
  gStrictBits = strictBits;
  std::printf("gpu_parity: rasterizer ops, tolerance %.0e * max(1, max|ref|); %s\n", kTolerance,
              strictBits ? "every output must be bitwise equal (--strict-bits)" : "rasterize forward must be bitwise");
  const int S = small ? 64 : 256;
  runMesh(ck, planeMesh(2, small ? 12 : 48, S, S + 16, 11), dev, 101);
  runMesh(ck, sphereMesh(2, small ? 12 : 40, small ? 16 : 64, S + 8, S, 22), dev, 202);
  runMesh(ck, nearPlaneMesh(2, small ? 40 : 400, S, S, 33), dev, 303);
  runMesh(ck, batchMesh(16, small ? 48 : 128, small ? 48 : 128, 44), dev, 404);
  {
    Mesh edge = edgeCaseMesh(3, 33, 41, 55);
    edge.C = 9;  // more channels than the CUDA texture-gradient chunk (8)
    runMesh(ck, edge, dev, 505);
    runMesh(ck, occlusionMesh(3, 48, 52, 77), dev, 707);
    Mesh single = sphereMesh(1, 10, 14, 31, 37, 66);
    single.C = 1;
    single.name += ", one channel";
    runMesh(ck, single, dev, 606);
  }
  if (timing) runTiming(ck, small ? batchMesh(16, 96, 96, 55) : batchMesh(16, 256, 256, 55), dev);
  *passed += ck.passed;
  *failed += ck.failed;
}

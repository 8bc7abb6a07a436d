// Analytic silhouette antialiasing (nvdiffrast semantics, deterministic gather formulation), CPU.
// See texture_antialias.h and kernels-design.md 2.1 (Antialias) / 2.6.
//
// Pair analysis (per pixel pair whose triangle ids differ; background = id 0 counts):
// - front triangle F = pixel1's if pixel0 is background or (both are triangles and zw1 < zw0), else pixel0's;
//   pf = the pixel showing F, po = the other one.
// - screen position in pixels, centres at integers: sx = (x/w + 1)*W/2 - 0.5, sy = (y/w + 1)*H/2 - 0.5;
//   edges with an endpoint (or, for the silhouette test, a neighbour's opposite vertex) at w <= 0 are unused.
// - candidate edges k = 0, 1, 2 of F, first accepted one wins: silhouette (boundary, or the opposite vertex
//   strictly on the same side as F's third vertex); strict orientation partition (horizontal pairs take
//   |dy| >= |dx|, vertical pairs |dx| > |dy|, so each 45-degree edge is used once); the edge spans the pair's
//   row (column); the crossing distance dF from pf's centre towards po lies in [-1/16, 1 + 1/16], then clamped.
// - the pixel whose half holds the crossing (po if dF > 0.5, pf if dF < 0.5) gets (dF - 0.5)*(c_pf - c_po).
// Position gradients flow only where 0 < dF < 1 (unclamped), through the crossing and the perspective divide.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "../common/thread_pool.h"
#include "texture_antialias.h"

namespace p3d {
namespace raster {
namespace {

template <typename F>
void forTasks(int64_t count, F&& fn) {
  if (count <= 0) return;
  if (count > 0x7fffffff) throw std::invalid_argument("antialias: too many tasks");
  ThreadPool::instance().parallelFor(static_cast<int>(count), [&](int i) { fn(i); });
}

/** One pixel-pair record (index 2*p0 + dir; dir 0 = horizontal with the right neighbour, 1 = with the row above). */
struct PairRecord {
  double dF;        // clamped crossing distance from pf's centre (valid when tri >= 0)
  int32_t tri;      // front triangle (0-based) or -1 = no record
  int8_t edge;      // edge k of tri
  int8_t front1;    // 1 when pf is pixel1 of the pair
  int8_t interior;  // 1 when the unclamped dF was strictly inside (0, 1): position gradients flow
  int8_t pad;
};

struct Ctx {
  const AntialiasDims& d;
  const float* rast;
  const float* pos;
  const int32_t* tri;
  const int32_t* opp;
  int64_t N;
  double sx(int64_t b, int i) const {
    const float* p = pos + (b * d.numVertices + i) * 4;
    return ((static_cast<double>(p[0]) / static_cast<double>(p[3]) + 1) * d.width) / 2 - 0.5;
  }
  double sy(int64_t b, int i) const {
    const float* p = pos + (b * d.numVertices + i) * 4;
    return ((static_cast<double>(p[1]) / static_cast<double>(p[3]) + 1) * d.height) / 2 - 0.5;
  }
  bool wOk(int64_t b, int i) const { return pos[(b * d.numVertices + i) * 4 + 3] > 0; }
};

void validate(const Ctx& c) {
  const AntialiasDims& d = c.d;
  if (d.batch < 1 || d.height < 1 || d.width < 1 || d.channels < 1 || d.numVertices < 0 || d.numTriangles < 0)
    throw std::invalid_argument("antialias: bad sizes");
  const int64_t T3 = static_cast<int64_t>(d.numTriangles) * 3;
  for (int64_t i = 0; i < T3; ++i) {
    if (c.tri[i] < 0 || c.tri[i] >= d.numVertices)
      throw std::invalid_argument("antialias: tri[" + std::to_string(i) + "] out of range");
    if (c.opp[i] < -1 || c.opp[i] >= d.numVertices)
      throw std::invalid_argument("antialias: opp[" + std::to_string(i) + "] out of range");
  }
  bool bad = false;
  for (int64_t p = 0; p < c.N && !bad; ++p) {
    const float id = c.rast[4 * p + 3];
    if (id != 0.0f && !(id >= 1.0f && id <= static_cast<float>(d.numTriangles) && id == std::floor(id))) bad = true;
  }
  if (bad) throw std::invalid_argument("antialias: rast holds a triangle id outside [0, T]");
}

/** Pass A for one pair (p0, p1) of frame b; cx0, cy0 = pixel0's integer centre. */
PairRecord analysePair(const Ctx& c, int64_t b, int64_t p0, int64_t p1, int px, int py, bool horiz) {
  PairRecord r{};
  r.tri = -1;
  const float id0 = c.rast[4 * p0 + 3], id1 = c.rast[4 * p1 + 3];
  if (id0 == id1) return r;
  const bool f1 = id0 == 0.0f || (id1 != 0.0f && c.rast[4 * p1 + 2] < c.rast[4 * p0 + 2]);
  const int t = static_cast<int>(f1 ? id1 : id0) - 1;
  const double cx = f1 ? (horiz ? px + 1 : px) : px;
  const double cy = f1 ? (horiz ? py : py + 1) : py;
  const double step = f1 ? -1.0 : 1.0;
  for (int k = 0; k < 3; ++k) {
    const int ia = c.tri[3 * t + k], ib = c.tri[3 * t + (k + 1) % 3], ic = c.tri[3 * t + (k + 2) % 3];
    if (!c.wOk(b, ia) || !c.wOk(b, ib) || !c.wOk(b, ic)) continue;
    const double ax = c.sx(b, ia), ay = c.sy(b, ia);
    const double dx = c.sx(b, ib) - ax, dy = c.sy(b, ib) - ay;
    if (horiz ? !(std::fabs(dy) >= std::fabs(dx)) : !(std::fabs(dx) > std::fabs(dy))) continue;
    const int io = c.opp[3 * t + k];
    if (io >= 0) {
      if (!c.wOk(b, io)) continue;
      const double sideC = dx * (c.sy(b, ic) - ay) - dy * (c.sx(b, ic) - ax);
      const double sideO = dx * (c.sy(b, io) - ay) - dy * (c.sx(b, io) - ax);
      if (!(sideC * sideO > 0)) continue;
    }
    double dF;
    if (horiz) {
      const double e = ay + dy;
      if (cy < std::fmin(ay, e) || cy > std::fmax(ay, e)) continue;
      const double xc = ax + (dx * (cy - ay)) / dy;
      dF = (xc - cx) * step;
    } else {
      const double e = ax + dx;
      if (cx < std::fmin(ax, e) || cx > std::fmax(ax, e)) continue;
      const double yc = ay + (dy * (cx - ax)) / dx;
      dF = (yc - cy) * step;
    }
    if (!(dF >= -1.0 / 16 && dF <= 1 + 1.0 / 16)) continue;
    r.interior = dF > 0 && dF < 1;
    r.dF = std::min(1.0, std::max(0.0, dF));
    r.tri = t;
    r.edge = static_cast<int8_t>(k);
    r.front1 = f1;
    return r;
  }
  return r;
}

/** Pass A over all pixels (parallel over rows of all frames, exclusive writes). */
std::vector<PairRecord> passA(const Ctx& c) {
  const AntialiasDims& d = c.d;
  std::vector<PairRecord> rec(static_cast<size_t>(2 * c.N));
  forTasks(static_cast<int64_t>(d.batch) * d.height, [&](int64_t row) {
    const int64_t b = row / d.height;
    const int py = static_cast<int>(row % d.height);
    for (int px = 0; px < d.width; ++px) {
      const int64_t p = row * d.width + px;
      PairRecord none{};
      none.tri = -1;
      rec[2 * p] = px + 1 < d.width ? analysePair(c, b, p, p + 1, px, py, true) : none;
      rec[2 * p + 1] = py + 1 < d.height ? analysePair(c, b, p, p + d.width, px, py, false) : none;
    }
  });
  return rec;
}

/** Pixels of record r = 2*p0 + dir: pf, po and the correction's target (-1 when none). */
inline void recordPixels(const PairRecord& r, int64_t idx, int W, int64_t* pf, int64_t* po, int64_t* target) {
  const int64_t p0 = idx >> 1;
  const int64_t p1 = (idx & 1) ? p0 + W : p0 + 1;
  *pf = r.front1 ? p1 : p0;
  *po = r.front1 ? p0 : p1;
  *target = r.tri < 0 || r.dF == 0.5 ? -1 : (r.dF > 0.5 ? *po : *pf);
}

/** The up to 4 records incident to pixel p, in the fixed gather order (-1 = none). */
inline void incident(int64_t p, int px, int py, int W, int64_t out[4]) {
  out[0] = 2 * p;
  out[1] = 2 * p + 1;
  out[2] = px > 0 ? 2 * (p - 1) : -1;
  out[3] = py > 0 ? 2 * (p - W) + 1 : -1;
}

}  // namespace

void antialiasForward(const AntialiasDims& d, const float* color, const float* rast, const float* pos,
                      const int32_t* tri, const int32_t* opp, float* out) {
  const int64_t N = static_cast<int64_t>(d.batch) * d.height * d.width;
  const Ctx c{d, rast, pos, tri, opp, N};
  validate(c);
  const std::vector<PairRecord> rec = passA(c);
  const int C = d.channels;
  forTasks(static_cast<int64_t>(d.batch) * d.height, [&](int64_t row) {
    const int py = static_cast<int>(row % d.height);
    std::vector<double> acc(C);
    for (int px = 0; px < d.width; ++px) {
      const int64_t p = row * d.width + px;
      for (int ch = 0; ch < C; ++ch) acc[ch] = color[p * C + ch];
      int64_t recs[4];
      incident(p, px, py, d.width, recs);
      for (int64_t ri : recs) {
        if (ri < 0) continue;
        const PairRecord& r = rec[ri];
        int64_t pf, po, target;
        recordPixels(r, ri, d.width, &pf, &po, &target);
        if (target != p) continue;
        const double a = r.dF - 0.5;
        for (int ch = 0; ch < C; ++ch)
          acc[ch] += a * (static_cast<double>(color[pf * C + ch]) - static_cast<double>(color[po * C + ch]));
      }
      for (int ch = 0; ch < C; ++ch) out[p * C + ch] = static_cast<float>(acc[ch]);
    }
  });
}

void antialiasBackward(const AntialiasDims& d, const float* color, const float* rast, const float* pos,
                       const int32_t* tri, const int32_t* opp, const float* gradOut, float* gradColor,
                       float* gradPos) {
  const int64_t N = static_cast<int64_t>(d.batch) * d.height * d.width;
  const Ctx c{d, rast, pos, tri, opp, N};
  validate(c);
  const std::vector<PairRecord> rec = passA(c);
  const int C = d.channels;
  if (gradColor) {
    // out[t] = color[t] + sum_r (dF_r - 0.5)(c_pf - c_po): pixel q gathers +-(dF - 0.5)*g[target] from its records.
    forTasks(static_cast<int64_t>(d.batch) * d.height, [&](int64_t row) {
      const int py = static_cast<int>(row % d.height);
      std::vector<double> acc(C);
      for (int px = 0; px < d.width; ++px) {
        const int64_t p = row * d.width + px;
        for (int ch = 0; ch < C; ++ch) acc[ch] = gradOut[p * C + ch];
        int64_t recs[4];
        incident(p, px, py, d.width, recs);
        for (int64_t ri : recs) {
          if (ri < 0) continue;
          const PairRecord& r = rec[ri];
          int64_t pf, po, target;
          recordPixels(r, ri, d.width, &pf, &po, &target);
          if (target < 0) continue;
          const double a = (pf == p ? 1.0 : -1.0) * (r.dF - 0.5);
          for (int ch = 0; ch < C; ++ch) acc[ch] += a * static_cast<double>(gradOut[target * C + ch]);
        }
        for (int ch = 0; ch < C; ++ch) gradColor[p * C + ch] = static_cast<float>(acc[ch]);
      }
    });
  }
  if (gradPos) {
    // Per frame, a sequential scan of the records in ascending order: each vertex sums its contributions in
    // a fixed order (parallel over frames only; deterministic, and a frame's result does not depend on the batch).
    const int64_t HW = static_cast<int64_t>(d.height) * d.width;
    forTasks(d.batch, [&](int64_t b) {
      const int64_t V = d.numVertices;
      std::vector<double> acc(static_cast<size_t>(V) * 3, 0.0);  // (x, y, w) per vertex
      for (int64_t ri = 2 * b * HW; ri < 2 * (b + 1) * HW; ++ri) {
        const PairRecord& r = rec[ri];
        if (r.tri < 0 || !r.interior) continue;
        int64_t pf, po, target;
        recordPixels(r, ri, d.width, &pf, &po, &target);
        if (target < 0) continue;
        // dL/ddF = sum_c g[target] (c_pf - c_po)
        double G = 0;
        for (int ch = 0; ch < C; ++ch)
          G += static_cast<double>(gradOut[target * C + ch]) *
               (static_cast<double>(color[pf * C + ch]) - static_cast<double>(color[po * C + ch]));
        if (G == 0) continue;
        const bool horiz = (ri & 1) == 0;
        const int64_t p0 = ri >> 1;
        const int px0 = static_cast<int>(p0 % d.width), py0 = static_cast<int>((p0 / d.width) % d.height);
        const double cx = r.front1 ? (horiz ? px0 + 1 : px0) : px0;
        const double cy = r.front1 ? (horiz ? py0 : py0 + 1) : py0;
        const double step = r.front1 ? -1.0 : 1.0;
        const int k = r.edge;
        const int ia = tri[3 * r.tri + k], ib = tri[3 * r.tri + (k + 1) % 3];
        const double ax = c.sx(b, ia), ay = c.sy(b, ia), bx = c.sx(b, ib), by = c.sy(b, ib);
        const double dx = bx - ax, dy = by - ay;
        // gradients of dF w.r.t. the screen coordinates of a and b
        double gax, gay, gbx, gby;
        if (horiz) {  // xc = ax + dx * tau, tau = (cy - ay)/dy
          const double tau = (cy - ay) / dy;
          gax = 1 - tau;
          gbx = tau;
          gay = dx * (tau - 1) / dy;
          gby = -dx * tau / dy;
        } else {  // yc = ay + dy * tau, tau = (cx - ax)/dx
          const double tau = (cx - ax) / dx;
          gay = 1 - tau;
          gby = tau;
          gax = dy * (tau - 1) / dx;
          gbx = -dy * tau / dx;
        }
        const double s = G * step;
        const int vs[2] = {ia, ib};
        const double gsx[2] = {s * gax, s * gbx}, gsy[2] = {s * gay, s * gby};
        for (int e = 0; e < 2; ++e) {
          const float* pv = pos + (b * V + vs[e]) * 4;
          const double x = pv[0], y = pv[1], w = pv[3];
          const double hx = 0.5 * d.width / w, hy = 0.5 * d.height / w;
          double* a = &acc[static_cast<size_t>(vs[e]) * 3];
          a[0] += gsx[e] * hx;
          a[1] += gsy[e] * hy;
          a[2] += -(gsx[e] * hx * x + gsy[e] * hy * y) / w;
        }
      }
      float* g = gradPos + b * V * 4;
      for (int64_t v = 0; v < V; ++v) {
        g[4 * v] = static_cast<float>(acc[3 * v]);
        g[4 * v + 1] = static_cast<float>(acc[3 * v + 1]);
        g[4 * v + 2] = 0.0f;
        g[4 * v + 3] = static_cast<float>(acc[3 * v + 2]);
      }
    });
  }
}

}  // namespace raster
}  // namespace p3d

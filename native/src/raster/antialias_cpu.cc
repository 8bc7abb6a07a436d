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
#include <atomic>
#include <memory>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "../common/thread_pool.h"
#include "texture_antialias.h"
#include "validate_cpu.h"

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
  /** [B*V*2] screen positions (sx, sy) of every vertex, see screenPositions. */
  const double* screen = nullptr;
  /** This call's number, which stamps the entries of the threads' silhouette memos (SilhouetteMemo). */
  uint64_t generation = 0;
  /** Set by a band that finds a rast id that is not 0 or an integer in [1, T] (see Band::analyse). */
  std::atomic<bool>* badIds = nullptr;
  double sx(int64_t b, int i) const { return screen[2 * (b * d.numVertices + i)]; }
  double sy(int64_t b, int i) const { return screen[2 * (b * d.numVertices + i) + 1]; }
  bool wOk(int64_t b, int i) const { return pos[(b * d.numVertices + i) * 4 + 3] > 0; }
};

/**
 * Screen position in pixels (centres at integers) of every vertex, computed once per call with the same float64
 * expressions the pair analysis used per use: sx = (x/w + 1)*W/2 - 0.5, sy = (y/w + 1)*H/2 - 0.5. Reused storage
 * of the calling thread.
 */
inline double screenX(const AntialiasDims& d, const float* p) {
  return ((static_cast<double>(p[0]) / static_cast<double>(p[3]) + 1) * d.width) / 2 - 0.5;
}
inline double screenY(const AntialiasDims& d, const float* p) {
  return ((static_cast<double>(p[1]) / static_cast<double>(p[3]) + 1) * d.height) / 2 - 0.5;
}

const double* screenPositions(const AntialiasDims& d, const float* pos) {
  thread_local std::vector<double> storage;
  std::vector<double>& s = storage;
  const int64_t n = static_cast<int64_t>(d.batch) * d.numVertices;
  s.resize(static_cast<size_t>(2 * n));
  constexpr int64_t kChunk = 8192;
  forTasks((n + kChunk - 1) / kChunk, [&](int64_t k) {
    const int64_t i1 = std::min(n, (k + 1) * kChunk);
    for (int64_t i = k * kChunk; i < i1; ++i) {
      const float* p = pos + i * 4;
      s[2 * i] = screenX(d, p);
      s[2 * i + 1] = screenY(d, p);
    }
  });
  return s.data();
}

/** A new number for each call that analyses pairs (see SilhouetteMemo). */
uint64_t nextGeneration() {
  static std::atomic<uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed);
}

/**
 * One thread's memo of silhouetteEdges over the [B*T] triangles of a call: entry = stamp | mask, valid iff its
 * stamp is the call's, ((generation mod 4096) << 4) | 8. A memo shared by the threads (one byte per triangle, filled
 * by whichever task met the triangle first) had its cache lines written by both cores at once, and each such write
 * waited for a cross-core transfer: antialias ran only 1.2x faster on two threads than on one. A private memo costs
 * the edges of the triangles that both threads meet computed twice (the same pure function, so the same mask). The
 * memo is cleared when the call number leaves its block of 4096 (or the triangles outgrow it), so that a stale
 * entry never carries the stamp of a later call.
 */
struct SilhouetteMemo {
  std::vector<uint16_t> tags;
  uint64_t block = ~uint64_t{0};
  uint16_t stamp = 0;
  void prepare(int64_t n, uint64_t generation) {
    if (block != generation >> 12 || tags.size() < static_cast<size_t>(n)) {
      tags.assign(std::max(tags.size(), static_cast<size_t>(n)), 0);
      block = generation >> 12;
    }
    stamp = static_cast<uint16_t>(((generation & 0xFFF) << 4) | 8);
  }
};

/**
 * Bit k set iff edge k of triangle t (frame b) passes the pair-independent tests of the pair analysis: all three
 * vertices in front of the camera (w > 0) and a silhouette edge (boundary, or the opposite vertex of the
 * neighbour, also with w > 0, strictly on the same side as the third vertex). The same expressions as in the
 * analysis, so the same outcome. Split in an inline memo lookup and the computation out of line.
 */
__attribute__((noinline)) uint8_t computeSilhouetteEdges(const Ctx& c, int64_t b, int t) {
  uint8_t mask = 0;
  const int32_t* v = c.tri + 3 * t;
  // Every edge k tests the same three vertices (ia, ib, ic = v[k], v[k+1], v[k+2]) against w > 0, so one failing
  // vertex clears all three bits; the vertices' screen positions are loaded once for the three edges.
  if (c.wOk(b, v[0]) && c.wOk(b, v[1]) && c.wOk(b, v[2])) {
    const double px[3] = {c.sx(b, v[0]), c.sx(b, v[1]), c.sx(b, v[2])};
    const double py[3] = {c.sy(b, v[0]), c.sy(b, v[1]), c.sy(b, v[2])};
    for (int k = 0; k < 3; ++k) {
      const int io = c.opp[3 * t + k];
      if (io >= 0) {
        if (!c.wOk(b, io)) continue;
        const int kb = k == 2 ? 0 : k + 1, kc = k == 0 ? 2 : k - 1;
        const double ax = px[k], ay = py[k];
        const double dx = px[kb] - ax, dy = py[kb] - ay;
        const double sideC = dx * (py[kc] - ay) - dy * (px[kc] - ax);
        const double sideO = dx * (c.sy(b, io) - ay) - dy * (c.sx(b, io) - ax);
        if (!(sideC * sideO > 0)) continue;
      }
      mask |= static_cast<uint8_t>(1u << k);
    }
  }
  return mask;
}

inline uint8_t silhouetteEdges(const Ctx& c, SilhouetteMemo& memo, int64_t b, int t) {
  uint16_t& e = memo.tags[b * c.d.numTriangles + t];
  if ((e & 0xFFF8) == memo.stamp) return static_cast<uint8_t>(e & 7);
  const uint8_t mask = computeSilhouetteEdges(c, b, t);
  e = static_cast<uint16_t>(memo.stamp | mask);
  return mask;
}

/** The sizes and index buffers; with `ids` also the rast's ids (the forward checks them band by band instead). */
void validate(const Ctx& c, bool ids = true) {
  const AntialiasDims& d = c.d;
  if (d.batch < 1 || d.height < 1 || d.width < 1 || d.channels < 1 || d.numVertices < 0 || d.numTriangles < 0)
    throw std::invalid_argument("antialias: bad sizes");
  const int64_t T3 = static_cast<int64_t>(d.numTriangles) * 3;
  if (!indicesInRange(c.tri, T3, 0, d.numVertices) || !indicesInRange(c.opp, T3, -1, d.numVertices)) {
    for (int64_t i = 0; i < T3; ++i) {
      if (c.tri[i] < 0 || c.tri[i] >= d.numVertices)
        throw std::invalid_argument("antialias: tri[" + std::to_string(i) + "] out of range");
      if (c.opp[i] < -1 || c.opp[i] >= d.numVertices)
        throw std::invalid_argument("antialias: opp[" + std::to_string(i) + "] out of range");
    }
  }
  if (ids && !idsValid(c.rast, c.N, d.numTriangles))
    throw std::invalid_argument("antialias: rast holds a triangle id outside [0, T]");
}

/**
 * The per-edge tests of analysePair for front triangle t with silhouette edges `edges` (non-zero); r.tri = -1 on
 * entry. Out of line: most pairs (between two triangles of a smooth surface) never get here.
 */
__attribute__((noinline)) void analyseEdges(const Ctx& c, int64_t b, int t, uint8_t edges, bool f1, int px, int py,
                                            bool horiz, PairRecord& r) {
  const double cx = f1 ? (horiz ? px + 1 : px) : px;
  const double cy = f1 ? (horiz ? py : py + 1) : py;
  const double step = f1 ? -1.0 : 1.0;
  for (int k = 0; k < 3; ++k) {
    if (!((edges >> k) & 1)) continue;
    const int ia = c.tri[3 * t + k], ib = c.tri[3 * t + (k + 1) % 3];
    const double ax = c.sx(b, ia), ay = c.sy(b, ia);
    const double dx = c.sx(b, ib) - ax, dy = c.sy(b, ib) - ay;
    if (horiz ? !(std::fabs(dy) >= std::fabs(dx)) : !(std::fabs(dx) > std::fabs(dy))) continue;
    if (horiz) {
      const double e = ay + dy;
      if (cy < std::fmin(ay, e) || cy > std::fmax(ay, e)) continue;
    } else {
      const double e = ax + dx;
      if (cx < std::fmin(ax, e) || cx > std::fmax(ax, e)) continue;
    }
    double dF;
    if (horiz) {
      const double xc = ax + (dx * (cy - ay)) / dy;
      dF = (xc - cx) * step;
    } else {
      const double yc = ay + (dy * (cx - ax)) / dx;
      dF = (yc - cy) * step;
    }
    if (!(dF >= -1.0 / 16 && dF <= 1 + 1.0 / 16)) continue;
    r.interior = dF > 0 && dF < 1;
    r.dF = std::min(1.0, std::max(0.0, dF));
    r.tri = t;
    r.edge = static_cast<int8_t>(k);
    r.front1 = f1;
    return;
  }
}

/** Pass A for one pair (p0, p1) of frame b (pixel0 at (px, py)) into r. */
inline void analysePair(const Ctx& c, SilhouetteMemo& memo, int64_t b, int64_t p0, int64_t p1, int px, int py, bool horiz,
                        PairRecord& r) {
  r = PairRecord{};
  r.tri = -1;
  const float id0 = c.rast[4 * p0 + 3], id1 = c.rast[4 * p1 + 3];
  if (id0 == id1) return;
  const bool f1 = id0 == 0.0f || (id1 != 0.0f && c.rast[4 * p1 + 2] < c.rast[4 * p0 + 2]);
  const int t = static_cast<int>(f1 ? id1 : id0) - 1;
  // Every test of analyseEdges is a pure filter on edge k (an edge is accepted iff all pass), so their order does
  // not change the result; the pair-independent ones are memoised per triangle (silhouetteEdges).
  const uint8_t edges = silhouetteEdges(c, memo, b, t);
  if (edges) analyseEdges(c, b, t, edges, f1, px, py, horiz, r);
}

constexpr int kBand = 8;  // rows per band task (16 measured 5% slower at 256 rows: fewer, more uneven tasks)

// Work buffer layout (see texture_antialias.h).
constexpr int32_t kWorkMagic = 0x31574141;  // "AAW1"
constexpr int64_t kWorkHeader = 8;
constexpr int kWorkRecord = 4;  // int32 per record

struct WorkLayout {
  int64_t bands, tasks, capacity, records;  // capacity: records per (frame, band) region; records: its offset
  explicit WorkLayout(const AntialiasDims& d)
      : bands((d.height + kBand - 1) / kBand), tasks(static_cast<int64_t>(d.batch) * bands),
        capacity(2 * static_cast<int64_t>(kBand) * d.width), records(kWorkHeader + tasks) {}
  int64_t size() const { return records + tasks * capacity * kWorkRecord; }
  const int32_t* region(const int32_t* work, int64_t task) const { return work + records + task * capacity * kWorkRecord; }
  int32_t* region(int32_t* work, int64_t task) const { return work + records + task * capacity * kWorkRecord; }
};

/** A record decoded from a work buffer; idx is the pair index within its band. */
struct WorkRecord {
  int32_t idx;
  uint32_t flags;
  int32_t tri;
  double dF;
};

inline WorkRecord readRecord(const int32_t* r) {
  WorkRecord w;
  w.idx = r[0] & 0xFFFFFF;
  w.flags = static_cast<uint32_t>(r[0]) >> 24;
  w.tri = r[1];
  std::memcpy(&w.dF, r + 2, sizeof(double));
  return w;
}

/**
 * Checks a work buffer against the dims and tri before anything reads it: header, per-band counts, every record's
 * pair (strictly ascending, inside the band and the image), flags, triangle and the two vertices of its edge, and
 * dF in [0, 1]. Afterwards every index the backward derives from it is in range.
 */
void checkWork(const AntialiasDims& d, const WorkLayout& L, const int32_t* work, const int32_t* tri) {
  if (work[0] != kWorkMagic || work[1] != d.batch || work[2] != d.height || work[3] != d.width ||
      work[4] != d.numTriangles || work[5] != kBand)
    throw std::invalid_argument("antialias: the work buffer was not filled by an antialias forward of these sizes");
  for (int64_t task = 0; task < L.tasks; ++task) {
    const int y0 = static_cast<int>(task % L.bands) * kBand, rows = std::min(d.height, y0 + kBand) - y0;
    const int64_t count = work[kWorkHeader + task];
    if (count < 0 || count > 2 * static_cast<int64_t>(rows) * d.width)
      throw std::invalid_argument("antialias: work buffer record count out of range");
    const int32_t* r = L.region(work, task);
    int64_t previous = -1;
    for (int64_t k = 0; k < count; ++k, r += kWorkRecord) {
      const WorkRecord w = readRecord(r);
      const int64_t cell = w.idx >> 1, ry = cell / d.width, px = cell % d.width;
      const bool bad = w.idx <= previous || (w.flags & ~0xFu) != 0 || (w.flags & 3) == 3 || ry >= rows ||
                       ((w.idx & 1) ? y0 + ry + 1 >= d.height : px + 1 >= d.width) || w.tri < 0 ||
                       w.tri >= d.numTriangles || !(w.dF >= 0.0 && w.dF <= 1.0);
      if (bad) throw std::invalid_argument("antialias: invalid work buffer record " + std::to_string(k));
      const int e = static_cast<int>(w.flags & 3);
      const int32_t ia = tri[3 * static_cast<int64_t>(w.tri) + e], ib = tri[3 * static_cast<int64_t>(w.tri) + (e + 1) % 3];
      if (ia < 0 || ia >= d.numVertices || ib < 0 || ib >= d.numVertices)
        throw std::invalid_argument("antialias: a work buffer record's triangle has a vertex out of range");
      previous = w.idx;
    }
  }
}

#if defined(__AVX2__)
/** The ids (element 3) of the 8 consecutive rast pixels at r, in pixel order. */
inline __m256 ids8(const float* r) {
  // shuffle: lane 0 = pixels (0, 0, 2, 2) | lane 1 = (1, 1, 3, 3), and 4..7 alike; then (0, 2, 4, 6 | 1, 3, 5, 7).
  const __m256 a = _mm256_shuffle_ps(_mm256_loadu_ps(r), _mm256_loadu_ps(r + 8), _MM_SHUFFLE(3, 3, 3, 3));
  const __m256 b = _mm256_shuffle_ps(_mm256_loadu_ps(r + 16), _mm256_loadu_ps(r + 24), _MM_SHUFFLE(3, 3, 3, 3));
  const __m256 even = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_permutevar8x32_ps(even, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/** Bit j set iff the ids of pixel j at a and at b differ (the scalar !=), j = 0..7. */
inline uint32_t diff8(const float* a, const float* b) {
  return static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(ids8(a), ids8(b), _CMP_NEQ_UQ)));
}
#endif

/** Per-thread storage of a band task (reused across calls; contents unspecified on entry). */
struct BandStorage {
  std::vector<PairRecord> rec;
  std::vector<uint64_t> hDiff, vDiff, hit;
  /** Band-local indices (row(py) * W + px) * 2 + dir of the records with a triangle, ascending. */
  std::vector<int32_t> found;
  SilhouetteMemo silhouette;
};

BandStorage& bandStorage() {
  thread_local BandStorage s;
  return s;
}

/**
 * Records of one band of rows [y0, y1] of frame b, computed only for pixel pairs whose triangle ids differ (the
 * others have no record, i.e. tri = -1): horizontal pairs of rows y0..y1 and vertical pairs (py, py + 1) of rows
 * y0 - 1..y1. A pair is analysed by analysePair exactly as in a dense pass over all pixels, so the records are
 * the same. Rows are indexed ry = py - (y0 - 1); per row, bit masks of the pairs whose ids differ (hDiff: pair
 * (px, px + 1), vDiff: pair (py, py + 1) at column px), which drive the analysis; afterwards they hold only the
 * pairs that got a record with a triangle (the only records stored in rec and the only ones any pass uses).
 */
struct Band {
  const Ctx& c;
  int64_t b;
  int y0, y1, W, H, words;
  BandStorage& st;

  float id(int64_t p) const { return c.rast[4 * p + 3]; }
  int64_t pix(int px, int py) const { return (b * H + py) * W + px; }
  size_t row(int py) const { return static_cast<size_t>(py - (y0 - 1)); }
  PairRecord& at(int py, int px, int dir) { return st.rec[(row(py) * W + px) * 2 + dir]; }
  const PairRecord& at(int py, int px, int dir) const { return st.rec[(row(py) * W + px) * 2 + dir]; }
  bool hDiff(int py, int px) const { return (st.hDiff[row(py) * words + (px >> 6)] >> (px & 63)) & 1; }
  bool vDiff(int py, int px) const { return (st.vDiff[row(py) * words + (px >> 6)] >> (px & 63)) & 1; }
  const uint64_t* hitRow(int py) const { return &st.hit[row(py) * words]; }
  /** Calls fn(px) for every set bit of the row mask m, in ascending px. */
  template <typename F>
  void forBits(const uint64_t* m, F&& fn) const {
    for (int w = 0; w < words; ++w)
      for (uint64_t bits = m[w]; bits; bits &= bits - 1) fn(w * 64 + __builtin_ctzll(bits));
  }

  Band(const Ctx& ctx, int64_t frame, int first, int last, BandStorage& storage)
      : c(ctx), b(frame), y0(first), y1(last), W(ctx.d.width), H(ctx.d.height), words((ctx.d.width + 63) / 64),
        st(storage) {
    allocate();
    st.silhouette.prepare(static_cast<int64_t>(c.d.batch) * c.d.numTriangles, c.generation);
    analyse();
  }

  /**
   * The band as the forward's work buffer stores it (checked by checkWork): only the pairs with a record get a mask
   * bit. Pairs without a record (tri = -1) add nothing anywhere (every use skips them), so the results are those
   * of the analysed band.
   */
  Band(const Ctx& ctx, int64_t frame, int first, int last, BandStorage& storage, const int32_t* work,
       const WorkLayout& L)
      : c(ctx), b(frame), y0(first), y1(last), W(ctx.d.width), H(ctx.d.height), words((ctx.d.width + 63) / 64),
        st(storage) {
    allocate();
    const int64_t band = y0 / kBand, task = b * L.bands + band;
    auto load = [&](const int32_t* r, int bandY0) {
      const WorkRecord w = readRecord(r);
      const int cell = w.idx >> 1, dir = w.idx & 1, px = cell % W, py = bandY0 + cell / W;
      PairRecord& q = at(py, px, dir);
      q.dF = w.dF;
      q.tri = w.tri;
      q.edge = static_cast<int8_t>(w.flags & 3);
      q.front1 = static_cast<int8_t>((w.flags >> 2) & 1);
      q.interior = static_cast<int8_t>((w.flags >> 3) & 1);
      q.pad = 0;
      (dir ? st.vDiff : st.hDiff)[row(py) * words + (px >> 6)] |= uint64_t{1} << (px & 63);
      st.found.push_back(local(py, px, dir));  // ascending: row y0 - 1 first, then the band's records in order
    };
    if (band > 0) {
      // Vertical pairs of row y0 - 1 (the previous band's last row, at the end of its ascending records).
      const int32_t* prev = L.region(work, task - 1);
      int64_t k = work[kWorkHeader + task - 1];
      while (k > 0 && (prev[(k - 1) * kWorkRecord] & 0xFFFFFF) >> 1 >= (kBand - 1) * W) --k;
      for (const int64_t n = work[kWorkHeader + task - 1]; k < n; ++k)
        if (prev[k * kWorkRecord] & 1) load(prev + k * kWorkRecord, y0 - kBand);
    }
    const int32_t* own = L.region(work, task);
    for (int64_t k = 0, n = work[kWorkHeader + task]; k < n; ++k) load(own + k * kWorkRecord, y0);
  }

  /** Writes the records of the band's own pairs (rows y0..y1, both directions) into its work buffer region. */
  void store(int32_t* work, const WorkLayout& L) const {
    const int64_t task = b * L.bands + y0 / kBand;
    int32_t* out = L.region(work, task);
    int64_t n = 0;
    forRecords([&](int py, int px, int dir, const PairRecord& r) {
      if (py < y0) return;  // the previous band's pair
      const uint32_t flags = static_cast<uint32_t>(r.edge) | static_cast<uint32_t>(r.front1) << 2 |
                             static_cast<uint32_t>(r.interior) << 3;
      int32_t* q = out + n * kWorkRecord;
      q[0] = static_cast<int32_t>(static_cast<uint32_t>(((py - y0) * W + px) * 2 + dir) | flags << 24);
      q[1] = r.tri;
      std::memcpy(q + 2, &r.dF, sizeof(double));
      ++n;
    });
    work[kWorkHeader + task] = static_cast<int32_t>(n);
  }

  void allocate() {
    st.found.clear();
    const size_t rows = static_cast<size_t>(y1 - y0 + 2);
    st.rec.resize(rows * W * 2);
    st.hDiff.assign(rows * words, 0);
    st.vDiff.assign(rows * words, 0);
  }

  void analyse() {
    // The ids of every row read below (y0 - 1 .. y1 + 1) first: the pair analysis indexes triangles by them. A band
    // with a bad one analyses nothing (no records) and flags the call, which then throws. (Rows the band has just
    // read stay in cache for the pass below: cheaper than a scan of the whole rast before the call.)
    const int ya = std::max(y0 - 1, 0), yb = std::min(y1 + 1, H - 1);
    if (!idsValidRange(c.rast, pix(0, ya), pix(0, yb) + W, static_cast<float>(c.d.numTriangles))) {
      if (c.badIds) c.badIds->store(true, std::memory_order_relaxed);
      return;
    }
    // Difference masks (branch-free; AVX2: 8 pixels per step, px a multiple of 8 so a step stays in one word).
    for (int py = std::max(y0 - 1, 0); py <= y1; ++py) {
      uint64_t* hm = &st.hDiff[row(py) * words];
      uint64_t* vm = &st.vDiff[row(py) * words];
      const float* r = c.rast + 4 * pix(0, py);
      if (py >= y0) {
        int px = 0;
#if defined(__AVX2__)
        for (; px + 8 < W; px += 8)  // pixels px .. px + 8 are in the row
          hm[px >> 6] |= static_cast<uint64_t>(diff8(r + 4 * px, r + 4 * px + 4)) << (px & 63);
#endif
        for (; px + 1 < W; ++px)
          hm[px >> 6] |= static_cast<uint64_t>(r[4 * px + 3] != r[4 * px + 7]) << (px & 63);
      }
      if (py + 1 < H) {
        const float* u = r + 4 * static_cast<int64_t>(W);
        int px = 0;
#if defined(__AVX2__)
        for (; px + 8 <= W; px += 8) vm[px >> 6] |= static_cast<uint64_t>(diff8(r + 4 * px, u + 4 * px)) << (px & 63);
#endif
        for (; px < W; ++px) vm[px >> 6] |= static_cast<uint64_t>(r[4 * px + 3] != u[4 * px + 3]) << (px & 63);
      }
    }
    for (int py = std::max(y0 - 1, 0); py <= y1; ++py) {
      forBits(&st.hDiff[row(py) * words], [&](int px) {
        const int64_t p = pix(px, py);
        PairRecord r;
        analysePair(c, st.silhouette, b, p, p + 1, px, py, true, r);
        if (r.tri < 0) return;
        at(py, px, 0) = r;
        st.found.push_back(local(py, px, 0));
      });
      forBits(&st.vDiff[row(py) * words], [&](int px) {
        const int64_t p = pix(px, py);
        PairRecord r;
        analysePair(c, st.silhouette, b, p, p + W, px, py, false, r);
        if (r.tri < 0) return;
        at(py, px, 1) = r;
        st.found.push_back(local(py, px, 1));
      });
    }
    // Per row the horizontal records come before the vertical ones; few records get a triangle.
    std::sort(st.found.begin(), st.found.end());
    // From here on the masks hold the pairs with a record only (as a band loaded from a work buffer): a differing
    // pair without one adds nothing anywhere, and its record was not stored.
    std::fill(st.hDiff.begin(), st.hDiff.end(), 0);
    std::fill(st.vDiff.begin(), st.vDiff.end(), 0);
    for (const int32_t k : st.found)
      ((k & 1) ? st.vDiff : st.hDiff)[static_cast<size_t>(k >> 1) / W * words + ((k >> 1) % W >> 6)] |=
          uint64_t{1} << (((k >> 1) % W) & 63);
  }

  int32_t local(int py, int px, int dir) const { return static_cast<int32_t>((row(py) * W + px) * 2 + dir); }
  /** Calls fn(py, px, dir, record) for the records with a triangle in ascending index (rows y0 - 1..y1). */
  template <typename F>
  void forRecords(F&& fn) const {
    for (const int32_t k : st.found) {
      const int cell = k >> 1, dir = k & 1;
      fn(y0 - 1 + cell / W, cell % W, dir, st.rec[static_cast<size_t>(k)]);
    }
  }

  /**
   * Marks in `hit` (band rows) the pixels touched by a record with a correction target: the target only
   * (targetOnly) or both pixels of the pair.
   */
  void markHits(bool targetOnly) {
    st.hit.assign(static_cast<size_t>(y1 - y0 + 2) * words, 0);
    auto mark = [&](int px, int py) {
      if (py >= y0 && py <= y1) st.hit[row(py) * words + (px >> 6)] |= uint64_t{1} << (px & 63);
    };
    forRecords([&](int py, int px, int dir, const PairRecord& r) {
      if (r.dF == 0.5) return;
      const int qx = dir ? px : px + 1, qy = dir ? py + 1 : py;  // pixel1
      const bool toPixel1 = (r.dF > 0.5) != static_cast<bool>(r.front1);  // target = po if dF > 0.5, else pf
      if (targetOnly) {
        if (toPixel1) mark(qx, qy);
        else mark(px, py);
      } else {
        mark(px, py);
        mark(qx, qy);
      }
    });
  }

  /**
   * The records incident to pixel (px, py) (a row of the band), in the fixed gather order (own horizontal, own
   * vertical, left neighbour's horizontal, lower neighbour's vertical); returns their count, with their indices
   * (2 * p0 + dir) in ri.
   */
  int incident(int px, int py, const PairRecord* r[4], int64_t ri[4]) const {
    const int64_t p = pix(px, py);
    int n = 0;
    if (px + 1 < W && hDiff(py, px)) {
      r[n] = &at(py, px, 0);
      ri[n++] = 2 * p;
    }
    if (py + 1 < H && vDiff(py, px)) {
      r[n] = &at(py, px, 1);
      ri[n++] = 2 * p + 1;
    }
    if (px > 0 && hDiff(py, px - 1)) {
      r[n] = &at(py, px - 1, 0);
      ri[n++] = 2 * (p - 1);
    }
    if (py > 0 && vDiff(py - 1, px)) {
      r[n] = &at(py - 1, px, 1);
      ri[n++] = 2 * (p - W) + 1;
    }
    return n;
  }
};

/** Pixels of record r = 2*p0 + dir: pf, po and the correction's target (-1 when none). */
inline void recordPixels(const PairRecord& r, int64_t idx, int W, int64_t* pf, int64_t* po, int64_t* target) {
  const int64_t p0 = idx >> 1;
  const int64_t p1 = (idx & 1) ? p0 + W : p0 + 1;
  *pf = r.front1 ? p1 : p0;
  *po = r.front1 ? p0 : p1;
  *target = r.tri < 0 || r.dF == 0.5 ? -1 : (r.dF > 0.5 ? *po : *pf);
}

/** One vertex's share of a record's position gradient (x, y, w), added in record order. */
struct Contribution {
  int64_t vertex;
  double g[3];
};

}  // namespace

int64_t antialiasWorkSize(const AntialiasDims& d) {
  if (d.batch < 1 || d.height < 1 || d.width < 1) throw std::invalid_argument("antialias: bad sizes");
  // Pair indices within a band take 24 bits (checked here so that every later encoding fits).
  if (2 * static_cast<int64_t>(kBand) * d.width > (int64_t{1} << 24)) return -1;
  const int64_t n = WorkLayout(d).size();
  return n > 0x7fffffff ? -1 : n;
}

void antialiasForward(const AntialiasDims& d, const float* color, const float* rast, const float* pos,
                      const int32_t* tri, const int32_t* opp, float* out, int32_t* work) {
  const int64_t N = static_cast<int64_t>(d.batch) * d.height * d.width;
  Ctx c{d, rast, pos, tri, opp, N};
  // The ids are checked band by band (Band::analyse); a bad one makes the call throw after the bands, with `out`
  // written but no work buffer that passes checkWork.
  validate(c, false);
  std::atomic<bool> badIds{false};
  c.badIds = &badIds;
  c.screen = screenPositions(d, pos);
  c.generation = nextGeneration();
  const int C = d.channels;
  const int bands = (d.height + kBand - 1) / kBand;
  const WorkLayout L(d);
  if (work) {
    if (antialiasWorkSize(d) < 0) throw std::invalid_argument("antialias: image too large for a work buffer");
    // Invalid until every band has stored its records (a failed call leaves no buffer that passes checkWork).
    work[0] = 0;
  }
  forTasks(static_cast<int64_t>(d.batch) * bands, [&](int64_t task) {
    const int64_t b = task / bands;
    const int y0 = static_cast<int>(task % bands) * kBand, y1 = std::min(d.height, y0 + kBand) - 1;
    Band band(c, b, y0, y1, bandStorage());
    if (work) band.store(work, L);
    band.markHits(true);
    // Pixels without a correction: out = color (through float64, as the accumulation below).
    const int64_t first = band.pix(0, y0) * C, last = (band.pix(0, y1) + d.width) * C;
    for (int64_t i = first; i < last; ++i) out[i] = static_cast<float>(static_cast<double>(color[i]));
    thread_local std::vector<double> acc;
    acc.resize(C);
    for (int py = y0; py <= y1; ++py) {
      band.forBits(band.hitRow(py), [&](int px) {
        const int64_t p = band.pix(px, py);
        for (int ch = 0; ch < C; ++ch) acc[ch] = color[p * C + ch];
        const PairRecord* r[4];
        int64_t ri[4];
        const int n = band.incident(px, py, r, ri);
        for (int k = 0; k < n; ++k) {
          int64_t pf, po, target;
          recordPixels(*r[k], ri[k], d.width, &pf, &po, &target);
          if (target != p) continue;
          const double a = r[k]->dF - 0.5;
          for (int ch = 0; ch < C; ++ch)
            acc[ch] += a * (static_cast<double>(color[pf * C + ch]) - static_cast<double>(color[po * C + ch]));
        }
        for (int ch = 0; ch < C; ++ch) out[p * C + ch] = static_cast<float>(acc[ch]);
      });
    }
  });
  if (badIds.load()) throw std::invalid_argument("antialias: rast holds a triangle id outside [0, T]");
  if (work) {
    const int32_t header[kWorkHeader] = {kWorkMagic, d.batch, d.height, d.width, d.numTriangles, kBand, 0, 0};
    std::memcpy(work, header, sizeof(header));
  }
}

void antialiasBackward(const AntialiasDims& d, const float* color, const float* rast, const float* pos,
                       const int32_t* tri, const int32_t* opp, const float* gradOut, float* gradColor,
                       float* gradPos, const int32_t* work) {
  const int64_t N = static_cast<int64_t>(d.batch) * d.height * d.width;
  Ctx c{d, rast, pos, tri, opp, N};
  const WorkLayout L(d);
  if (work) {
    // The records replace the pair analysis: rast and opp are not read, tri only at the records' edges.
    if (d.batch < 1 || d.height < 1 || d.width < 1 || d.channels < 1 || d.numVertices < 0 || d.numTriangles < 0)
      throw std::invalid_argument("antialias: bad sizes");
    if (antialiasWorkSize(d) < 0) throw std::invalid_argument("antialias: image too large for a work buffer");
    checkWork(d, L, work, tri);
  } else {
    validate(c);
    c.screen = screenPositions(d, pos);
    c.generation = nextGeneration();
  }
  if (!gradColor && !gradPos) return;
  const int C = d.channels;
  const int W = d.width;
  const int bands = (d.height + kBand - 1) / kBand;
  const int64_t tasks = static_cast<int64_t>(d.batch) * bands;
  // Position-gradient contributions of each band's records, in ascending record order (reused across calls).
  // (A reference taken on the calling thread: the tasks below run on other threads.)
  thread_local std::vector<std::vector<Contribution>> contribStorage;
  std::vector<std::vector<Contribution>>& contrib = contribStorage;
  if (gradPos && contrib.size() < static_cast<size_t>(tasks)) contrib.resize(tasks);
  forTasks(tasks, [&](int64_t task) {
    const int64_t b = task / bands;
    const int y0 = static_cast<int>(task % bands) * kBand, y1 = std::min(d.height, y0 + kBand) - 1;
    Band band = work ? Band(c, b, y0, y1, bandStorage(), work, L) : Band(c, b, y0, y1, bandStorage());
    if (gradColor) {
      // out[t] = color[t] + sum_r (dF_r - 0.5)(c_pf - c_po): pixel q gathers +-(dF - 0.5)*g[target] from its records;
      // pixels of no record with a target get g itself (through float64, as the accumulation).
      band.markHits(false);
      const int64_t first = band.pix(0, y0) * C, last = (band.pix(0, y1) + W) * C;
      for (int64_t i = first; i < last; ++i) gradColor[i] = static_cast<float>(static_cast<double>(gradOut[i]));
      thread_local std::vector<double> acc;
      acc.resize(C);
      for (int py = y0; py <= y1; ++py) {
        band.forBits(band.hitRow(py), [&](int px) {
          const int64_t p = band.pix(px, py);
          for (int ch = 0; ch < C; ++ch) acc[ch] = gradOut[p * C + ch];
          const PairRecord* r[4];
          int64_t ri[4];
          const int n = band.incident(px, py, r, ri);
          for (int k = 0; k < n; ++k) {
            int64_t pf, po, target;
            recordPixels(*r[k], ri[k], W, &pf, &po, &target);
            if (target < 0) continue;
            const double a = (pf == p ? 1.0 : -1.0) * (r[k]->dF - 0.5);
            for (int ch = 0; ch < C; ++ch) acc[ch] += a * static_cast<double>(gradOut[target * C + ch]);
          }
          for (int ch = 0; ch < C; ++ch) gradColor[p * C + ch] = static_cast<float>(acc[ch]);
        });
      }
    }
    if (gradPos) {
      std::vector<Contribution>& out = contrib[task];
      out.clear();
      const int64_t V = d.numVertices;
      // Records in ascending index 2 * p0 + dir (rows y0..y1; row y0 - 1 belongs to the previous band).
      band.forRecords([&](int py, int px, int dir, const PairRecord& r) {
        if (py < y0 || !r.interior) return;
        const bool horiz = dir == 0;
        const int64_t ri = 2 * band.pix(px, py) + dir;
        int64_t pf, po, target;
        recordPixels(r, ri, W, &pf, &po, &target);
        if (target < 0) return;
        // dL/ddF = sum_c g[target] (c_pf - c_po)
        double G = 0;
        for (int ch = 0; ch < C; ++ch)
          G += static_cast<double>(gradOut[target * C + ch]) *
               (static_cast<double>(color[pf * C + ch]) - static_cast<double>(color[po * C + ch]));
        if (G == 0) return;
        const double cx = r.front1 ? (horiz ? px + 1 : px) : px;
        const double cy = r.front1 ? (horiz ? py : py + 1) : py;
        const double step = r.front1 ? -1.0 : 1.0;
        const int k = r.edge;
        const int ia = tri[3 * r.tri + k], ib = tri[3 * r.tri + (k + 1) % 3];
        // Screen positions by the expressions of screenPositions (not computed when a work buffer is used).
        const float* pa = pos + (b * d.numVertices + ia) * 4;
        const float* pb = pos + (b * d.numVertices + ib) * 4;
        const double ax = screenX(d, pa), ay = screenY(d, pa), bx = screenX(d, pb), by = screenY(d, pb);
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
          out.push_back(Contribution{vs[e], {gsx[e] * hx, gsy[e] * hy, -(gsx[e] * hx * x + gsy[e] * hy * y) / w}});
        }
      });
    }
  });
  if (gradPos) {
    // Per frame, the bands' contributions in ascending record order: each vertex sums its contributions in a
    // fixed order (parallel over frames only; deterministic, and a frame's result does not depend on the batch).
    forTasks(d.batch, [&](int64_t b) {
      const int64_t V = d.numVertices;
      thread_local std::vector<double> acc;
      acc.assign(static_cast<size_t>(V) * 3, 0.0);  // (x, y, w) per vertex
      for (int k = 0; k < bands; ++k) {
        for (const Contribution& q : contrib[b * bands + k]) {
          double* a = &acc[static_cast<size_t>(q.vertex) * 3];
          a[0] += q.g[0];
          a[1] += q.g[1];
          a[2] += q.g[2];
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

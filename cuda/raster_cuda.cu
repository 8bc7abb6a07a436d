// CUDA backend of the differentiable rasterizer: rasterize, interpolate, texture and antialias, forward and
// backward (kernels-design.md 2.2-2.7). Same API, layouts and validation as the CPU kernels
// (native/src/raster/raster_cpu.cc, texture_cpu.cc, antialias_cpu.cc): those files define the semantics, and this
// file reproduces their floating-point operations in the same order so that results are bitwise equal.
//
// STATUS: run on a GPU (NVIDIA H200, sm_90, nvcc 13.0, driver 580, 2026-11-26): tools/gpu-parity.sh
// --strict-bits (native/test/gpu_parity.cc + raster_parity.cc) found every output of every op, forward and
// backward, bitwise equal to the CPU kernels on 6 meshes and 2,000 random problems (39,466 checks), with
// run-to-run determinism and frames in a batch equal to frames alone; compute-sanitizer memcheck, racecheck,
// initcheck and synccheck clean on the small model. Rerun it on every GPU machine you get.
// - Without a GPU, native/test/raster_cuda_emulated.cc compiles THIS file with the host compiler against a
//   sequential, thread-order-shuffling emulation of the CUDA runtime (cuda/cuda_emulation.h, selected by
//   P3D_CUDA_EMULATION) and requires every output of the same checks, plus 1000 random problems, to be bitwise
//   equal to the CPU's. That verifies the logic (work mapping, indexing, grouping, summation order, validation),
//   not nvcc's code generation. The generated PTX was inspected: no fma, only mul/add/sub.rn and div.rn, no .ftz.
//
// Host side: every entry point is synchronous. It validates its inputs on the host (the CPU kernels' checks and
// messages), uploads them into a persistent, grow-only device workspace (one per process, guarded by a mutex,
// one non-blocking stream), runs the kernels, downloads the outputs and synchronises. CUDA errors become
// std::runtime_error (a JS Error through the addon), never a crash.
//
// Kernels and their thread mapping:
// - rasterize forward
//   K1 vertexKernel      thread per (frame, vertex): finite / behind-near-plane flags, fixed-point X, Y (1/16 px,
//                        float64 divide, round-half-even, saturated to +-2^28), as the CPU's vertex stage.
//   K2 setupKernel       thread per (frame, triangle): drop non-finite / fully-behind, near-plane clip in float64
//                        (canonical endpoint order), fan into <= 2 sub-triangles in the CPU's fixed slots,
//                        int64 orientation, coverage-only CCW swap, top-left flags, pixel bbox.
//   K3 rasterSmallKernel thread per sub-triangle slot: bbox <= kSmallBox pixels -> loops over the bbox itself;
//                        larger ones are appended to a queue (int atomic counter: queue order is irrelevant).
//      rasterLargeKernel block per queued sub-triangle (grid-stride over the queue), threads stride the bbox.
//      Per pixel (coverPixel): int64 edge functions with the top-left bias (the CPU's stepped values, evaluated
//      directly: exact integers), float32 z/w with baryAt/zwOf from raster_math.h, far reject z/w > 1,
//      key = orderedBits(z/w + 0) << 32 | tri, atomicMin on the u64 key of the pixel. Integer min is order-free,
//      so the winner is the CPU's winner.
//   K4 resolveKernel     thread per pixel: recompute (a0/s, a1/s, z/w) of the winner with baryAt/zwOf (the same
//                        float32 operations the CPU kept from its raster loop) and apply clampedOutputRaw.
//   NaN z/w: x86 produces its default NaN (sign set) where CUDA produces 0x7fffffff; the key of a NaN depth
//   uses the host's default NaN, measured once on the host, so CPU and CUDA order NaN depths alike.
// - Backward reductions never use float atomics. Elements (pixels, texel corners, AA vertex contributions) are
//   grouped by segment with a radix sort of 64-bit keys (segment << 32 | element index): the key order is
//   total, so the result does not rely on sort stability. Segment starts come from a binary search per segment
//   (lowerBoundKernel). One thread per segment then sums its elements sequentially in ascending element index,
//   which is exactly the CPU's order:
//   rasterize backward   thread per sorted pixel writes its 9 terms (-0 where the CPU skips an all-zero
//                        gradient) -> thread per (frame, triangle) sums them in pixel order into G[b,t,9]
//                        (float32) -> thread per (frame, vertex) gathers its corners over the
//                        vertex -> corner CSR (built on the host, ascending corner order).
//   interpolate backward gradRast: thread per pixel. gradAttr: segments (frame, triangle) -> G[b,t,3,C] ->
//                        thread per (attr batch, attr vertex) gathers frames ascending, then corners ascending.
//   texture backward     gradUv: thread per pixel (float64, as the CPU). gradTex: element = (pixel, corner
//                        00/10/01/11) keyed by its texel -> thread per sorted element writes its terms (float64
//                        products cast to float) -> thread per texel sums them (float32 accumulator) in
//                        (pixel, corner) order, channels in chunks of 8.
//   antialias backward   element = (pair record, edge endpoint e) keyed by (frame, vertex) -> thread per
//                        (frame, vertex) sums the float64 contributions in (record, endpoint) order, each
//                        recomputed by the same device function that decided whether the element exists.
// - Per-pixel passes: interpolate forward, texture forward, antialias pass A (pair records) and pass B (gather of
//   the 4 incident records, per channel in the CPU's order) and the antialias colour gradient: thread per pixel.
//
// Parity rules (kernels-design.md 2.7): compiled with --fmad=false, no fast math (IEEE float division, no FTZ);
// only + - * / , comparisons, floor, fmod, rint (all exact or correctly rounded in IEEE) and the same expression
// trees as the CPU code. Float32 per-pixel rasterizer math comes from the shared raster_math.h.
//
// Known limits (follow-ups):
// - Duplication: the vertex stage / near-plane clipping, the texture footprint and the antialias pair analysis are
//   private to the CPU .cc files, so this file has its own copies (checked bitwise by the emulation). Moving them
//   into __host__ __device__ headers next to raster_math.h, used by both, would remove that, as raster_setup.h
//   did for the triangle setup's record (makeSubTri).
// - Speed (measured on the H200, whole calls, batch 16 at 256x256, gpu_parity's timing lines; BENCHMARKS.md):
//   every call uploads its host inputs and downloads its outputs (the API takes host typed arrays), and at these
//   sizes those copies cost more than the kernels, so most ops are slower than the CPU's (e.g. antialias 4.1 ms
//   against 0.8 ms on 16 cores). Bitwise parity with the CPU's sequential float sums makes one thread sum each segment in
//   pixel order: a texel shared by most pixels (uv = 0 of every background pixel) is a sum of a million terms
//   on one thread, 220 ms for texture backward into a 17 x 13 texture (427 ms before the terms were split out).
//   The tracker never asks for texture gradients. Next steps: keep rast, pos and the gradients resident on the
//   device between ops (an API of device tensors), and a warp-cooperative ordered sum for hot segments.
#ifdef P3D_CUDA_EMULATION
#include "cuda_emulation.h"  // sequential host emulation for logic tests (native/test/raster_cuda_emulated.cc)
#else
#include <cuda_runtime.h>

#include <cub/device/device_radix_sort.cuh>
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_support.h"
#include "raster/raster.h"
#include "raster/raster_cuda.h"
#include "raster/raster_math.h"
#include "raster/raster_setup.h"
#include "raster/texture_antialias.h"

namespace p3d {
namespace raster {
namespace cuda {
namespace {

// ---------------------------------------------------------------------------------------------------------
// Errors, device memory, stream

#ifdef P3D_CUDA_EMULATION
#define RCUDA_LAUNCH(kernel, grid, block, stream) ((void)(stream), ::p3d_emu::launcher((grid), (block), kernel))
#else
#define RCUDA_LAUNCH(kernel, grid, block, stream) kernel<<<(grid), (block), 0, (stream)>>>
#endif

using cuda_support::DeviceBuffer;

constexpr int kThreads = 256;
constexpr int kSmallBox = 64;          // sub-triangles with at most this many bbox pixels: one thread each
constexpr int kLargeBlocks = 2048;     // grid of the large-triangle kernel (grid-stride over the queue)
constexpr double kSaturate = 268435456.0;  // 2^28, in 1/16 px
constexpr uint64_t kEmptyKey = ~0ull;
constexpr int kChannelChunk = 8;

unsigned blocksFor(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

__device__ __forceinline__ int64_t globalIndex() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

/** One pixel-pair record of antialias pass A (index 2*p0 + dir; dir 0 = right neighbour, 1 = the row above). */
struct PairRecord {
  double dF;
  int32_t tri;
  int8_t edge;
  int8_t front1;
  int8_t interior;
  int8_t pad;
};

/** All state of the backend: one per process, used under its mutex. Never destroyed (process exit frees it). */
struct Workspace {
  std::mutex mutex;
  int device = 0;
  cudaStream_t stream = nullptr;
  // Inputs / outputs.
  DeviceBuffer<float> pos, rast, gradRast, gradPos, attr, out, gradOut, gradAttr, tex, uv, gradUv, gradTex, color,
      gradColor;
  DeviceBuffer<int32_t> tri, attrTri, opp;
  // Rasterize forward.
  DeviceBuffer<int32_t> fixedX, fixedY, queue, queueCount;
  DeviceBuffer<uint8_t> flags, numSubs;
  DeviceBuffer<SubTri> subs;
  DeviceBuffer<PairRecord> records;
  DeviceBuffer<unsigned long long> keys;
  // Segmented reductions.
  DeviceBuffer<unsigned long long> sortIn, sortOut;
  DeviceBuffer<int64_t> segStart;
  DeviceBuffer<unsigned char> sortTemp;
  DeviceBuffer<float> G, terms;
  DeviceBuffer<int32_t> cornerStart, corner;
  std::vector<int32_t> hostCornerStart, hostCorner, hostCursor;
  uint32_t nanOrdered = 0;  // orderedBits of the host's default NaN (see the file comment)
};

Workspace& workspace() {
  static Workspace* ws = [] {
    Workspace* w = new Workspace();
    P3D_CUDA_CHECK(cudaGetDevice(&w->device));
    P3D_CUDA_CHECK(cudaStreamCreateWithFlags(&w->stream, cudaStreamNonBlocking));
    volatile float zero = 0.0f;
    const float nan = zero / zero;  // the host's default NaN, as its kernels produce it
    w->nanOrdered = orderedBits(nan + 0.0f);
    return w;
  }();
  return *ws;
}

/** Locks the workspace and makes its device current for the duration of one entry point. */
class Session {
 public:
  Session() : ws_(workspace()), lock_(ws_.mutex) { P3D_CUDA_CHECK(cudaSetDevice(ws_.device)); }
  Workspace& ws() { return ws_; }
  cudaStream_t stream() const { return ws_.stream; }
  template <typename T>
  T* upload(DeviceBuffer<T>& buf, const T* src, size_t n) {
    T* d = buf.ensure(n);
    if (n) P3D_CUDA_CHECK(cudaMemcpyAsync(d, src, n * sizeof(T), cudaMemcpyHostToDevice, ws_.stream));
    return d;
  }
  template <typename T>
  void download(T* dst, const T* src, size_t n) {
    if (n) P3D_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToHost, ws_.stream));
  }
  void sync() { P3D_CUDA_CHECK(cudaStreamSynchronize(ws_.stream)); }

 private:
  Workspace& ws_;
  std::lock_guard<std::mutex> lock_;
};

// ---------------------------------------------------------------------------------------------------------
// Host validation (the CPU kernels' checks and messages)

void checkIds(const float* rast, int64_t numPixels, int numTriangles, const char* where) {
  for (int64_t p = 0; p < numPixels; ++p) {
    const float id = rast[4 * p + 3];
    if (id == 0.0f) continue;
    if (!(id >= 1.0f && id <= static_cast<float>(numTriangles)) || id != std::floor(id))
      throw std::invalid_argument(std::string(where) + ": rast[" + std::to_string(p) + "] has triangle id " +
                                  std::to_string(id) + ", expected 0 or an integer in [1, " +
                                  std::to_string(numTriangles) + "]");
  }
}

void checkTriangles(const int32_t* tri, int numTriangles, int numVertices, const char* where) {
  for (int64_t i = 0; i < 3 * static_cast<int64_t>(numTriangles); ++i)
    if (tri[i] < 0 || tri[i] >= numVertices)
      throw std::invalid_argument(std::string(where) + ": triangle index " + std::to_string(tri[i]) + " at " +
                                  std::to_string(i) + " is outside [0, " + std::to_string(numVertices) + ")");
}

void checkInterp(const InterpDims& d, const float* rast, const int32_t* attrTri, const char* where) {
  if (d.batch < 1 || d.height < 1 || d.width < 1 || d.attrVertices < 0 || d.channels < 1 || d.numTriangles < 0 ||
      !(d.attrBatch == 1 || d.attrBatch == d.batch))
    throw std::invalid_argument(std::string(where) + ": bad sizes");
  checkTriangles(attrTri, d.numTriangles, d.attrVertices, where);
  checkIds(rast, static_cast<int64_t>(d.batch) * d.height * d.width, d.numTriangles, where);
}

void checkAntialias(const AntialiasDims& d, const float* rast, const int32_t* tri, const int32_t* opp) {
  if (d.batch < 1 || d.height < 1 || d.width < 1 || d.channels < 1 || d.numVertices < 0 || d.numTriangles < 0)
    throw std::invalid_argument("antialias: bad sizes");
  const int64_t T3 = static_cast<int64_t>(d.numTriangles) * 3;
  for (int64_t i = 0; i < T3; ++i) {
    if (tri[i] < 0 || tri[i] >= d.numVertices)
      throw std::invalid_argument("antialias: tri[" + std::to_string(i) + "] out of range");
    if (opp[i] < -1 || opp[i] >= d.numVertices)
      throw std::invalid_argument("antialias: opp[" + std::to_string(i) + "] out of range");
  }
  const int64_t N = static_cast<int64_t>(d.batch) * d.height * d.width;
  for (int64_t p = 0; p < N; ++p) {
    const float id = rast[4 * p + 3];
    if (id != 0.0f && !(id >= 1.0f && id <= static_cast<float>(d.numTriangles) && id == std::floor(id)))
      throw std::invalid_argument("antialias: rast holds a triangle id outside [0, T]");
  }
}

/** The segmented reductions index elements and segments with 31 bits (cub takes an int count). */
void checkSegmentLimits(int64_t elements, int64_t segments, const char* where) {
  if (elements >= (int64_t{1} << 31) || segments >= (int64_t{1} << 31))
    throw std::invalid_argument(std::string(where) + ": problem too large for the CUDA backend (" +
                                std::to_string(elements) + " elements, " + std::to_string(segments) + " segments)");
}

/** Vertex -> corner (3t + k) CSR, corners ascending (the CPU's buildCorners). */
void buildCorners(Workspace& ws, const int32_t* tri, int T, int V) {
  ws.hostCornerStart.assign(static_cast<size_t>(V) + 1, 0);
  ws.hostCorner.resize(3 * static_cast<size_t>(T));
  for (int64_t c = 0; c < 3 * static_cast<int64_t>(T); ++c) ++ws.hostCornerStart[tri[c] + 1];
  for (int v = 0; v < V; ++v) ws.hostCornerStart[v + 1] += ws.hostCornerStart[v];
  ws.hostCursor.assign(ws.hostCornerStart.begin(), ws.hostCornerStart.end() - 1);
  for (int64_t c = 0; c < 3 * static_cast<int64_t>(T); ++c)
    ws.hostCorner[ws.hostCursor[tri[c]]++] = static_cast<int32_t>(c);
}

// ---------------------------------------------------------------------------------------------------------
// Segmented grouping: sort keys (segment << 32 | element) and find each segment's start.

__global__ void lowerBoundKernel(const unsigned long long* __restrict__ sorted, int64_t n, int64_t numSegments,
                                 int64_t* __restrict__ start) {
  const int64_t s = globalIndex();
  if (s > numSegments) return;
  // First index whose segment (key >> 32) is >= s.
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (static_cast<int64_t>(sorted[mid] >> 32) < s) lo = mid + 1;
    else hi = mid;
  }
  start[s] = lo;
}

int bitsFor(uint64_t x) {
  int b = 0;
  while (b < 64 && (x >> b) != 0) ++b;
  return b;
}

struct Groups {
  const unsigned long long* sorted;  // keys in ascending order; the element is the low 32 bits
  const int64_t* start;              // [numSegments + 1]
};

/**
 * Sorts the n keys of ws.sortIn (segments in [0, numSegments], numSegments = "no segment") into ws.sortOut and
 * fills ws.segStart[0..numSegments] (segment s = sortOut[segStart[s] .. segStart[s+1])).
 */
Groups groupBySegment(Session& s, int64_t n, int64_t numSegments) {
  Workspace& ws = s.ws();
  unsigned long long* in = ws.sortIn.ensure(n);
  unsigned long long* out = ws.sortOut.ensure(n);
  int64_t* start = ws.segStart.ensure(numSegments + 1);
  if (n > 0) {
    const int endBit = 32 + bitsFor(static_cast<uint64_t>(numSegments));
    size_t bytes = 0;
    P3D_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(nullptr, bytes, in, out, static_cast<int>(n), 0, endBit, s.stream()));
    void* temp = ws.sortTemp.ensure(bytes);
    P3D_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(temp, bytes, in, out, static_cast<int>(n), 0, endBit, s.stream()));
  }
  RCUDA_LAUNCH(lowerBoundKernel, blocksFor(numSegments + 1), kThreads, s.stream())(out, n, numSegments, start);
  P3D_CUDA_LAUNCHED(lowerBoundKernel);
  return Groups{out, start};
}

__device__ __forceinline__ unsigned long long segKey(int64_t segment, int64_t element) {
  return (static_cast<unsigned long long>(segment) << 32) | static_cast<unsigned long long>(element);
}

__device__ __forceinline__ int64_t elementOf(unsigned long long key) {
  return static_cast<int64_t>(key & 0xFFFFFFFFull);
}

/** The CPU's allZero: every value is +-0. */
__device__ __forceinline__ bool allZero(const float* g, int n) {
  uint32_t acc = 0;
  for (int i = 0; i < n; ++i) acc |= __float_as_uint(g[i]) << 1;
  return acc == 0;
}

// ---------------------------------------------------------------------------------------------------------
// Rasterize forward


__device__ int32_t toFixed(double ndc, int size) {
  const double s = 8.0 * static_cast<double>(size);
  double v = ndc * s + s;
  if (v > kSaturate) v = kSaturate;
  else if (v < -kSaturate) v = -kSaturate;
  if (v != v) return 0;
  return static_cast<int32_t>(rint(v));  // round half to even, like nearbyint in the default rounding mode
}

__device__ __forceinline__ bool finiteF(float x) { return fabsf(x) <= 3.402823466e38f; }


__global__ void vertexKernel(const float* __restrict__ pos, int64_t BV, int W, int H, int32_t* __restrict__ fixedX,
                             int32_t* __restrict__ fixedY, uint8_t* __restrict__ flags) {
  const int64_t i = globalIndex();
  if (i >= BV) return;
  const float* p = pos + 4 * i;
  const bool finite = finiteF(p[0]) && finiteF(p[1]) && finiteF(p[2]) && finiteF(p[3]);
  flags[i] = static_cast<uint8_t>((finite ? 1 : 0) | (p[2] < -p[3] ? 2 : 0));
  if (finite) {
    fixedX[i] = toFixed(static_cast<double>(p[0]) / static_cast<double>(p[3]), W);
    fixedY[i] = toFixed(static_cast<double>(p[1]) / static_cast<double>(p[3]), H);
  } else {
    fixedX[i] = 0;
    fixedY[i] = 0;
  }
}

struct ClipVert {
  double x, y, z, w;
  int32_t X, Y;
};


__global__ void setupKernel(const float* __restrict__ pos, const int32_t* __restrict__ tri,
                            const int32_t* __restrict__ fixedX, const int32_t* __restrict__ fixedY,
                            const uint8_t* __restrict__ flags, int B, int V, int T, int W, int H,
                            SubTri* __restrict__ subs, uint8_t* __restrict__ numSubs) {
  const int64_t slot = globalIndex();
  if (slot >= static_cast<int64_t>(B) * T) return;
  const int64_t b = slot / T, t = slot % T;
  int n = 0;
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
  if (finite && nb < 3) {
    if (nb == 0) {
      const int64_t i0 = b * V + idx[0], i1 = b * V + idx[1], i2 = b * V + idx[2];
      if (pos[4 * i0 + 3] > 0 && pos[4 * i1 + 3] > 0 && pos[4 * i2 + 3] > 0) {
        SubTri st;
        if (makeSubTri(fixedX[i0], fixedY[i0], fixedX[i1], fixedY[i1], fixedX[i2], fixedY[i2],
                       static_cast<int32_t>(t), W, H, st))
          subs[2 * slot + n++] = st;
      }
    } else {
      ClipVert poly[4];
      int m = 0;
      for (int k = 0; k < 3; ++k) {
        const int kb = k == 2 ? 0 : k + 1;
        if (!behind[k]) {
          const int64_t i = b * V + idx[k];
          const float* p = pos + 4 * i;
          poly[m++] = ClipVert{p[0], p[1], p[2], p[3], fixedX[i], fixedY[i]};
        }
        if (behind[k] != behind[kb]) {
          // Canonical order: the endpoint with the lower vertex index first.
          const bool aFirst = idx[k] < idx[kb];
          const int64_t iLo = b * V + idx[aFirst ? k : kb], iHi = b * V + idx[aFirst ? kb : k];
          const float* pl = pos + 4 * iLo;
          const float* ph = pos + 4 * iHi;
          const double lx = pl[0], ly = pl[1], lz = pl[2], lw = pl[3];
          const double hx = ph[0], hy = ph[1], hz = ph[2], hw = ph[3];
          const double dlo = lz + lw, dhi = hz + hw;
          const double s = dlo / (dlo - dhi);
          ClipVert c;
          c.x = lx + s * (hx - lx);
          c.y = ly + s * (hy - ly);
          c.z = lz + s * (hz - lz);
          c.w = lw + s * (hw - lw);
          c.X = toFixed(c.x / c.w, W);
          c.Y = toFixed(c.y / c.w, H);
          poly[m++] = c;
        }
      }
      for (int k = 1; k + 1 < m; ++k) {
        const ClipVert& v0 = poly[0];
        const ClipVert& v1 = poly[k];
        const ClipVert& v2 = poly[k + 1];
        if (!(v0.w > 0 && v1.w > 0 && v2.w > 0)) continue;
        SubTri st;
        if (makeSubTri(v0.X, v0.Y, v1.X, v1.Y, v2.X, v2.Y, static_cast<int32_t>(t), W, H, st))
          subs[2 * slot + n++] = st;
      }
    }
  }
  numSubs[slot] = static_cast<uint8_t>(n);
}

__device__ __forceinline__ unsigned long long keyOf(float zw, int32_t t, uint32_t nanOrdered) {
  if (zw != zw) return (static_cast<unsigned long long>(nanOrdered) << 32) | static_cast<uint32_t>(t);
  return depthKey(zw, static_cast<uint32_t>(t));
}

/** Coverage (int64 edge functions, top-left rule) and depth key of one pixel; atomicMin into its key. */
__device__ void coverPixel(const SubTri& st, const float* p0, const float* p1, const float* p2, int px, int py, int W,
                           int H, unsigned long long* __restrict__ keyFrame, uint32_t nanOrdered) {
  const int64_t Px = 16 * static_cast<int64_t>(px) + 8, Py = 16 * static_cast<int64_t>(py) + 8;
  for (int e = 0; e < 3; ++e) {
    const int e1 = e == 2 ? 0 : e + 1;
    const int64_t dX = static_cast<int64_t>(st.X[e1]) - st.X[e];
    const int64_t dY = static_cast<int64_t>(st.Y[e1]) - st.Y[e];
    const int64_t E = dX * (Py - st.Y[e]) - dY * (Px - st.X[e]) + (st.incl[e] ? 1 : 0);
    if (E <= 0) return;
  }
  const float fx = pixelCentre(px, W), fy = pixelCentre(py, H);
  const Bary r = baryAt(p0, p1, p2, fx, fy);
  const float zw = zwOf(r, p0, p1, p2);
  if (zw > 1.0f) return;  // far reject (a NaN depth passes, as on the CPU)
  atomicMin(keyFrame + static_cast<int64_t>(py) * W + px, keyOf(zw, st.tri, nanOrdered));
}

__device__ __forceinline__ void triangleVertices(const float* pos, const int32_t* tri, int64_t b, int V, int32_t t,
                                                 const float** p0, const float** p1, const float** p2) {
  const float* posB = pos + b * V * 4;
  *p0 = posB + 4 * static_cast<int64_t>(tri[3 * static_cast<int64_t>(t)]);
  *p1 = posB + 4 * static_cast<int64_t>(tri[3 * static_cast<int64_t>(t) + 1]);
  *p2 = posB + 4 * static_cast<int64_t>(tri[3 * static_cast<int64_t>(t) + 2]);
}

__global__ void rasterSmallKernel(const float* __restrict__ pos, const int32_t* __restrict__ tri,
                                  const SubTri* __restrict__ subs, const uint8_t* __restrict__ numSubs, int B, int V,
                                  int T, int W, int H, unsigned long long* __restrict__ keys,
                                  int32_t* __restrict__ queue, int32_t* __restrict__ queueCount, uint32_t nanOrdered) {
  const int64_t i = globalIndex();
  if (i >= 2 * static_cast<int64_t>(B) * T) return;
  const int64_t slot = i >> 1;
  if ((i & 1) >= numSubs[slot]) return;
  const SubTri st = subs[i];
  const int64_t bw = st.px1 - st.px0 + 1, bh = st.py1 - st.py0 + 1;
  if (bw * bh > kSmallBox) {
    queue[atomicAdd(queueCount, 1)] = static_cast<int32_t>(i);
    return;
  }
  const int64_t b = slot / T;
  const float *p0, *p1, *p2;
  triangleVertices(pos, tri, b, V, st.tri, &p0, &p1, &p2);
  unsigned long long* keyFrame = keys + b * H * W;
  for (int py = st.py0; py <= st.py1; ++py)
    for (int px = st.px0; px <= st.px1; ++px) coverPixel(st, p0, p1, p2, px, py, W, H, keyFrame, nanOrdered);
}

__global__ void rasterLargeKernel(const float* __restrict__ pos, const int32_t* __restrict__ tri,
                                  const SubTri* __restrict__ subs, int V, int T, int W, int H,
                                  unsigned long long* __restrict__ keys, const int32_t* __restrict__ queue,
                                  const int32_t* __restrict__ queueCount, uint32_t nanOrdered) {
  const int count = *queueCount;
  for (int q = blockIdx.x; q < count; q += gridDim.x) {
    const int64_t i = queue[q];
    const SubTri st = subs[i];
    const int64_t b = (i >> 1) / T;
    const float *p0, *p1, *p2;
    triangleVertices(pos, tri, b, V, st.tri, &p0, &p1, &p2);
    unsigned long long* keyFrame = keys + b * H * W;
    const int64_t bw = st.px1 - st.px0 + 1, area = bw * (st.py1 - st.py0 + 1);
    for (int64_t j = threadIdx.x; j < area; j += blockDim.x) {
      const int px = st.px0 + static_cast<int>(j % bw), py = st.py0 + static_cast<int>(j / bw);
      coverPixel(st, p0, p1, p2, px, py, W, H, keyFrame, nanOrdered);
    }
  }
}

__global__ void resolveKernel(const float* __restrict__ pos, const int32_t* __restrict__ tri,
                              const unsigned long long* __restrict__ keys, int64_t N, int64_t HW, int V, int W, int H,
                              float* __restrict__ rast) {
  const int64_t p = globalIndex();
  if (p >= N) return;
  float* out = rast + 4 * p;
  const unsigned long long k = keys[p];
  if (k == kEmptyKey) {
    out[0] = out[1] = out[2] = out[3] = 0.0f;
    return;
  }
  const uint32_t t = static_cast<uint32_t>(k & 0xFFFFFFFFull);
  const int64_t b = p / HW, local = p % HW;
  const float *p0, *p1, *p2;
  triangleVertices(pos, tri, b, V, static_cast<int32_t>(t), &p0, &p1, &p2);
  const float fx = pixelCentre(static_cast<int>(local % W), W), fy = pixelCentre(static_cast<int>(local / W), H);
  const Bary r = baryAt(p0, p1, p2, fx, fy);
  const float zw = zwOf(r, p0, p1, p2);
  float o[3];
  clampedOutput(r, zw, o);
  out[0] = o[0];
  out[1] = o[1];
  out[2] = o[2];
  out[3] = static_cast<float>(t + 1);
}

// ---------------------------------------------------------------------------------------------------------
// Rasterize / interpolate backward

/** Key of pixel p: segment (frame, triangle id - 1), or numSegments for background. */
__global__ void pixelKeysKernel(const float* __restrict__ rast, int64_t N, int64_t HW, int T, int64_t numSegments,
                                unsigned long long* __restrict__ keys) {
  const int64_t p = globalIndex();
  if (p >= N) return;
  const int id = static_cast<int>(rast[4 * p + 3]);
  const int64_t seg = id > 0 ? (p / HW) * T + (id - 1) : numSegments;
  keys[p] = segKey(seg, p);
}

/**
 * Terms of sorted pixel i (thread per pixel): the 9 corner-gradient contributions of rasterBackwardPixel, stored in
 * sorted order; a pixel whose gradient is all zero, which the CPU skips, stores -0.0f, the exact identity of
 * float addition (x + -0 == x bit for bit, -0 included), so summing it changes nothing. Splitting the terms from
 * the per-triangle sum keeps that sum a plain pass over contiguous memory, so a triangle covering much of the
 * image is not summed by one thread that also recomputes every pixel's barycentrics on its way.
 */
__global__ void rasterGradTermsKernel(const float* __restrict__ pos, const int32_t* __restrict__ tri,
                                      const float* __restrict__ gradRast, const unsigned long long* __restrict__ sorted,
                                      const int64_t* __restrict__ start, int64_t numSegments, int64_t HW, int V, int T,
                                      int W, int H, float* __restrict__ terms) {
  const int64_t i = globalIndex();
  if (i >= start[numSegments]) return;  // background pixels sort last
  const int64_t p = elementOf(sorted[i]);
  const int64_t s = static_cast<int64_t>(sorted[i] >> 32);
  float* out = terms + 9 * i;
  const float* g = gradRast + 2 * p;
  if (allZero(g, 2)) {
    for (int j = 0; j < 9; ++j) out[j] = -0.0f;
    return;
  }
  const int64_t b = s / T;
  const float *p0, *p1, *p2;
  triangleVertices(pos, tri, b, V, static_cast<int32_t>(s % T), &p0, &p1, &p2);
  const int64_t local = p - b * HW;
  const float fx = pixelCentre(static_cast<int>(local % W), W), fy = pixelCentre(static_cast<int>(local / W), H);
  const Bary r = baryAt(p0, p1, p2, fx, fy);
  rasterBackwardPixel(r, fx, fy, g[0], g[1], out);
}

/** Thread per (frame, triangle): G[s] = float32 sum of its pixels' terms in ascending pixel order (the CPU's). */
__global__ void rasterGradSegmentKernel(const float* __restrict__ terms, const int64_t* __restrict__ start,
                                        int64_t numSegments, float* __restrict__ G) {
  const int64_t s = globalIndex();
  if (s >= numSegments) return;
  float sum[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t i = start[s]; i < start[s + 1]; ++i)
    for (int j = 0; j < 9; ++j) sum[j] += terms[9 * i + j];
  for (int j = 0; j < 9; ++j) G[s * 9 + j] = sum[j];
}

__global__ void rasterGradGatherKernel(const float* __restrict__ G, const int32_t* __restrict__ cStart,
                                       const int32_t* __restrict__ corner, int B, int V, int T,
                                       float* __restrict__ gradPos) {
  const int64_t i = globalIndex();
  if (i >= static_cast<int64_t>(B) * V) return;
  const int64_t b = i / V, v = i % V;
  const float* Gb = G + b * static_cast<int64_t>(T) * 9;
  float gx = 0.0f, gy = 0.0f, gw = 0.0f;
  for (int32_t j = cStart[v]; j < cStart[v + 1]; ++j) {
    const float* g = Gb + 3 * static_cast<int64_t>(corner[j]);
    gx += g[0];
    gy += g[1];
    gw += g[2];
  }
  float* out = gradPos + 4 * i;
  out[0] = gx;
  out[1] = gy;
  out[2] = 0.0f;
  out[3] = gw;
}

__global__ void interpolateKernel(const float* __restrict__ attr, const float* __restrict__ rast,
                                  const int32_t* __restrict__ attrTri, int64_t N, int64_t HW, int attrBatch, int Va,
                                  int C, float* __restrict__ out) {
  const int64_t p = globalIndex();
  if (p >= N) return;
  float* o = out + p * C;
  const float* r = rast + 4 * p;
  const int id = static_cast<int>(r[3]);
  if (id == 0) {
    for (int c = 0; c < C; ++c) o[c] = 0.0f;
    return;
  }
  const int64_t ab = attrBatch == 1 ? 0 : p / HW;
  const int32_t* it = attrTri + 3 * static_cast<int64_t>(id - 1);
  const float* a0 = attr + (ab * Va + it[0]) * C;
  const float* a1 = attr + (ab * Va + it[1]) * C;
  const float* a2 = attr + (ab * Va + it[2]) * C;
  const float u = r[0], v = r[1], w = 1.0f - u - v;
  for (int c = 0; c < C; ++c) o[c] = u * a0[c] + v * a1[c] + w * a2[c];
}

__global__ void interpolateGradRastKernel(const float* __restrict__ attr, const float* __restrict__ rast,
                                          const int32_t* __restrict__ attrTri, const float* __restrict__ gradOut,
                                          int64_t N, int64_t HW, int attrBatch, int Va, int C,
                                          float* __restrict__ gradRast) {
  const int64_t p = globalIndex();
  if (p >= N) return;
  const float* r = rast + 4 * p;
  const int id = static_cast<int>(r[3]);
  float du = 0.0f, dv = 0.0f;
  if (id != 0) {
    const int64_t ab = attrBatch == 1 ? 0 : p / HW;
    const int32_t* it = attrTri + 3 * static_cast<int64_t>(id - 1);
    const float* a0 = attr + (ab * Va + it[0]) * C;
    const float* a1 = attr + (ab * Va + it[1]) * C;
    const float* a2 = attr + (ab * Va + it[2]) * C;
    rastGradSums(gradOut + p * C, a0, a1, a2, C, du, dv);
  }
  gradRast[2 * p] = du;
  gradRast[2 * p + 1] = dv;
}

/**
 * G[s, k, c] = sum over the pixels of segment s (ascending) of (u, v, 1-u-v)[k] * gradOut[p, c]. Accumulates a
 * chunk of channels in registers per pass over the segment (the same additions in the same order per (k, c)).
 */
__global__ void interpolateGradSegmentKernel(const float* __restrict__ rast, const float* __restrict__ gradOut,
                                             const unsigned long long* __restrict__ sorted,
                                             const int64_t* __restrict__ start, int64_t numSegments, int C,
                                             float* __restrict__ G) {
  const int64_t s = globalIndex();
  if (s >= numSegments) return;
  const int64_t i0 = start[s], i1 = start[s + 1];
  for (int c0 = 0; c0 < C; c0 += kChannelChunk) {
    const int nc = min(kChannelChunk, C - c0);
    float su[kChannelChunk], sv[kChannelChunk], sw[kChannelChunk];
    for (int j = 0; j < kChannelChunk; ++j) su[j] = sv[j] = sw[j] = 0.0f;
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t p = elementOf(sorted[i]);
      const float* g = gradOut + p * C;
      if (allZero(g, C)) continue;
      const float u = rast[4 * p], v = rast[4 * p + 1], w = 1.0f - u - v;
      for (int j = 0; j < nc; ++j) {
        su[j] += u * g[c0 + j];
        sv[j] += v * g[c0 + j];
        sw[j] += w * g[c0 + j];
      }
    }
    float* out = G + s * 3 * C;
    for (int j = 0; j < nc; ++j) {
      out[c0 + j] = su[j];
      out[C + c0 + j] = sv[j];
      out[2 * C + c0 + j] = sw[j];
    }
  }
}

__global__ void interpolateGradGatherKernel(const float* __restrict__ G, const int32_t* __restrict__ cStart,
                                            const int32_t* __restrict__ corner, int B, int attrBatch, int Va, int T,
                                            int C, float* __restrict__ gradAttr) {
  const int64_t i = globalIndex();
  if (i >= static_cast<int64_t>(attrBatch) * Va) return;
  const int64_t ab = i / Va, v = i % Va;
  const int64_t bBegin = attrBatch == 1 ? 0 : ab, bEnd = attrBatch == 1 ? B : ab + 1;
  float* out = gradAttr + i * C;
  for (int c = 0; c < C; ++c) out[c] = 0.0f;
  for (int64_t b = bBegin; b < bEnd; ++b) {
    const float* Gb = G + b * static_cast<int64_t>(T) * 3 * C;
    for (int32_t j = cStart[v]; j < cStart[v + 1]; ++j) {
      const float* g = Gb + static_cast<int64_t>(corner[j]) * C;
      for (int c = 0; c < C; ++c) out[c] += g[c];
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Texture (float64 per-pixel math, as texture_cpu.cc)

struct Footprint {
  int64_t ia, ib, ja, jb;
  double fs, ft;
  bool valid;
};

__device__ double wrapIndex(double i, int n, bool wrap) {
  if (wrap) {
    double r = fmod(i, static_cast<double>(n));
    if (r < 0) r += n;
    return r + 0.0;
  }
  // std::min(n - 1, std::max(0.0, i)) with std::max(a, b) = a < b ? b : a and std::min(a, b) = b < a ? b : a.
  const double lo = 0.0 < i ? i : 0.0;
  const double hi = static_cast<double>(n - 1);
  return lo < hi ? lo : hi;
}

__device__ Footprint footprint(int texWidth, int texHeight, bool wrap, float u, float v) {
  Footprint f{};
  if (!finiteF(u) || !finiteF(v)) {
    f.valid = false;
    return f;
  }
  const double s = static_cast<double>(u) * texWidth - 0.5;
  const double t = static_cast<double>(v) * texHeight - 0.5;
  const double i0 = floor(s);
  const double j0 = floor(t);
  f.fs = s - i0;
  f.ft = t - j0;
  f.ia = static_cast<int64_t>(wrapIndex(i0, texWidth, wrap));
  f.ib = static_cast<int64_t>(wrapIndex(i0 + 1, texWidth, wrap));
  f.ja = static_cast<int64_t>(wrapIndex(j0, texHeight, wrap));
  f.jb = static_cast<int64_t>(wrapIndex(j0 + 1, texHeight, wrap));
  f.valid = true;
  return f;
}

__global__ void textureKernel(const float* __restrict__ tex, const float* __restrict__ uv, int64_t N, int Ht, int Wt,
                              int C, bool wrap, float* __restrict__ out) {
  const int64_t p = globalIndex();
  if (p >= N) return;
  float* o = out + p * C;
  const Footprint f = footprint(Wt, Ht, wrap, uv[2 * p], uv[2 * p + 1]);
  if (!f.valid) {
    for (int c = 0; c < C; ++c) o[c] = 0.0f;
    return;
  }
  const int64_t W = Wt;
  const float* t00 = tex + (f.ja * W + f.ia) * C;
  const float* t10 = tex + (f.ja * W + f.ib) * C;
  const float* t01 = tex + (f.jb * W + f.ia) * C;
  const float* t11 = tex + (f.jb * W + f.ib) * C;
  const double w00 = (1 - f.fs) * (1 - f.ft), w10 = f.fs * (1 - f.ft), w01 = (1 - f.fs) * f.ft, w11 = f.fs * f.ft;
  for (int c = 0; c < C; ++c) o[c] = static_cast<float>(w00 * t00[c] + w10 * t10[c] + w01 * t01[c] + w11 * t11[c]);
}

__global__ void textureGradUvKernel(const float* __restrict__ tex, const float* __restrict__ uv,
                                    const float* __restrict__ gradOut, int64_t N, int Ht, int Wt, int C, bool wrap,
                                    float* __restrict__ gradUv) {
  const int64_t p = globalIndex();
  if (p >= N) return;
  const Footprint f = footprint(Wt, Ht, wrap, uv[2 * p], uv[2 * p + 1]);
  double gu = 0, gv = 0;
  if (f.valid) {
    const int64_t W = Wt;
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
    gu *= static_cast<double>(Wt);
    gv *= static_cast<double>(Ht);
  }
  gradUv[2 * p] = static_cast<float>(gu);
  gradUv[2 * p + 1] = static_cast<float>(gv);
}

/** Element 4p + k (k = corner 00, 10, 01, 11) keyed by its texel; invalid uv -> numSegments. */
__global__ void texelKeysKernel(const float* __restrict__ uv, int64_t N, int Ht, int Wt, bool wrap, int64_t numSegments,
                                unsigned long long* __restrict__ keys) {
  const int64_t p = globalIndex();
  if (p >= N) return;
  const Footprint f = footprint(Wt, Ht, wrap, uv[2 * p], uv[2 * p + 1]);
  const int64_t W = Wt;
  const int64_t texel[4] = {f.ja * W + f.ia, f.ja * W + f.ib, f.jb * W + f.ia, f.jb * W + f.ib};
  for (int k = 0; k < 4; ++k) keys[4 * p + k] = segKey(f.valid ? texel[k] : numSegments, 4 * p + k);
}

/**
 * Term of sorted element i (thread per element): float(w * gradOut) per channel, the CPU's product and cast, stored
 * at terms[i * C + c] in sorted order. Computing the terms here, in parallel, leaves the per-texel sum below a
 * plain pass over contiguous memory: a texel shared by thousands of pixels (a small texture) is no longer summed
 * by one thread that also gathers uv and gradOut and recomputes every footprint on its way (427 ms for
 * 16 x 256^2 pixels into a 17 x 13 texture on an H200, before this split).
 */
__global__ void textureTermsKernel(const float* __restrict__ uv, const float* __restrict__ gradOut,
                                   const unsigned long long* __restrict__ sorted, const int64_t* __restrict__ start,
                                   int64_t texels, int Ht, int Wt, int C, bool wrap, float* __restrict__ terms) {
  const int64_t i = globalIndex();
  if (i >= start[texels]) return;  // elements of invalid uvs sort last, after every texel's segment
  const int64_t e = elementOf(sorted[i]);
  const int64_t p = e >> 2;
  const int k = static_cast<int>(e & 3);
  const Footprint f = footprint(Wt, Ht, wrap, uv[2 * p], uv[2 * p + 1]);
  const double w00 = (1 - f.fs) * (1 - f.ft), w10 = f.fs * (1 - f.ft), w01 = (1 - f.fs) * f.ft, w11 = f.fs * f.ft;
  const double w = k == 0 ? w00 : (k == 1 ? w10 : (k == 2 ? w01 : w11));
  const float* g = gradOut + p * C;
  float* out = terms + i * C;
  for (int c = 0; c < C; ++c) out[c] = static_cast<float>(w * g[c]);
}

/** Thread per texel: float32 sum of its terms in ascending (pixel, corner) order, the CPU's order. */
__global__ void textureGradTexKernel(const float* __restrict__ terms, const int64_t* __restrict__ start, int64_t texels,
                                     int C, float* __restrict__ gradTex) {
  const int64_t texel = globalIndex();
  if (texel >= texels) return;
  const int64_t i0 = start[texel], i1 = start[texel + 1];
  for (int c0 = 0; c0 < C; c0 += kChannelChunk) {
    const int nc = min(kChannelChunk, C - c0);
    float acc[kChannelChunk];
    for (int j = 0; j < kChannelChunk; ++j) acc[j] = 0.0f;
    for (int64_t i = i0; i < i1; ++i) {
      const float* t = terms + i * C + c0;
      for (int j = 0; j < nc; ++j) acc[j] += t[j];
    }
    for (int j = 0; j < nc; ++j) gradTex[texel * C + c0 + j] = acc[j];
  }
}

// ---------------------------------------------------------------------------------------------------------
// Antialias (float64 edge analysis, as antialias_cpu.cc)


struct AACtx {
  const float* rast;
  const float* pos;
  const int32_t* tri;
  const int32_t* opp;
  int batch, height, width, channels, numVertices;
  __device__ double sx(int64_t b, int i) const {
    const float* p = pos + (b * numVertices + i) * 4;
    return ((static_cast<double>(p[0]) / static_cast<double>(p[3]) + 1) * width) / 2 - 0.5;
  }
  __device__ double sy(int64_t b, int i) const {
    const float* p = pos + (b * numVertices + i) * 4;
    return ((static_cast<double>(p[1]) / static_cast<double>(p[3]) + 1) * height) / 2 - 0.5;
  }
  __device__ bool wOk(int64_t b, int i) const { return pos[(b * numVertices + i) * 4 + 3] > 0; }
};

__device__ PairRecord analysePair(const AACtx& c, int64_t b, int64_t p0, int64_t p1, int px, int py, bool horiz) {
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
    if (horiz ? !(fabs(dy) >= fabs(dx)) : !(fabs(dx) > fabs(dy))) continue;
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
      if (cy < fmin(ay, e) || cy > fmax(ay, e)) continue;
      const double xc = ax + (dx * (cy - ay)) / dy;
      dF = (xc - cx) * step;
    } else {
      const double e = ax + dx;
      if (cx < fmin(ax, e) || cx > fmax(ax, e)) continue;
      const double yc = ay + (dy * (cx - ax)) / dx;
      dF = (yc - cy) * step;
    }
    if (!(dF >= -1.0 / 16 && dF <= 1 + 1.0 / 16)) continue;
    r.interior = dF > 0 && dF < 1;
    // std::min(1.0, std::max(0.0, dF)) with the std semantics (dF is not NaN here).
    const double lo = 0.0 < dF ? dF : 0.0;
    r.dF = lo < 1.0 ? lo : 1.0;
    r.tri = t;
    r.edge = static_cast<int8_t>(k);
    r.front1 = f1;
    return r;
  }
  return r;
}

__global__ void aaPassAKernel(AACtx c, int64_t N, PairRecord* __restrict__ rec) {
  const int64_t p = globalIndex();
  if (p >= N) return;
  const int64_t HW = static_cast<int64_t>(c.height) * c.width;
  const int64_t b = p / HW, local = p % HW;
  const int px = static_cast<int>(local % c.width), py = static_cast<int>(local / c.width);
  PairRecord none{};
  none.tri = -1;
  rec[2 * p] = px + 1 < c.width ? analysePair(c, b, p, p + 1, px, py, true) : none;
  rec[2 * p + 1] = py + 1 < c.height ? analysePair(c, b, p, p + c.width, px, py, false) : none;
}

__device__ __forceinline__ void recordPixels(const PairRecord& r, int64_t idx, int W, int64_t* pf, int64_t* po,
                                             int64_t* target) {
  const int64_t p0 = idx >> 1;
  const int64_t p1 = (idx & 1) ? p0 + W : p0 + 1;
  *pf = r.front1 ? p1 : p0;
  *po = r.front1 ? p0 : p1;
  *target = r.tri < 0 || r.dF == 0.5 ? -1 : (r.dF > 0.5 ? *po : *pf);
}

__device__ __forceinline__ void incident(int64_t p, int px, int py, int W, int64_t out[4]) {
  out[0] = 2 * p;
  out[1] = 2 * p + 1;
  out[2] = px > 0 ? 2 * (p - 1) : -1;
  out[3] = py > 0 ? 2 * (p - W) + 1 : -1;
}

/** out[p] = color[p] + sum over the incident records targeting p, per channel in the CPU's order. */
__global__ void aaForwardKernel(const float* __restrict__ color, const PairRecord* __restrict__ rec, int64_t N, int H,
                                int W, int C, float* __restrict__ out) {
  const int64_t p = globalIndex();
  if (p >= N) return;
  const int64_t local = p % (static_cast<int64_t>(H) * W);
  const int px = static_cast<int>(local % W), py = static_cast<int>(local / W);
  int64_t recs[4];
  incident(p, px, py, W, recs);
  int64_t pfs[4], pos_[4];
  double as[4];
  bool use[4];
  for (int j = 0; j < 4; ++j) {
    use[j] = false;
    if (recs[j] < 0) continue;
    const PairRecord r = rec[recs[j]];
    int64_t target;
    recordPixels(r, recs[j], W, &pfs[j], &pos_[j], &target);
    if (target != p) continue;
    use[j] = true;
    as[j] = r.dF - 0.5;
  }
  for (int ch = 0; ch < C; ++ch) {
    double acc = color[p * C + ch];
    for (int j = 0; j < 4; ++j)
      if (use[j])
        acc += as[j] * (static_cast<double>(color[pfs[j] * C + ch]) - static_cast<double>(color[pos_[j] * C + ch]));
    out[p * C + ch] = static_cast<float>(acc);
  }
}

__global__ void aaGradColorKernel(const PairRecord* __restrict__ rec, const float* __restrict__ gradOut, int64_t N,
                                  int H, int W, int C, float* __restrict__ gradColor) {
  const int64_t p = globalIndex();
  if (p >= N) return;
  const int64_t local = p % (static_cast<int64_t>(H) * W);
  const int px = static_cast<int>(local % W), py = static_cast<int>(local / W);
  int64_t recs[4];
  incident(p, px, py, W, recs);
  int64_t targets[4];
  double as[4];
  for (int j = 0; j < 4; ++j) {
    targets[j] = -1;
    if (recs[j] < 0) continue;
    const PairRecord r = rec[recs[j]];
    int64_t pf, po, target;
    recordPixels(r, recs[j], W, &pf, &po, &target);
    if (target < 0) continue;
    targets[j] = target;
    as[j] = (pf == p ? 1.0 : -1.0) * (r.dF - 0.5);
  }
  for (int ch = 0; ch < C; ++ch) {
    double acc = gradOut[p * C + ch];
    for (int j = 0; j < 4; ++j)
      if (targets[j] >= 0) acc += as[j] * static_cast<double>(gradOut[targets[j] * C + ch]);
    gradColor[p * C + ch] = static_cast<float>(acc);
  }
}

/**
 * The position-gradient contribution of endpoint e of record ri (the CPU's loop body): false when the record
 * contributes nothing; otherwise the vertex and the (x, y, w) values the CPU adds to it.
 */
__device__ bool aaContribution(const AACtx& c, const PairRecord* rec, const float* color, const float* gradOut,
                               int64_t ri, int e, int* vertex, double val[3]) {
  const PairRecord r = rec[ri];
  if (r.tri < 0 || !r.interior) return false;
  int64_t pf, po, target;
  recordPixels(r, ri, c.width, &pf, &po, &target);
  if (target < 0) return false;
  const int C = c.channels;
  double G = 0;
  for (int ch = 0; ch < C; ++ch)
    G += static_cast<double>(gradOut[target * C + ch]) *
         (static_cast<double>(color[pf * C + ch]) - static_cast<double>(color[po * C + ch]));
  if (G == 0) return false;
  const int64_t HW = static_cast<int64_t>(c.height) * c.width;
  const int64_t b = (ri >> 1) / HW;
  const bool horiz = (ri & 1) == 0;
  const int64_t p0 = ri >> 1;
  const int px0 = static_cast<int>(p0 % c.width), py0 = static_cast<int>((p0 / c.width) % c.height);
  const double cx = r.front1 ? (horiz ? px0 + 1 : px0) : px0;
  const double cy = r.front1 ? (horiz ? py0 : py0 + 1) : py0;
  const double step = r.front1 ? -1.0 : 1.0;
  const int k = r.edge;
  const int ia = c.tri[3 * r.tri + k], ib = c.tri[3 * r.tri + (k + 1) % 3];
  const double ax = c.sx(b, ia), ay = c.sy(b, ia), bx = c.sx(b, ib), by = c.sy(b, ib);
  const double dx = bx - ax, dy = by - ay;
  double gax, gay, gbx, gby;
  if (horiz) {
    const double tau = (cy - ay) / dy;
    gax = 1 - tau;
    gbx = tau;
    gay = dx * (tau - 1) / dy;
    gby = -dx * tau / dy;
  } else {
    const double tau = (cx - ax) / dx;
    gay = 1 - tau;
    gby = tau;
    gax = dy * (tau - 1) / dx;
    gbx = -dy * tau / dx;
  }
  const double s = G * step;
  const double gsx = e == 0 ? s * gax : s * gbx;
  const double gsy = e == 0 ? s * gay : s * gby;
  const int v = e == 0 ? ia : ib;
  const float* pv = c.pos + (b * c.numVertices + v) * 4;
  const double x = pv[0], y = pv[1], w = pv[3];
  const double hx = 0.5 * c.width / w, hy = 0.5 * c.height / w;
  val[0] = gsx * hx;
  val[1] = gsy * hy;
  val[2] = -(gsx * hx * x + gsy * hy * y) / w;
  *vertex = v;
  return true;
}

/** Element 2*ri + e keyed by (frame, vertex), or numSegments when it contributes nothing. */
__global__ void aaGradPosKeysKernel(AACtx c, const PairRecord* __restrict__ rec, const float* __restrict__ color,
                                    const float* __restrict__ gradOut, int64_t numRecords, int64_t numSegments,
                                    unsigned long long* __restrict__ keys) {
  const int64_t ri = globalIndex();
  if (ri >= numRecords) return;
  const int64_t HW = static_cast<int64_t>(c.height) * c.width;
  const int64_t b = (ri >> 1) / HW;
  for (int e = 0; e < 2; ++e) {
    int v = 0;
    double val[3];
    const bool active = aaContribution(c, rec, color, gradOut, ri, e, &v, val);
    keys[2 * ri + e] = segKey(active ? b * c.numVertices + v : numSegments, 2 * ri + e);
  }
}

__global__ void aaGradPosGatherKernel(AACtx c, const PairRecord* __restrict__ rec, const float* __restrict__ color,
                                      const float* __restrict__ gradOut, const unsigned long long* __restrict__ sorted,
                                      const int64_t* __restrict__ start, int64_t numSegments,
                                      float* __restrict__ gradPos) {
  const int64_t s = globalIndex();
  if (s >= numSegments) return;
  double acc[3] = {0.0, 0.0, 0.0};
  for (int64_t i = start[s]; i < start[s + 1]; ++i) {
    const int64_t el = elementOf(sorted[i]);
    int v = 0;
    double val[3];
    if (!aaContribution(c, rec, color, gradOut, el >> 1, static_cast<int>(el & 1), &v, val)) continue;  // never
    acc[0] += val[0];
    acc[1] += val[1];
    acc[2] += val[2];
  }
  float* g = gradPos + 4 * s;
  g[0] = static_cast<float>(acc[0]);
  g[1] = static_cast<float>(acc[1]);
  g[2] = 0.0f;
  g[3] = static_cast<float>(acc[2]);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Entry points

void rasterizeForward(const RasterDims& d, const float* pos, const int32_t* tri, float* rast) {
  const int B = d.batch, V = d.numVertices, T = d.numTriangles, H = d.height, W = d.width;
  if (B < 1 || V < 0 || T < 0 || H < 1 || W < 1 || H > (1 << 20) || W > (1 << 20))
    throw std::invalid_argument("rasterize: bad sizes");
  checkTriangles(tri, T, V, "rasterize");
  const int64_t HW = static_cast<int64_t>(H) * W, N = B * HW, BV = static_cast<int64_t>(B) * V,
                BT = static_cast<int64_t>(B) * T;
  if (2 * BT >= (int64_t{1} << 31)) throw std::invalid_argument("rasterize: too many triangles for the CUDA backend");
  Session s;
  Workspace& ws = s.ws();
  const cudaStream_t st = s.stream();
  const float* dPos = s.upload(ws.pos, pos, static_cast<size_t>(BV) * 4);
  const int32_t* dTri = s.upload(ws.tri, tri, static_cast<size_t>(T) * 3);
  int32_t* fixedX = ws.fixedX.ensure(BV);
  int32_t* fixedY = ws.fixedY.ensure(BV);
  uint8_t* flags = ws.flags.ensure(BV);
  SubTri* subs = ws.subs.ensure(2 * BT);
  uint8_t* numSubs = ws.numSubs.ensure(BT);
  unsigned long long* keys = ws.keys.ensure(N);
  int32_t* queue = ws.queue.ensure(2 * BT);
  int32_t* queueCount = ws.queueCount.ensure(1);
  float* dRast = ws.rast.ensure(N * 4);

  P3D_CUDA_CHECK(cudaMemsetAsync(keys, 0xFF, sizeof(unsigned long long) * N, st));
  P3D_CUDA_CHECK(cudaMemsetAsync(queueCount, 0, sizeof(int32_t), st));
  if (BV > 0) {
    RCUDA_LAUNCH(vertexKernel, blocksFor(BV), kThreads, st)(dPos, BV, W, H, fixedX, fixedY, flags);
    P3D_CUDA_LAUNCHED(vertexKernel);
  }
  if (BT > 0) {
    RCUDA_LAUNCH(setupKernel, blocksFor(BT), kThreads, st)(dPos, dTri, fixedX, fixedY, flags, B, V, T, W, H, subs,
        numSubs);
    P3D_CUDA_LAUNCHED(setupKernel);
    RCUDA_LAUNCH(rasterSmallKernel, blocksFor(2 * BT), kThreads, st)(dPos, dTri, subs, numSubs, B, V, T, W, H, keys,
        queue, queueCount, ws.nanOrdered);
    P3D_CUDA_LAUNCHED(rasterSmallKernel);
    const unsigned largeBlocks = static_cast<unsigned>(std::min<int64_t>(2 * BT, kLargeBlocks));
    RCUDA_LAUNCH(rasterLargeKernel, largeBlocks, kThreads, st)(dPos, dTri, subs, V, T, W, H, keys, queue, queueCount,
        ws.nanOrdered);
    P3D_CUDA_LAUNCHED(rasterLargeKernel);
  }
  RCUDA_LAUNCH(resolveKernel, blocksFor(N), kThreads, st)(dPos, dTri, keys, N, HW, V, W, H, dRast);
  P3D_CUDA_LAUNCHED(resolveKernel);
  s.download(rast, dRast, static_cast<size_t>(N) * 4);
  s.sync();
}

void rasterizeBackward(const RasterDims& d, const float* pos, const int32_t* tri, const float* rast,
                       const float* gradRast, float* gradPos) {
  const int B = d.batch, V = d.numVertices, T = d.numTriangles, H = d.height, W = d.width;
  if (B < 1 || V < 0 || T < 0 || H < 1 || W < 1) throw std::invalid_argument("rasterizeBackward: bad sizes");
  checkTriangles(tri, T, V, "rasterizeBackward");
  const int64_t HW = static_cast<int64_t>(H) * W, N = B * HW, BV = static_cast<int64_t>(B) * V,
                BT = static_cast<int64_t>(B) * T;
  checkIds(rast, N, T, "rasterizeBackward");
  checkSegmentLimits(N, BT, "rasterizeBackward");
  Session s;
  Workspace& ws = s.ws();
  const cudaStream_t st = s.stream();
  const float* dPos = s.upload(ws.pos, pos, static_cast<size_t>(BV) * 4);
  const int32_t* dTri = s.upload(ws.tri, tri, static_cast<size_t>(T) * 3);
  const float* dRast = s.upload(ws.rast, rast, static_cast<size_t>(N) * 4);
  const float* dGradRast = s.upload(ws.gradRast, gradRast, static_cast<size_t>(N) * 2);
  buildCorners(ws, tri, T, V);
  const int32_t* cStart = s.upload(ws.cornerStart, ws.hostCornerStart.data(), ws.hostCornerStart.size());
  const int32_t* corner = s.upload(ws.corner, ws.hostCorner.data(), ws.hostCorner.size());
  float* G = ws.G.ensure(static_cast<size_t>(BT) * 9);
  float* dGradPos = ws.gradPos.ensure(static_cast<size_t>(BV) * 4);

  RCUDA_LAUNCH(pixelKeysKernel, blocksFor(N), kThreads, st)(dRast, N, HW, T, BT, ws.sortIn.ensure(N));
  P3D_CUDA_LAUNCHED(pixelKeysKernel);
  const Groups g = groupBySegment(s, N, BT);
  if (BT > 0) {
    float* terms = ws.terms.ensure(static_cast<size_t>(N) * 9);
    if (N > 0) {
      RCUDA_LAUNCH(rasterGradTermsKernel, blocksFor(N), kThreads, st)(dPos, dTri, dGradRast, g.sorted, g.start, BT, HW,
          V, T, W, H, terms);
      P3D_CUDA_LAUNCHED(rasterGradTermsKernel);
    }
    RCUDA_LAUNCH(rasterGradSegmentKernel, blocksFor(BT), kThreads, st)(terms, g.start, BT, G);
    P3D_CUDA_LAUNCHED(rasterGradSegmentKernel);
  }
  if (BV > 0) {
    RCUDA_LAUNCH(rasterGradGatherKernel, blocksFor(BV), kThreads, st)(G, cStart, corner, B, V, T, dGradPos);
    P3D_CUDA_LAUNCHED(rasterGradGatherKernel);
  }
  s.download(gradPos, dGradPos, static_cast<size_t>(BV) * 4);
  s.sync();
}

void interpolateForward(const InterpDims& d, const float* attr, const float* rast, const int32_t* attrTri, float* out) {
  checkInterp(d, rast, attrTri, "interpolate");
  const int64_t HW = static_cast<int64_t>(d.height) * d.width, N = d.batch * HW;
  const int C = d.channels;
  Session s;
  Workspace& ws = s.ws();
  const cudaStream_t st = s.stream();
  const float* dAttr = s.upload(ws.attr, attr, static_cast<size_t>(d.attrBatch) * d.attrVertices * C);
  const float* dRast = s.upload(ws.rast, rast, static_cast<size_t>(N) * 4);
  const int32_t* dTri = s.upload(ws.attrTri, attrTri, static_cast<size_t>(d.numTriangles) * 3);
  float* dOut = ws.out.ensure(static_cast<size_t>(N) * C);
  RCUDA_LAUNCH(interpolateKernel, blocksFor(N), kThreads, st)(dAttr, dRast, dTri, N, HW, d.attrBatch, d.attrVertices, C,
      dOut);
  P3D_CUDA_LAUNCHED(interpolateKernel);
  s.download(out, dOut, static_cast<size_t>(N) * C);
  s.sync();
}

void interpolateBackward(const InterpDims& d, const float* attr, const float* rast, const int32_t* attrTri,
                         const float* gradOut, float* gradAttr, float* gradRast) {
  checkInterp(d, rast, attrTri, "interpolateBackward");
  const int B = d.batch, T = d.numTriangles, Va = d.attrVertices, C = d.channels;
  const int64_t HW = static_cast<int64_t>(d.height) * d.width, N = B * HW, BT = static_cast<int64_t>(B) * T;
  const size_t attrLen = static_cast<size_t>(d.attrBatch) * Va * C;
  if (gradAttr) checkSegmentLimits(N, BT, "interpolateBackward");
  Session s;
  Workspace& ws = s.ws();
  const cudaStream_t st = s.stream();
  const float* dAttr = s.upload(ws.attr, attr, attrLen);
  const float* dRast = s.upload(ws.rast, rast, static_cast<size_t>(N) * 4);
  const int32_t* dTri = s.upload(ws.attrTri, attrTri, static_cast<size_t>(T) * 3);
  const float* dGradOut = s.upload(ws.gradOut, gradOut, static_cast<size_t>(N) * C);
  if (gradRast) {
    float* dGradRast = ws.gradRast.ensure(static_cast<size_t>(N) * 2);
    RCUDA_LAUNCH(interpolateGradRastKernel, blocksFor(N), kThreads, st)(dAttr, dRast, dTri, dGradOut, N, HW,
        d.attrBatch, Va, C, dGradRast);
    P3D_CUDA_LAUNCHED(interpolateGradRastKernel);
    s.download(gradRast, dGradRast, static_cast<size_t>(N) * 2);
  }
  if (gradAttr) {
    buildCorners(ws, attrTri, T, Va);
    const int32_t* cStart = s.upload(ws.cornerStart, ws.hostCornerStart.data(), ws.hostCornerStart.size());
    const int32_t* corner = s.upload(ws.corner, ws.hostCorner.data(), ws.hostCorner.size());
    float* G = ws.G.ensure(static_cast<size_t>(BT) * 3 * C);
    float* dGradAttr = ws.gradAttr.ensure(attrLen);
    RCUDA_LAUNCH(pixelKeysKernel, blocksFor(N), kThreads, st)(dRast, N, HW, T, BT, ws.sortIn.ensure(N));
    P3D_CUDA_LAUNCHED(pixelKeysKernel);
    const Groups g = groupBySegment(s, N, BT);
    if (BT > 0) {
      RCUDA_LAUNCH(interpolateGradSegmentKernel, blocksFor(BT), kThreads, st)(dRast, dGradOut, g.sorted, g.start, BT, C,
          G);
      P3D_CUDA_LAUNCHED(interpolateGradSegmentKernel);
    }
    const int64_t nv = static_cast<int64_t>(d.attrBatch) * Va;
    if (nv > 0) {
      RCUDA_LAUNCH(interpolateGradGatherKernel, blocksFor(nv), kThreads, st)(G, cStart, corner, B, d.attrBatch, Va, T,
          C, dGradAttr);
      P3D_CUDA_LAUNCHED(interpolateGradGatherKernel);
    }
    s.download(gradAttr, dGradAttr, attrLen);
  }
  s.sync();
}

void textureForward(const TextureDims& d, const float* tex, const float* uv, float* out) {
  if (d.count < 0 || d.texHeight < 1 || d.texWidth < 1 || d.channels < 1)
    throw std::invalid_argument("texture: bad sizes");
  const int C = d.channels;
  const size_t texLen = static_cast<size_t>(d.texHeight) * d.texWidth * C;
  Session s;
  Workspace& ws = s.ws();
  const float* dTex = s.upload(ws.tex, tex, texLen);
  const float* dUv = s.upload(ws.uv, uv, static_cast<size_t>(d.count) * 2);
  float* dOut = ws.out.ensure(static_cast<size_t>(d.count) * C);
  if (d.count > 0) {
    RCUDA_LAUNCH(textureKernel, blocksFor(d.count), kThreads, s.stream())(dTex, dUv, d.count, d.texHeight, d.texWidth,
        C, d.wrap, dOut);
    P3D_CUDA_LAUNCHED(textureKernel);
  }
  s.download(out, dOut, static_cast<size_t>(d.count) * C);
  s.sync();
}

void textureBackward(const TextureDims& d, const float* tex, const float* uv, const float* gradOut, float* gradUv,
                     float* gradTex) {
  if (d.count < 0 || d.texHeight < 1 || d.texWidth < 1 || d.channels < 1)
    throw std::invalid_argument("texture: bad sizes");
  const int C = d.channels;
  const int64_t texels = static_cast<int64_t>(d.texHeight) * d.texWidth;
  const size_t texLen = static_cast<size_t>(texels) * C;
  if (gradTex) checkSegmentLimits(4 * d.count, texels, "textureBackward");
  Session s;
  Workspace& ws = s.ws();
  const cudaStream_t st = s.stream();
  const float* dTex = s.upload(ws.tex, tex, texLen);
  const float* dUv = s.upload(ws.uv, uv, static_cast<size_t>(d.count) * 2);
  const float* dGradOut = s.upload(ws.gradOut, gradOut, static_cast<size_t>(d.count) * C);
  if (gradUv) {
    float* dGradUv = ws.gradUv.ensure(static_cast<size_t>(d.count) * 2);
    if (d.count > 0) {
      RCUDA_LAUNCH(textureGradUvKernel, blocksFor(d.count), kThreads, st)(dTex, dUv, dGradOut, d.count, d.texHeight,
          d.texWidth, C, d.wrap, dGradUv);
      P3D_CUDA_LAUNCHED(textureGradUvKernel);
    }
    s.download(gradUv, dGradUv, static_cast<size_t>(d.count) * 2);
  }
  if (gradTex) {
    float* dGradTex = ws.gradTex.ensure(texLen);
    const int64_t n = 4 * d.count;
    if (d.count > 0) {
      RCUDA_LAUNCH(texelKeysKernel, blocksFor(d.count), kThreads, st)(dUv, d.count, d.texHeight, d.texWidth, d.wrap,
          texels, ws.sortIn.ensure(n));
      P3D_CUDA_LAUNCHED(texelKeysKernel);
    }
    const Groups g = groupBySegment(s, n, texels);
    float* terms = ws.terms.ensure(static_cast<size_t>(n) * C);
    if (n > 0) {
      RCUDA_LAUNCH(textureTermsKernel, blocksFor(n), kThreads, st)(dUv, dGradOut, g.sorted, g.start, texels,
          d.texHeight, d.texWidth, C, d.wrap, terms);
      P3D_CUDA_LAUNCHED(textureTermsKernel);
    }
    RCUDA_LAUNCH(textureGradTexKernel, blocksFor(texels), kThreads, st)(terms, g.start, texels, C, dGradTex);
    P3D_CUDA_LAUNCHED(textureGradTexKernel);
    s.download(gradTex, dGradTex, texLen);
  }
  s.sync();
}

namespace {

/** Uploads the antialias inputs and runs pass A; returns the context and the device records. */
AACtx antialiasPassA(Session& s, const AntialiasDims& d, const float* color, const float* rast, const float* pos,
                     const int32_t* tri, const int32_t* opp, const float** dColor, PairRecord** rec) {
  Workspace& ws = s.ws();
  const int64_t N = static_cast<int64_t>(d.batch) * d.height * d.width;
  AACtx c;
  c.rast = s.upload(ws.rast, rast, static_cast<size_t>(N) * 4);
  c.pos = s.upload(ws.pos, pos, static_cast<size_t>(d.batch) * d.numVertices * 4);
  c.tri = s.upload(ws.tri, tri, static_cast<size_t>(d.numTriangles) * 3);
  c.opp = s.upload(ws.opp, opp, static_cast<size_t>(d.numTriangles) * 3);
  c.batch = d.batch;
  c.height = d.height;
  c.width = d.width;
  c.channels = d.channels;
  c.numVertices = d.numVertices;
  *dColor = s.upload(ws.color, color, static_cast<size_t>(N) * d.channels);
  *rec = ws.records.ensure(2 * N);
  RCUDA_LAUNCH(aaPassAKernel, blocksFor(N), kThreads, s.stream())(c, N, *rec);
  P3D_CUDA_LAUNCHED(aaPassAKernel);
  return c;
}

}  // namespace

void antialiasForward(const AntialiasDims& d, const float* color, const float* rast, const float* pos,
                      const int32_t* tri, const int32_t* opp, float* out) {
  checkAntialias(d, rast, tri, opp);
  const int64_t N = static_cast<int64_t>(d.batch) * d.height * d.width;
  Session s;
  Workspace& ws = s.ws();
  const float* dColor;
  PairRecord* rec;
  antialiasPassA(s, d, color, rast, pos, tri, opp, &dColor, &rec);
  float* dOut = ws.out.ensure(static_cast<size_t>(N) * d.channels);
  RCUDA_LAUNCH(aaForwardKernel, blocksFor(N), kThreads, s.stream())(dColor, rec, N, d.height, d.width, d.channels,
      dOut);
  P3D_CUDA_LAUNCHED(aaForwardKernel);
  s.download(out, dOut, static_cast<size_t>(N) * d.channels);
  s.sync();
}

void antialiasBackward(const AntialiasDims& d, const float* color, const float* rast, const float* pos,
                       const int32_t* tri, const int32_t* opp, const float* gradOut, float* gradColor,
                       float* gradPos) {
  checkAntialias(d, rast, tri, opp);
  const int64_t N = static_cast<int64_t>(d.batch) * d.height * d.width;
  const int64_t BV = static_cast<int64_t>(d.batch) * d.numVertices;
  if (gradPos) checkSegmentLimits(4 * N, BV, "antialiasBackward");
  Session s;
  Workspace& ws = s.ws();
  const cudaStream_t st = s.stream();
  const float* dColor;
  PairRecord* rec;
  const AACtx c = antialiasPassA(s, d, color, rast, pos, tri, opp, &dColor, &rec);
  const float* dGradOut = s.upload(ws.gradOut, gradOut, static_cast<size_t>(N) * d.channels);
  if (gradColor) {
    float* dGradColor = ws.gradColor.ensure(static_cast<size_t>(N) * d.channels);
    RCUDA_LAUNCH(aaGradColorKernel, blocksFor(N), kThreads, st)(rec, dGradOut, N, d.height, d.width, d.channels,
        dGradColor);
    P3D_CUDA_LAUNCHED(aaGradColorKernel);
    s.download(gradColor, dGradColor, static_cast<size_t>(N) * d.channels);
  }
  if (gradPos) {
    float* dGradPos = ws.gradPos.ensure(static_cast<size_t>(BV) * 4);
    const int64_t numRecords = 2 * N;
    RCUDA_LAUNCH(aaGradPosKeysKernel, blocksFor(numRecords), kThreads, st)(c, rec, dColor, dGradOut, numRecords, BV,
        ws.sortIn.ensure(2 * numRecords));
    P3D_CUDA_LAUNCHED(aaGradPosKeysKernel);
    const Groups g = groupBySegment(s, 2 * numRecords, BV);
    if (BV > 0) {
      RCUDA_LAUNCH(aaGradPosGatherKernel, blocksFor(BV), kThreads, st)(c, rec, dColor, dGradOut, g.sorted, g.start, BV,
          dGradPos);
      P3D_CUDA_LAUNCHED(aaGradPosGatherKernel);
    }
    s.download(gradPos, dGradPos, static_cast<size_t>(BV) * 4);
  }
  s.sync();
}

}  // namespace cuda
}  // namespace raster
}  // namespace p3d

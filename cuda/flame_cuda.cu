// CUDA backend of the FLAME kernel: per-vertex blendshapes, pose correctives, skinning and their VJP on the
// GPU. It computes what flame_cpu.cc computes (see flame.h for layouts); the joint-level math stays on the host.
//
// Design (kernels-design.md 3.3 / 3.6):
// - The padded bases are uploaded once, when the backend is created. The shaped template
//   v_template + S beta lives on the device and is recomputed only when beta (bits and length) changes.
// - Forward: one thread per output coordinate (coalesced along the stride axis) loops over the basis
//   components in index order, for a tile of up to kFrameTile frames held in registers, so every basis row is
//   read once per tile. Then one thread per (vertex, frame) blends the five 3x4 transforms and skins.
//   The per-element operation order is the CPU backend's (k ascending, zero coefficients skipped); bits
//   match the CPU only where neither side fuses multiply-adds (nvcc runs with --fmad=false, flame_cpu.cc may
//   use FMA), so only a tolerance is promised across backends.
// - VJP: one thread per (vertex, frame) computes u = T^T g and the 60 per-joint moments; the basis dot
//   products (P^T u, E^T u, S^T sum_b u_b, L^T g) run one block per (basis row, chunk of kDotChunk
//   coordinates). Every block reduces with a fixed tree (warp shuffles, then the warps in index order) into
//   its own slot of a partial-sum buffer; a second kernel sums the slots in slot order. No atomics anywhere:
//   results are bitwise reproducible from run to run. The VJP sums accumulate in float64.
// - One stream per backend; every entry point is synchronous (outputs are on the host when it returns).
//   Device buffers grow and are reused (tape buffers per tape, scratch per backend): no cudaMalloc in the
//   steady state.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_support.h"
#include "flame/flame.h"

namespace p3d {
namespace {

using cuda_support::DeviceBuffer;

class Stream {
 public:
  Stream() { P3D_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() {
    if (stream_) cudaStreamDestroy(stream_);
  }
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

/** What a tape keeps on the device between forward and vjp. */
struct CudaTapeState {
  int batch = 0;
  bool noNeck = false;
  DeviceBuffer<float> posed, posedNoNeck;            // p, [B, stride]
  DeviceBuffer<float> transforms, transformsNoNeck;  // [B, 5, 12]
};

// ---------------------------------------------------------------------------------------------------------
// Kernels

constexpr int kThreads = 256;  // the block size of every kernel; the block reductions rely on it
constexpr int kWarps = kThreads / 32;
constexpr int kFrameTile = 8;   // frames per thread in the blendshape kernel
constexpr int kDotPerThread = 4;
constexpr int kDotChunk = kThreads * kDotPerThread;  // coordinates per block in the basis dot products
constexpr int kTransformSize = kFlameJoints * kTransformFloats;  // 60 floats: one frame's transforms
static_assert(kTransformSize <= kThreads, "one thread per transform entry when staging them");

/** Sum over the warp with a fixed shuffle tree; the result is in lane 0. All 32 lanes must call it. */
__device__ __forceinline__ double warpSum(double v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

/** T = sum_j w_j A_j (3x4), in the CPU backend's order (j ascending, zero weights skipped). */
__device__ __forceinline__ void blendTransform(const float w[kFlameJoints], const float* A, float T[12]) {
#pragma unroll
  for (int k = 0; k < 12; ++k) T[k] = w[0] * A[k];
#pragma unroll
  for (int j = 1; j < kFlameJoints; ++j) {
    const float wj = w[j];
    if (wj == 0.0f) continue;
#pragma unroll
    for (int k = 0; k < 12; ++k) T[k] += wj * A[12 * j + k];
  }
}

/** shaped[c] = vTemplate[c] + sum_k beta_k S[k, c]; grid.x covers the stride. */
__global__ void __launch_bounds__(kThreads)
    shapeKernel(const float* __restrict__ vTemplate, const float* __restrict__ shapeBasis, int numShape,
                const float* __restrict__ beta, int stride, float* __restrict__ shaped) {
  const int c = blockIdx.x * kThreads + threadIdx.x;
  if (c >= stride) return;
  float s = vTemplate[c];
  for (int k = 0; k < numShape; ++k) {
    const float bk = beta[k];
    if (bk != 0.0f) s += bk * shapeBasis[static_cast<size_t>(k) * stride + c];
  }
  shaped[c] = s;
}

/**
 * p_b[c] = shaped[c] + sum_k psi_bk E[k, c] + sum_m f_bm P[m, c] (and the no-neck p with its own features).
 * grid = (ceil(stride / kThreads), ceil(B / kFrameTile)); a thread owns coordinate c of up to kFrameTile frames.
 */
__global__ void __launch_bounds__(kThreads)
    blendKernel(const float* __restrict__ shaped, const float* __restrict__ exprBasis, int numExpression,
                const float* __restrict__ poseBasis, int stride, const float* __restrict__ psi,
                const float* __restrict__ features, const float* __restrict__ featuresNoNeck, int batch,
                float* __restrict__ posed, float* __restrict__ posedNoNeck) {
  const int c = blockIdx.x * kThreads + threadIdx.x;
  if (c >= stride) return;
  const int b0 = blockIdx.y * kFrameTile;
  const int nf = min(kFrameTile, batch - b0);
  float acc[kFrameTile], accNoNeck[kFrameTile];
  const float s = shaped[c];
#pragma unroll
  for (int f = 0; f < kFrameTile; ++f) acc[f] = s;
  for (int k = 0; k < numExpression; ++k) {
    const float e = exprBasis[static_cast<size_t>(k) * stride + c];
#pragma unroll
    for (int f = 0; f < kFrameTile; ++f) {
      if (f < nf) {
        const float a = psi[static_cast<size_t>(b0 + f) * numExpression + k];
        if (a != 0.0f) acc[f] += a * e;
      }
    }
  }
#pragma unroll
  for (int f = 0; f < kFrameTile; ++f) accNoNeck[f] = acc[f];
  for (int k = 0; k < kPoseFeatures; ++k) {
    const float pk = poseBasis[static_cast<size_t>(k) * stride + c];
#pragma unroll
    for (int f = 0; f < kFrameTile; ++f) {
      if (f < nf) {
        const float a = features[(b0 + f) * kPoseFeatures + k];
        if (a != 0.0f) acc[f] += a * pk;
        if (featuresNoNeck) {
          const float an = featuresNoNeck[(b0 + f) * kPoseFeatures + k];
          if (an != 0.0f) accNoNeck[f] += an * pk;
        }
      }
    }
  }
#pragma unroll
  for (int f = 0; f < kFrameTile; ++f) {
    if (f < nf) {
      posed[static_cast<size_t>(b0 + f) * stride + c] = acc[f];
      if (posedNoNeck) posedNoNeck[static_cast<size_t>(b0 + f) * stride + c] = accNoNeck[f];
    }
  }
}

/**
 * v_i = (sum_j w_ij A_j) [p_i; 1] (+ eyelid blendshapes). grid = (ceil(V / kThreads), B): one thread per
 * (vertex, frame); the frame's transforms are staged in shared memory.
 */
__global__ void __launch_bounds__(kThreads)
    skinKernel(const float* __restrict__ posed, int stride, const float* __restrict__ transforms,
               const float* __restrict__ skinWeights, const float* __restrict__ eyelidBasis,
               const float* __restrict__ eyelids, int numVertices, float* __restrict__ out) {
  __shared__ float A[kTransformSize];
  const int b = blockIdx.y;
  if (threadIdx.x < kTransformSize) A[threadIdx.x] = transforms[static_cast<size_t>(b) * kTransformSize + threadIdx.x];
  __syncthreads();
  const int i = blockIdx.x * kThreads + threadIdx.x;
  if (i >= numVertices) return;
  float w[kFlameJoints];
#pragma unroll
  for (int j = 0; j < kFlameJoints; ++j) w[j] = skinWeights[static_cast<size_t>(i) * kFlameJoints + j];
  float T[12];
  blendTransform(w, A, T);
  const float* p = posed + static_cast<size_t>(b) * stride + 3 * i;
  const float x = p[0], y = p[1], z = p[2];
  float* o = out + static_cast<size_t>(b) * 3 * numVertices + 3 * i;
#pragma unroll
  for (int r = 0; r < 3; ++r) {
    float v = T[4 * r] * x + T[4 * r + 1] * y + T[4 * r + 2] * z + T[4 * r + 3];
    if (eyelids) v += eyelids[2 * b] * eyelidBasis[3 * i + r] + eyelids[2 * b + 1] * eyelidBasis[stride + 3 * i + r];
    o[r] = v;
  }
}

/**
 * u_i = T_i[:, :3]^T g_i into u [B, stride], and the per-block sums of dL/dA_j = sum_i w_ij g_i [p_i; 1]^T:
 * partial[(blockIdx.x * B + b) * 60 + 12 j + 4 r + c]. grid = (ceil(V / kThreads), B).
 */
__global__ void __launch_bounds__(kThreads)
    skinVjpKernel(const float* __restrict__ posed, int stride, const float* __restrict__ transforms,
                  const float* __restrict__ skinWeights, const float* __restrict__ g, int numVertices, int batch,
                  float* __restrict__ u, double* __restrict__ partial) {
  __shared__ float A[kTransformSize];
  __shared__ double warpPartial[kWarps][kTransformSize];
  const int b = blockIdx.y, t = threadIdx.x, lane = t & 31, warp = t >> 5;
  if (t < kTransformSize) A[t] = transforms[static_cast<size_t>(b) * kTransformSize + t];
  __syncthreads();
  const int i = blockIdx.x * kThreads + t;
  // Threads past the last vertex contribute zeros: every lane takes part in the shuffles below.
  float w[kFlameJoints] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  double gv[3] = {0.0, 0.0, 0.0};
  double pv[4] = {0.0, 0.0, 0.0, 0.0};
  if (i < numVertices) {
#pragma unroll
    for (int j = 0; j < kFlameJoints; ++j) w[j] = skinWeights[static_cast<size_t>(i) * kFlameJoints + j];
    float T[12];
    blendTransform(w, A, T);
    const float* gi = g + static_cast<size_t>(b) * 3 * numVertices + 3 * i;
    const float gx = gi[0], gy = gi[1], gz = gi[2];
    float* ui = u + static_cast<size_t>(b) * stride + 3 * i;
#pragma unroll
    for (int c = 0; c < 3; ++c) ui[c] = T[c] * gx + T[4 + c] * gy + T[8 + c] * gz;
    const float* p = posed + static_cast<size_t>(b) * stride + 3 * i;
    gv[0] = gx;
    gv[1] = gy;
    gv[2] = gz;
    pv[0] = p[0];
    pv[1] = p[1];
    pv[2] = p[2];
    pv[3] = 1.0;
  }
#pragma unroll
  for (int j = 0; j < kFlameJoints; ++j) {
    const double wj = w[j];
#pragma unroll
    for (int r = 0; r < 3; ++r) {
      const double wg = wj * gv[r];
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const double sum = warpSum(wg * pv[c]);
        if (lane == 0) warpPartial[warp][12 * j + 4 * r + c] = sum;
      }
    }
  }
  __syncthreads();
  if (t < kTransformSize) {
    double s = 0.0;
#pragma unroll
    for (int wp = 0; wp < kWarps; ++wp) s += warpPartial[wp][t];
    partial[(static_cast<size_t>(blockIdx.x) * batch + b) * kTransformSize + t] = s;
  }
}

/**
 * Per-chunk basis dot products: partial[(chunk * numX + x) * K + k] = sum_{c in chunk, c < n} basis[k, c] X[x, c].
 * grid = (ceil(n / kDotChunk), K): block (chunk, k) reads its kDotChunk basis values once (coalesced) and
 * reduces one dot product per x with a fixed tree.
 */
__global__ void __launch_bounds__(kThreads)
    basisDotKernel(const float* __restrict__ basis, int stride, int K, const float* __restrict__ X, int xStride,
                   int numX, int n, double* __restrict__ partial) {
  // Two slots: slot x & 1 is written before the barrier of step x and read by thread 0 after it; step x + 2
  // writes it again only after every warp has passed the barrier of step x + 1, which thread 0 reaches after
  // its read, so one barrier per step suffices.
  __shared__ double warpPartial[2][kWarps];
  const int chunk = blockIdx.x, k = blockIdx.y, t = threadIdx.x, lane = t & 31, warp = t >> 5;
  const int c0 = chunk * kDotChunk + t;
  const float* row = basis + static_cast<size_t>(k) * stride;
  float bv[kDotPerThread];
#pragma unroll
  for (int q = 0; q < kDotPerThread; ++q) {
    const int c = c0 + q * kThreads;
    bv[q] = c < n ? row[c] : 0.0f;
  }
  for (int x = 0; x < numX; ++x) {
    const float* xr = X + static_cast<size_t>(x) * xStride;
    double acc = 0.0;
#pragma unroll
    for (int q = 0; q < kDotPerThread; ++q) {
      const int c = c0 + q * kThreads;
      if (c < n) acc += static_cast<double>(bv[q]) * static_cast<double>(xr[c]);
    }
    acc = warpSum(acc);
    if (lane == 0) warpPartial[x & 1][warp] = acc;
    __syncthreads();
    if (t == 0) {
      double s = 0.0;
#pragma unroll
      for (int wp = 0; wp < kWarps; ++wp) s += warpPartial[x & 1][wp];
      partial[(static_cast<size_t>(chunk) * numX + x) * K + k] = s;
    }
  }
}

/**
 * u_b += uNoNeck_b (when given) and uSum = sum_b u_b in frame order (when wanted), in float as the CPU backend
 * does. One thread per coordinate c < n.
 */
__global__ void __launch_bounds__(kThreads)
    combineKernel(float* __restrict__ u, const float* __restrict__ uNoNeck, int batch, int stride, int n,
                  float* __restrict__ uSum) {
  const int c = blockIdx.x * kThreads + threadIdx.x;
  if (c >= n) return;
  float s = 0.0f;
  for (int b = 0; b < batch; ++b) {
    const size_t o = static_cast<size_t>(b) * stride + c;
    float v = u[o];
    if (uNoNeck) {
      v += uNoNeck[o];
      u[o] = v;
    }
    s = b == 0 ? v : s + v;
  }
  if (uSum) uSum[c] = s;
}

/** out[o] = sum_{p < parts} partial[p * count + o], p ascending. */
__global__ void __launch_bounds__(kThreads)
    reducePartsKernel(const double* __restrict__ partial, int parts, int count, double* __restrict__ out) {
  const int o = blockIdx.x * kThreads + threadIdx.x;
  if (o >= count) return;
  double s = 0.0;
  for (int p = 0; p < parts; ++p) s += partial[static_cast<size_t>(p) * count + o];
  out[o] = s;
}

unsigned blocksFor(size_t n, size_t perBlock) { return static_cast<unsigned>((n + perBlock - 1) / perBlock); }

// ---------------------------------------------------------------------------------------------------------
// The backend

class CudaFlameBackend final : public FlameBackend {
 public:
  explicit CudaFlameBackend(FlameModel& m)
      : device_(currentDevice()),
        numVertices_(m.numVertices),
        stride_(m.stride),
        numShape_(m.numShape),
        numExpression_(m.numExpression),
        hasEyelids_(m.hasEyelids) {
    const size_t stride = static_cast<size_t>(stride_);
    upload(vTemplate_, m.vTemplate.data(), stride);
    upload(shapeBasis_, m.shapeBasis.data(), static_cast<size_t>(numShape_) * stride);
    upload(exprBasis_, m.exprBasis.data(), static_cast<size_t>(numExpression_) * stride);
    upload(poseBasis_, m.poseBasis.data(), static_cast<size_t>(kPoseFeatures) * stride);
    upload(eyelidBasis_, m.eyelidBasis.data(), 2 * stride);  // zeros when the model has no eyelid blendshapes
    upload(skinWeights_, m.skinWeights.data(), static_cast<size_t>(numVertices_) * kFlameJoints);
    shaped_.ensure(stride);
    sync();
  }

  void forward(FlameModel& m, FlameTape& tape, const BackendForwardInput& in) override {
    std::lock_guard<std::mutex> lock(mutex_);
    P3D_CUDA_CHECK(cudaSetDevice(device_));
    checkModel(m);
    const int B = in.batch, V = numVertices_, stride = stride_;
    const bool noNeck = in.featuresNoNeck != nullptr;
    if (B < 1 || B > 65535) throw std::invalid_argument("FLAME CUDA backend: batch must be in [1, 65535]");
    if (in.numShape < 0 || in.numShape > numShape_ || in.numExpression < 0 || in.numExpression > numExpression_)
      throw std::invalid_argument("FLAME CUDA backend: coefficient counts exceed the model's");
    if (!in.vertices || (noNeck && (!in.transformsNoNeck || !in.verticesNoNeck)))
      throw std::invalid_argument("FLAME CUDA backend: missing forward output or no-neck input");
    const cudaStream_t s = stream_.get();

    CudaTapeState* st = static_cast<CudaTapeState*>(tape.deviceState);
    if (!st) {
      st = new CudaTapeState();
      tape.deviceState = st;
    }
    st->batch = 0;  // invalid until this forward pass has completed
    const size_t posedSize = static_cast<size_t>(B) * stride;
    float* posed = st->posed.ensure(posedSize);
    float* posedNoNeck = noNeck ? st->posedNoNeck.ensure(posedSize) : nullptr;
    float* transforms = st->transforms.ensure(static_cast<size_t>(B) * kTransformSize);
    float* transformsNoNeck = noNeck ? st->transformsNoNeck.ensure(static_cast<size_t>(B) * kTransformSize) : nullptr;
    P3D_CUDA_CHECK(cudaMemcpyAsync(transforms, in.transforms, sizeof(float) * B * kTransformSize,
                                   cudaMemcpyHostToDevice, s));
    if (noNeck)
      P3D_CUDA_CHECK(cudaMemcpyAsync(transformsNoNeck, in.transformsNoNeck, sizeof(float) * B * kTransformSize,
                                     cudaMemcpyHostToDevice, s));

    // Shape cache: keyed by the exact bits and the length of beta.
    const bool recompute = !shapedValid_ || shapedBeta_.size() != static_cast<size_t>(in.numShape) ||
                           (in.numShape > 0 && std::memcmp(shapedBeta_.data(), in.beta, sizeof(float) * in.numShape) != 0);
    if (recompute) {
      shapedValid_ = false;
      float* beta = nullptr;
      if (in.numShape > 0) {
        beta = beta_.ensure(in.numShape);
        P3D_CUDA_CHECK(cudaMemcpyAsync(beta, in.beta, sizeof(float) * in.numShape, cudaMemcpyHostToDevice, s));
      }
      shapeKernel<<<blocksFor(stride, kThreads), kThreads, 0, s>>>(vTemplate_.get(), shapeBasis_.get(), in.numShape,
                                                                    beta, stride, shaped_.get());
      P3D_CUDA_LAUNCHED(shapeKernel);
    }

    // Per-frame coefficients in one upload: psi [B, nE] | features [B, 36] | no-neck features | eyelids [B, 2].
    const size_t nPsi = static_cast<size_t>(B) * in.numExpression, nFeat = static_cast<size_t>(B) * kPoseFeatures;
    const size_t oFeat = nPsi, oFeatNoNeck = oFeat + nFeat, oEyelids = oFeatNoNeck + (noNeck ? nFeat : 0);
    const size_t nParams = oEyelids + (in.eyelids ? 2 * static_cast<size_t>(B) : 0);
    hostParams_.resize(nParams);
    if (nPsi) std::memcpy(hostParams_.data(), in.psi, sizeof(float) * nPsi);
    std::memcpy(hostParams_.data() + oFeat, in.features, sizeof(float) * nFeat);
    if (noNeck) std::memcpy(hostParams_.data() + oFeatNoNeck, in.featuresNoNeck, sizeof(float) * nFeat);
    if (in.eyelids) std::memcpy(hostParams_.data() + oEyelids, in.eyelids, sizeof(float) * 2 * B);
    float* params = params_.ensure(nParams);
    P3D_CUDA_CHECK(cudaMemcpyAsync(params, hostParams_.data(), sizeof(float) * nParams, cudaMemcpyHostToDevice, s));

    const dim3 blendGrid(blocksFor(stride, kThreads), blocksFor(B, kFrameTile));
    blendKernel<<<blendGrid, kThreads, 0, s>>>(shaped_.get(), exprBasis_.get(), in.numExpression, poseBasis_.get(),
                                               stride, params, params + oFeat, noNeck ? params + oFeatNoNeck : nullptr,
                                               B, posed, posedNoNeck);
    P3D_CUDA_LAUNCHED(blendKernel);

    const size_t vertexFloats = static_cast<size_t>(B) * 3 * V;
    const dim3 skinGrid(blocksFor(V, kThreads), B);
    float* vertices = vertices_.ensure(vertexFloats);
    skinKernel<<<skinGrid, kThreads, 0, s>>>(posed, stride, transforms, skinWeights_.get(), eyelidBasis_.get(),
                                             in.eyelids ? params + oEyelids : nullptr, V, vertices);
    P3D_CUDA_LAUNCHED(skinKernel);
    float* verticesNoNeck = nullptr;
    if (noNeck) {
      verticesNoNeck = verticesNoNeck_.ensure(vertexFloats);
      skinKernel<<<skinGrid, kThreads, 0, s>>>(posedNoNeck, stride, transformsNoNeck, skinWeights_.get(),
                                               eyelidBasis_.get(), nullptr, V, verticesNoNeck);
      P3D_CUDA_LAUNCHED(skinKernel);
    }
    P3D_CUDA_CHECK(cudaMemcpyAsync(in.vertices, vertices, sizeof(float) * vertexFloats, cudaMemcpyDeviceToHost, s));
    if (noNeck)
      P3D_CUDA_CHECK(cudaMemcpyAsync(in.verticesNoNeck, verticesNoNeck, sizeof(float) * vertexFloats,
                                     cudaMemcpyDeviceToHost, s));
    sync();

    if (recompute) {
      shapedBeta_.assign(in.beta, in.beta + in.numShape);
      shapedValid_ = true;
    }
    st->batch = B;
    st->noNeck = noNeck;
  }

  void vjp(FlameModel& m, const FlameTape& tape, const float* g, const float* gNoNeck, bool wantShape,
           BackendVjpOutput& out) override {
    std::lock_guard<std::mutex> lock(mutex_);
    P3D_CUDA_CHECK(cudaSetDevice(device_));
    checkModel(m);
    CudaTapeState* st = static_cast<CudaTapeState*>(tape.deviceState);
    if (!st || st->batch != tape.batch || tape.batch < 1)
      throw std::logic_error("FLAME CUDA backend: the tape holds no completed CUDA forward pass");
    const bool noNeck = gNoNeck != nullptr;
    if (noNeck && !st->noNeck) throw std::logic_error("FLAME CUDA backend: no-neck cotangent without a no-neck pass");
    const int B = tape.batch, V = numVertices_, stride = stride_, n = 3 * V;
    const int nS = wantShape ? tape.numShape : 0, nE = tape.numExpression;
    const cudaStream_t s = stream_.get();

    const size_t gFloats = static_cast<size_t>(B) * n;
    float* dg = g_.ensure(gFloats);
    P3D_CUDA_CHECK(cudaMemcpyAsync(dg, g, sizeof(float) * gFloats, cudaMemcpyHostToDevice, s));
    float* dgNoNeck = nullptr;
    if (noNeck) {
      dgNoNeck = gNoNeck_.ensure(gFloats);
      P3D_CUDA_CHECK(cudaMemcpyAsync(dgNoNeck, gNoNeck, sizeof(float) * gFloats, cudaMemcpyHostToDevice, s));
    }
    float* u = u_.ensure(static_cast<size_t>(B) * stride);
    float* uNoNeck = noNeck ? uNoNeck_.ensure(static_cast<size_t>(B) * stride) : nullptr;
    float* uSum = nS ? uSum_.ensure(stride) : nullptr;

    // Partial sums (one slot per block) and the final results, laid out like the CPU backend's totals.
    const int vBlocks = static_cast<int>(blocksFor(V, kThreads)), chunks = static_cast<int>(blocksFor(n, kDotChunk));
    const size_t nT = static_cast<size_t>(B) * kTransformSize, nF = static_cast<size_t>(B) * kPoseFeatures;
    const size_t nPsi = static_cast<size_t>(B) * nE, nEye = hasEyelids_ ? 2 * static_cast<size_t>(B) : 0;
    const size_t pT = 0, pTn = pT + vBlocks * nT, pF = pTn + (noNeck ? vBlocks * nT : 0), pFn = pF + chunks * nF,
                 pPsi = pFn + (noNeck ? chunks * nF : 0), pBeta = pPsi + chunks * nPsi, pEye = pBeta + chunks * static_cast<size_t>(nS),
                 pEnd = pEye + chunks * nEye;
    const size_t oT = 0, oTn = oT + nT, oF = oTn + (noNeck ? nT : 0), oFn = oF + nF, oPsi = oFn + (noNeck ? nF : 0),
                 oBeta = oPsi + nPsi, oEye = oBeta + nS, oEnd = oEye + nEye;
    double* partial = partial_.ensure(pEnd);
    double* results = results_.ensure(oEnd);

    const dim3 skinGrid(vBlocks, B);
    skinVjpKernel<<<skinGrid, kThreads, 0, s>>>(st->posed.get(), stride, st->transforms.get(), skinWeights_.get(), dg,
                                                V, B, u, partial + pT);
    P3D_CUDA_LAUNCHED(skinVjpKernel);
    if (noNeck) {
      skinVjpKernel<<<skinGrid, kThreads, 0, s>>>(st->posedNoNeck.get(), stride, st->transformsNoNeck.get(),
                                                  skinWeights_.get(), dgNoNeck, V, B, uNoNeck, partial + pTn);
      P3D_CUDA_LAUNCHED(skinVjpKernel);
    }
    // dL/df = P^T u per pass (before u is combined below).
    launchDot(poseBasis_.get(), kPoseFeatures, u, stride, B, n, chunks, partial + pF);
    if (noNeck) launchDot(poseBasis_.get(), kPoseFeatures, uNoNeck, stride, B, n, chunks, partial + pFn);
    // Blendshapes see u + uNoNeck; shape sees its sum over frames.
    if ((noNeck && nE > 0) || nS > 0) {
      combineKernel<<<blocksFor(n, kThreads), kThreads, 0, s>>>(u, uNoNeck, B, stride, n, uSum);
      P3D_CUDA_LAUNCHED(combineKernel);
    }
    if (nE) launchDot(exprBasis_.get(), nE, u, stride, B, n, chunks, partial + pPsi);
    if (nS) launchDot(shapeBasis_.get(), nS, uSum, stride, 1, n, chunks, partial + pBeta);
    if (hasEyelids_) launchDot(eyelidBasis_.get(), 2, dg, n, B, n, chunks, partial + pEye);

    launchReduce(partial + pT, vBlocks, nT, results + oT);
    if (noNeck) launchReduce(partial + pTn, vBlocks, nT, results + oTn);
    launchReduce(partial + pF, chunks, nF, results + oF);
    if (noNeck) launchReduce(partial + pFn, chunks, nF, results + oFn);
    launchReduce(partial + pPsi, chunks, nPsi, results + oPsi);
    launchReduce(partial + pBeta, chunks, nS, results + oBeta);
    launchReduce(partial + pEye, chunks, nEye, results + oEye);
    hostResults_.resize(oEnd);
    P3D_CUDA_CHECK(cudaMemcpyAsync(hostResults_.data(), results, sizeof(double) * oEnd, cudaMemcpyDeviceToHost, s));
    sync();

    const double* r = hostResults_.data();
    out.gradTransforms.assign(r + oT, r + oTn);
    out.gradTransformsNoNeck.assign(r + oTn, r + oF);
    out.gradFeatures.assign(r + oF, r + oFn);
    out.gradFeaturesNoNeck.assign(r + oFn, r + oPsi);
    out.gradPsi.assign(r + oPsi, r + oBeta);
    out.gradBeta.assign(r + oBeta, r + oEye);
    if (hasEyelids_) out.gradEyelids.assign(r + oEye, r + oEnd);
    else out.gradEyelids.assign(2 * static_cast<size_t>(B), 0.0);
  }

  const float* posedOnHost(FlameModel& m, FlameTape& tape) override {
    std::lock_guard<std::mutex> lock(mutex_);
    P3D_CUDA_CHECK(cudaSetDevice(device_));
    checkModel(m);
    CudaTapeState* st = static_cast<CudaTapeState*>(tape.deviceState);
    if (!st || st->batch != tape.batch || tape.batch < 1)
      throw std::logic_error("FLAME CUDA backend: the tape holds no completed CUDA forward pass");
    const size_t count = static_cast<size_t>(tape.batch) * stride_;
    tape.posed.resizeUninitialized(count);  // every element is overwritten below
    P3D_CUDA_CHECK(cudaMemcpyAsync(tape.posed.data(), st->posed.get(), sizeof(float) * count, cudaMemcpyDeviceToHost,
                                   stream_.get()));
    sync();
    return tape.posed.data();
  }

  void releaseTape(FlameTape& tape) override {
    // Runs from ~FlameTape: must not throw.
    std::lock_guard<std::mutex> lock(mutex_);
    CudaTapeState* st = static_cast<CudaTapeState*>(tape.deviceState);
    tape.deviceState = nullptr;
    if (!st) return;
    int current = -1;
    const bool switched = cudaGetDevice(&current) == cudaSuccess && current != device_ && cudaSetDevice(device_) == cudaSuccess;
    delete st;  // frees its device buffers
    if (switched) cudaSetDevice(current);
  }

 private:
  static int currentDevice() {
    int device = 0;
    P3D_CUDA_CHECK(cudaGetDevice(&device));
    return device;
  }

  void checkModel(const FlameModel& m) const {
    if (m.numVertices != numVertices_ || m.stride != stride_ || m.numShape != numShape_ ||
        m.numExpression != numExpression_ || m.hasEyelids != hasEyelids_)
      throw std::logic_error("FLAME CUDA backend: called with a model other than its own");
  }

  void upload(DeviceBuffer<float>& dst, const float* src, size_t count) {
    if (count == 0) return;
    P3D_CUDA_CHECK(cudaMemcpyAsync(dst.ensure(count), src, sizeof(float) * count, cudaMemcpyHostToDevice, stream_.get()));
  }

  void sync() { P3D_CUDA_CHECK(cudaStreamSynchronize(stream_.get())); }

  void launchDot(const float* basis, int K, const float* X, int xStride, int numX, int n, int chunks, double* partial) {
    const dim3 grid(chunks, K);
    basisDotKernel<<<grid, kThreads, 0, stream_.get()>>>(basis, stride_, K, X, xStride, numX, n, partial);
    P3D_CUDA_LAUNCHED(basisDotKernel);
  }

  void launchReduce(const double* partial, int parts, size_t count, double* out) {
    if (count == 0) return;
    reducePartsKernel<<<blocksFor(count, kThreads), kThreads, 0, stream_.get()>>>(partial, parts, static_cast<int>(count),
                                                                                 out);
    P3D_CUDA_LAUNCHED(reducePartsKernel);
  }

  std::mutex mutex_;
  const int device_;
  Stream stream_;
  const int numVertices_, stride_, numShape_, numExpression_;
  const bool hasEyelids_;
  // Model, uploaded once.
  DeviceBuffer<float> vTemplate_, shapeBasis_, exprBasis_, poseBasis_, eyelidBasis_, skinWeights_;
  // Shape cache: shaped_ = vTemplate + S beta for shapedBeta_ (valid when shapedValid_).
  DeviceBuffer<float> shaped_, beta_;
  std::vector<float> shapedBeta_;
  bool shapedValid_ = false;
  // Scratch, grown on demand and reused.
  std::vector<float> hostParams_;
  std::vector<double> hostResults_;
  DeviceBuffer<float> params_, vertices_, verticesNoNeck_, g_, gNoNeck_, u_, uNoNeck_, uSum_;
  DeviceBuffer<double> partial_, results_;
};

}  // namespace

std::unique_ptr<FlameBackend> makeCudaFlameBackend(FlameModel& model) {
  return std::make_unique<CudaFlameBackend>(model);
}

}  // namespace p3d

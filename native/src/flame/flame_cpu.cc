// CPU backend of the FLAME kernel: per-vertex blendshapes, pose correctives, skinning and their VJP.
//
// Work is split into fixed chunks of vertices (kChunkVertices). Every chunk computes its outputs and its
// partial gradient sums on its own, in a fixed order; the partial sums are then added chunk by chunk. The
// chunking does not depend on the thread count, so results are bitwise identical for any number of threads,
// and a frame computed in a batch gives the same bits as the frame alone (frames never mix).
#include <algorithm>
#include <cstring>
#include <vector>

#include "../common/thread_pool.h"
#include "flame.h"

namespace p3d {
namespace {

constexpr int kChunkVertices = 128;  // 384 coordinates: a multiple of kLanes, so chunks start on a lane boundary
constexpr int kChunkCoords = 3 * kChunkVertices;
constexpr int kLanes = 16;
constexpr int kGroup = 4;  // frames (or basis rows) handled together, accumulators kept in registers
constexpr int kMaxBatchPointers = 64;

inline int roundUpLanes(int n) { return (n + kLanes - 1) / kLanes * kLanes; }

// out_b[c] += sum_k coef[b * coefStride + k] * basis[k * stride + c] over n coordinates rounded up to whole
// lanes (bases and outputs are padded rows, see aligned.h). Rows are walked one at a time (a contiguous run
// of the chunk, which the prefetchers follow) with the frames' partial sums kept in L1. Each output element
// adds its terms in ascending k and skips exactly the zero coefficients of its own frame, so a frame gives
// the same bits whichever batch it is computed in.
void blendRows(const float* basis, size_t stride, int K, const float* coef, int coefStride, float* const* out, int B,
               int n) {
  const int nPad = roundUpLanes(n);
  for (int k = 0; k < K; ++k) {
    const float* __restrict e = basis + static_cast<size_t>(k) * stride;
    for (int b = 0; b < B; ++b) {
      const float a = coef[b * coefStride + k];
      if (a == 0.0f) continue;
      float* __restrict y = out[b];
      for (int c = 0; c < nPad; ++c) y[c] += a * e[c];
    }
  }
}

// Fixed-lane dot products: lane l sums the elements c = l (mod kLanes) in ascending order, the lanes are then
// added in double in lane order. Inputs are zero-padded to whole lanes. The 16 lanes are two 8-float vectors
// (GCC vector extensions, so the accumulators stay in registers); a target without 256-bit vectors computes
// the same lanes in halves, with the same results.
typedef float Vec8 __attribute__((vector_size(32)));
inline Vec8 load8(const float* p) {
  Vec8 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Bit j set iff the 16-float block j of v (nPad floats, a whole number of blocks) holds a non-zero (or NaN) element.
// A cotangent is exactly zero on every vertex no loss reaches (the hidden back of the head: about 40% of them in a
// tracker iteration), and such blocks are skipped by the dot products below. Skipping is exact: a block of zeros
// adds r * (+-0) = +-0 to each lane (the bases are finite, checked when the model is made), and a lane's sum starts
// at +0 and can never be -0 (x + -x and +0 + -0 are +0 when rounding to nearest), so adding +-0 leaves it as it is.
// The blocks skipped are the basis rows' cache lines not read: the shape rows of a single-image iteration are its
// largest memory stream.
inline uint32_t nonzeroBlocks(const float* v, int nPad) {
  uint32_t mask = 0;
  for (int blk = 0; blk * kLanes < nPad; ++blk) {
    // OR of the bits without the sign (so that -0 counts as zero, NaN as non-zero): a branch-free, vectorised scan.
    uint32_t bits[kLanes];
    std::memcpy(bits, v + blk * kLanes, sizeof(bits));
    uint32_t any = 0;
    for (int l = 0; l < kLanes; ++l) any |= bits[l] << 1;
    mask |= static_cast<uint32_t>(any != 0) << blk;
  }
  return mask;
}
static_assert(kChunkCoords / kLanes <= 32, "a chunk's blocks must fit a 32-bit mask");

// The blocks of mask, ascending; lanes skip exactly the zero blocks of all NB vectors (see nonzeroBlocks).
template <int NB>
void dotGroup(const float* __restrict row, const float* const* vec, uint32_t mask, uint32_t fullMask, int nPad, double* out,
              size_t outStride) {
  Vec8 lo[NB], hi[NB];
  for (int b = 0; b < NB; ++b) lo[b] = hi[b] = Vec8{};
  const float* v[NB];
  for (int b = 0; b < NB; ++b) v[b] = vec[b];
  auto block = [&](int c) {
    const Vec8 r0 = load8(row + c), r1 = load8(row + c + 8);
    for (int b = 0; b < NB; ++b) {
      lo[b] += r0 * load8(v[b] + c);
      hi[b] += r1 * load8(v[b] + c + 8);
    }
  };
  if (mask == fullMask) {  // no zero block: the plain loop (the bit loop costs ~8% on dense cotangents)
    for (int c = 0; c < nPad; c += kLanes) block(c);
  } else {
    for (; mask; mask &= mask - 1) block(__builtin_ctz(mask) * kLanes);
  }
  for (int b = 0; b < NB; ++b) {
    double s = 0;
    for (int l = 0; l < 8; ++l) s += lo[b][l];
    for (int l = 0; l < 8; ++l) s += hi[b][l];
    out[b * outStride] = s;
  }
}

// out[b * outStride + k] = <basis row k, vec_b> for every row k and frame b (nPad <= kChunkCoords).
void dotRows(const float* basis, size_t stride, int K, const float* const* vec, int B, int nPad, double* out,
             size_t outStride) {
  uint32_t masks[kMaxBatchPointers];
  const int blocks = nPad / kLanes;
  const uint32_t full = blocks >= 32 ? ~0u : (1u << blocks) - 1;
  auto unionOf = [&](int b0, int nb) {
    uint32_t m = 0;
    for (int b = b0; b < b0 + nb; ++b) m |= masks[b];
    return m;
  };
  for (int b0 = 0; b0 < B; b0 += kMaxBatchPointers) {
    const int nb = std::min(B - b0, kMaxBatchPointers);
    for (int b = b0; b < b0 + nb; ++b) masks[b - b0] = nonzeroBlocks(vec[b], nPad);
    for (int k = 0; k < K; ++k) {
      const float* row = basis + static_cast<size_t>(k) * stride;
      int b = b0;
      for (; b + kGroup <= b0 + nb; b += kGroup)
        dotGroup<kGroup>(row, vec + b, unionOf(b - b0, kGroup), full, nPad, out + b * outStride + k, outStride);
      for (; b < b0 + nb; ++b) dotGroup<1>(row, vec + b, masks[b - b0], full, nPad, out + b * outStride + k, outStride);
    }
  }
}

// T = sum_j w_j A_j (3x4 row-major)
inline void blendTransform(const float* w, const float* A, float T[12]) {
  for (int k = 0; k < 12; ++k) T[k] = w[0] * A[k];
  for (int j = 1; j < kFlameJoints; ++j) {
    const float wj = w[j];
    if (wj == 0.0f) continue;
    for (int k = 0; k < 12; ++k) T[k] += wj * A[12 * j + k];
  }
}

// A basis regrouped chunk-major for the CPU passes: [chunk][K][kChunkCoords], the chunk's K rows of 384 coordinates
// contiguous (the last chunk's rows zero-padded). A chunk task walks its rows in ascending k, as it does on the
// model's basis-major rows, so every result keeps its bits; but it now streams one block where the basis-major
// layout makes it jump a whole row (60 KB for FLAME) after every 1.5 KB, which the hardware prefetchers follow
// badly: the 300 shape rows were read at ~15 GB/s, against ~54 GB/s for a plain stream on this machine.
// It is a second copy (about 26 MB for 300 + 100 components): the model keeps its basis-major rows for the CUDA
// upload, the Jacobian and the joint regressor.
struct ChunkedBasis {
  AlignedVector<float> data;
  int K = 0;
  void build(const AlignedVector<float>& basis, int numRows, int stride, int numChunks) {
    K = numRows;
    data.resize(static_cast<size_t>(numChunks) * numRows * kChunkCoords);  // zero-filled: the padding stays 0
    for (int chunk = 0; chunk < numChunks; ++chunk) {
      const int c0 = chunk * kChunkCoords, n = std::min(kChunkCoords, stride - c0);
      for (int k = 0; k < numRows; ++k)
        std::memcpy(rows(chunk) + static_cast<size_t>(k) * kChunkCoords, basis.data() + static_cast<size_t>(k) * stride + c0,
                    sizeof(float) * n);
    }
  }
  float* rows(int chunk) { return data.data() + static_cast<size_t>(chunk) * K * kChunkCoords; }
  const float* rows(int chunk) const { return data.data() + static_cast<size_t>(chunk) * K * kChunkCoords; }
};

class CpuFlameBackend final : public FlameBackend {
 public:
  void forward(FlameModel& m, FlameTape& tape, const BackendForwardInput& in) override {
    chunkBases(m);
    const int B = in.batch, V = m.numVertices, stride = m.stride;
    const bool recompute = !m.cpuShapeValid || m.cachedBeta.size() != static_cast<size_t>(in.numShape) ||
                           std::memcmp(m.cachedBeta.data(), in.beta, sizeof(float) * in.numShape) != 0;
    // Every padded row is written in full below, so no zero-fill is needed (and a reused tape keeps its memory).
    tape.posed.resizeUninitialized(static_cast<size_t>(B) * stride);
    tape.posedNoNeck.resizeUninitialized(in.featuresNoNeck ? static_cast<size_t>(B) * stride : 0);
    const int chunks = (V + kChunkVertices - 1) / kChunkVertices;
    ThreadPool::instance().parallelFor(chunks, [&](int chunk) {
      const int v0 = chunk * kChunkVertices, v1 = std::min(V, v0 + kChunkVertices);
      const int c0 = 3 * v0, n = 3 * (v1 - v0);
      float* vs = m.shapedTemplate.data() + c0;
      if (recompute) {
        std::memcpy(vs, m.vTemplate.data() + c0, sizeof(float) * roundUpLanes(n));
        float* one[1] = {vs};
        blendRows(shape_.rows(chunk), kChunkCoords, in.numShape, in.beta, 0, one, 1, n);
      }
      float* posed[kMaxBatchPointers];
      float* posedNoNeck[kMaxBatchPointers];
      for (int b0 = 0; b0 < B; b0 += kMaxBatchPointers) {
        const int nb = std::min(B - b0, kMaxBatchPointers);
        for (int b = 0; b < nb; ++b) {
          posed[b] = tape.posed.data() + static_cast<size_t>(b0 + b) * stride + c0;
          std::memcpy(posed[b], vs, sizeof(float) * roundUpLanes(n));
        }
        blendRows(expr_.rows(chunk), kChunkCoords, in.numExpression, in.psi + static_cast<size_t>(b0) * in.numExpression,
                  in.numExpression, posed, nb, n);
        if (in.featuresNoNeck) {
          for (int b = 0; b < nb; ++b) {
            posedNoNeck[b] = tape.posedNoNeck.data() + static_cast<size_t>(b0 + b) * stride + c0;
            std::memcpy(posedNoNeck[b], posed[b], sizeof(float) * roundUpLanes(n));
          }
          blendRows(pose_.rows(chunk), kChunkCoords, kPoseFeatures, in.featuresNoNeck + b0 * kPoseFeatures, kPoseFeatures,
                    posedNoNeck, nb, n);
        }
        blendRows(pose_.rows(chunk), kChunkCoords, kPoseFeatures, in.features + b0 * kPoseFeatures, kPoseFeatures, posed,
                  nb, n);
      }
      for (int b = 0; b < B; ++b) {
        skin(m, in.transforms + static_cast<size_t>(b) * kFlameJoints * 12,
             tape.posed.data() + static_cast<size_t>(b) * stride, in.eyelids ? in.eyelids + 2 * b : nullptr,
             in.vertices + static_cast<size_t>(b) * 3 * V, v0, v1);
        if (in.featuresNoNeck)
          skin(m, in.transformsNoNeck + static_cast<size_t>(b) * kFlameJoints * 12,
               tape.posedNoNeck.data() + static_cast<size_t>(b) * stride, nullptr,
               in.verticesNoNeck + static_cast<size_t>(b) * 3 * V, v0, v1);
      }
    });
    if (recompute) {
      m.cachedBeta.assign(in.beta, in.beta + in.numShape);
      m.cpuShapeValid = true;
    }
  }

  void vjp(FlameModel& m, const FlameTape& tape, const float* g, const float* gNoNeck, bool wantShape,
           BackendVjpOutput& out) override {
    chunkBases(m);
    const int B = tape.batch, V = m.numVertices, stride = m.stride;
    const int nS = wantShape ? tape.numShape : 0, nE = tape.numExpression;
    const bool noNeck = gNoNeck != nullptr;
    // Layout of one chunk's partial sums.
    const size_t oT = 0, oTn = oT + static_cast<size_t>(B) * 60, oF = oTn + (noNeck ? B * 60 : 0),
                 oFn = oF + static_cast<size_t>(B) * kPoseFeatures, oPsi = oFn + (noNeck ? B * kPoseFeatures : 0),
                 oBeta = oPsi + static_cast<size_t>(B) * nE, oEye = oBeta + nS, slot = oEye + 2 * B;
    const int chunks = (V + kChunkVertices - 1) / kChunkVertices;
    std::vector<double>& partial = partialSums_;  // every slot is written by its chunk below
    if (partial.size() < slot * chunks) partial.resize(slot * chunks);
    ThreadPool::instance().parallelFor(chunks, [&](int chunk) {
      const int v0 = chunk * kChunkVertices, v1 = std::min(V, v0 + kChunkVertices);
      const int c0 = 3 * v0, n = 3 * (v1 - v0);
      double* part = partial.data() + slot * chunk;
      // u = dL/dp (rest-pose cotangent) for this chunk, per frame, zero-padded to whole lanes; uNoNeck likewise.
      const int nPad = roundUpLanes(n);
      thread_local std::vector<float> u, un, usum;
      thread_local std::vector<const float*> uPtr, unPtr, gPtr;
      u.assign(static_cast<size_t>(B) * nPad, 0.0f);
      un.assign(noNeck ? static_cast<size_t>(B) * nPad : 0, 0.0f);
      uPtr.resize(B);
      unPtr.resize(B);
      for (int b = 0; b < B; ++b) {
        uPtr[b] = u.data() + static_cast<size_t>(b) * nPad;
        skinVjp(m, tape.transforms.data() + static_cast<size_t>(b) * 60, tape.posed.data() + static_cast<size_t>(b) * stride,
                g + static_cast<size_t>(b) * 3 * V, v0, v1, u.data() + static_cast<size_t>(b) * nPad, part + oT + b * 60);
        if (noNeck) {
          unPtr[b] = un.data() + static_cast<size_t>(b) * nPad;
          skinVjp(m, tape.transformsNoNeck.data() + static_cast<size_t>(b) * 60,
                  tape.posedNoNeck.data() + static_cast<size_t>(b) * stride, gNoNeck + static_cast<size_t>(b) * 3 * V, v0,
                  v1, un.data() + static_cast<size_t>(b) * nPad, part + oTn + b * 60);
        }
      }
      dotRows(pose_.rows(chunk), kChunkCoords, kPoseFeatures, uPtr.data(), B, nPad, part + oF, kPoseFeatures);
      if (noNeck) {
        dotRows(pose_.rows(chunk), kChunkCoords, kPoseFeatures, unPtr.data(), B, nPad, part + oFn, kPoseFeatures);
        // Blendshapes see the sum of both passes' cotangents.
        for (size_t i = 0; i < u.size(); ++i) u[i] += un[i];
      }
      dotRows(expr_.rows(chunk), kChunkCoords, nE, uPtr.data(), B, nPad, part + oPsi, nE);
      if (nS) {
        // Shape is shared by the batch: sum the cotangents over frames first, one pass over S.
        usum.assign(u.begin(), u.begin() + nPad);
        for (int b = 1; b < B; ++b)
          for (int c = 0; c < nPad; ++c) usum[c] += u[static_cast<size_t>(b) * nPad + c];
        const float* one[1] = {usum.data()};
        dotRows(shape_.rows(chunk), kChunkCoords, nS, one, 1, nPad, part + oBeta, 0);
      }
      if (m.hasEyelids) {
        // g itself is not padded: copy this chunk's rows into padded buffers first.
        usum.assign(static_cast<size_t>(B) * nPad, 0.0f);
        gPtr.resize(B);
        for (int b = 0; b < B; ++b) {
          std::memcpy(usum.data() + static_cast<size_t>(b) * nPad, g + static_cast<size_t>(b) * 3 * V + c0, sizeof(float) * n);
          gPtr[b] = usum.data() + static_cast<size_t>(b) * nPad;
        }
        dotRows(m.eyelidBasis.data() + c0, stride, 2, gPtr.data(), B, nPad, part + oEye, 2);
      } else {
        std::fill(part + oEye, part + oEye + 2 * B, 0.0);
      }
    });
    std::vector<double> total(slot, 0.0);
    for (int chunk = 0; chunk < chunks; ++chunk)
      for (size_t i = 0; i < slot; ++i) total[i] += partial[slot * chunk + i];
    out.gradTransforms.assign(total.begin() + oT, total.begin() + oT + B * 60);
    out.gradTransformsNoNeck.assign(total.begin() + oTn, total.begin() + oF);
    out.gradFeatures.assign(total.begin() + oF, total.begin() + oF + B * kPoseFeatures);
    out.gradFeaturesNoNeck.assign(total.begin() + oFn, total.begin() + oPsi);
    out.gradPsi.assign(total.begin() + oPsi, total.begin() + oBeta);
    out.gradBeta.assign(total.begin() + oBeta, total.begin() + oEye);
    out.gradEyelids.assign(total.begin() + oEye, total.begin() + oEye + 2 * B);
  }

  const float* posedOnHost(FlameModel&, FlameTape& tape) override { return tape.posed.data(); }

 private:
  std::vector<double> partialSums_;  // reused between calls: [chunks, slot]
  // This backend's chunk-major copies of the model's bases, made at its first pass (a backend serves one model).
  ChunkedBasis shape_, expr_, pose_;
  bool chunked_ = false;

  void chunkBases(const FlameModel& m) {
    if (chunked_) return;
    const int chunks = (m.numVertices + kChunkVertices - 1) / kChunkVertices;
    shape_.build(m.shapeBasis, m.numShape, m.stride, chunks);
    expr_.build(m.exprBasis, m.numExpression, m.stride, chunks);
    pose_.build(m.poseBasis, kPoseFeatures, m.stride, chunks);
    chunked_ = true;
  }

  static void skin(const FlameModel& m, const float* A, const float* p, const float* eyelids, float* out, int v0, int v1) {
    const int stride = m.stride;
    for (int i = v0; i < v1; ++i) {
      float T[12];
      blendTransform(m.skinWeights.data() + static_cast<size_t>(i) * kFlameJoints, A, T);
      const float x = p[3 * i], y = p[3 * i + 1], z = p[3 * i + 2];
      for (int r = 0; r < 3; ++r) out[3 * i + r] = T[4 * r] * x + T[4 * r + 1] * y + T[4 * r + 2] * z + T[4 * r + 3];
      if (eyelids) {
        // spec 4.2 step 6: eyelid offsets are added after skinning
        for (int r = 0; r < 3; ++r)
          out[3 * i + r] += eyelids[0] * m.eyelidBasis[3 * i + r] + eyelids[1] * m.eyelidBasis[stride + 3 * i + r];
      }
    }
  }

  // v_i = T_i [p_i; 1]:  u_i = T_i[:, :3]^T g_i,  dL/dA_j += w_ij g_i [p_i; 1]^T.
  static void skinVjp(const FlameModel& m, const float* A, const float* p, const float* g, int v0, int v1, float* u,
                      double* gA) {
    double acc[kFlameJoints][12] = {{0}};
    for (int i = v0; i < v1; ++i) {
      const float* w = m.skinWeights.data() + static_cast<size_t>(i) * kFlameJoints;
      float T[12];
      blendTransform(w, A, T);
      const float gx = g[3 * i], gy = g[3 * i + 1], gz = g[3 * i + 2];
      float* ui = u + 3 * (i - v0);
      for (int c = 0; c < 3; ++c) ui[c] = T[c] * gx + T[4 + c] * gy + T[8 + c] * gz;
      if (gx == 0.0f && gy == 0.0f && gz == 0.0f) continue;
      const double gv[3] = {gx, gy, gz};
      const double pv[4] = {p[3 * i], p[3 * i + 1], p[3 * i + 2], 1.0};
      for (int j = 0; j < kFlameJoints; ++j) {
        if (w[j] == 0.0f) continue;
        for (int r = 0; r < 3; ++r) {
          const double wg = w[j] * gv[r];
          for (int c = 0; c < 4; ++c) acc[j][4 * r + c] += wg * pv[c];
        }
      }
    }
    for (int j = 0; j < kFlameJoints; ++j)
      for (int k = 0; k < 12; ++k) gA[12 * j + k] = acc[j][k];
  }
};

}  // namespace

std::unique_ptr<FlameBackend> makeCpuFlameBackend() { return std::make_unique<CpuFlameBackend>(); }

}  // namespace p3d

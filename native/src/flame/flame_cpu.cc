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

constexpr int kChunkVertices = 128;
constexpr int kLanes = 16;

// y[0..n) += a * x[0..n)
inline void axpy(float a, const float* __restrict x, float* __restrict y, int n) {
  for (int c = 0; c < n; ++c) y[c] += a * x[c];
}

// Dot product with kLanes independent float accumulators (vectorisable without reassociation), lanes
// summed in double in a fixed order: the result depends only on the inputs.
inline double dotLanes(const float* __restrict a, const float* __restrict b, int n) {
  float acc[kLanes] = {0};
  int c = 0;
  for (; c + kLanes <= n; c += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += a[c + l] * b[c + l];
  for (int l = 0; c < n; ++c, ++l) acc[l] += a[c] * b[c];
  double s = 0;
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
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

class CpuFlameBackend final : public FlameBackend {
 public:
  void forward(FlameModel& m, FlameTape& tape, const BackendForwardInput& in) override {
    const int B = in.batch, V = m.numVertices, stride = m.stride;
    const bool recompute = !m.cpuShapeValid || m.cachedBeta.size() != static_cast<size_t>(in.numShape) ||
                           std::memcmp(m.cachedBeta.data(), in.beta, sizeof(float) * in.numShape) != 0;
    tape.posed.resize(static_cast<size_t>(B) * stride);
    tape.posedNoNeck.resize(in.featuresNoNeck ? static_cast<size_t>(B) * stride : 0);
    const int chunks = (V + kChunkVertices - 1) / kChunkVertices;
    ThreadPool::instance().parallelFor(chunks, [&](int chunk) {
      const int v0 = chunk * kChunkVertices, v1 = std::min(V, v0 + kChunkVertices);
      const int c0 = 3 * v0, n = 3 * (v1 - v0);
      float* vs = m.shapedTemplate.data() + c0;
      if (recompute) {
        std::memcpy(vs, m.vTemplate.data() + c0, sizeof(float) * n);
        for (int k = 0; k < in.numShape; ++k)
          if (in.beta[k] != 0.0f) axpy(in.beta[k], m.shapeBasis.data() + static_cast<size_t>(k) * stride + c0, vs, n);
      }
      for (int b = 0; b < B; ++b) std::memcpy(tape.posed.data() + static_cast<size_t>(b) * stride + c0, vs, sizeof(float) * n);
      for (int k = 0; k < in.numExpression; ++k) {
        const float* e = m.exprBasis.data() + static_cast<size_t>(k) * stride + c0;
        for (int b = 0; b < B; ++b) {
          const float a = in.psi[static_cast<size_t>(b) * in.numExpression + k];
          if (a != 0.0f) axpy(a, e, tape.posed.data() + static_cast<size_t>(b) * stride + c0, n);
        }
      }
      if (in.featuresNoNeck)
        for (int b = 0; b < B; ++b)
          std::memcpy(tape.posedNoNeck.data() + static_cast<size_t>(b) * stride + c0,
                      tape.posed.data() + static_cast<size_t>(b) * stride + c0, sizeof(float) * n);
      for (int k = 0; k < kPoseFeatures; ++k) {
        const float* pk = m.poseBasis.data() + static_cast<size_t>(k) * stride + c0;
        for (int b = 0; b < B; ++b) {
          const float f = in.features[b * kPoseFeatures + k];
          if (f != 0.0f) axpy(f, pk, tape.posed.data() + static_cast<size_t>(b) * stride + c0, n);
          if (in.featuresNoNeck) {
            const float fn = in.featuresNoNeck[b * kPoseFeatures + k];
            if (fn != 0.0f) axpy(fn, pk, tape.posedNoNeck.data() + static_cast<size_t>(b) * stride + c0, n);
          }
        }
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
    const int B = tape.batch, V = m.numVertices, stride = m.stride;
    const int nS = wantShape ? tape.numShape : 0, nE = tape.numExpression;
    const bool noNeck = gNoNeck != nullptr;
    // Layout of one chunk's partial sums.
    const size_t oT = 0, oTn = oT + static_cast<size_t>(B) * 60, oF = oTn + (noNeck ? B * 60 : 0),
                 oFn = oF + static_cast<size_t>(B) * kPoseFeatures, oPsi = oFn + (noNeck ? B * kPoseFeatures : 0),
                 oBeta = oPsi + static_cast<size_t>(B) * nE, oEye = oBeta + nS, slot = oEye + 2 * B;
    const int chunks = (V + kChunkVertices - 1) / kChunkVertices;
    std::vector<double> partial(slot * chunks, 0.0);
    ThreadPool::instance().parallelFor(chunks, [&](int chunk) {
      const int v0 = chunk * kChunkVertices, v1 = std::min(V, v0 + kChunkVertices);
      const int c0 = 3 * v0, n = 3 * (v1 - v0);
      double* part = partial.data() + slot * chunk;
      // u = dL/dp (rest-pose cotangent) for this chunk, per frame; uNoNeck likewise.
      std::vector<float> u(static_cast<size_t>(B) * n), un(noNeck ? static_cast<size_t>(B) * n : 0);
      for (int b = 0; b < B; ++b) {
        skinVjp(m, tape.transforms.data() + static_cast<size_t>(b) * 60, tape.posed.data() + static_cast<size_t>(b) * stride,
                g + static_cast<size_t>(b) * 3 * V, v0, v1, u.data() + static_cast<size_t>(b) * n, part + oT + b * 60);
        if (noNeck)
          skinVjp(m, tape.transformsNoNeck.data() + static_cast<size_t>(b) * 60,
                  tape.posedNoNeck.data() + static_cast<size_t>(b) * stride, gNoNeck + static_cast<size_t>(b) * 3 * V, v0,
                  v1, un.data() + static_cast<size_t>(b) * n, part + oTn + b * 60);
      }
      for (int k = 0; k < kPoseFeatures; ++k) {
        const float* pk = m.poseBasis.data() + static_cast<size_t>(k) * stride + c0;
        for (int b = 0; b < B; ++b) {
          part[oF + b * kPoseFeatures + k] = dotLanes(pk, u.data() + static_cast<size_t>(b) * n, n);
          if (noNeck) part[oFn + b * kPoseFeatures + k] = dotLanes(pk, un.data() + static_cast<size_t>(b) * n, n);
        }
      }
      // Blendshapes see the sum of both passes' cotangents.
      if (noNeck)
        for (size_t i = 0; i < u.size(); ++i) u[i] += un[i];
      for (int k = 0; k < nE; ++k) {
        const float* e = m.exprBasis.data() + static_cast<size_t>(k) * stride + c0;
        for (int b = 0; b < B; ++b) part[oPsi + static_cast<size_t>(b) * nE + k] = dotLanes(e, u.data() + static_cast<size_t>(b) * n, n);
      }
      if (nS) {
        // Shape is shared by the batch: sum the cotangents over frames first, one pass over S.
        std::vector<float> usum(u.begin(), u.begin() + n);
        for (int b = 1; b < B; ++b)
          for (int c = 0; c < n; ++c) usum[c] += u[static_cast<size_t>(b) * n + c];
        for (int k = 0; k < nS; ++k)
          part[oBeta + k] = dotLanes(m.shapeBasis.data() + static_cast<size_t>(k) * stride + c0, usum.data(), n);
      }
      if (m.hasEyelids)
        for (int b = 0; b < B; ++b)
          for (int e = 0; e < 2; ++e)
            part[oEye + 2 * b + e] =
                dotLanes(m.eyelidBasis.data() + static_cast<size_t>(e) * stride + c0, g + static_cast<size_t>(b) * 3 * V + c0, n);
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

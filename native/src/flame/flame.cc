// Host side of the FLAME kernel: model preparation, joint-level math in float64, landmarks, the reverse
// sweep through the chain and the rotation maps, and the explicit Jacobian. Per-vertex work is delegated to
// the backend (CPU or CUDA), which is why this file is shared by both.
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "flame.h"

namespace p3d {
namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

bool finiteAll(const double* x, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return false;
  return true;
}

bool finiteAll(const float* x, size_t n) {
  bool ok = true;
  for (size_t i = 0; i < n; ++i) ok &= std::isfinite(x[i]);
  return ok;
}

void copyPadded(AlignedVector<float>& dst, const float* src, int rows, int numVertices, int stride) {
  dst.resize(static_cast<size_t>(rows) * stride);
  for (int k = 0; k < rows; ++k)
    std::memcpy(dst.data() + static_cast<size_t>(k) * stride, src + static_cast<size_t>(k) * 3 * numVertices,
                sizeof(float) * 3 * numVertices);
}

// Joint regressor times one basis vector (float32 stored values, float64 sums).
void regressBasis(const FlameModel& m, const float* basis, double out[3 * kFlameJoints]) {
  for (int j = 0; j < kFlameJoints; ++j) {
    double s[3] = {0, 0, 0};
    for (int e = m.regressorOffsets[j]; e < m.regressorOffsets[j + 1]; ++e) {
      const int v = m.regressorVertices[e];
      const double w = m.regressorWeights[e];
      for (int d = 0; d < 3; ++d) s[d] += w * basis[3 * v + d];
    }
    for (int d = 0; d < 3; ++d) out[3 * j + d] = s[d];
  }
}

// Landmark l's three vertices and barycentric weights: the 17 contour points of the frame's yaw bin first,
// then the static ones.
void landmarkCorners(const FlameModel& m, int bin, int l, const int*& idx, const double*& w) {
  if (l < m.numDynamicLandmarks) {
    const size_t o = (static_cast<size_t>(bin) * m.numDynamicLandmarks + l) * 3;
    idx = &m.dynamicLandmarkVertices[o];
    w = &m.dynamicLandmarkBary[o];
  } else {
    idx = &m.staticLandmarkVertices[3 * (l - m.numDynamicLandmarks)];
    w = &m.staticLandmarkBary[3 * (l - m.numDynamicLandmarks)];
  }
}

}  // namespace

FlameTape::~FlameTape() {
  if (owner) owner->releaseTape(*this);
}

FlameModel::FlameModel(const FlameModelDesc& d) {
  require(d.numVertices > 0, "FLAME model: numVertices must be positive");
  require(d.numShape >= 0 && d.numExpression >= 0, "FLAME model: component counts must be non-negative");
  require(d.vTemplate && d.poseBasis && d.skinWeights && d.jointOffsets && d.jointVertices && d.jointWeights,
          "FLAME model: missing array");
  require(d.numShape == 0 || d.shapeBasis, "FLAME model: missing shape basis");
  require(d.numExpression == 0 || d.exprBasis, "FLAME model: missing expression basis");
  // Finite bases are what lets the CPU backward skip the zero blocks of a cotangent (see nonzeroBlocks).
  const size_t n3 = static_cast<size_t>(3) * d.numVertices;
  require(finiteAll(d.vTemplate, n3), "FLAME model: the template has a non-finite value");
  require(d.numShape == 0 || finiteAll(d.shapeBasis, n3 * d.numShape), "FLAME model: the shape basis has a non-finite value");
  require(d.numExpression == 0 || finiteAll(d.exprBasis, n3 * d.numExpression),
          "FLAME model: the expression basis has a non-finite value");
  require(finiteAll(d.poseBasis, n3 * kPoseFeatures), "FLAME model: the pose basis has a non-finite value");
  require(!d.eyelidBasis || finiteAll(d.eyelidBasis, n3 * 2), "FLAME model: the eyelid basis has a non-finite value");
  numVertices = d.numVertices;
  stride = paddedStride(numVertices);
  numShape = d.numShape;
  numExpression = d.numExpression;
  copyPadded(vTemplate, d.vTemplate, 1, numVertices, stride);
  if (numShape) copyPadded(shapeBasis, d.shapeBasis, numShape, numVertices, stride);
  if (numExpression) copyPadded(exprBasis, d.exprBasis, numExpression, numVertices, stride);
  copyPadded(poseBasis, d.poseBasis, kPoseFeatures, numVertices, stride);
  hasEyelids = d.eyelidBasis != nullptr;
  if (hasEyelids) copyPadded(eyelidBasis, d.eyelidBasis, 2, numVertices, stride);
  else eyelidBasis.resize(static_cast<size_t>(2) * stride);
  skinWeights.resize(static_cast<size_t>(numVertices) * kFlameJoints);
  std::memcpy(skinWeights.data(), d.skinWeights, sizeof(float) * numVertices * kFlameJoints);
  shapedTemplate.resize(stride);

  for (int j = 0; j < kFlameJoints; ++j) {
    parents[j] = d.parents[j];
    require(j == 0 ? parents[j] == -1 : (parents[j] >= 0 && parents[j] < j),
            "FLAME model: kintree parents must be -1 for the root and smaller than the joint index otherwise");
  }
  regressorOffsets.assign(d.jointOffsets, d.jointOffsets + kFlameJoints + 1);
  require(regressorOffsets[0] == 0, "FLAME model: joint regressor offsets must start at 0");
  for (int j = 0; j < kFlameJoints; ++j)
    require(regressorOffsets[j + 1] >= regressorOffsets[j], "FLAME model: joint regressor offsets must not decrease");
  const int nnz = regressorOffsets[kFlameJoints];
  regressorVertices.assign(d.jointVertices, d.jointVertices + nnz);
  regressorWeights.assign(d.jointWeights, d.jointWeights + nnz);
  for (int v : regressorVertices)
    require(v >= 0 && v < numVertices, "FLAME model: joint regressor vertex index out of range");

  regressBasis(*this, vTemplate.data(), jTemplate);
  jShape.assign(static_cast<size_t>(3 * kFlameJoints) * numShape, 0.0);
  jExpr.assign(static_cast<size_t>(3 * kFlameJoints) * numExpression, 0.0);
  double col[3 * kFlameJoints];
  for (int k = 0; k < numShape; ++k) {
    regressBasis(*this, shapeBasis.data() + static_cast<size_t>(k) * stride, col);
    for (int r = 0; r < 3 * kFlameJoints; ++r) jShape[static_cast<size_t>(r) * numShape + k] = col[r];
  }
  for (int k = 0; k < numExpression; ++k) {
    regressBasis(*this, exprBasis.data() + static_cast<size_t>(k) * stride, col);
    for (int r = 0; r < 3 * kFlameJoints; ++r) jExpr[static_cast<size_t>(r) * numExpression + k] = col[r];
  }

  numStaticLandmarks = d.numStaticLandmarks;
  numDynamicBins = d.numDynamicBins;
  numDynamicLandmarks = d.numDynamicLandmarks;
  if (numStaticLandmarks > 0) {
    require(d.staticLandmarkVertices && d.staticLandmarkBary, "FLAME model: missing static landmark arrays");
    require(numDynamicLandmarks == 0 || (numDynamicBins > 0 && d.dynamicLandmarkVertices && d.dynamicLandmarkBary),
            "FLAME model: missing dynamic landmark arrays");
    staticLandmarkVertices.assign(d.staticLandmarkVertices, d.staticLandmarkVertices + 3 * numStaticLandmarks);
    staticLandmarkBary.assign(d.staticLandmarkBary, d.staticLandmarkBary + 3 * numStaticLandmarks);
    const size_t nd = static_cast<size_t>(3) * numDynamicBins * numDynamicLandmarks;
    if (nd) {
      dynamicLandmarkVertices.assign(d.dynamicLandmarkVertices, d.dynamicLandmarkVertices + nd);
      dynamicLandmarkBary.assign(d.dynamicLandmarkBary, d.dynamicLandmarkBary + nd);
    }
    for (int v : staticLandmarkVertices) require(v >= 0 && v < numVertices, "FLAME model: landmark vertex out of range");
    for (int v : dynamicLandmarkVertices) require(v >= 0 && v < numVertices, "FLAME model: landmark vertex out of range");
  }
}

FlameModel::~FlameModel() = default;

std::shared_ptr<FlameBackend> FlameModel::backend(Device d) {
  if (d == Device::Cpu) {
    if (!cpu_) cpu_ = makeCpuFlameBackend();
    return cpu_;
  }
#ifdef P3D_HAVE_CUDA
  if (!cuda_) cuda_ = makeCudaFlameBackend(*this);
  return cuda_;
#else
  throw std::invalid_argument("this build of the addon has no CUDA support");
#endif
}

int contourBin(const double rel[9], int numBins) {
  // yaw = deg(atan2(-rel20, sqrt(rel00^2 + rel10^2))); a = round_half_even(min(-yaw, 39));
  // bin = a if a >= 0, 78 if a < -39, 39 - a otherwise (spec 4.2 step 8, written for 79 bins).
  const double kPi = 3.14159265358979323846;
  const double yaw = std::atan2(-rel[6], std::sqrt(rel[0] * rel[0] + rel[3] * rel[3])) * 180.0 / kPi;
  const double a = std::nearbyint(std::fmin(-yaw, 39.0));  // default rounding mode: half to even
  const int half = (numBins - 1) / 2;
  int bin;
  if (a >= 0) bin = static_cast<int>(a);
  else if (a < -half) bin = numBins - 1;
  else bin = half - static_cast<int>(a);
  return bin < 0 ? 0 : (bin >= numBins ? numBins - 1 : bin);
}

void flameForward(FlameModel& m, Device device, const FlameForwardArgs& a, FlameTape& tape) {
  require(a.batch >= 1, "flameForward: batch must be at least 1");
  require(a.numShape >= 0 && a.numShape <= m.numShape, "flameForward: too many shape coefficients");
  require(a.numExpression >= 0 && a.numExpression <= m.numExpression, "flameForward: too many expression coefficients");
  require(a.pose != nullptr, "flameForward: pose is required");
  require(!a.verticesNoNeck || a.withNoNeck, "flameForward: verticesNoNeck needs withNoNeck");
  const int B = a.batch;
  const int dims = rotationDims(a.rotationFormat);
  require(a.numShape == 0 || (a.shape && finiteAll(a.shape, a.numShape)), "flameForward: shape must be finite");
  require(a.numExpression == 0 || (a.expression && finiteAll(a.expression, static_cast<size_t>(B) * a.numExpression)),
          "flameForward: expression must be finite");
  require(finiteAll(a.pose, static_cast<size_t>(B) * kFlameJoints * dims), "flameForward: pose must be finite");
  require(!a.eyelids || finiteAll(a.eyelids, static_cast<size_t>(B) * 2), "flameForward: eyelids must be finite");

  std::shared_ptr<FlameBackend> backend = m.backend(device);
  if (tape.owner && tape.owner != backend) tape.owner->releaseTape(tape);
  tape.owner = backend;
  tape.device = device;
  tape.batch = B;
  tape.numShape = a.numShape;
  tape.numExpression = a.numExpression;
  tape.rotationFormat = a.rotationFormat;
  tape.withNoNeck = a.withNoNeck;
  tape.pose.assign(a.pose, a.pose + static_cast<size_t>(B) * kFlameJoints * dims);
  tape.chain.resize(B);
  tape.chainNoNeck.resize(a.withNoNeck ? B : 0);
  tape.transforms.resize(static_cast<size_t>(B) * kFlameJoints * kTransformFloats);
  tape.transformsNoNeck.resize(a.withNoNeck ? tape.transforms.size() : 0);
  tape.shapeCoeffs.resize(a.numShape);
  for (int k = 0; k < a.numShape; ++k) tape.shapeCoeffs[k] = static_cast<float>(a.shape[k]);
  tape.exprCoeffs.resize(static_cast<size_t>(B) * a.numExpression);
  for (size_t k = 0; k < tape.exprCoeffs.size(); ++k) tape.exprCoeffs[k] = static_cast<float>(a.expression[k]);
  tape.eyelidCoeffs.assign(static_cast<size_t>(B) * 2, 0.0f);
  if (a.eyelids)
    for (int k = 0; k < 2 * B; ++k) tape.eyelidCoeffs[k] = static_cast<float>(a.eyelids[k]);

  std::vector<float> features(static_cast<size_t>(B) * kPoseFeatures);
  std::vector<float> featuresNoNeck(a.withNoNeck ? features.size() : 0);
  for (int b = 0; b < B; ++b) {
    ChainState& s = tape.chain[b];
    for (int j = 0; j < kFlameJoints; ++j) {
      const double* x = a.pose + (static_cast<size_t>(b) * kFlameJoints + j) * dims;
      if (!rotationFromParams(a.rotationFormat, x, s.R[j]))
        throw std::invalid_argument("flameForward: frame " + std::to_string(b) + ", joint " + std::to_string(j) +
                                    ": degenerate 6D rotation (a zero row or two parallel rows)");
    }
    // J = J_reg v_shaped = jTemplate + jShape beta + jExpr psi_b
    for (int r = 0; r < 3 * kFlameJoints; ++r) {
      double v = m.jTemplate[r];
      for (int k = 0; k < a.numShape; ++k) v += m.jShape[static_cast<size_t>(r) * m.numShape + k] * a.shape[k];
      const double* psi = a.expression + static_cast<size_t>(b) * a.numExpression;
      for (int k = 0; k < a.numExpression; ++k) v += m.jExpr[static_cast<size_t>(r) * m.numExpression + k] * psi[k];
      s.J[r / 3][r % 3] = v;
    }
    chainForward(m.parents, s);
    for (int j = 1; j < kFlameJoints; ++j)
      for (int k = 0; k < 9; ++k)
        features[b * kPoseFeatures + 9 * (j - 1) + k] = static_cast<float>(s.R[j][k] - (k % 4 == 0 ? 1.0 : 0.0));
    for (int j = 0; j < kFlameJoints; ++j)
      for (int k = 0; k < kTransformFloats; ++k)
        tape.transforms[(static_cast<size_t>(b) * kFlameJoints + j) * kTransformFloats + k] = static_cast<float>(s.A[j][k]);
    if (a.withNoNeck) {
      ChainState& n = tape.chainNoNeck[b];
      n = s;
      for (int k = 0; k < 9; ++k) n.R[1][k] = (k % 4 == 0 ? 1.0 : 0.0);
      chainForward(m.parents, n);
      for (int j = 1; j < kFlameJoints; ++j)
        for (int k = 0; k < 9; ++k)
          featuresNoNeck[b * kPoseFeatures + 9 * (j - 1) + k] = static_cast<float>(n.R[j][k] - (k % 4 == 0 ? 1.0 : 0.0));
      for (int j = 0; j < kFlameJoints; ++j)
        for (int k = 0; k < kTransformFloats; ++k)
          tape.transformsNoNeck[(static_cast<size_t>(b) * kFlameJoints + j) * kTransformFloats + k] =
              static_cast<float>(n.A[j][k]);
    }
  }

  std::vector<float> scratchVertices;
  float* vertices = a.vertices;
  if (!vertices) {
    scratchVertices.resize(static_cast<size_t>(B) * 3 * m.numVertices);
    vertices = scratchVertices.data();
  }
  std::vector<float> scratchNoNeck;
  float* verticesNoNeck = a.verticesNoNeck;
  if (a.withNoNeck && !verticesNoNeck) {
    scratchNoNeck.resize(static_cast<size_t>(B) * 3 * m.numVertices);
    verticesNoNeck = scratchNoNeck.data();
  }
  BackendForwardInput in{};
  in.batch = B;
  in.numShape = a.numShape;
  in.numExpression = a.numExpression;
  in.beta = tape.shapeCoeffs.data();
  in.psi = tape.exprCoeffs.data();
  in.features = features.data();
  in.featuresNoNeck = a.withNoNeck ? featuresNoNeck.data() : nullptr;
  in.transforms = tape.transforms.data();
  in.transformsNoNeck = a.withNoNeck ? tape.transformsNoNeck.data() : nullptr;
  in.eyelids = a.eyelids ? tape.eyelidCoeffs.data() : nullptr;
  in.vertices = vertices;
  in.verticesNoNeck = verticesNoNeck;
  backend->forward(m, tape, in);

  if (a.jointTransforms) {
    for (int b = 0; b < B; ++b)
      for (int j = 0; j < kFlameJoints; ++j) {
        float* out = a.jointTransforms + (static_cast<size_t>(b) * kFlameJoints + j) * 16;
        for (int k = 0; k < 12; ++k) out[k] = static_cast<float>(tape.chain[b].A[j][k]);
        out[12] = out[13] = out[14] = 0.0f;
        out[15] = 1.0f;
      }
  }

  const int L = m.numLandmarks();
  tape.landmarkBin.assign(B, 0);
  if (L > 0) {
    for (int b = 0; b < B; ++b) {
      double rel[9];
      const double* H = a.landmarkRotation ? a.landmarkRotation + 9 * b : nullptr;
      const double* Rn = tape.chain[b].R[1];
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c)
          rel[3 * r + c] = H ? H[3 * r] * Rn[c] + H[3 * r + 1] * Rn[3 + c] + H[3 * r + 2] * Rn[6 + c] : Rn[3 * r + c];
      tape.landmarkBin[b] = m.numDynamicLandmarks ? contourBin(rel, m.numDynamicBins) : 0;
    }
    if (a.landmarks) {
      for (int b = 0; b < B; ++b) {
        const float* v = vertices + static_cast<size_t>(b) * 3 * m.numVertices;
        for (int l = 0; l < L; ++l) {
          const int* idx;
          const double* w;
          landmarkCorners(m, tape.landmarkBin[b], l, idx, w);
          for (int d = 0; d < 3; ++d)
            a.landmarks[(static_cast<size_t>(b) * L + l) * 3 + d] =
                static_cast<float>(w[0] * v[3 * idx[0] + d] + w[1] * v[3 * idx[1] + d] + w[2] * v[3 * idx[2] + d]);
        }
      }
    }
  }
}

void flameVjp(FlameModel& m, FlameTape& tape, const FlameVjpArgs& a) {
  require(tape.owner != nullptr && tape.batch > 0, "flameVjp: no forward pass recorded");
  require(!a.gradVerticesNoNeck || tape.withNoNeck, "flameVjp: gradVerticesNoNeck needs a forward withNoNeck");
  const int B = tape.batch;
  const int V = m.numVertices;
  const int dims = rotationDims(tape.rotationFormat);
  const int L = m.numLandmarks();

  // Landmarks are barycentric combinations of posed vertices: scatter their cotangents onto the vertices.
  const bool scatter = a.gradLandmarks && L > 0;
  const float* g = a.gradVertices;
  if (scatter || !g) {
    std::vector<float>& buf = tape.gradScratch;
    buf.resize(static_cast<size_t>(B) * 3 * V);
    if (a.gradVertices) std::memcpy(buf.data(), a.gradVertices, sizeof(float) * buf.size());
    else std::fill(buf.begin(), buf.end(), 0.0f);
    g = buf.data();
  }
  if (scatter) {
    float* gAll = tape.gradScratch.data();
    for (int b = 0; b < B; ++b) {
      float* gb = gAll + static_cast<size_t>(b) * 3 * V;
      for (int l = 0; l < L; ++l) {
        const int* idx;
        const double* w;
        landmarkCorners(m, tape.landmarkBin[b], l, idx, w);
        for (int d = 0; d < 3; ++d) {
          const double gl = a.gradLandmarks[(static_cast<size_t>(b) * L + l) * 3 + d];
          for (int c = 0; c < 3; ++c) gb[3 * idx[c] + d] += static_cast<float>(w[c] * gl);
        }
      }
    }
  }

  BackendVjpOutput out;
  tape.owner->vjp(m, tape, g, a.gradVerticesNoNeck, a.wantShape && a.gradShape, out);

  std::vector<double> gJsum(3 * kFlameJoints, 0.0);
  for (int b = 0; b < B; ++b) {
    double gA[kFlameJoints][12], gR[kFlameJoints][9], gJ[kFlameJoints][3];
    std::memset(gR, 0, sizeof(gR));
    std::memset(gJ, 0, sizeof(gJ));
    std::memcpy(gA, &out.gradTransforms[static_cast<size_t>(b) * kFlameJoints * 12], sizeof(gA));
    chainVjp(m.parents, tape.chain[b], gA, gR, gJ);
    for (int j = 1; j < kFlameJoints; ++j)
      for (int k = 0; k < 9; ++k) gR[j][k] += out.gradFeatures[b * kPoseFeatures + 9 * (j - 1) + k];
    if (tape.withNoNeck && a.gradVerticesNoNeck) {
      // The no-neck pass has R_neck fixed at I: it contributes to every input except the neck rotation.
      double gRn[kFlameJoints][9];
      std::memset(gRn, 0, sizeof(gRn));
      std::memcpy(gA, &out.gradTransformsNoNeck[static_cast<size_t>(b) * kFlameJoints * 12], sizeof(gA));
      chainVjp(m.parents, tape.chainNoNeck[b], gA, gRn, gJ);
      for (int j = 1; j < kFlameJoints; ++j)
        for (int k = 0; k < 9; ++k) gRn[j][k] += out.gradFeaturesNoNeck[b * kPoseFeatures + 9 * (j - 1) + k];
      for (int j = 0; j < kFlameJoints; ++j)
        if (j != 1)
          for (int k = 0; k < 9; ++k) gR[j][k] += gRn[j][k];
    }
    if (a.gradPose) {
      double* gp = a.gradPose + static_cast<size_t>(b) * kFlameJoints * dims;
      std::memset(gp, 0, sizeof(double) * kFlameJoints * dims);
      for (int j = 0; j < kFlameJoints; ++j)
        rotationVjp(tape.rotationFormat, &tape.pose[(static_cast<size_t>(b) * kFlameJoints + j) * dims], gR[j],
                    gp + j * dims);
    }
    if (a.gradExpression) {
      for (int k = 0; k < tape.numExpression; ++k) {
        double s = out.gradPsi[static_cast<size_t>(b) * tape.numExpression + k];
        for (int r = 0; r < 3 * kFlameJoints; ++r) s += m.jExpr[static_cast<size_t>(r) * m.numExpression + k] * gJ[r / 3][r % 3];
        a.gradExpression[static_cast<size_t>(b) * tape.numExpression + k] = s;
      }
    }
    if (a.gradEyelids) {
      a.gradEyelids[2 * b] = m.hasEyelids ? out.gradEyelids[2 * b] : 0.0;
      a.gradEyelids[2 * b + 1] = m.hasEyelids ? out.gradEyelids[2 * b + 1] : 0.0;
    }
    for (int r = 0; r < 3 * kFlameJoints; ++r) gJsum[r] += gJ[r / 3][r % 3];
  }
  if (a.gradShape) {
    for (int k = 0; k < tape.numShape; ++k) {
      if (!a.wantShape) {
        a.gradShape[k] = 0;
        continue;
      }
      double s = out.gradBeta[k];
      for (int r = 0; r < 3 * kFlameJoints; ++r) s += m.jShape[static_cast<size_t>(r) * m.numShape + k] * gJsum[r];
      a.gradShape[k] = s;
    }
  }
}

void flameJacobian(FlameModel& m, FlameTape& tape, const int* vertexIndices, int count, double* out) {
  require(tape.owner != nullptr && tape.batch > 0, "flameJacobian: no forward pass recorded");
  const int B = tape.batch;
  const int dims = rotationDims(tape.rotationFormat);
  const int nS = tape.numShape, nE = tape.numExpression;
  const int P = nS + nE + kFlameJoints * dims + 2;
  for (int n = 0; n < count; ++n)
    require(vertexIndices[n] >= 0 && vertexIndices[n] < m.numVertices, "flameJacobian: vertex index out of range");
  const float* posed = tape.owner->posedOnHost(m, tape);
  const int stride = m.stride;

  for (int b = 0; b < B; ++b) {
    const ChainState& s = tape.chain[b];
    double D[kFlameJoints][kFlameJoints][9];
    chainJointDerivative(m.parents, s, D);
    // dA_j / d(rotation parameter) for every joint q and parameter index
    std::vector<double> dA(static_cast<size_t>(kFlameJoints) * dims * kFlameJoints * 12);
    std::vector<double> dRall(static_cast<size_t>(kFlameJoints) * dims * 9);
    for (int q = 0; q < kFlameJoints; ++q) {
      double Jr[6 * 9];
      rotationJacobian(tape.rotationFormat, &tape.pose[(static_cast<size_t>(b) * kFlameJoints + q) * dims], Jr);
      for (int p = 0; p < dims; ++p) {
        double dR[kFlameJoints][9];
        std::memset(dR, 0, sizeof(dR));
        std::memcpy(dR[q], Jr + 9 * p, sizeof(dR[q]));
        std::memcpy(&dRall[(static_cast<size_t>(q) * dims + p) * 9], Jr + 9 * p, sizeof(double) * 9);
        double dAq[kFlameJoints][12];
        chainTangentRotation(m.parents, s, dR, dAq);
        std::memcpy(&dA[(static_cast<size_t>(q) * dims + p) * kFlameJoints * 12], dAq, sizeof(dAq));
      }
    }
    const float* pb = posed + static_cast<size_t>(b) * stride;
    for (int n = 0; n < count; ++n) {
      const int i = vertexIndices[n];
      const float* w = m.skinWeights.data() + static_cast<size_t>(i) * kFlameJoints;
      double T3[9] = {0}, Q[kFlameJoints][9];
      std::memset(Q, 0, sizeof(Q));
      for (int j = 0; j < kFlameJoints; ++j) {
        for (int k = 0; k < 9; ++k) T3[k] += w[j] * s.Rg[j][k];
        for (int mm = 0; mm < kFlameJoints; ++mm)
          for (int k = 0; k < 9; ++k) Q[mm][k] += w[j] * D[j][mm][k];
      }
      const double p[3] = {pb[3 * i], pb[3 * i + 1], pb[3 * i + 2]};
      double* rows = out + ((static_cast<size_t>(b) * count + n) * 3) * P;
      auto basisColumn = [&](const float* basis, const std::vector<double>& jBasis, int K, int k, int col) {
        const float* bk = basis + static_cast<size_t>(k) * stride + 3 * i;
        for (int r = 0; r < 3; ++r) {
          double v = T3[3 * r] * bk[0] + T3[3 * r + 1] * bk[1] + T3[3 * r + 2] * bk[2];
          for (int mm = 0; mm < kFlameJoints; ++mm)
            for (int c = 0; c < 3; ++c) v += Q[mm][3 * r + c] * jBasis[static_cast<size_t>(3 * mm + c) * K + k];
          rows[static_cast<size_t>(r) * P + col] = v;
        }
      };
      for (int k = 0; k < nS; ++k) basisColumn(m.shapeBasis.data(), m.jShape, m.numShape, k, k);
      for (int k = 0; k < nE; ++k) basisColumn(m.exprBasis.data(), m.jExpr, m.numExpression, k, nS + k);
      for (int q = 0; q < kFlameJoints; ++q)
        for (int pp = 0; pp < dims; ++pp) {
          const double* dAq = &dA[(static_cast<size_t>(q) * dims + pp) * kFlameJoints * 12];
          const double* dR = &dRall[(static_cast<size_t>(q) * dims + pp) * 9];
          double dp[3] = {0, 0, 0};
          if (q >= 1)
            for (int k = 0; k < 9; ++k) {
              if (dR[k] == 0.0) continue;
              const float* Pk = m.poseBasis.data() + static_cast<size_t>(9 * (q - 1) + k) * stride + 3 * i;
              for (int d = 0; d < 3; ++d) dp[d] += dR[k] * Pk[d];
            }
          for (int r = 0; r < 3; ++r) {
            double v = T3[3 * r] * dp[0] + T3[3 * r + 1] * dp[1] + T3[3 * r + 2] * dp[2];
            for (int j = 0; j < kFlameJoints; ++j) {
              const double* t = dAq + j * 12 + 4 * r;
              v += w[j] * (t[0] * p[0] + t[1] * p[1] + t[2] * p[2] + t[3]);
            }
            rows[static_cast<size_t>(r) * P + nS + nE + q * dims + pp] = v;
          }
        }
      for (int e = 0; e < 2; ++e)
        for (int r = 0; r < 3; ++r)
          rows[static_cast<size_t>(r) * P + P - 2 + e] =
              m.hasEyelids ? m.eyelidBasis[static_cast<size_t>(e) * stride + 3 * i + r] : 0.0;
    }
  }
}

}  // namespace p3d

// FLAME evaluation with gradients: the model, its forward pass, the vector-Jacobian product and the explicit
// Jacobian of a vertex subset. One API for both backends: the joint-level math (rotations, chain, landmarks)
// runs in float64 on the host (flame.cc); only the per-vertex work differs (flame_cpu.cc, cuda/flame_cuda.cu).
//
// Layout conventions:
// - Per-vertex arrays are row-major [V, 3] (x, y, z of vertex 0 first); per-frame arrays are stacked [B, ...].
// - Bases are stored basis-major [K, stride] float32, stride = paddedStride(V) (see aligned.h):
//   component k of vertex i, coordinate d is basis[k * stride + 3 * i + d].
// - Skinning transforms A_j are 3x4 row-major [R | t]; joint_transforms outputs are 4x4 row-major.
// - The pose feature of spec 4.2 step 3 is vec(R_j - I) for j = 1..4, index 9 (j - 1) + 3 r + c.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "../common/aligned.h"
#include "joint_math.h"

namespace p3d {

constexpr int kPoseFeatures = 36;
constexpr int kTransformFloats = 12;  // one 3x4 transform

enum class Device { Cpu, Cuda };

/** Everything a FLAME model file provides, as host arrays; copied (and padded) by FlameModel. */
struct FlameModelDesc {
  int numVertices = 0;
  int numShape = 0;               // identity components present (FLAME: 300)
  int numExpression = 0;          // expression components present (FLAME: 100)
  const float* vTemplate = nullptr;    // [V*3]
  const float* shapeBasis = nullptr;   // [numShape, V*3]
  const float* exprBasis = nullptr;    // [numExpression, V*3]
  const float* poseBasis = nullptr;    // [36, V*3]
  const float* eyelidBasis = nullptr;  // [2, V*3] or null (no eyelid blendshapes)
  const float* skinWeights = nullptr;  // [V, 5]
  // Joint regressor, sparse by joint (CSR): joint j uses entries jointOffsets[j] .. jointOffsets[j+1].
  const int* jointOffsets = nullptr;   // [6]
  const int* jointVertices = nullptr;
  const double* jointWeights = nullptr;
  int parents[kFlameJoints] = {-1, 0, 1, 1, 1};
  // Landmark embedding (optional): vertex triplets and barycentric weights.
  int numStaticLandmarks = 0;          // 51
  int numDynamicBins = 0;              // 79 yaw bins
  int numDynamicLandmarks = 0;         // 17 contour points per bin
  const int* staticLandmarkVertices = nullptr;    // [numStatic, 3]
  const double* staticLandmarkBary = nullptr;     // [numStatic, 3]
  const int* dynamicLandmarkVertices = nullptr;   // [bins, numDynamic, 3]
  const double* dynamicLandmarkBary = nullptr;    // [bins, numDynamic, 3]
};

class FlameBackend;

/** A loaded model: padded float32 bases, the joint regressor times every basis, the shape cache. */
class FlameModel {
 public:
  explicit FlameModel(const FlameModelDesc& desc);  // throws std::invalid_argument on bad sizes
  ~FlameModel();

  int numVertices = 0, stride = 0, numShape = 0, numExpression = 0;
  AlignedVector<float> vTemplate, shapeBasis, exprBasis, poseBasis, eyelidBasis, skinWeights;
  bool hasEyelids = false;
  int parents[kFlameJoints];
  // Joint regressor applied to the template and to every basis vector, in float64: J = jTemplate +
  // jShape * beta + jExpr * psi, each [15] or [15, K] row-major (row = 3 j + d).
  double jTemplate[3 * kFlameJoints];
  std::vector<double> jShape, jExpr;
  std::vector<int> regressorOffsets, regressorVertices;
  std::vector<double> regressorWeights;
  // Landmarks
  int numStaticLandmarks = 0, numDynamicBins = 0, numDynamicLandmarks = 0;
  std::vector<int> staticLandmarkVertices, dynamicLandmarkVertices;
  std::vector<double> staticLandmarkBary, dynamicLandmarkBary;
  int numLandmarks() const { return numStaticLandmarks ? numStaticLandmarks + numDynamicLandmarks : 0; }

  // Shape cache: v_template + S beta for the last beta seen (per backend).
  std::vector<float> cachedBeta;
  bool cpuShapeValid = false;
  AlignedVector<float> shapedTemplate;  // [stride]

  /** Shared with every tape made by it, so a tape released after its model (at GC) still has a backend. */
  std::shared_ptr<FlameBackend> backend(Device d);

 private:
  std::shared_ptr<FlameBackend> cpu_;
  std::shared_ptr<FlameBackend> cuda_;
};

/** Inputs and outputs of one batched forward pass. Host pointers; outputs may be null where not wanted. */
struct FlameForwardArgs {
  int batch = 1;
  int numShape = 0;           // shape coefficients given (<= model numShape); the rest are zero
  int numExpression = 0;      // expression coefficients per frame (<= model numExpression)
  const double* shape = nullptr;       // [numShape], shared by the whole batch
  const double* expression = nullptr;  // [B, numExpression]
  RotationFormat rotationFormat = RotationFormat::SixD;
  const double* pose = nullptr;        // [B, 5, rotationDims]: root, neck, jaw, left eye, right eye
  const double* eyelids = nullptr;     // [B, 2] or null
  const double* landmarkRotation = nullptr;  // [B, 9] head rotation used to pick the contour bin, or null (I)
  bool withNoNeck = false;
  float* vertices = nullptr;           // [B, V, 3]
  float* verticesNoNeck = nullptr;     // [B, V, 3] (requires withNoNeck)
  float* jointTransforms = nullptr;    // [B, 5, 4, 4]
  float* landmarks = nullptr;          // [B, numLandmarks, 3]
};

/** What the forward pass keeps for the backward pass and the Jacobian. */
struct FlameTape {
  Device device = Device::Cpu;
  int batch = 0, numShape = 0, numExpression = 0;
  RotationFormat rotationFormat = RotationFormat::SixD;
  bool withNoNeck = false;
  std::vector<double> pose;              // [B, 5, dims]
  std::vector<ChainState> chain, chainNoNeck;
  std::vector<int> landmarkBin;          // [B]
  AlignedVector<float> posed, posedNoNeck;  // p = v_shaped + P f, [B, stride] (CPU backend)
  std::vector<float> transforms, transformsNoNeck;  // [B, 5, 12] float32 as used per vertex
  std::vector<float> shapeCoeffs, exprCoeffs, eyelidCoeffs;
  std::vector<float> gradScratch;        // vertex cotangent plus scattered landmark cotangents
  void* deviceState = nullptr;           // backend-owned (CUDA buffers)
  std::shared_ptr<FlameBackend> owner;
  ~FlameTape();
};

struct FlameVjpArgs {
  const float* gradVertices = nullptr;        // [B, V, 3] or null
  const float* gradVerticesNoNeck = nullptr;  // [B, V, 3] or null
  const float* gradLandmarks = nullptr;       // [B, numLandmarks, 3] or null
  bool wantShape = true;
  double* gradShape = nullptr;       // [numShape] (summed over the batch)
  double* gradExpression = nullptr;  // [B, numExpression]
  double* gradPose = nullptr;        // [B, 5, dims]
  double* gradEyelids = nullptr;     // [B, 2]
};

/** Per-vertex work a backend does; the host passes float32 transforms and coefficients. */
struct BackendForwardInput {
  int batch, numShape, numExpression;
  const float* beta;        // [numShape]
  const float* psi;         // [B, numExpression]
  const float* features;    // [B, 36]
  const float* featuresNoNeck;  // [B, 36] or null
  const float* transforms;  // [B, 5, 12]
  const float* transformsNoNeck;  // or null
  const float* eyelids;     // [B, 2] or null
  float* vertices;          // [B, V, 3] output
  float* verticesNoNeck;    // or null
};

struct BackendVjpOutput {
  // All accumulated in a fixed order (deterministic); sizes as in FlameVjpArgs.
  std::vector<double> gradTransforms, gradTransformsNoNeck;  // [B, 5, 12]
  std::vector<double> gradFeatures, gradFeaturesNoNeck;      // [B, 36]
  std::vector<double> gradPsi;                               // [B, numExpression]
  std::vector<double> gradBeta;                              // [numShape]
  std::vector<double> gradEyelids;                           // [B, 2]
};

class FlameBackend {
 public:
  virtual ~FlameBackend() = default;
  virtual void forward(FlameModel& model, FlameTape& tape, const BackendForwardInput& in) = 0;
  /** g: [B, V, 3] combined vertex cotangent (never null); gNoNeck may be null. */
  virtual void vjp(FlameModel& model, const FlameTape& tape, const float* g, const float* gNoNeck, bool wantShape,
                   BackendVjpOutput& out) = 0;
  /** The tape's p (posed rest vertices), [B, stride], on the host (for the Jacobian). */
  virtual const float* posedOnHost(FlameModel& model, FlameTape& tape) = 0;
  virtual void releaseTape(FlameTape&) {}
};

std::unique_ptr<FlameBackend> makeCpuFlameBackend();
#ifdef P3D_HAVE_CUDA
std::unique_ptr<FlameBackend> makeCudaFlameBackend(FlameModel& model);
#endif

/** The forward pass; fills the tape for flameVjp / flameJacobian. Throws std::invalid_argument. */
void flameForward(FlameModel& model, Device device, const FlameForwardArgs& args, FlameTape& tape);
void flameVjp(FlameModel& model, FlameTape& tape, const FlameVjpArgs& args);
/**
 * d vertices / d params for the given vertices of every frame: out [B, n*3, P] row-major with
 * P = numShape + numExpression + 5 * dims + 2 (shape, expression, pose, eyelids).
 */
void flameJacobian(FlameModel& model, FlameTape& tape, const int* vertexIndices, int count, double* out);

/** Yaw bin of spec 4.2 step 8 for rel = headRotation * R_neck. */
int contourBin(const double rel[9], int numBins);

}  // namespace p3d

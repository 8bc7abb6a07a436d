// gpu_parity: the CUDA FLAME backend and the CUDA rasterizer ops against the CPU ones (kernels-design.md 5.3).
// The rasterizer part lives in raster_parity.cc (every raster / interpolate / texture / antialias op, forward and
// backward, on several meshes; see there). This file holds the FLAME part and main().
//
// Builds a random but well-formed FLAME-like model (5023 vertices, 300 shape and 100 expression components,
// smooth bases of magnitude ~1e-3, skinning weights summing to 1, a sparse joint regressor, parents
// [-1, 0, 1, 1, 1], 51 static + 79 x 17 dynamic landmarks), runs flameForward / flameVjp / flameJacobian on
// Device::Cpu and Device::Cuda and checks
//  - every forward output and every gradient: max |cuda - cpu| / max |cpu| <= 1e-5, per array;
//  - run-to-run bitwise determinism of the CUDA results (fresh tape and reused tape);
//  - a frame computed inside a batch equals the frame computed alone, bitwise (per-frame outputs);
//  - the CUDA shape cache: same beta twice (bitwise), changed beta (must follow), back again, shorter beta.
// Prints one line per figure and a closing "N passed, N failed". Exit 0 when all pass, 1 otherwise, and 77
// (skipped) when no CUDA device is usable or the build has no CUDA.
//
// A second, smaller model without eyelid blendshapes or expression components covers those paths.
//
// Usage: gpu_parity [--small] [--no-timing] [--cpu-vs-cpu] [--flame-only | --raster-only]
//   --small       a small main model (401 vertices, 40 shape, 12 expression) and small rasterizer images: quick,
//                 e.g. under compute-sanitizer
//   --no-timing   leave out the (informational) timings (FLAME forward + vjp; median ms per rasterizer op)
//   --cpu-vs-cpu  run the whole harness with the CPU backend on both sides (checks the harness without a GPU)
//   --flame-only / --raster-only   run one part only
//   --strict-bits every rasterizer output must be bitwise equal to the CPU's (default: rasterize forward bitwise,
//                 the other outputs and all gradients within 1e-6 * max(1, max |ref|); bitwise is reported)
//   --fuzz N      N random small rasterizer problems (default 100, --small 25), failures printed only
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "parity_common.h"
#include "addon/device_info.h"
#include "flame/flame.h"

namespace {

using p3d::Device;
using p3d::FlameModel;
using p3d::FlameTape;
using p3d::kFlameJoints;
using p3d::RotationFormat;

constexpr double kTolerance = 1e-5;

// ---------------------------------------------------------------------------------------------------------
// Random numbers (fixed seeds: every run sees the same model and inputs)

using p3d_test::kPi;
using p3d_test::Rng;

// ---------------------------------------------------------------------------------------------------------
// A FLAME-like model

struct ModelData {
  int V = 0, nS = 0, nE = 0;
  bool eyelids = true;
  std::vector<float> vTemplate, shapeBasis, exprBasis, poseBasis, eyelidBasis, skinWeights;
  std::vector<int> jointOffsets, jointVertices;
  std::vector<double> jointWeights;
  int nStatic = 0, nBins = 0, nDynamic = 0;
  std::vector<int> staticVertices, dynamicVertices;
  std::vector<double> staticBary, dynamicBary;

  p3d::FlameModelDesc desc() const {
    p3d::FlameModelDesc d;
    d.numVertices = V;
    d.numShape = nS;
    d.numExpression = nE;
    d.vTemplate = vTemplate.data();
    d.shapeBasis = shapeBasis.data();
    d.exprBasis = exprBasis.data();
    d.poseBasis = poseBasis.data();
    d.eyelidBasis = eyelids ? eyelidBasis.data() : nullptr;
    d.skinWeights = skinWeights.data();
    d.jointOffsets = jointOffsets.data();
    d.jointVertices = jointVertices.data();
    d.jointWeights = jointWeights.data();
    const int parents[kFlameJoints] = {-1, 0, 1, 1, 1};
    std::copy(parents, parents + kFlameJoints, d.parents);
    d.numStaticLandmarks = nStatic;
    d.numDynamicBins = nBins;
    d.numDynamicLandmarks = nDynamic;
    d.staticLandmarkVertices = staticVertices.data();
    d.staticLandmarkBary = staticBary.data();
    d.dynamicLandmarkVertices = dynamicVertices.data();
    d.dynamicLandmarkBary = dynamicBary.data();
    return d;
  }
};

// K smooth fields over the template: a ~ sin(f . x + phase_d) per coordinate, plus 5 % noise; `mask` (or
// null) restricts the support to some vertices.
void smoothBasis(std::vector<float>& out, int K, const std::vector<float>& pos, int V, double amplitude, Rng& rng,
                 const std::vector<char>* mask = nullptr) {
  out.assign(static_cast<size_t>(K) * 3 * V, 0.0f);
  for (int k = 0; k < K; ++k) {
    const double scale = rng.uniform(5.0, 60.0);  // rad per metre: a few waves across a 0.2 m head
    const double f[3] = {scale * rng.normal(), scale * rng.normal(), scale * rng.normal()};
    const double phase[3] = {rng.uniform(0, 2 * kPi), rng.uniform(0, 2 * kPi), rng.uniform(0, 2 * kPi)};
    const double a = amplitude * rng.uniform(0.5, 1.5);
    for (int i = 0; i < V; ++i) {
      if (mask && !(*mask)[i]) continue;
      const double arg = f[0] * pos[3 * i] + f[1] * pos[3 * i + 1] + f[2] * pos[3 * i + 2];
      for (int d = 0; d < 3; ++d)
        out[static_cast<size_t>(k) * 3 * V + 3 * i + d] =
            static_cast<float>(a * std::sin(arg + phase[d]) + 0.05 * amplitude * rng.normal());
    }
  }
}

void randomTriangle(int V, Rng& rng, int* idx, double* bary) {
  idx[0] = rng.index(V);
  do idx[1] = rng.index(V); while (idx[1] == idx[0]);
  do idx[2] = rng.index(V); while (idx[2] == idx[0] || idx[2] == idx[1]);
  double s = 0;
  for (int c = 0; c < 3; ++c) s += (bary[c] = rng.uniform(0.05, 1.0));
  for (int c = 0; c < 3; ++c) bary[c] /= s;
}

ModelData makeModel(int V, int nS, int nE, bool eyelids, uint64_t seed) {
  Rng rng(seed);
  ModelData m;
  m.eyelids = eyelids;
  m.V = V;
  m.nS = nS;
  m.nE = nE;
  // Template: a head-sized ellipsoid (Fibonacci lattice) with 1 mm jitter.
  m.vTemplate.resize(3 * static_cast<size_t>(V));
  const double golden = kPi * (3.0 - std::sqrt(5.0));
  for (int i = 0; i < V; ++i) {
    const double z = 1.0 - 2.0 * (i + 0.5) / V, r = std::sqrt(std::max(0.0, 1.0 - z * z)), phi = golden * i;
    m.vTemplate[3 * i] = static_cast<float>(0.075 * r * std::cos(phi) + 1e-3 * rng.normal());
    m.vTemplate[3 * i + 1] = static_cast<float>(0.10 * z + 0.02 + 1e-3 * rng.normal());
    m.vTemplate[3 * i + 2] = static_cast<float>(0.085 * r * std::sin(phi) + 1e-3 * rng.normal());
  }
  smoothBasis(m.shapeBasis, nS, m.vTemplate, V, 1e-3, rng);
  smoothBasis(m.exprBasis, nE, m.vTemplate, V, 1e-3, rng);
  smoothBasis(m.poseBasis, p3d::kPoseFeatures, m.vTemplate, V, 1e-3, rng);
  std::vector<char> eyelidMask(V, 0);
  for (int i = 0; i < V; ++i) eyelidMask[i] = rng.uniform(0, 1) < 0.05;
  smoothBasis(m.eyelidBasis, 2, m.vTemplate, V, 1e-3, rng, &eyelidMask);
  // Skinning weights: 1 to 3 joints per vertex (exact zeros elsewhere), summing to 1.
  m.skinWeights.assign(static_cast<size_t>(V) * kFlameJoints, 0.0f);
  for (int i = 0; i < V; ++i) {
    const double roll = rng.uniform(0, 1);
    const int count = roll < 0.4 ? 1 : (roll < 0.8 ? 2 : 3);
    int joints[3];
    for (int c = 0; c < count; ++c) {
      bool fresh;
      do {
        joints[c] = rng.index(kFlameJoints);
        fresh = true;
        for (int e = 0; e < c; ++e) fresh = fresh && joints[e] != joints[c];
      } while (!fresh);
    }
    double w[3], s = 0;
    for (int c = 0; c < count; ++c) s += (w[c] = rng.uniform(0.1, 1.0));
    for (int c = 0; c < count; ++c) m.skinWeights[static_cast<size_t>(i) * kFlameJoints + joints[c]] = static_cast<float>(w[c] / s);
  }
  // Joint regressor: 12 vertices per joint, positive weights summing to 1.
  m.jointOffsets.assign(1, 0);
  for (int j = 0; j < kFlameJoints; ++j) {
    double w[12], s = 0;
    for (int e = 0; e < 12; ++e) {
      m.jointVertices.push_back(rng.index(V));
      s += (w[e] = rng.uniform(0.1, 1.0));
    }
    for (int e = 0; e < 12; ++e) m.jointWeights.push_back(w[e] / s);
    m.jointOffsets.push_back(static_cast<int>(m.jointVertices.size()));
  }
  // Landmarks: 51 static, 79 bins x 17 dynamic.
  m.nStatic = 51;
  m.nBins = 79;
  m.nDynamic = 17;
  m.staticVertices.resize(3 * m.nStatic);
  m.staticBary.resize(3 * m.nStatic);
  for (int l = 0; l < m.nStatic; ++l) randomTriangle(V, rng, &m.staticVertices[3 * l], &m.staticBary[3 * l]);
  m.dynamicVertices.resize(3 * m.nBins * m.nDynamic);
  m.dynamicBary.resize(3 * m.nBins * m.nDynamic);
  for (int l = 0; l < m.nBins * m.nDynamic; ++l) randomTriangle(V, rng, &m.dynamicVertices[3 * l], &m.dynamicBary[3 * l]);
  return m;
}

// ---------------------------------------------------------------------------------------------------------
// Inputs and one evaluation

struct Inputs {
  int B = 1, nS = 0, nE = 0;
  RotationFormat fmt = RotationFormat::SixD;
  bool noNeck = true;
  std::vector<double> shape, expression, pose, eyelids, landmarkRotation;  // eyelids / landmarkRotation may be empty

  int dims() const { return p3d::rotationDims(fmt); }
};

struct Cotangents {
  std::vector<float> vertices, verticesNoNeck, landmarks;  // verticesNoNeck may be empty
};

struct Result {
  std::vector<float> vertices, verticesNoNeck, jointTransforms, landmarks;
  std::vector<double> gradShape, gradExpression, gradPose, gradEyelids, jacobian;
};

void axisAngleRotation(const double r[3], double R[9]) {
  if (!p3d::rotationFromParams(RotationFormat::AxisAngle, r, R)) throw std::runtime_error("axis-angle rotation failed");
}

/** A random rotation of at most `maxAngle` radians in the requested parameterisation (6D: scaled, skewed rows). */
void randomRotation(RotationFormat fmt, double maxAngle, Rng& rng, double* out) {
  double axis[3] = {rng.normal(), rng.normal(), rng.normal()};
  const double norm = std::sqrt(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]);
  const double angle = rng.uniform(0.3, 1.0) * maxAngle;
  double r[3];
  for (int d = 0; d < 3; ++d) r[d] = axis[d] / norm * angle;
  if (fmt == RotationFormat::AxisAngle) {
    std::copy(r, r + 3, out);
    return;
  }
  double R[9];
  axisAngleRotation(r, R);
  const double s1 = rng.uniform(0.5, 2.0), s2 = rng.uniform(0.5, 2.0), skew = rng.uniform(-0.4, 0.4);
  for (int d = 0; d < 3; ++d) {
    out[d] = s1 * R[d] + 0.02 * rng.normal();
    out[3 + d] = s2 * (R[3 + d] + skew * R[d]) + 0.02 * rng.normal();
  }
}

Inputs makeInputs(int B, int nS, int nE, RotationFormat fmt, bool eyelids, bool landmarkRotation,
                  bool noNeck, uint64_t seed) {
  Rng rng(seed);
  Inputs in;
  in.B = B;
  in.nS = nS;
  in.nE = nE;
  in.fmt = fmt;
  in.noNeck = noNeck;
  for (int k = 0; k < nS; ++k) in.shape.push_back(1.5 * rng.normal());
  for (int k = 0; k < B * nE; ++k) in.expression.push_back(1.5 * rng.normal());
  const int dims = in.dims();
  const double maxAngle[kFlameJoints] = {0.6, 0.4, 0.25, 0.15, 0.15};  // root, neck, jaw, eyes
  in.pose.resize(static_cast<size_t>(B) * kFlameJoints * dims);
  for (int b = 0; b < B; ++b)
    for (int j = 0; j < kFlameJoints; ++j) {
      double* x = &in.pose[(static_cast<size_t>(b) * kFlameJoints + j) * dims];
      // Frame 0's eyes sit exactly at the identity (zero pose features there).
      if (b == 0 && j >= 3) {
        for (int d = 0; d < dims; ++d) x[d] = 0.0;
        if (fmt == RotationFormat::SixD) x[0] = x[4] = 1.0;
        continue;
      }
      randomRotation(fmt, maxAngle[j], rng, x);
    }
  if (eyelids)
    for (int k = 0; k < 2 * B; ++k) in.eyelids.push_back(rng.uniform(0.0, 1.0));
  if (landmarkRotation)
    for (int b = 0; b < B; ++b) {
      const double yaw = rng.uniform(-70.0, 70.0) * kPi / 180.0;
      const double r[3] = {0.1 * rng.normal(), yaw, 0.1 * rng.normal()};
      double H[9];
      axisAngleRotation(r, H);
      in.landmarkRotation.insert(in.landmarkRotation.end(), H, H + 9);
    }
  return in;
}

Cotangents makeCotangents(const FlameModel& model, int B, bool noNeck, uint64_t seed) {
  Rng rng(seed);
  Cotangents ct;
  const size_t n = static_cast<size_t>(B) * 3 * model.numVertices;
  ct.vertices.resize(n);
  for (float& x : ct.vertices) x = static_cast<float>(rng.normal());
  if (noNeck) {
    ct.verticesNoNeck.resize(n);
    for (float& x : ct.verticesNoNeck) x = static_cast<float>(rng.normal());
  }
  ct.landmarks.resize(static_cast<size_t>(B) * model.numLandmarks() * 3);
  for (float& x : ct.landmarks) x = static_cast<float>(10.0 * rng.normal());
  return ct;
}

/** flameForward, then (when ct is given) flameVjp and, when jacVertices is non-empty, flameJacobian. */
Result evaluate(FlameModel& model, Device device, const Inputs& in, const Cotangents* ct, bool wantShape,
                const std::vector<int>& jacVertices, FlameTape& tape) {
  const int B = in.B, V = model.numVertices, L = model.numLandmarks(), dims = in.dims();
  Result r;
  r.vertices.resize(static_cast<size_t>(B) * 3 * V);
  if (in.noNeck) r.verticesNoNeck.resize(r.vertices.size());
  r.jointTransforms.resize(static_cast<size_t>(B) * kFlameJoints * 16);
  r.landmarks.resize(static_cast<size_t>(B) * L * 3);
  p3d::FlameForwardArgs a;
  a.batch = B;
  a.numShape = in.nS;
  a.numExpression = in.nE;
  a.shape = in.shape.data();
  a.expression = in.expression.data();
  a.rotationFormat = in.fmt;
  a.pose = in.pose.data();
  a.eyelids = in.eyelids.empty() ? nullptr : in.eyelids.data();
  a.landmarkRotation = in.landmarkRotation.empty() ? nullptr : in.landmarkRotation.data();
  a.withNoNeck = in.noNeck;
  a.vertices = r.vertices.data();
  a.verticesNoNeck = in.noNeck ? r.verticesNoNeck.data() : nullptr;
  a.jointTransforms = r.jointTransforms.data();
  a.landmarks = r.landmarks.data();
  p3d::flameForward(model, device, a, tape);
  if (ct) {
    if (wantShape) r.gradShape.assign(in.nS, 0.0);
    r.gradExpression.assign(static_cast<size_t>(B) * in.nE, 0.0);
    r.gradPose.assign(static_cast<size_t>(B) * kFlameJoints * dims, 0.0);
    r.gradEyelids.assign(2 * static_cast<size_t>(B), 0.0);
    p3d::FlameVjpArgs v;
    v.gradVertices = ct->vertices.data();
    v.gradVerticesNoNeck = ct->verticesNoNeck.empty() ? nullptr : ct->verticesNoNeck.data();
    v.gradLandmarks = ct->landmarks.empty() ? nullptr : ct->landmarks.data();
    v.wantShape = wantShape;
    v.gradShape = wantShape ? r.gradShape.data() : nullptr;
    v.gradExpression = r.gradExpression.data();
    v.gradPose = r.gradPose.data();
    v.gradEyelids = r.gradEyelids.data();
    p3d::flameVjp(model, tape, v);
  }
  if (!jacVertices.empty()) {
    const int P = in.nS + in.nE + kFlameJoints * dims + 2;
    r.jacobian.assign(static_cast<size_t>(B) * jacVertices.size() * 3 * P, 0.0);
    p3d::flameJacobian(model, tape, jacVertices.data(), static_cast<int>(jacVertices.size()), r.jacobian.data());
  }
  return r;
}

/** Frame b of `in` as a batch of one. */
Inputs frameOf(const Inputs& in, int b) {
  Inputs f = in;
  f.B = 1;
  const int dims = in.dims();
  auto slice = [b](const std::vector<double>& v, size_t per) {
    return v.empty() ? v : std::vector<double>(v.begin() + b * per, v.begin() + (b + 1) * per);
  };
  f.expression = slice(in.expression, in.nE);
  f.pose = slice(in.pose, static_cast<size_t>(kFlameJoints) * dims);
  f.eyelids = slice(in.eyelids, 2);
  f.landmarkRotation = slice(in.landmarkRotation, 9);
  return f;
}

template <typename T>
std::vector<T> sliceOf(const std::vector<T>& v, int b, int B) {
  if (v.empty()) return v;
  const size_t per = v.size() / B;
  return std::vector<T>(v.begin() + b * per, v.begin() + (b + 1) * per);
}

// ---------------------------------------------------------------------------------------------------------
// Checks

class Checker {
 public:
  /** max |got - ref| / max |ref| <= tolerance (exact equality when ref is all zero). */
  template <typename T>
  void close(const std::string& name, const std::vector<T>& ref, const std::vector<T>& got) {
    if (ref.size() != got.size()) {
      report(false, name, "size " + std::to_string(got.size()) + " != " + std::to_string(ref.size()));
      return;
    }
    double maxDiff = 0, maxRef = 0;
    bool finite = true;
    for (size_t i = 0; i < ref.size(); ++i) {
      const double r = ref[i], g = got[i];
      if (!std::isfinite(r) || !std::isfinite(g)) finite = false;
      maxDiff = std::max(maxDiff, std::fabs(g - r));
      maxRef = std::max(maxRef, std::fabs(r));
    }
    const double rel = maxRef > 0 ? maxDiff / maxRef : (maxDiff == 0 ? 0.0 : INFINITY);
    char line[256];
    std::snprintf(line, sizeof(line), "n %-8zu max|diff| %.3e  max|ref| %.3e  rel %.3e%s", ref.size(), maxDiff, maxRef,
                  rel, finite ? "" : "  NON-FINITE");
    report(finite && rel <= kTolerance, name, line);
  }

  template <typename T>
  static bool sameBits(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), sizeof(T) * a.size()) == 0);
  }

  static bool sameBits(const Result& a, const Result& b) {
    return sameBits(a.vertices, b.vertices) && sameBits(a.verticesNoNeck, b.verticesNoNeck) &&
           sameBits(a.jointTransforms, b.jointTransforms) && sameBits(a.landmarks, b.landmarks) &&
           sameBits(a.gradShape, b.gradShape) && sameBits(a.gradExpression, b.gradExpression) &&
           sameBits(a.gradPose, b.gradPose) && sameBits(a.gradEyelids, b.gradEyelids) && sameBits(a.jacobian, b.jacobian);
  }

  void expect(bool ok, const std::string& name, const std::string& detail = "") { report(ok, name, detail); }

  void info(const std::string& text) { std::printf("  info  %s\n", text.c_str()); }

  int passed = 0, failed = 0;

 private:
  void report(bool ok, const std::string& name, const std::string& detail) {
    (ok ? passed : failed) += 1;
    std::printf("  %-4s  %-44s %s\n", ok ? "ok" : "FAIL", name.c_str(), detail.c_str());
  }
};

template <typename T>
double maxAbsDiff(const std::vector<T>& a, const std::vector<T>& b) {
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

void compareResults(Checker& ck, const std::string& prefix, const Result& ref, const Result& got) {
  ck.close(prefix + "vertices", ref.vertices, got.vertices);
  if (!ref.verticesNoNeck.empty()) ck.close(prefix + "verticesNoNeck", ref.verticesNoNeck, got.verticesNoNeck);
  ck.close(prefix + "jointTransforms", ref.jointTransforms, got.jointTransforms);
  ck.close(prefix + "landmarks", ref.landmarks, got.landmarks);
  if (!ref.gradShape.empty()) ck.close(prefix + "gradShape", ref.gradShape, got.gradShape);
  if (!ref.gradExpression.empty()) ck.close(prefix + "gradExpression", ref.gradExpression, got.gradExpression);
  if (!ref.gradPose.empty()) ck.close(prefix + "gradPose", ref.gradPose, got.gradPose);
  if (!ref.gradEyelids.empty()) ck.close(prefix + "gradEyelids", ref.gradEyelids, got.gradEyelids);
  if (!ref.jacobian.empty()) ck.close(prefix + "jacobian", ref.jacobian, got.jacobian);
}

struct Case {
  std::string name;
  int B;
  int dropShape, dropExpression;  // coefficients left off the model's counts
  RotationFormat fmt;
  bool eyelids, landmarkRotation, noNeck, gradNoNeck, wantShape;
};

void runCase(Checker& ck, FlameModel& model, const ModelData& data, Device device, const Case& c, uint64_t seed,
             FlameTape& reusedTape) {
  std::printf("[%s]\n", c.name.c_str());
  const Inputs in = makeInputs(c.B, model.numShape - c.dropShape, model.numExpression - c.dropExpression, c.fmt,
                               c.eyelids, c.landmarkRotation, c.noNeck, seed);
  Cotangents ct = makeCotangents(model, c.B, c.noNeck && c.gradNoNeck, seed + 1);
  std::vector<int> jacVertices;
  for (int l = 0; l < 6; ++l) jacVertices.push_back(data.staticVertices[3 * l]);
  jacVertices.push_back(0);
  jacVertices.push_back(model.numVertices - 1);

  Result cpu, dev, again, reused;
  {
    FlameTape tape;
    cpu = evaluate(model, Device::Cpu, in, &ct, c.wantShape, jacVertices, tape);
  }
  {
    FlameTape tape;
    dev = evaluate(model, device, in, &ct, c.wantShape, jacVertices, tape);
  }
  compareResults(ck, "", cpu, dev);
  ck.info(std::string("vertices bitwise equal to the CPU backend: ") + (Checker::sameBits(cpu.vertices, dev.vertices) ? "yes" : "no"));
  {
    FlameTape tape;
    again = evaluate(model, device, in, &ct, c.wantShape, jacVertices, tape);
  }
  reused = evaluate(model, device, in, &ct, c.wantShape, jacVertices, reusedTape);
  ck.expect(Checker::sameBits(dev, again) && Checker::sameBits(dev, reused), "run-to-run bitwise (fresh + reused tape)");

  if (c.B > 1) {
    // Frame b alone must give that frame's per-frame outputs of the batch, bitwise.
    const int b = c.B / 2 + 1 < c.B ? c.B / 2 + 1 : c.B - 1;
    const Inputs one = frameOf(in, b);
    Cotangents ct1;
    ct1.vertices = sliceOf(ct.vertices, b, c.B);
    ct1.verticesNoNeck = sliceOf(ct.verticesNoNeck, b, c.B);
    ct1.landmarks = sliceOf(ct.landmarks, b, c.B);
    FlameTape tape;
    const Result alone = evaluate(model, device, one, &ct1, c.wantShape, {}, tape);
    const bool same = Checker::sameBits(alone.vertices, sliceOf(dev.vertices, b, c.B)) &&
                      Checker::sameBits(alone.verticesNoNeck, sliceOf(dev.verticesNoNeck, b, c.B)) &&
                      Checker::sameBits(alone.landmarks, sliceOf(dev.landmarks, b, c.B)) &&
                      Checker::sameBits(alone.gradExpression, sliceOf(dev.gradExpression, b, c.B)) &&
                      Checker::sameBits(alone.gradPose, sliceOf(dev.gradPose, b, c.B)) &&
                      Checker::sameBits(alone.gradEyelids, sliceOf(dev.gradEyelids, b, c.B));
    ck.expect(same, "frame " + std::to_string(b) + " alone == in the batch (bitwise)");
  }
}

void runShapeCache(Checker& ck, FlameModel& model, Device device) {
  std::printf("[shape cache]\n");
  const int nS = model.numShape;
  Inputs base = makeInputs(2, nS, model.numExpression, RotationFormat::SixD, true, false, true, 9001);
  FlameTape tape, cpuTape;
  auto cudaRun = [&](const Inputs& in) { return evaluate(model, device, in, nullptr, true, {}, tape); };
  auto cpuRun = [&](const Inputs& in) { return evaluate(model, Device::Cpu, in, nullptr, true, {}, cpuTape); };

  const Result first = cudaRun(base);
  const Result second = cudaRun(base);
  ck.expect(Checker::sameBits(first, second), "same beta twice: bitwise equal");

  Inputs changed = base;
  if (nS > 0) changed.shape[nS - 1] += 0.75;  // the last coefficient only: a prefix-keyed cache would miss it
  const Result changedRef = cpuRun(changed);
  const Result changedDev = cudaRun(changed);
  ck.close("changed beta: vertices vs CPU", changedRef.vertices, changedDev.vertices);
  ck.close("changed beta: verticesNoNeck vs CPU", changedRef.verticesNoNeck, changedDev.verticesNoNeck);
  ck.expect(nS == 0 || maxAbsDiff(first.vertices, changedDev.vertices) > 0, "changed beta: output changed");

  const Result back = cudaRun(base);
  ck.expect(Checker::sameBits(first, back), "first beta again: bitwise equal to the first run");

  if (nS > 1) {
    Inputs shorter = base;
    shorter.nS = nS - 1;
    shorter.shape.resize(nS - 1);
    ck.close("beta one shorter: vertices vs CPU", cpuRun(shorter).vertices, cudaRun(shorter).vertices);
  }
  Inputs none = base;
  none.nS = 0;
  none.shape.clear();
  ck.close("no shape coefficients: vertices vs CPU", cpuRun(none).vertices, cudaRun(none).vertices);

  Inputs otherExpression = base;
  for (double& x : otherExpression.expression) x = -0.5 * x + 0.25;
  ck.close("same beta, new expression: vertices vs CPU", cpuRun(otherExpression).vertices,
           cudaRun(otherExpression).vertices);
  ck.expect(Checker::sameBits(first, cudaRun(base)), "first beta once more: bitwise equal");
}

void runTiming(Checker& ck, FlameModel& model, Device device, int B) {
  const Inputs in = makeInputs(B, model.numShape, model.numExpression, RotationFormat::SixD, true, true, true, 4242);
  const Cotangents ct = makeCotangents(model, B, true, 4243);
  const std::pair<const char*, Device> runs[] = {{"CPU ", Device::Cpu}, {device == Device::Cuda ? "CUDA" : "CPU ", device}};
  for (const auto& run : runs) {
    const Device d = run.second;
    FlameTape tape;
    for (int w = 0; w < 3; ++w) evaluate(model, d, in, &ct, true, {}, tape);
    const int reps = 20;
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) evaluate(model, d, in, &ct, true, {}, tape);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
    char line[160];
    std::snprintf(line, sizeof(line), "%s forward + vjp, B = %d, no-neck, whole calls incl. host math and copies: %.3f ms",
                  run.first, B, ms);
    ck.info(line);
  }
}

}  // namespace

// raster_parity.cc
void runRasterParity(p3d::Device device, bool small, bool timing, bool strictBits, int* passed, int* failed);
void runRasterFuzz(p3d::Device device, int count, bool strictBits, int* passed, int* failed);

int main(int argc, char** argv) {
  bool small = false, cpuVsCpu = false, timing = true, flame = true, raster = true, strictBits = false;
  int fuzz = -1;  // random rasterizer problems; -1 = the default (100, --small: 25)
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--small") small = true;
    else if (arg == "--cpu-vs-cpu") cpuVsCpu = true;
    else if (arg == "--no-timing") timing = false;
    else if (arg == "--flame-only") raster = false;
    else if (arg == "--raster-only") flame = false;
    else if (arg == "--strict-bits") strictBits = true;
    else if (arg == "--fuzz" && i + 1 < argc) fuzz = std::max(0, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr,
                   "usage: gpu_parity [--small] [--no-timing] [--cpu-vs-cpu] [--flame-only | --raster-only] "
                   "[--strict-bits] [--fuzz N]\n");
      return 2;
    }
  }
  Device device = Device::Cuda;
  if (cpuVsCpu) {
    device = Device::Cpu;
    std::printf("gpu_parity: --cpu-vs-cpu: the CPU backend on both sides (harness self-check, no GPU involved)\n");
  } else {
    const p3d::CudaInfo& info = p3d::cudaInfo();
    if (!info.built) {
      std::printf("gpu_parity: skipped: built without CUDA (nvcc not found at configure time, or PIXEL3DMM_WITH_CUDA=OFF)\n");
      return 77;
    }
    if (!info.available) {
      std::printf("gpu_parity: skipped: %s\n", info.reason.c_str());
      return 77;
    }
    for (const std::string& d : info.devices) std::printf("gpu_parity: CUDA device %s\n", d.c_str());
  }

  if (!flame && !raster) {
    std::fprintf(stderr, "gpu_parity: --flame-only and --raster-only together leave nothing to run\n");
    return 2;
  }

  Checker ck;
  if (flame) try {
    const int V = small ? 401 : 5023, nS = small ? 40 : 300, nE = small ? 12 : 100;
    std::printf("gpu_parity: model V = %d, %d shape, %d expression, tolerance %.0e (max |diff| / max |ref|)\n", V, nS,
                nE, kTolerance);
    const ModelData data = makeModel(V, nS, nE, true, 20240601);
    FlameModel model(data.desc());
    FlameTape reusedTape;  // shared by all cases of the model: grows and shrinks with the batch
    const Case cases[] = {
        {"B=1, 6D, no-neck, eyelids", 1, 0, 0, RotationFormat::SixD, true, false, true, true, true},
        {"B=16, axis-angle, no-neck, eyelids, landmark rotation", 16, 0, 0, RotationFormat::AxisAngle, true, true, true,
         true, true},
        {"B=5, 6D, fewer coefficients, no eyelids, no no-neck cotangent, shape frozen", 5, 7, 3, RotationFormat::SixD,
         false, true, true, false, false},
        {"B=16, 6D, without no-neck", 16, 0, 0, RotationFormat::SixD, true, true, false, false, true},
        {"B=3, axis-angle, no-neck", 3, 0, 0, RotationFormat::AxisAngle, true, false, true, true, true},
    };
    uint64_t seed = 100;
    for (const Case& c : cases) runCase(ck, model, data, device, c, seed += 10, reusedTape);
    runShapeCache(ck, model, device);
    {
      std::printf("[second model: V = 777, 20 shape, no expression, no eyelid blendshapes]\n");
      const ModelData data2 = makeModel(777, 20, 0, false, 777);
      FlameModel model2(data2.desc());
      FlameTape reusedTape2;
      runCase(ck, model2, data2, device,
              {"B=4, 6D, no-neck, eyelid inputs", 4, 0, 0, RotationFormat::SixD, true, true, true, true, true}, 7770,
              reusedTape2);
      runCase(ck, model2, data2, device,
              {"B=2, axis-angle, no-neck, no shape gradient", 2, 0, 0, RotationFormat::AxisAngle, false, false, true, true,
               false},
              7780, reusedTape2);
    }
    if (timing) {
      std::printf("[timing]\n");
      runTiming(ck, model, device, 16);
    }
  } catch (const std::exception& e) {
    std::printf("gpu_parity: error: %s\n", e.what());
    ck.expect(false, "no exception");
  }
  if (raster) try {
    runRasterParity(device, small, timing, strictBits, &ck.passed, &ck.failed);
    runRasterFuzz(device, fuzz >= 0 ? fuzz : (small ? 25 : 100), strictBits, &ck.passed, &ck.failed);
  } catch (const std::exception& e) {
    std::printf("gpu_parity: rasterizer error: %s\n", e.what());
    ck.expect(false, "no exception (rasterizer)");
  }
  std::printf("%d passed, %d failed\n", ck.passed, ck.failed);
  return ck.failed == 0 ? 0 : 1;
}

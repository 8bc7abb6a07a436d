// The N-API binding: a thin layer that checks every typed array's type and length (the TypeScript layer in
// @pixel3dmm/kernels validates values and shapes first and gives the friendly messages; these checks only
// make sure nothing out of bounds can ever reach a kernel), then calls the kernels synchronously on
// caller-owned buffers.
#include <napi.h>

#include <memory>
#include <stdexcept>
#include <cstring>
#include <string>
#include <vector>

#include "../common/bandwidth.h"
#include "../common/thread_pool.h"
#include "../flame/flame.h"
#include "../raster/raster.h"
#include "../raster/raster_backend.h"
#include "../raster/texture_antialias.h"
#include "../raster/validate_cpu.h"
#include "../tracker/mirror_gram.h"
#include "../tracker/pixel_terms.h"
#include "../tracker/rigid.h"
#include "device_info.h"

namespace {

using p3d::Device;

template <typename T>
struct TypedTraits;
template <>
struct TypedTraits<float> {
  static constexpr napi_typedarray_type type = napi_float32_array;
  static constexpr const char* name = "Float32Array";
};
template <>
struct TypedTraits<double> {
  static constexpr napi_typedarray_type type = napi_float64_array;
  static constexpr const char* name = "Float64Array";
};
template <>
struct TypedTraits<uint8_t> {
  static constexpr napi_typedarray_type type = napi_uint8_array;
  static constexpr const char* name = "Uint8Array";
};
template <>
struct TypedTraits<int32_t> {
  static constexpr napi_typedarray_type type = napi_int32_array;
  static constexpr const char* name = "Int32Array";
};

// Returns the data pointer of obj[key], or nullptr when absent/undefined/null and optional.
template <typename T>
T* typedField(const Napi::Env& env, const Napi::Object& obj, const char* key, size_t expectedLength, bool optional) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (optional) return nullptr;
    throw Napi::TypeError::New(env, std::string(key) + " is required");
  }
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != TypedTraits<T>::type)
    throw Napi::TypeError::New(env, std::string(key) + " must be a " + TypedTraits<T>::name);
  auto arr = v.As<Napi::TypedArrayOf<T>>();
  if (expectedLength != static_cast<size_t>(-1) && arr.ElementLength() != expectedLength)
    throw Napi::RangeError::New(env, std::string(key) + " must have " + std::to_string(expectedLength) +
                                         " elements, got " + std::to_string(arr.ElementLength()));
  return arr.Data();
}

template <typename T>
size_t typedLength(const Napi::Object& obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (!v.IsTypedArray()) return 0;
  return v.As<Napi::TypedArrayOf<T>>().ElementLength();
}

int intField(const Napi::Env& env, const Napi::Object& obj, const char* key, int fallback, bool optional) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined()) {
    if (optional) return fallback;
    throw Napi::TypeError::New(env, std::string(key) + " is required");
  }
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(key) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= -2147483648.0 && d <= 2147483647.0) || d != static_cast<int>(d))
    throw Napi::RangeError::New(env, std::string(key) + " must be an integer");
  return static_cast<int>(d);
}

Device deviceField(const Napi::Env& env, const Napi::Object& obj) {
  Napi::Value v = obj.Get("device");
  if (v.IsUndefined()) return Device::Cpu;
  if (!v.IsString()) throw Napi::TypeError::New(env, "device must be 'cpu' or 'cuda'");
  const std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "cpu") return Device::Cpu;
  if (s == "cuda") {
    const auto& info = p3d::cudaInfo();
    if (!info.available) throw Napi::Error::New(env, "CUDA is not available: " + info.reason);
    return Device::Cuda;
  }
  throw Napi::TypeError::New(env, "device must be 'cpu' or 'cuda'");
}

// Runs fn, turning C++ exceptions into JS errors (the addon is built without C++ exceptions in napi).
template <typename F>
auto guarded(const Napi::Env& env, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// Per-environment data: the addon may be loaded by several worker threads, each its own environment.
struct AddonData {
  Napi::FunctionReference tapeConstructor;
};

class FlameTapeWrap : public Napi::ObjectWrap<FlameTapeWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function fn = DefineClass(env, "FlameTape", {});
    env.GetInstanceData<AddonData>()->tapeConstructor = Napi::Persistent(fn);
    exports.Set("FlameTape", fn);
  }
  static Napi::Function Constructor(const Napi::Env& env) { return env.GetInstanceData<AddonData>()->tapeConstructor.Value(); }
  explicit FlameTapeWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FlameTapeWrap>(info) {}
  p3d::FlameTape tape;
  Napi::ObjectReference model;  // keeps the model alive as long as the tape
};

class FlameModelWrap : public Napi::ObjectWrap<FlameModelWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function fn = DefineClass(env, "FlameModel",
                                    {InstanceMethod("forward", &FlameModelWrap::Forward),
                                     InstanceMethod("vjp", &FlameModelWrap::Vjp),
                                     InstanceMethod("jacobian", &FlameModelWrap::Jacobian)});
    exports.Set("FlameModel", fn);
  }

  explicit FlameModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FlameModelWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "FlameModel: expected a description object");
    Napi::Object o = info[0].As<Napi::Object>();
    p3d::FlameModelDesc d;
    d.numVertices = intField(env, o, "numVertices", 0, false);
    d.numShape = intField(env, o, "numShape", 0, false);
    d.numExpression = intField(env, o, "numExpression", 0, false);
    if (d.numVertices <= 0 || d.numVertices > 10'000'000 || d.numShape < 0 || d.numShape > 100'000 ||
        d.numExpression < 0 || d.numExpression > 100'000)
      throw Napi::RangeError::New(env, "FlameModel: sizes out of range");
    const size_t n3 = static_cast<size_t>(3) * d.numVertices;
    d.vTemplate = typedField<float>(env, o, "vTemplate", n3, false);
    d.shapeBasis = typedField<float>(env, o, "shapeBasis", n3 * d.numShape, d.numShape == 0);
    d.exprBasis = typedField<float>(env, o, "exprBasis", n3 * d.numExpression, d.numExpression == 0);
    d.poseBasis = typedField<float>(env, o, "poseBasis", n3 * p3d::kPoseFeatures, false);
    d.eyelidBasis = typedField<float>(env, o, "eyelidBasis", n3 * 2, true);
    d.skinWeights = typedField<float>(env, o, "skinWeights", static_cast<size_t>(d.numVertices) * p3d::kFlameJoints, false);
    const int* parents = typedField<int32_t>(env, o, "parents", p3d::kFlameJoints, false);
    for (int j = 0; j < p3d::kFlameJoints; ++j) d.parents[j] = parents[j];
    d.jointOffsets = typedField<int32_t>(env, o, "jointOffsets", p3d::kFlameJoints + 1, false);
    const int nnz = d.jointOffsets[p3d::kFlameJoints];
    if (nnz < 0 || d.jointOffsets[0] != 0) throw Napi::RangeError::New(env, "FlameModel: bad jointOffsets");
    d.jointVertices = typedField<int32_t>(env, o, "jointVertices", static_cast<size_t>(nnz), false);
    d.jointWeights = typedField<double>(env, o, "jointWeights", static_cast<size_t>(nnz), false);
    d.numStaticLandmarks = intField(env, o, "numStaticLandmarks", 0, true);
    d.numDynamicBins = intField(env, o, "numDynamicBins", 0, true);
    d.numDynamicLandmarks = intField(env, o, "numDynamicLandmarks", 0, true);
    if (d.numStaticLandmarks < 0 || d.numStaticLandmarks > 100000 || d.numDynamicBins < 0 || d.numDynamicBins > 1000 ||
        d.numDynamicLandmarks < 0 || d.numDynamicLandmarks > 1000)
      throw Napi::RangeError::New(env, "FlameModel: landmark counts out of range");
    if (d.numStaticLandmarks > 0) {
      d.staticLandmarkVertices = typedField<int32_t>(env, o, "staticLandmarkVertices", 3 * d.numStaticLandmarks, false);
      d.staticLandmarkBary = typedField<double>(env, o, "staticLandmarkBary", 3 * d.numStaticLandmarks, false);
      const size_t nd = static_cast<size_t>(3) * d.numDynamicBins * d.numDynamicLandmarks;
      d.dynamicLandmarkVertices = typedField<int32_t>(env, o, "dynamicLandmarkVertices", nd, nd == 0);
      d.dynamicLandmarkBary = typedField<double>(env, o, "dynamicLandmarkBary", nd, nd == 0);
    }
    guarded(env, [&] {
      model_ = std::make_unique<p3d::FlameModel>(d);
      return 0;
    });
    Napi::MemoryManagement::AdjustExternalMemory(
        env, static_cast<int64_t>(sizeof(float)) * model_->stride * (model_->numShape + model_->numExpression + 40));
  }

 private:
  // forward({device, batch, numShape, numExpression, shape, expression, rotationFormat, pose, eyelids,
  //          landmarkRotation, withNoNeck, vertices, verticesNoNeck, jointTransforms, landmarks}) -> FlameTape
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "forward: expected an arguments object");
    Napi::Object o = info[0].As<Napi::Object>();
    p3d::FlameModel& m = *model_;
    p3d::FlameForwardArgs a;
    const Device device = deviceField(env, o);
    a.batch = intField(env, o, "batch", 1, false);
    a.numShape = intField(env, o, "numShape", 0, false);
    a.numExpression = intField(env, o, "numExpression", 0, false);
    if (a.batch < 1 || a.batch > 1'000'000 || a.numShape < 0 || a.numShape > m.numShape || a.numExpression < 0 ||
        a.numExpression > m.numExpression)
      throw Napi::RangeError::New(env, "forward: batch or component counts out of range");
    const int rf = intField(env, o, "rotationDims", 6, true);
    if (rf != 6 && rf != 3) throw Napi::RangeError::New(env, "forward: rotationDims must be 6 or 3");
    a.rotationFormat = rf == 6 ? p3d::RotationFormat::SixD : p3d::RotationFormat::AxisAngle;
    const size_t B = a.batch, V3 = static_cast<size_t>(3) * m.numVertices;
    a.shape = typedField<double>(env, o, "shape", a.numShape, a.numShape == 0);
    a.expression = typedField<double>(env, o, "expression", B * a.numExpression, a.numExpression == 0);
    a.pose = typedField<double>(env, o, "pose", B * p3d::kFlameJoints * rf, false);
    a.eyelids = typedField<double>(env, o, "eyelids", B * 2, true);
    a.landmarkRotation = typedField<double>(env, o, "landmarkRotation", B * 9, true);
    a.withNoNeck = o.Get("withNoNeck").ToBoolean().Value();
    a.vertices = typedField<float>(env, o, "vertices", B * V3, true);
    a.verticesNoNeck = typedField<float>(env, o, "verticesNoNeck", B * V3, true);
    a.jointTransforms = typedField<float>(env, o, "jointTransforms", B * p3d::kFlameJoints * 16, true);
    a.landmarks = typedField<float>(env, o, "landmarks", B * 3 * m.numLandmarks(), true);
    // A tape passed back in is reused (its buffers are kept), which keeps allocation out of a tracking loop.
    Napi::Value reuse = o.Get("tape");
    Napi::Object tapeObj;
    FlameTapeWrap* tw;
    if (reuse.IsUndefined() || reuse.IsNull()) {
      tapeObj = FlameTapeWrap::Constructor(env).New({});
      tw = FlameTapeWrap::Unwrap(tapeObj);
      tw->model = Napi::Persistent(Value());
    } else {
      tw = tapeArg(env, reuse);
      tapeObj = reuse.As<Napi::Object>();
    }
    guarded(env, [&] {
      p3d::flameForward(m, device, a, tw->tape);
      return 0;
    });
    return tapeObj;
  }

  // vjp(tape, {gradVertices, gradVerticesNoNeck, gradLandmarks, gradShape, gradExpression, gradPose, gradEyelids})
  Napi::Value Vjp(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    FlameTapeWrap* tw = tapeArg(env, info[0]);
    if (!info[1].IsObject()) throw Napi::TypeError::New(env, "vjp: expected an arguments object");
    Napi::Object o = info[1].As<Napi::Object>();
    p3d::FlameModel& m = *model_;
    const p3d::FlameTape& t = tw->tape;
    const size_t B = t.batch, V3 = static_cast<size_t>(3) * m.numVertices;
    const int dims = p3d::rotationDims(t.rotationFormat);
    p3d::FlameVjpArgs a;
    a.gradVertices = typedField<float>(env, o, "gradVertices", B * V3, true);
    a.gradVerticesNoNeck = typedField<float>(env, o, "gradVerticesNoNeck", B * V3, true);
    a.gradLandmarks = typedField<float>(env, o, "gradLandmarks", B * 3 * m.numLandmarks(), true);
    a.gradShape = typedField<double>(env, o, "gradShape", t.numShape, true);
    a.wantShape = a.gradShape != nullptr;
    a.gradExpression = typedField<double>(env, o, "gradExpression", B * t.numExpression, true);
    a.gradPose = typedField<double>(env, o, "gradPose", B * p3d::kFlameJoints * dims, true);
    a.gradEyelids = typedField<double>(env, o, "gradEyelids", B * 2, true);
    guarded(env, [&] {
      p3d::flameVjp(m, tw->tape, a);
      return 0;
    });
    return env.Undefined();
  }

  // jacobian(tape, vertexIndices Int32Array, out Float64Array [B, n*3, P])
  Napi::Value Jacobian(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    FlameTapeWrap* tw = tapeArg(env, info[0]);
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw Napi::TypeError::New(env, "jacobian: vertexIndices must be an Int32Array");
    if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      throw Napi::TypeError::New(env, "jacobian: out must be a Float64Array");
    auto idx = info[1].As<Napi::Int32Array>();
    auto out = info[2].As<Napi::Float64Array>();
    const p3d::FlameTape& t = tw->tape;
    const size_t P = t.numShape + t.numExpression + p3d::kFlameJoints * p3d::rotationDims(t.rotationFormat) + 2;
    if (out.ElementLength() != static_cast<size_t>(t.batch) * idx.ElementLength() * 3 * P)
      throw Napi::RangeError::New(env, "jacobian: out has the wrong length");
    for (size_t i = 0; i < idx.ElementLength(); ++i)
      if (idx[i] < 0 || idx[i] >= model_->numVertices) throw Napi::RangeError::New(env, "jacobian: vertex index out of range");
    guarded(env, [&] {
      p3d::flameJacobian(*model_, tw->tape, idx.Data(), static_cast<int>(idx.ElementLength()), out.Data());
      return 0;
    });
    return env.Undefined();
  }

  FlameTapeWrap* tapeArg(const Napi::Env& env, const Napi::Value& v) {
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(FlameTapeWrap::Constructor(env)))
      throw Napi::TypeError::New(env, "expected a FlameTape returned by forward()");
    FlameTapeWrap* tw = FlameTapeWrap::Unwrap(v.As<Napi::Object>());
    if (tw->model.IsEmpty() || !tw->model.Value().StrictEquals(Value()))
      throw Napi::TypeError::New(env, "the FlameTape belongs to another FlameModel");
    return tw;
  }

  std::unique_ptr<p3d::FlameModel> model_;
};

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& ci = p3d::cudaInfo();
  Napi::Object o = Napi::Object::New(env);
  o.Set("builtWithCuda", Napi::Boolean::New(env, ci.built));
  o.Set("cudaAvailable", Napi::Boolean::New(env, ci.available));
  o.Set("cudaReason", ci.reason.empty() ? env.Null() : Napi::String::New(env, ci.reason));
  Napi::Array devices = Napi::Array::New(env, ci.devices.size());
  for (size_t i = 0; i < ci.devices.size(); ++i) devices.Set(static_cast<uint32_t>(i), Napi::String::New(env, ci.devices[i]));
  o.Set("cudaDevices", devices);
  o.Set("cudaRuntimeVersion", Napi::Number::New(env, ci.runtimeVersion));
  o.Set("threads", Napi::Number::New(env, p3d::ThreadPool::instance().threadCount()));
  o.Set("compiler", Napi::String::New(env, p3d::compilerDescription()));
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "setThreads: expected a number");
  const int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 0 || n > 1024) throw Napi::RangeError::New(env, "setThreads: expected 0 (one per core) to 1024");
  p3d::ThreadPool::instance().setThreadCount(n);
  return Napi::Number::New(env, p3d::ThreadPool::instance().threadCount());
}

// rotationMatrices(dims 6|3, params Float64Array [N*dims], out Float64Array [N*9]): the joint rotation maps,
// exported so TypeScript uses the same (and only) implementation of the 6D and axis-angle conventions.
Napi::Value RotationMatrices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int dims = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  if (dims != 6 && dims != 3) throw Napi::RangeError::New(env, "rotationMatrices: dims must be 6 or 3");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(env, "rotationMatrices: params and out must be Float64Arrays");
  auto x = info[1].As<Napi::Float64Array>();
  auto out = info[2].As<Napi::Float64Array>();
  const size_t n = x.ElementLength() / dims;
  if (x.ElementLength() != n * dims || out.ElementLength() != n * 9)
    throw Napi::RangeError::New(env, "rotationMatrices: params must be N*dims and out N*9 long");
  const auto fmt = dims == 6 ? p3d::RotationFormat::SixD : p3d::RotationFormat::AxisAngle;
  for (size_t i = 0; i < n; ++i)
    if (!p3d::rotationFromParams(fmt, x.Data() + i * dims, out.Data() + i * 9))
      throw Napi::RangeError::New(env, "rotationMatrices: rotation " + std::to_string(i) +
                                           " is a degenerate 6D rotation (a zero row or two parallel rows)");
  return env.Undefined();
}

// rotationVjp(dims, params [N*dims], gradMatrices [N*9], out [N*dims]): out = (dR/dx)^T gR per rotation.
Napi::Value RotationVjp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int dims = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  if (dims != 6 && dims != 3) throw Napi::RangeError::New(env, "rotationVjp: dims must be 6 or 3");
  for (int i = 1; i <= 3; ++i)
    if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      throw Napi::TypeError::New(env, "rotationVjp: params, gradMatrices and out must be Float64Arrays");
  auto x = info[1].As<Napi::Float64Array>();
  auto g = info[2].As<Napi::Float64Array>();
  auto out = info[3].As<Napi::Float64Array>();
  const size_t n = x.ElementLength() / dims;
  if (x.ElementLength() != n * dims || g.ElementLength() != n * 9 || out.ElementLength() != n * dims)
    throw Napi::RangeError::New(env, "rotationVjp: params N*dims, gradMatrices N*9, out N*dims");
  const auto fmt = dims == 6 ? p3d::RotationFormat::SixD : p3d::RotationFormat::AxisAngle;
  for (size_t i = 0; i < n * dims; ++i) out[i] = 0;
  for (size_t i = 0; i < n; ++i) p3d::rotationVjp(fmt, x.Data() + i * dims, g.Data() + i * 9, out.Data() + i * dims);
  return env.Undefined();
}

// firstNonFinite(array): the index of the first NaN or infinite element of a Float32Array or Float64Array, or -1.
// The argument checks of large arrays (a FLAME cotangent is 15k floats, checked every tracker iteration) scan here:
// in JavaScript the scan cost ~20 us per array. An element is finite iff its exponent bits are not all ones.
template <typename T, typename Bits>
int64_t firstNonFiniteOf(const T* x, size_t n, Bits exponent) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {  // branch-free blocks (vectorised), then the element that failed
    Bits any = 0;
    for (size_t k = 0; k < 16; ++k) {
      Bits b;
      std::memcpy(&b, x + i + k, sizeof(Bits));
      any |= static_cast<Bits>((b & exponent) == exponent);
    }
    if (any) break;
  }
  for (; i < n; ++i) {
    Bits b;
    std::memcpy(&b, x + i, sizeof(Bits));
    if ((b & exponent) == exponent) return static_cast<int64_t>(i);
  }
  return -1;
}

Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "firstNonFinite: expected a Float32Array or Float64Array");
  const auto arr = info[0].As<Napi::TypedArray>();
  if (arr.TypedArrayType() == napi_float32_array) {
    auto a = info[0].As<Napi::Float32Array>();
    return Napi::Number::New(env, static_cast<double>(firstNonFiniteOf(a.Data(), a.ElementLength(), uint32_t{0x7f800000u})));
  }
  if (arr.TypedArrayType() == napi_float64_array) {
    auto a = info[0].As<Napi::Float64Array>();
    return Napi::Number::New(env, static_cast<double>(firstNonFiniteOf(a.Data(), a.ElementLength(), uint64_t{0x7ff0000000000000ull})));
  }
  throw Napi::TypeError::New(env, "firstNonFinite: expected a Float32Array or Float64Array");
}

Napi::Value MemoryBandwidth(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int mb = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 256;
  if (mb < 1 || mb > 4096) throw Napi::RangeError::New(env, "memoryBandwidth: megabytes must be in [1, 4096]");
  return Napi::Number::New(env, p3d::measureReadBandwidth(mb, 5));
}

// ---- Rasterizer (native/src/raster; CUDA: cuda/raster_cuda.cu). Every raster / texture / antialias entry point takes
// an optional `device`: 'cpu' (default) or 'cuda' (an Error naming the reason when CUDA is unusable); 'auto' is
// resolved by the TypeScript layer. Sizes are checked here against the typed-array lengths; the kernels
// check every index (tri / attrTri entries, triangle ids in rast) before doing any work.
int sizeField(const Napi::Env& env, const Napi::Object& o, const char* key, int lo, int hi) {
  const int v = intField(env, o, key, 0, false);
  if (v < lo || v > hi)
    throw Napi::RangeError::New(env, std::string(key) + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

/** The one arguments object of a raster entry point (`op` names it in the error). */
Napi::Object argsObject(const Napi::CallbackInfo& info, const char* op) {
  if (!info[0].IsObject()) throw Napi::TypeError::New(info.Env(), std::string(op) + ": expected an arguments object");
  return info[0].As<Napi::Object>();
}

/** An index buffer field [T,3] (T < 2^24, the triangle-id range that float32 rast holds exactly); sets *count. */
const int32_t* triangleField(const Napi::Env& env, const Napi::Object& o, const char* key, int* count) {
  const size_t len = typedLength<int32_t>(o, key);
  if (len % 3 != 0 || len / 3 >= (1u << 24))
    throw Napi::RangeError::New(env, std::string(key) + " must be [T,3] with T < 2^24");
  *count = static_cast<int>(len / 3);
  return typedField<int32_t>(env, o, key, len, false);
}

/** Runs a kernel whose outputs were validated above, with C++ exceptions turned into JS errors. */
template <typename F>
Napi::Value runKernel(const Napi::Env& env, F&& kernel) {
  guarded(env, [&] {
    kernel();
    return 0;
  });
  return env.Undefined();
}

p3d::raster::RasterDims rasterDims(const Napi::Env& env, const Napi::Object& o, const int32_t** tri) {
  p3d::raster::RasterDims d;
  d.batch = sizeField(env, o, "batch", 1, 1 << 20);
  d.numVertices = sizeField(env, o, "numVertices", 0, 1 << 28);
  d.height = sizeField(env, o, "height", 1, 1 << 15);
  d.width = sizeField(env, o, "width", 1, 1 << 15);
  *tri = triangleField(env, o, "tri", &d.numTriangles);
  return d;
}

// rasterize({pos, numVertices, tri, batch, height, width, rast, device?})
Napi::Value Rasterize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "rasterize");
  const Device device = deviceField(env, o);
  const int32_t* tri;
  const p3d::raster::RasterDims d = rasterDims(env, o, &tri);
  const size_t B = d.batch, pix = B * d.height * d.width;
  const float* pos = typedField<float>(env, o, "pos", B * d.numVertices * 4, false);
  float* rast = typedField<float>(env, o, "rast", pix * 4, false);
  return runKernel(env, [&] {
    p3d::raster::rasterizeForward(device, d, pos, tri, rast);
  });
}

bool flagField(const Napi::Object& o, const char* key) { return o.Has(key) && o.Get(key).ToBoolean().Value(); }

// rasterizeBackward({pos, numVertices, tri, batch, height, width, rast, gradRast, gradPos, accumulate?})
Napi::Value RasterizeBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "rasterizeBackward");
  const Device device = deviceField(env, o);
  const int32_t* tri;
  const p3d::raster::RasterDims d = rasterDims(env, o, &tri);
  const size_t B = d.batch, pix = B * d.height * d.width;
  const float* pos = typedField<float>(env, o, "pos", B * d.numVertices * 4, false);
  const float* rast = typedField<float>(env, o, "rast", pix * 4, false);
  const float* gradRast = typedField<float>(env, o, "gradRast", pix * 2, false);
  float* gradPos = typedField<float>(env, o, "gradPos", B * d.numVertices * 4, false);
  return runKernel(env, [&] {
    p3d::raster::rasterizeBackward(device, d, pos, tri, rast, gradRast, gradPos, flagField(o, "accumulate"));
  });
}

p3d::raster::InterpDims interpDims(const Napi::Env& env, const Napi::Object& o, const int32_t** attrTri) {
  p3d::raster::InterpDims d;
  d.batch = sizeField(env, o, "batch", 1, 1 << 20);
  d.height = sizeField(env, o, "height", 1, 1 << 15);
  d.width = sizeField(env, o, "width", 1, 1 << 15);
  d.attrBatch = sizeField(env, o, "attrBatch", 1, 1 << 20);
  if (d.attrBatch != 1 && d.attrBatch != d.batch) throw Napi::RangeError::New(env, "attrBatch must be 1 or batch");
  d.attrVertices = sizeField(env, o, "attrVertices", 0, 1 << 28);
  d.channels = sizeField(env, o, "channels", 1, 1 << 16);
  *attrTri = triangleField(env, o, "attrTri", &d.numTriangles);
  return d;
}

// interpolate({attr, attrBatch, attrVertices, channels, rast, batch, height, width, attrTri, out})
Napi::Value Interpolate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "interpolate");
  const Device device = deviceField(env, o);
  const int32_t* attrTri;
  const p3d::raster::InterpDims d = interpDims(env, o, &attrTri);
  const size_t pix = static_cast<size_t>(d.batch) * d.height * d.width;
  const float* attr = typedField<float>(env, o, "attr", static_cast<size_t>(d.attrBatch) * d.attrVertices * d.channels, false);
  const float* rast = typedField<float>(env, o, "rast", pix * 4, false);
  float* out = typedField<float>(env, o, "out", pix * d.channels, false);
  return runKernel(env, [&] {
    p3d::raster::interpolateForward(device, d, attr, rast, attrTri, out);
  });
}

// interpolateBackward({attr, attrBatch, attrVertices, channels, rast, batch, height, width, attrTri, gradOut,
//                      gradAttr?, gradRast?, accumulateRast?})
/** The fields that interpolateBackward and interpolateRasterizeBackward share, their lengths checked. */
struct InterpBackwardFields {
  Device device;
  const int32_t* attrTri;
  p3d::raster::InterpDims d;
  size_t pix;
  const float *attr, *rast, *gradOut;
  float* gradAttr;
};

InterpBackwardFields interpBackwardFields(const Napi::Env& env, const Napi::Object& o) {
  InterpBackwardFields f;
  f.device = deviceField(env, o);
  f.d = interpDims(env, o, &f.attrTri);
  f.pix = static_cast<size_t>(f.d.batch) * f.d.height * f.d.width;
  const size_t attrLen = static_cast<size_t>(f.d.attrBatch) * f.d.attrVertices * f.d.channels;
  f.attr = typedField<float>(env, o, "attr", attrLen, false);
  f.rast = typedField<float>(env, o, "rast", f.pix * 4, false);
  f.gradOut = typedField<float>(env, o, "gradOut", f.pix * f.d.channels, false);
  f.gradAttr = typedField<float>(env, o, "gradAttr", attrLen, true);
  return f;
}

Napi::Value InterpolateBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "interpolateBackward");
  const InterpBackwardFields f = interpBackwardFields(env, o);
  float* gradRast = typedField<float>(env, o, "gradRast", f.pix * 2, true);
  return runKernel(env, [&] {
    p3d::raster::interpolateBackward(f.device, f.d, f.attr, f.rast, f.attrTri, f.gradOut, f.gradAttr, gradRast,
                                     flagField(o, "accumulateRast"));
  });
}

// interpolateRasterizeBackward({attr, attrBatch, attrVertices, channels, rast, batch, height, width, attrTri, gradOut,
//                               gradAttr?, pos, numVertices, tri, gradPos, accumulatePos?, gradRastIn?})
Napi::Value InterpolateRasterizeBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "interpolateRasterizeBackward");
  const InterpBackwardFields f = interpBackwardFields(env, o);
  const int numVertices = sizeField(env, o, "numVertices", 0, 1 << 28);
  int numTriangles;
  const int32_t* tri = triangleField(env, o, "tri", &numTriangles);
  if (numTriangles != f.d.numTriangles) throw Napi::RangeError::New(env, "tri must have as many triangles as attrTri");
  const size_t posLen = static_cast<size_t>(f.d.batch) * numVertices * 4;
  const float* pos = typedField<float>(env, o, "pos", posLen, false);
  float* gradPos = typedField<float>(env, o, "gradPos", posLen, false);
  const float* gradRastIn = typedField<float>(env, o, "gradRastIn", f.pix * 2, true);
  return runKernel(env, [&] {
    p3d::raster::interpolateRasterizeBackward(f.device, f.d, f.attr, f.rast, f.attrTri, f.gradOut, f.gradAttr, pos, numVertices,
                                              tri, gradPos, flagField(o, "accumulatePos"), gradRastIn);
  });
}

// ---- Texture and antialias (native/src/raster/texture_cpu.cc, antialias_cpu.cc). Lengths checked here; the
// antialias kernels check tri / opp entries and rast ids themselves.
p3d::raster::TextureDims textureDims(const Napi::Env& env, const Napi::Object& o) {
  p3d::raster::TextureDims d;
  d.texHeight = sizeField(env, o, "texHeight", 1, 1 << 16);
  d.texWidth = sizeField(env, o, "texWidth", 1, 1 << 16);
  d.channels = sizeField(env, o, "channels", 1, 1 << 16);
  const int wrap = sizeField(env, o, "wrap", 0, 1);
  d.wrap = wrap == 1;
  const size_t uvLen = typedLength<float>(o, "uv");
  if (uvLen % 2 != 0) throw Napi::RangeError::New(env, "uv must be [N,2]");
  d.count = static_cast<int64_t>(uvLen / 2);
  return d;
}

// texture({tex, texHeight, texWidth, channels, wrap, uv, out})
Napi::Value Texture(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "texture");
  const Device device = deviceField(env, o);
  const p3d::raster::TextureDims d = textureDims(env, o);
  const size_t texLen = static_cast<size_t>(d.texHeight) * d.texWidth * d.channels;
  const float* tex = typedField<float>(env, o, "tex", texLen, false);
  const float* uv = typedField<float>(env, o, "uv", static_cast<size_t>(d.count) * 2, false);
  float* out = typedField<float>(env, o, "out", static_cast<size_t>(d.count) * d.channels, false);
  return runKernel(env, [&] {
    p3d::raster::textureForward(device, d, tex, uv, out);
  });
}

// textureBackward({tex, texHeight, texWidth, channels, wrap, uv, gradOut, gradUv?, gradTex?, accumulateUv?})
Napi::Value TextureBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "textureBackward");
  const Device device = deviceField(env, o);
  const p3d::raster::TextureDims d = textureDims(env, o);
  const size_t texLen = static_cast<size_t>(d.texHeight) * d.texWidth * d.channels;
  const float* tex = typedField<float>(env, o, "tex", texLen, false);
  const float* uv = typedField<float>(env, o, "uv", static_cast<size_t>(d.count) * 2, false);
  const float* gradOut = typedField<float>(env, o, "gradOut", static_cast<size_t>(d.count) * d.channels, false);
  float* gradUv = typedField<float>(env, o, "gradUv", static_cast<size_t>(d.count) * 2, true);
  float* gradTex = typedField<float>(env, o, "gradTex", texLen, true);
  return runKernel(env, [&] {
    p3d::raster::textureBackward(device, d, tex, uv, gradOut, gradUv, gradTex, flagField(o, "accumulateUv"));
  });
}

struct AntialiasArgs {
  p3d::raster::AntialiasDims d;
  const float* color;
  const float* rast;
  const float* pos;
  const int32_t* tri;
  const int32_t* opp;
};

AntialiasArgs antialiasArgs(const Napi::Env& env, const Napi::Object& o) {
  AntialiasArgs a;
  a.d.batch = sizeField(env, o, "batch", 1, 1 << 20);
  a.d.height = sizeField(env, o, "height", 1, 1 << 15);
  a.d.width = sizeField(env, o, "width", 1, 1 << 15);
  a.d.channels = sizeField(env, o, "channels", 1, 1 << 16);
  a.d.numVertices = sizeField(env, o, "numVertices", 0, 1 << 28);
  a.tri = triangleField(env, o, "tri", &a.d.numTriangles);
  a.opp = typedField<int32_t>(env, o, "opp", static_cast<size_t>(a.d.numTriangles) * 3, false);
  const size_t pix = static_cast<size_t>(a.d.batch) * a.d.height * a.d.width;
  a.color = typedField<float>(env, o, "color", pix * a.d.channels, false);
  a.rast = typedField<float>(env, o, "rast", pix * 4, false);
  a.pos = typedField<float>(env, o, "pos", static_cast<size_t>(a.d.batch) * a.d.numVertices * 4, false);
  return a;
}

/** The optional antialias work buffer (Int32Array of antialiasWorkSize elements), or null. */
int32_t* antialiasWorkField(const Napi::Env& env, const Napi::Object& o, const p3d::raster::AntialiasDims& d) {
  Napi::Value v = o.Get("work");
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  const int64_t n = guarded(env, [&] { return p3d::raster::antialiasWorkSize(d); });
  if (n < 0) throw Napi::RangeError::New(env, "work: the image is too large for an antialias work buffer");
  return typedField<int32_t>(env, o, "work", static_cast<size_t>(n), false);
}

// antialiasWorkSize({batch, height, width}): int32 elements of an antialias work buffer (-1: too large).
Napi::Value AntialiasWorkSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "antialiasWorkSize");
  p3d::raster::AntialiasDims d;
  d.batch = sizeField(env, o, "batch", 1, 1 << 20);
  d.height = sizeField(env, o, "height", 1, 1 << 15);
  d.width = sizeField(env, o, "width", 1, 1 << 15);
  const int64_t n = guarded(env, [&] { return p3d::raster::antialiasWorkSize(d); });
  return Napi::Number::New(env, static_cast<double>(n));
}

// antialias({color, channels, rast, batch, height, width, pos, numVertices, tri, opp, out, work?})
// work (CPU): filled with the pair records for antialiasBackward; a CUDA call marks it unfilled.
Napi::Value Antialias(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "antialias");
  const Device device = deviceField(env, o);
  const AntialiasArgs a = antialiasArgs(env, o);
  const size_t pix = static_cast<size_t>(a.d.batch) * a.d.height * a.d.width;
  float* out = typedField<float>(env, o, "out", pix * a.d.channels, false);
  int32_t* work = antialiasWorkField(env, o, a.d);
  return runKernel(env, [&] {
    if (work && device == Device::Cpu) {
      p3d::raster::antialiasForward(a.d, a.color, a.rast, a.pos, a.tri, a.opp, out, work);
      return;
    }
    if (work) work[0] = 0;
    p3d::raster::antialiasForward(device, a.d, a.color, a.rast, a.pos, a.tri, a.opp, out);
  });
}

// antialiasBackward({color, channels, rast, batch, height, width, pos, numVertices, tri, opp, gradOut,
//                    gradColor?, gradPos?, work?}); work (CPU) from antialias with the same inputs; CUDA ignores it.
Napi::Value AntialiasBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "antialiasBackward");
  const Device device = deviceField(env, o);
  const AntialiasArgs a = antialiasArgs(env, o);
  const size_t pix = static_cast<size_t>(a.d.batch) * a.d.height * a.d.width;
  const float* gradOut = typedField<float>(env, o, "gradOut", pix * a.d.channels, false);
  float* gradColor = typedField<float>(env, o, "gradColor", pix * a.d.channels, true);
  float* gradPos = typedField<float>(env, o, "gradPos", static_cast<size_t>(a.d.batch) * a.d.numVertices * 4, true);
  const int32_t* work = antialiasWorkField(env, o, a.d);
  return runKernel(env, [&] {
    if (work && device == Device::Cpu) {
      p3d::raster::antialiasBackward(a.d, a.color, a.rast, a.pos, a.tri, a.opp, gradOut, gradColor, gradPos, work);
      return;
    }
    p3d::raster::antialiasBackward(device, a.d, a.color, a.rast, a.pos, a.tri, a.opp, gradOut, gradColor, gradPos);
  });
}

// ---- The tracker's per-pixel passes (native/src/tracker/pixel_terms.h). The loss terms take all B frames of a
// batch (per-frame targets and masks as arrays of typed arrays), run the frames in parallel and return each frame's
// float64 sum; the TypeScript layer (packages/tracker/src/objective/losses/dense.ts) checks shapes first and adds
// the sums in frame order.

double numberField(const Napi::Env& env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

/** A strided float32 image field (data, stride, offset) of P pixels x C channels, checked against the array length. */
template <typename Out>
Out stridedField(const Napi::Env& env, const Napi::Object& o, const char* key, int64_t P, int C) {
  const size_t len = typedLength<float>(o, key);
  float* data = typedField<float>(env, o, key, len, false);
  const std::string k(key);
  const int stride = intField(env, o, (k + "Stride").c_str(), 0, false);
  const int offset = intField(env, o, (k + "Offset").c_str(), 0, false);
  if (stride < C || offset < 0 ||
      static_cast<double>(offset) + static_cast<double>(P - 1) * stride + C > static_cast<double>(len))
    throw Napi::RangeError::New(env, k + ": stride " + std::to_string(stride) + " / offset " + std::to_string(offset) +
                                         " do not fit " + std::to_string(P) + " pixels of " + std::to_string(C) +
                                         " channels in " + std::to_string(len) + " elements");
  return Out{data, stride, offset};
}

/** obj[key]: an array of B typed arrays of `length` elements each; their data pointers. */
template <typename T>
std::vector<T*> frameArrays(const Napi::Env& env, const Napi::Object& o, const char* key, int B, size_t length) {
  Napi::Value v = o.Get(key);
  if (!v.IsArray() || v.As<Napi::Array>().Length() != static_cast<uint32_t>(B))
    throw Napi::TypeError::New(env, std::string(key) + " must be an array of " + std::to_string(B) + " typed arrays");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<T*> out(B);
  for (int b = 0; b < B; ++b) {
    Napi::Value e = a.Get(static_cast<uint32_t>(b));
    const std::string name = std::string(key) + "[" + std::to_string(b) + "]";
    if (!e.IsTypedArray() || e.As<Napi::TypedArray>().TypedArrayType() != TypedTraits<T>::type)
      throw Napi::TypeError::New(env, name + " must be a " + TypedTraits<T>::name);
    auto arr = e.As<Napi::TypedArrayOf<T>>();
    if (arr.ElementLength() != length)
      throw Napi::RangeError::New(env, name + " must have " + std::to_string(length) + " elements, got " + std::to_string(arr.ElementLength()));
    out[b] = arr.Data();
  }
  return out;
}

/**
 * The per-frame sums of a loss term over B frames of P pixels, as a JS array in frame order: frame(b, i0, i1, terms)
 * computes pixels [i0, i1) of frame b (see pixel_terms.h), frames or blocks of a frame on the pool.
 */
template <typename F>
Napi::Value frameSums(const Napi::Env& env, int B, int64_t P, F&& frame) {
  std::vector<double> sums(B);
  guarded(env, [&] {
    p3d::ThreadPool& pool = p3d::ThreadPool::instance();
    if (B >= pool.threadCount()) {
      pool.parallelFor(B, [&](int b) { sums[b] = frame(b, 0, P, nullptr); });
      return 0;
    }
    // Fewer frames than threads: each frame's pixels in blocks on the threads, each block keeping its pixels' terms
    // in order, which are then added block after block: the frame's chain of adds in pixel order, as one pass.
    constexpr int64_t kBlock = 4096;
    const int64_t blocks = (P + kBlock - 1) / kBlock;
    thread_local std::vector<std::vector<double>> termStorage;
    std::vector<std::vector<double>>& terms = termStorage;
    if (terms.size() < static_cast<size_t>(B * blocks)) terms.resize(B * blocks);
    pool.parallelFor(static_cast<int>(B * blocks), [&](int u) {
      const int b = static_cast<int>(u / blocks);
      const int64_t i0 = (u % blocks) * kBlock;
      terms[u].clear();
      frame(b, i0, std::min(P, i0 + kBlock), &terms[u]);
    });
    for (int b = 0; b < B; ++b) {
      double sum = 0;
      for (int64_t j = 0; j < blocks; ++j)
        for (double t : terms[b * blocks + j]) sum += t;
      sums[b] = sum;
    }
    return 0;
  });
  Napi::Array r = Napi::Array::New(env, B);
  for (int b = 0; b < B; ++b) r.Set(static_cast<uint32_t>(b), Napi::Number::New(env, sums[b]));
  return r;
}

// uvImageLoss({pixels, frames, targets[], masks[], rendered, l2, k, grad, gradStride, gradOffset}) -> frame sums
Napi::Value UvImageLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "uvImageLoss");
  const int64_t P = sizeField(env, o, "pixels", 1, 1 << 30);
  const int B = sizeField(env, o, "frames", 1, 1 << 20);
  const auto targets = frameArrays<float>(env, o, "targets", B, 2 * P);
  const auto masks = frameArrays<uint8_t>(env, o, "masks", B, P);
  const float* rendered = typedField<float>(env, o, "rendered", 2 * P * B, false);
  const auto grad = stridedField<p3d::pixel_terms::StridedOut>(env, o, "grad", P * B, 2);
  const bool l2 = flagField(o, "l2");
  const double k = numberField(env, o, "k");
  return frameSums(env, B, P, [&](int b, int64_t i0, int64_t i1, std::vector<double>* terms) {
    const p3d::pixel_terms::StridedOut g{grad.data, grad.stride, grad.offset + b * P * grad.stride};
    return p3d::pixel_terms::uvImageLoss(i0, i1, targets[b], masks[b], rendered + 2 * P * b, l2, k, g, terms);
  });
}

// normalImageLoss({pixels, frames, targets[], masks[], exclusion, rendered, renderedStride, renderedOffset, deltaN,
//                  l2, k, grad, gradStride, gradOffset}) -> frame sums
Napi::Value NormalImageLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "normalImageLoss");
  const int64_t P = sizeField(env, o, "pixels", 1, 1 << 30);
  const int B = sizeField(env, o, "frames", 1, 1 << 20);
  const auto targets = frameArrays<float>(env, o, "targets", B, 3 * P);
  const auto masks = frameArrays<uint8_t>(env, o, "masks", B, P);
  const uint8_t* exclusion = typedField<uint8_t>(env, o, "exclusion", P * B, false);
  const auto rendered = stridedField<p3d::pixel_terms::StridedOut>(env, o, "rendered", P * B, 3);
  const auto grad = stridedField<p3d::pixel_terms::StridedOut>(env, o, "grad", P * B, 3);
  const bool l2 = flagField(o, "l2");
  const double deltaN = numberField(env, o, "deltaN"), k = numberField(env, o, "k");
  return frameSums(env, B, P, [&](int b, int64_t i0, int64_t i1, std::vector<double>* terms) {
    const p3d::pixel_terms::Strided r{rendered.data, rendered.stride, rendered.offset + b * P * rendered.stride};
    const p3d::pixel_terms::StridedOut g{grad.data, grad.stride, grad.offset + b * P * grad.stride};
    return p3d::pixel_terms::normalImageLoss(i0, i1, targets[b], masks[b], exclusion + P * b, r, deltaN, l2, k, g, terms);
  });
}

// silhouetteImageLoss({pixels, frames, foreground[], validBackground[], rendered, k, grad}) -> frame sums
Napi::Value SilhouetteImageLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "silhouetteImageLoss");
  const int64_t P = sizeField(env, o, "pixels", 1, 1 << 30);
  const int B = sizeField(env, o, "frames", 1, 1 << 20);
  const auto foreground = frameArrays<uint8_t>(env, o, "foreground", B, P);
  const auto validBackground = frameArrays<uint8_t>(env, o, "validBackground", B, P);
  const float* rendered = typedField<float>(env, o, "rendered", P * B, false);
  float* grad = typedField<float>(env, o, "grad", P * B, false);
  const double k = numberField(env, o, "k");
  return frameSums(env, B, P, [&](int b, int64_t i0, int64_t i1, std::vector<double>* terms) {
    return p3d::pixel_terms::silhouetteImageLoss(i0, i1, foreground[b], validBackground[b], rendered + P * b, k, grad + P * b,
                                                 terms);
  });
}

// sceneCoverage({batch, size, rast, aux, auxChannels, texcChannel, eyeTriangle, uniform, silhouette, covered,
//                previousCovered, uvImages, color, sampled, texcSampled, eyeBoxes}) -> [numCovered, numSampled]
Napi::Value SceneCoverage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "sceneCoverage");
  p3d::pixel_terms::CoverageArgs a;
  a.batch = sizeField(env, o, "batch", 1, 1 << 20);
  a.size = sizeField(env, o, "size", 1, 1 << 15);
  const double total = static_cast<double>(a.batch) * a.size * a.size;
  if (total >= 2147483648.0) throw Napi::RangeError::New(env, "sceneCoverage: batch * size^2 must be below 2^31 (int32 pixel indices)");
  const size_t P = static_cast<size_t>(total);
  a.auxChannels = sizeField(env, o, "auxChannels", 2, 1 << 16);
  a.texcChannel = sizeField(env, o, "texcChannel", 0, a.auxChannels - 2);
  a.rast = typedField<float>(env, o, "rast", 4 * P, false);
  a.aux = typedField<float>(env, o, "aux", P * a.auxChannels, false);
  const size_t T = typedLength<uint8_t>(o, "eyeTriangle");
  if (T >= (1u << 24)) throw Napi::RangeError::New(env, "eyeTriangle must have fewer than 2^24 entries");
  a.numTriangles = static_cast<int>(T);
  a.eyeTriangle = typedField<uint8_t>(env, o, "eyeTriangle", T, false);
  a.uniform = typedField<float>(env, o, "uniform", T, false);
  a.silhouette = flagField(o, "silhouette");
  a.covered = typedField<int32_t>(env, o, "covered", P, false);
  a.previousCovered = sizeField(env, o, "previousCovered", 0, static_cast<int>(P));
  for (int64_t j = 0; j < a.previousCovered; ++j)
    if (a.covered[j] < 0 || static_cast<size_t>(a.covered[j]) >= P)
      throw Napi::RangeError::New(env, "sceneCoverage: covered[" + std::to_string(j) + "] is not a pixel index");
  a.uvImages = typedField<float>(env, o, "uvImages", 2 * P, false);
  a.color = typedField<float>(env, o, "color", P, false);
  a.sampled = typedField<int32_t>(env, o, "sampled", P, false);
  a.texcSampled = typedField<float>(env, o, "texcSampled", 2 * P, false);
  a.eyeBoxes = typedField<int32_t>(env, o, "eyeBoxes", 4 * static_cast<size_t>(a.batch), false);
  int64_t n = 0, m = 0;
  if (!p3d::pixel_terms::coveragePass(a, &n, &m))
    throw Napi::RangeError::New(env, "sceneCoverage: rast holds a triangle id that is not an integer in [0, " + std::to_string(T) + "]");
  Napi::Array r = Napi::Array::New(env, 2);
  r.Set(0u, Napi::Number::New(env, static_cast<double>(n)));
  r.Set(1u, Napi::Number::New(env, static_cast<double>(m)));
  return r;
}

// texcGradient({g, gStride, texcOffset, covered, n, gu?, guStride, guOffset, plusZero})
Napi::Value TexcGradient(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "texcGradient");
  const size_t gLen = typedLength<float>(o, "g");
  float* g = typedField<float>(env, o, "g", gLen, false);
  const int gStride = sizeField(env, o, "gStride", 2, 1 << 16);
  const int texcOffset = sizeField(env, o, "texcOffset", 0, gStride - 2);
  const int64_t pixels = static_cast<int64_t>(gLen / gStride);
  const size_t coveredLen = typedLength<int32_t>(o, "covered");
  const int32_t* covered = typedField<int32_t>(env, o, "covered", coveredLen, false);
  const int64_t n = sizeField(env, o, "n", 0, static_cast<int>(std::min<size_t>(coveredLen, 1u << 30)));
  p3d::pixel_terms::Strided gu{nullptr, 0, 0};
  Napi::Value guValue = o.Get("gu");
  if (!guValue.IsUndefined() && !guValue.IsNull()) {
    const auto s = stridedField<p3d::pixel_terms::StridedOut>(env, o, "gu", pixels, 2);
    gu = {s.data, s.stride, s.offset};
  }
  for (int64_t j = 0; j < n; ++j)
    if (covered[j] < 0 || covered[j] >= pixels)
      throw Napi::RangeError::New(env, "texcGradient: covered[" + std::to_string(j) + "] is not a pixel index");
  const bool plusZero = flagField(o, "plusZero");
  return runKernel(env, [&] { p3d::pixel_terms::texcGradient(g, gStride, texcOffset, covered, n, gu, plusZero); });
}

/**
 * Throws a RangeError naming the first entry of the int32 field `key` ([n] values) that is not a vertex index in
 * [0, numVertices): "op: key[i] = value is not a vertex index in [0, V)". (The vectorised range check runs first;
 * the scan for the culprit only when it fails.)
 */
void checkVertexIndices(const Napi::Env& env, const char* op, const char* key, const int32_t* idx, size_t n, int numVertices) {
  if (p3d::raster::indicesInRange(idx, static_cast<int64_t>(n), 0, numVertices)) return;
  for (size_t i = 0; i < n; ++i)
    if (idx[i] < 0 || idx[i] >= numVertices)
      throw Napi::RangeError::New(env, std::string(op) + ": " + key + "[" + std::to_string(i) + "] = " + std::to_string(idx[i]) +
                                           " is not a vertex index in [0, " + std::to_string(numVertices) + ")");
}

/** The mesh fields of vertexNormals / vertexNormalsBackward: frames, numVertices and faces [F,3] with every index in [0, V). */
struct NormalMesh {
  int frames, numVertices, numFaces;
  const int32_t* faces;
  size_t n3;  // frames * V * 3
};
NormalMesh normalMesh(const Napi::Env& env, const Napi::Object& o, const char* op) {
  NormalMesh m;
  m.frames = sizeField(env, o, "frames", 1, 1 << 20);
  m.numVertices = sizeField(env, o, "numVertices", 1, 1 << 28);
  const size_t len = typedLength<int32_t>(o, "faces");
  if (len % 3 != 0 || len / 3 >= (1u << 30)) throw Napi::RangeError::New(env, std::string(op) + ": faces must be [F,3]");
  m.numFaces = static_cast<int>(len / 3);
  m.faces = typedField<int32_t>(env, o, "faces", len, false);
  checkVertexIndices(env, op, "faces", m.faces, len, m.numVertices);
  m.n3 = static_cast<size_t>(m.frames) * m.numVertices * 3;
  return m;
}

// uvCorrespondenceLoss({size, frames, numVertices, valid, pixels[], dist2[], projected, depth|null, depthStride,
//                       depthOffset, deltaUv, distUv, offsetX, offsetY, margin, l2, gradScale, gradProjected}) -> sum
Napi::Value UvCorrespondenceLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "uvCorrespondenceLoss");
  p3d::pixel_terms::UvCorrespondenceArgs a;
  a.size = sizeField(env, o, "size", 1, 1 << 15);
  a.frames = sizeField(env, o, "frames", 1, 1 << 20);
  a.numVertices = sizeField(env, o, "numVertices", 1, 1 << 28);
  const size_t J = typedLength<int32_t>(o, "valid");
  if (J >= (1u << 30)) throw Napi::RangeError::New(env, "valid: too many vertices");
  a.numValid = static_cast<int>(J);
  a.valid = typedField<int32_t>(env, o, "valid", J, false);
  checkVertexIndices(env, "uvCorrespondenceLoss", "valid", a.valid, J, a.numVertices);
  const auto pixels = frameArrays<int32_t>(env, o, "pixels", a.frames, 2 * J);
  const auto dist2 = frameArrays<float>(env, o, "dist2", a.frames, J);
  a.pixels = pixels.data();
  a.dist2 = dist2.data();
  const size_t n3 = static_cast<size_t>(a.frames) * a.numVertices * 3;
  a.projected = typedField<float>(env, o, "projected", n3, false);
  a.gradProjected = typedField<double>(env, o, "gradProjected", n3, false);
  if (!o.Get("depth").IsNull() && !o.Get("depth").IsUndefined()) {
    const auto d = stridedField<p3d::pixel_terms::Strided>(env, o, "depth", static_cast<int64_t>(a.frames) * a.size * a.size, 1);
    a.depth = d.data;
    a.depthStride = d.stride;
    a.depthOffset = d.offset;
  }
  a.deltaUv = numberField(env, o, "deltaUv");
  a.distUv = numberField(env, o, "distUv");
  a.offsetX = numberField(env, o, "offsetX");
  a.offsetY = numberField(env, o, "offsetY");
  a.margin = numberField(env, o, "margin");
  a.l2 = flagField(o, "l2");
  a.gradScale = numberField(env, o, "gradScale");
  double sum = 0;
  guarded(env, [&] {
    sum = p3d::pixel_terms::uvCorrespondenceLoss(a);
    return 0;
  });
  return Napi::Number::New(env, sum);
}

/** obj.cornerVertex: [NC] vertex indices in [0, V), checked; sets *numCorners. */
const int32_t* cornerVertexField(const Napi::Env& env, const Napi::Object& o, const char* op, int numVertices, int* numCorners) {
  const size_t NC = typedLength<int32_t>(o, "cornerVertex");
  if (NC >= (1u << 30)) throw Napi::RangeError::New(env, std::string(op) + ": too many corners");
  const int32_t* cv = typedField<int32_t>(env, o, "cornerVertex", NC, false);
  checkVertexIndices(env, op, "cornerVertex", cv, NC, numVertices);
  *numCorners = static_cast<int>(NC);
  return cv;
}

/** A channel index field in [0, stride - width]. */
int channelField(const Napi::Env& env, const Napi::Object& o, const char* key, int stride, int width) {
  return sizeField(env, o, key, 0, stride - width);
}

// cornerChannels({frames, numVertices, cornerVertex, world, normals|null, cameraZ, attr, attrStride, depthChannel,
//                 normalChannel, gradAttr, gradStride, gradNormalChannel})
Napi::Value CornerChannels(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "cornerChannels");
  p3d::pixel_terms::CornerChannelArgs a;
  a.frames = sizeField(env, o, "frames", 1, 1 << 20);
  a.numVertices = sizeField(env, o, "numVertices", 1, 1 << 28);
  a.cornerVertex = cornerVertexField(env, o, "cornerChannels", a.numVertices, &a.numCorners);
  const size_t n3 = static_cast<size_t>(a.frames) * a.numVertices * 3, corners = static_cast<size_t>(a.frames) * a.numCorners;
  a.world = typedField<float>(env, o, "world", n3, false);
  a.normals = typedField<float>(env, o, "normals", n3, true);
  a.cameraZ = numberField(env, o, "cameraZ");
  a.attrStride = sizeField(env, o, "attrStride", 1, 1 << 16);
  a.depthChannel = channelField(env, o, "depthChannel", a.attrStride, 1);
  a.normalChannel = channelField(env, o, "normalChannel", a.attrStride, 3);
  a.attr = typedField<float>(env, o, "attr", corners * a.attrStride, false);
  a.gradStride = sizeField(env, o, "gradStride", 3, 1 << 16);
  a.gradNormalChannel = channelField(env, o, "gradNormalChannel", a.gradStride, 3);
  a.gradAttr = typedField<float>(env, o, "gradAttr", corners * a.gradStride, false);
  return runKernel(env, [&] { p3d::pixel_terms::cornerChannels(a); });
}

// gatherCornerNormals({frames, numVertices, cornerVertex, gradAttr, gradStride, gradNormalChannel, out})
Napi::Value GatherCornerNormals(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "gatherCornerNormals");
  const int frames = sizeField(env, o, "frames", 1, 1 << 20);
  const int V = sizeField(env, o, "numVertices", 1, 1 << 28);
  int NC = 0;
  const int32_t* cv = cornerVertexField(env, o, "gatherCornerNormals", V, &NC);
  const int gradStride = sizeField(env, o, "gradStride", 3, 1 << 16);
  const int gradNormalChannel = channelField(env, o, "gradNormalChannel", gradStride, 3);
  const float* gradAttr = typedField<float>(env, o, "gradAttr", static_cast<size_t>(frames) * NC * gradStride, false);
  double* out = typedField<double>(env, o, "out", static_cast<size_t>(frames) * V * 3, false);
  return runKernel(env, [&] { p3d::pixel_terms::gatherCornerNormals(frames, V, NC, cv, gradAttr, gradStride, gradNormalChannel, out); });
}

// rigidTransform({frames, numPoints, R, t, points, out})
Napi::Value RigidTransform(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "rigidTransform");
  const int B = sizeField(env, o, "frames", 1, 1 << 20);
  const int N = sizeField(env, o, "numPoints", 0, 1 << 28);
  const size_t n3 = static_cast<size_t>(B) * N * 3;
  const double* R = typedField<double>(env, o, "R", 9 * static_cast<size_t>(B), false);
  const double* t = typedField<double>(env, o, "t", 3 * static_cast<size_t>(B), false);
  const float* points = typedField<float>(env, o, "points", n3, false);
  float* out = typedField<float>(env, o, "out", n3, false);
  return runKernel(env, [&] { p3d::tracker::rigidTransform(B, N, R, t, points, out); });
}

// rigidBackward({frames, numPoints, R, points, grad, cot, gradR, gradT})
Napi::Value RigidBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "rigidBackward");
  const int B = sizeField(env, o, "frames", 1, 1 << 20);
  const int N = sizeField(env, o, "numPoints", 0, 1 << 28);
  const size_t n3 = static_cast<size_t>(B) * N * 3;
  const double* R = typedField<double>(env, o, "R", 9 * static_cast<size_t>(B), false);
  const float* points = typedField<float>(env, o, "points", n3, false);
  const float* grad = typedField<float>(env, o, "grad", n3, false);
  float* cot = typedField<float>(env, o, "cot", n3, false);
  double* gradR = typedField<double>(env, o, "gradR", 9 * static_cast<size_t>(B), false);
  double* gradT = typedField<double>(env, o, "gradT", 3 * static_cast<size_t>(B), false);
  return runKernel(env, [&] { p3d::tracker::rigidBackward(B, N, R, points, grad, cot, gradR, gradT); });
}

// vertexNormals({positions, frames, numVertices, faces, sums, out})
Napi::Value VertexNormals(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "vertexNormals");
  const NormalMesh m = normalMesh(env, o, "vertexNormals");
  const float* positions = typedField<float>(env, o, "positions", m.n3, false);
  double* sums = typedField<double>(env, o, "sums", m.n3, false);
  float* out = typedField<float>(env, o, "out", m.n3, false);
  return runKernel(env, [&] { p3d::pixel_terms::vertexNormals(positions, m.frames, m.numVertices, m.faces, m.numFaces, sums, out); });
}

// vertexNormalsBackward({positions, frames, numVertices, faces, sums, gradNormals, gradSums, gradPositions})
Napi::Value VertexNormalsBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "vertexNormalsBackward");
  const NormalMesh m = normalMesh(env, o, "vertexNormalsBackward");
  const float* positions = typedField<float>(env, o, "positions", m.n3, false);
  const double* sums = typedField<double>(env, o, "sums", m.n3, false);
  const double* gradNormals = typedField<double>(env, o, "gradNormals", m.n3, false);
  double* gradSums = typedField<double>(env, o, "gradSums", m.n3, false);
  float* gradPositions = typedField<float>(env, o, "gradPositions", m.n3, false);
  return runKernel(env, [&] {
    p3d::pixel_terms::vertexNormalsBackward(positions, m.frames, m.numVertices, m.faces, m.numFaces, sums, gradNormals, gradSums,
                                            gradPositions);
  });
}

// mirrorGram({A, K, n, n2, Q}): Q [K,K] of the mirror regulariser (native/src/tracker/mirror_gram.h).
Napi::Value MirrorGram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "mirrorGram");
  const int K = sizeField(env, o, "K", 1, 1 << 14);
  const int n = sizeField(env, o, "n", 0, 1 << 30);
  const int n2 = sizeField(env, o, "n2", 0, n);
  const float* A = typedField<float>(env, o, "A", static_cast<size_t>(K) * n, false);
  double* Q = typedField<double>(env, o, "Q", static_cast<size_t>(K) * K, false);
  return runKernel(env, [&] { p3d::tracker::mirrorGram(A, K, n, n2, Q); });
}

// mirrorRowDots({Q, K, row0, rows, col0, length, x, out}): out[i] = Q[row0 + i, col0 : col0 + length] . x[:length]
// (native/src/tracker/mirror_gram.h).
Napi::Value MirrorRowDots(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = argsObject(info, "mirrorRowDots");
  const int K = sizeField(env, o, "K", 1, 1 << 14);
  const int row0 = sizeField(env, o, "row0", 0, K);
  const int rows = sizeField(env, o, "rows", 0, K - row0);
  const int col0 = sizeField(env, o, "col0", 0, K);
  const int length = sizeField(env, o, "length", 0, K - col0);
  const double* Q = typedField<double>(env, o, "Q", static_cast<size_t>(K) * K, false);
  if (typedLength<double>(o, "x") < static_cast<size_t>(length))
    throw Napi::RangeError::New(env, "x must be a Float64Array of at least length (" + std::to_string(length) + ") elements");
  if (typedLength<double>(o, "out") < static_cast<size_t>(rows))
    throw Napi::RangeError::New(env, "out must be a Float64Array of at least rows (" + std::to_string(rows) + ") elements");
  const double* x = typedField<double>(env, o, "x", static_cast<size_t>(-1), false);
  double* out = typedField<double>(env, o, "out", static_cast<size_t>(-1), false);
  return runKernel(env, [&] { p3d::tracker::mirrorRowDots(Q, K, row0, rows, col0, length, x, out); });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  exports.Set("memoryBandwidth", Napi::Function::New(env, MemoryBandwidth));
  exports.Set("firstNonFinite", Napi::Function::New(env, FirstNonFinite));
  exports.Set("rotationMatrices", Napi::Function::New(env, RotationMatrices));
  exports.Set("rotationVjp", Napi::Function::New(env, RotationVjp));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("rasterize", Napi::Function::New(env, Rasterize));
  exports.Set("rasterizeBackward", Napi::Function::New(env, RasterizeBackward));
  exports.Set("interpolate", Napi::Function::New(env, Interpolate));
  exports.Set("interpolateBackward", Napi::Function::New(env, InterpolateBackward));
  exports.Set("interpolateRasterizeBackward", Napi::Function::New(env, InterpolateRasterizeBackward));
  exports.Set("texture", Napi::Function::New(env, Texture));
  exports.Set("textureBackward", Napi::Function::New(env, TextureBackward));
  exports.Set("antialias", Napi::Function::New(env, Antialias));
  exports.Set("antialiasBackward", Napi::Function::New(env, AntialiasBackward));
  exports.Set("antialiasWorkSize", Napi::Function::New(env, AntialiasWorkSize));
  exports.Set("uvImageLoss", Napi::Function::New(env, UvImageLoss));
  exports.Set("normalImageLoss", Napi::Function::New(env, NormalImageLoss));
  exports.Set("silhouetteImageLoss", Napi::Function::New(env, SilhouetteImageLoss));
  exports.Set("sceneCoverage", Napi::Function::New(env, SceneCoverage));
  exports.Set("texcGradient", Napi::Function::New(env, TexcGradient));
  exports.Set("vertexNormals", Napi::Function::New(env, VertexNormals));
  exports.Set("uvCorrespondenceLoss", Napi::Function::New(env, UvCorrespondenceLoss));
  exports.Set("cornerChannels", Napi::Function::New(env, CornerChannels));
  exports.Set("rigidTransform", Napi::Function::New(env, RigidTransform));
  exports.Set("rigidBackward", Napi::Function::New(env, RigidBackward));
  exports.Set("gatherCornerNormals", Napi::Function::New(env, GatherCornerNormals));
  exports.Set("mirrorGram", Napi::Function::New(env, MirrorGram));
  exports.Set("mirrorRowDots", Napi::Function::New(env, MirrorRowDots));
  exports.Set("vertexNormalsBackward", Napi::Function::New(env, VertexNormalsBackward));
  FlameTapeWrap::Init(env, exports);
  FlameModelWrap::Init(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(pixel3dmm_kernels, Init)

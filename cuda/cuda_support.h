// What both CUDA backends (flame_cuda.cu, raster_cuda.cu) need around their kernels: CUDA errors turned into
// exceptions (a JS Error through the addon, never a crash) and grow-only device arrays.
// Include after <cuda_runtime.h>, or after cuda_emulation.h in the host emulation of raster_cuda.cu.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace p3d {
namespace cuda_support {

inline const char* baseName(const char* path) {
  const char* base = path;
  for (const char* s = path; *s; ++s)
    if (*s == '/' || *s == '\\') base = s + 1;
  return base;
}

[[noreturn]] inline void throwCudaError(cudaError_t err, const char* what, const char* file, int line) {
  throw std::runtime_error(std::string("CUDA error in ") + what + " at " + baseName(file) + ":" +
                           std::to_string(line) + ": " + cudaGetErrorString(err) + " (" + cudaGetErrorName(err) +
                           ")");
}

/**
 * A grow-only device array: ensure(n) keeps the allocation when it is large enough (contents are not kept when
 * it grows) and never returns null (n = 0 allocates one element). Freeing never throws (it runs from
 * destructors; an error there can only be a sticky one from earlier work).
 */
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { release(); }

  T* ensure(size_t n);
  void release() noexcept {
    if (ptr_) cudaFree(ptr_);
    ptr_ = nullptr;
    capacity_ = 0;
  }
  T* get() const { return ptr_; }

 private:
  T* ptr_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace cuda_support
}  // namespace p3d

#define P3D_CUDA_CHECK(call)                                                                               \
  do {                                                                                                     \
    const cudaError_t p3dErr_ = (call);                                                                    \
    if (p3dErr_ != cudaSuccess) ::p3d::cuda_support::throwCudaError(p3dErr_, #call, __FILE__, __LINE__);  \
  } while (0)

// After a <<<...>>> launch: configuration errors are reported here, execution errors at the next sync.
#define P3D_CUDA_LAUNCHED(kernel)                                                                          \
  do {                                                                                                     \
    const cudaError_t p3dErr_ = cudaGetLastError();                                                        \
    if (p3dErr_ != cudaSuccess)                                                                            \
      ::p3d::cuda_support::throwCudaError(p3dErr_, "launch of " #kernel, __FILE__, __LINE__);              \
  } while (0)

template <typename T>
T* p3d::cuda_support::DeviceBuffer<T>::ensure(size_t n) {
  if (n == 0) n = 1;  // never hand out a null pointer
  if (n > capacity_) {
    release();
    void* p = nullptr;
    P3D_CUDA_CHECK(cudaMalloc(&p, n * sizeof(T)));
    ptr_ = static_cast<T*>(p);
    capacity_ = n;
  }
  return ptr_;
}

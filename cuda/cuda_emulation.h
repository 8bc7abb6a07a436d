// A sequential host emulation of the small part of the CUDA runtime / language that cuda/raster_cuda.cu uses, so
// that its kernels and host code can be compiled by the host C++ compiler and run on a machine without a GPU
// (native/test/raster_cuda_emulated.cc). It checks the logic (indexing, grouping, operation order) against the
// CPU kernels; it says nothing about nvcc's code generation. Kernels run one thread after another, in a shuffled
// order (fixed seed per launch) so that a result depending on the thread schedule shows up as a mismatch; this is
// a valid schedule because the raster kernels use neither shared memory nor barriers.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__

using std::max;
using std::min;

struct P3dEmuDim {
  unsigned x = 0, y = 0, z = 0;
};
inline thread_local P3dEmuDim blockIdx, threadIdx, blockDim, gridDim;

typedef int cudaError_t;
typedef void* cudaStream_t;
constexpr cudaError_t cudaSuccess = 0;
constexpr cudaError_t cudaErrorMemoryAllocation = 2;
enum cudaMemcpyKind { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2 };
constexpr unsigned cudaStreamNonBlocking = 1;

inline const char* cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "emulated error"; }
inline const char* cudaGetErrorName(cudaError_t e) { return e == cudaSuccess ? "cudaSuccess" : "cudaErrorEmulated"; }
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaGetDevice(int* d) {
  *d = 0;
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  *s = nullptr;
  return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaMalloc(void** p, size_t bytes) {
  // Poisoned, like uninitialised device memory: a kernel reading what nobody wrote shows up as a mismatch.
  *p = std::malloc(bytes);
  if (!*p) return cudaErrorMemoryAllocation;
  std::memset(*p, 0xA5, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind, cudaStream_t) {
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) {
  std::memset(dst, value, bytes);
  return cudaSuccess;
}

inline unsigned long long atomicMin(unsigned long long* a, unsigned long long v) {
  const unsigned long long old = *a;
  if (v < old) *a = v;
  return old;
}
inline int atomicAdd(int* a, int v) {
  const int old = *a;
  *a += v;
  return old;
}
inline uint32_t __float_as_uint(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

namespace p3d_emu {
template <typename K>
struct Launcher {
  unsigned grid, block;
  K kernel;
  template <typename... A>
  void operator()(A&&... args) const {
    gridDim.x = grid;
    blockDim.x = block;
    const uint64_t n = static_cast<uint64_t>(grid) * block;
    std::vector<uint64_t> order(n);
    for (uint64_t i = 0; i < n; ++i) order[i] = i;
    uint64_t state = 0x9E3779B97F4A7C15ull ^ n;  // splitmix64: a fixed, launch-size dependent shuffle
    for (uint64_t i = n; i > 1; --i) {
      uint64_t z = (state += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      std::swap(order[i - 1], order[z % i]);
    }
    for (uint64_t i : order) {
      blockIdx.x = static_cast<unsigned>(i / block);
      threadIdx.x = static_cast<unsigned>(i % block);
      kernel(args...);
    }
  }
};
template <typename K>
Launcher<K> launcher(unsigned grid, unsigned block, K kernel) {
  return Launcher<K>{grid, block, kernel};
}
}  // namespace p3d_emu

namespace cub {
struct DeviceRadixSort {
  /** Ascending sort of the keys' bits [beginBit, endBit) (the emulation checks that no other bit is set). */
  static cudaError_t SortKeys(void* temp, size_t& bytes, const unsigned long long* in, unsigned long long* out, int n,
                              int beginBit, int endBit, cudaStream_t) {
    if (!temp) {
      bytes = 16;
      return cudaSuccess;
    }
    if (beginBit != 0 || endBit < 1 || endBit > 64) return 1;
    for (int i = 0; i < n; ++i)
      if (endBit < 64 && (in[i] >> endBit) != 0) return 1;  // a key wider than the sorted bits
    std::copy(in, in + n, out);
    std::sort(out, out + n);
    return cudaSuccess;
  }
};
}  // namespace cub

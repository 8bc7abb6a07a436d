// 64-byte aligned float/double storage for streamed bases (one cache line, one AVX-512 vector).
#pragma once
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

namespace p3d {

template <typename T>
class AlignedVector {
 public:
  AlignedVector() = default;
  explicit AlignedVector(size_t n) { resize(n); }
  AlignedVector(const AlignedVector&) = delete;
  AlignedVector& operator=(const AlignedVector&) = delete;
  ~AlignedVector() { std::free(data_); }

  /** Resize and zero-fill. */
  void resize(size_t n) {
    resizeUninitialized(n);
    if (n) std::memset(static_cast<void*>(data_), 0, n * sizeof(T));
  }
  /** Resize keeping the allocation when the size is unchanged; contents are unspecified afterwards. */
  void resizeUninitialized(size_t n) {
    if (n != size_) {
      std::free(data_);
      data_ = nullptr;
      size_ = 0;
      if (n) {
        const size_t bytes = ((n * sizeof(T) + 63) / 64) * 64;
        data_ = static_cast<T*>(std::aligned_alloc(64, bytes));
        if (!data_) throw std::bad_alloc();
        size_ = n;
      }
    }
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

/** Row stride of a basis stored basis-major: 3V rounded up to a whole cache line of floats. */
inline int paddedStride(int numVertices) { return ((3 * numVertices + 15) / 16) * 16; }

}  // namespace p3d

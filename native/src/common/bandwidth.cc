#include "bandwidth.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "aligned.h"
#include "thread_pool.h"

namespace p3d {

double measureReadBandwidth(int megabytes, int repeats) {
  const size_t n = static_cast<size_t>(megabytes) * 1024 * 1024 / sizeof(float);
  AlignedVector<float> buf(n);
  for (size_t i = 0; i < n; ++i) buf[i] = static_cast<float>(i & 1023);
  constexpr int kTasks = 64;
  std::vector<float> sink(kTasks);
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    ThreadPool::instance().parallelFor(kTasks, [&](int t) {
      const size_t a = n * t / kTasks, b = n * (t + 1) / kTasks;
      float acc[16] = {0};
      size_t i = a;
      for (; i + 16 <= b; i += 16)
        for (int l = 0; l < 16; ++l) acc[l] += buf[i + l];
      float s = 0;
      for (int l = 0; l < 16; ++l) s += acc[l];
      sink[t] = s;
    });
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(n) * sizeof(float) / sec / 1e9);
  }
  volatile float keep = sink[0];
  (void)keep;
  return best;
}

}  // namespace p3d

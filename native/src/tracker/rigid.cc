// See rigid.h. (Built with -ffp-contract=off: no fused multiply-adds, as the reference.)
#include "rigid.h"

#include <algorithm>

#include "../common/thread_pool.h"

namespace p3d {
namespace tracker {

void rigidTransform(int frames, int64_t numPoints, const double* R, const double* t, const float* points, float* out) {
  constexpr int64_t kChunk = 2048;
  const int64_t chunks = (numPoints + kChunk - 1) / kChunk;
  if (chunks == 0) return;
  ThreadPool::instance().parallelFor(static_cast<int>(frames * chunks), [&](int task) {
    const int64_t b = task / chunks, i0 = (task % chunks) * kChunk, i1 = std::min(numPoints, i0 + kChunk);
    const double* r = R + 9 * b;
    const double* tb = t + 3 * b;
    for (int64_t i = 3 * (b * numPoints + i0); i < 3 * (b * numPoints + i1); i += 3) {
      const double x = points[i], y = points[i + 1], z = points[i + 2];
      out[i] = static_cast<float>(r[0] * x + r[1] * y + r[2] * z + tb[0]);
      out[i + 1] = static_cast<float>(r[3] * x + r[4] * y + r[5] * z + tb[1]);
      out[i + 2] = static_cast<float>(r[6] * x + r[7] * y + r[8] * z + tb[2]);
    }
  });
}

void rigidBackward(int frames, int64_t numPoints, const double* R, const float* points, const float* grad, float* cot,
                   double* gradR, double* gradT) {
  ThreadPool::instance().parallelFor(frames, [&](int b) {
    const double* r = R + 9 * b;
    double r00 = 0, r01 = 0, r02 = 0, r10 = 0, r11 = 0, r12 = 0, r20 = 0, r21 = 0, r22 = 0, tx = 0, ty = 0, tz = 0;
    for (int64_t i = 3 * b * numPoints; i < 3 * (b + 1) * numPoints; i += 3) {
      const double gx = grad[i], gy = grad[i + 1], gz = grad[i + 2];
      const double x = points[i], y = points[i + 1], z = points[i + 2];
      cot[i] = static_cast<float>(r[0] * gx + r[3] * gy + r[6] * gz);
      cot[i + 1] = static_cast<float>(r[1] * gx + r[4] * gy + r[7] * gz);
      cot[i + 2] = static_cast<float>(r[2] * gx + r[5] * gy + r[8] * gz);
      r00 += gx * x;
      r01 += gx * y;
      r02 += gx * z;
      r10 += gy * x;
      r11 += gy * y;
      r12 += gy * z;
      r20 += gz * x;
      r21 += gz * y;
      r22 += gz * z;
      tx += gx;
      ty += gy;
      tz += gz;
    }
    double* gr = gradR + 9 * b;
    gr[0] += r00;
    gr[1] += r01;
    gr[2] += r02;
    gr[3] += r10;
    gr[4] += r11;
    gr[5] += r12;
    gr[6] += r20;
    gr[7] += r21;
    gr[8] += r22;
    gradT[3 * b] = tx;
    gradT[3 * b + 1] = ty;
    gradT[3 * b + 2] = tz;
  });
}

}  // namespace tracker
}  // namespace p3d

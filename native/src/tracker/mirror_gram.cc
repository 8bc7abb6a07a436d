// See mirror_gram.h. The K(K+1)/2 sums are independent chains over i, so they are evaluated several at a time: A is
// transposed chunk by chunk (i-major, so that A[.][l..l+3] at one i is one load), and the running sums of every
// entry are kept in Q between chunks. Each entry still adds its products one i after the other, in ascending order,
// whatever the chunking, the vector width or the thread that computes it.
#include "mirror_gram.h"

#include <algorithm>
#include <vector>

#include "../common/thread_pool.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace p3d {
namespace tracker {
namespace {
constexpr int64_t kChunk = 256;  // rows of i per transposed chunk (256 x K floats: 400 KB at K = 400)
}  // namespace

void mirrorGram(const float* A, int K, int64_t n, int64_t n2, double* Q) {
  // Running sums of the two parts, upper triangle (l >= k) only; Q is filled from them at the end.
  std::vector<double> twice(static_cast<size_t>(K) * K, 0.0), once(static_cast<size_t>(K) * K, 0.0);
  // The transposed chunk, rows padded to a multiple of 4 (zeros; their sums are never read).
  const int Kp = (K + 3) / 4 * 4;
  std::vector<float> At(static_cast<size_t>(kChunk) * Kp, 0.0f);
  ThreadPool& pool = ThreadPool::instance();
  for (int64_t i0 = 0, i1; i0 < n; i0 = i1) {
    // A chunk never straddles n2, so that all its products go to one of the two sums.
    i1 = std::min(n, i0 < n2 ? std::min(n2, i0 + kChunk) : i0 + kChunk);
    const int64_t rows = i1 - i0;
    for (int k = 0; k < K; ++k)
      for (int64_t i = 0; i < rows; ++i) At[i * Kp + k] = A[static_cast<int64_t>(k) * n + i0 + i];
    double* sums = i0 < n2 ? twice.data() : once.data();
    // Rows k and K-1-k of the upper triangle per task (row k has K-k entries: the pairs even the work out).
    pool.parallelFor((K + 1) / 2, [&](int task) {
      const int taskRows[2] = {task, K - 1 - task};
      for (int r = 0; r < (taskRows[0] == taskRows[1] ? 1 : 2); ++r) {
        const int k = taskRows[r];
        double* row = sums + static_cast<int64_t>(k) * K;
        int l = k;
#if defined(__AVX2__)
        // Four entries (k, l..l+3) per vector, each lane its own entry's chain of adds; four vectors at a time, so
        // that the chains' add latencies overlap.
        for (; l + 16 <= K; l += 16) {
          __m256d acc[4];
          for (int j = 0; j < 4; ++j) acc[j] = _mm256_loadu_pd(row + l + 4 * j);
          for (int64_t i = 0; i < rows; ++i) {
            const float* at = &At[i * Kp];
            const __m256d a = _mm256_set1_pd(static_cast<double>(at[k]));
            for (int j = 0; j < 4; ++j) acc[j] = _mm256_add_pd(acc[j], _mm256_mul_pd(a, _mm256_cvtps_pd(_mm_loadu_ps(at + l + 4 * j))));
          }
          for (int j = 0; j < 4; ++j) _mm256_storeu_pd(row + l + 4 * j, acc[j]);
        }
        for (; l + 4 <= K; l += 4) {
          __m256d acc = _mm256_loadu_pd(row + l);
          for (int64_t i = 0; i < rows; ++i) {
            const __m256d a = _mm256_set1_pd(static_cast<double>(At[i * Kp + k]));
            const __m256d b = _mm256_cvtps_pd(_mm_loadu_ps(&At[i * Kp + l]));
            acc = _mm256_add_pd(acc, _mm256_mul_pd(a, b));
          }
          _mm256_storeu_pd(row + l, acc);
        }
#endif
        for (; l < K; ++l) {
          double acc = row[l];
          for (int64_t i = 0; i < rows; ++i) acc += static_cast<double>(At[i * Kp + k]) * At[i * Kp + l];
          row[l] = acc;
        }
      }
    });
  }
  for (int k = 0; k < K; ++k)
    for (int l = k; l < K; ++l) {
      const int64_t e = static_cast<int64_t>(k) * K + l;
      Q[e] = Q[static_cast<int64_t>(l) * K + k] = 2 * twice[e] + once[e];
    }
}

void mirrorRowDots(const double* Q, int K, int row0, int rows, int col0, int length, const double* x, double* out) {
  // Four rows at a time: four independent chains of adds (each row's own adds stay in order), so the adds overlap
  // instead of each waiting for the previous one. Small enough (K = 400: 120 thousand products) for one thread.
  int i = 0;
  for (; i + 4 <= rows; i += 4) {
    const double* q0 = Q + static_cast<int64_t>(row0 + i) * K + col0;
    const double* q1 = q0 + K;
    const double* q2 = q1 + K;
    const double* q3 = q2 + K;
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int l = 0; l < length; ++l) {
      const double xl = x[l];
      s0 += q0[l] * xl;
      s1 += q1[l] * xl;
      s2 += q2[l] * xl;
      s3 += q3[l] * xl;
    }
    out[i] = s0;
    out[i + 1] = s1;
    out[i + 2] = s2;
    out[i + 3] = s3;
  }
  for (; i < rows; ++i) {
    const double* q = Q + static_cast<int64_t>(row0 + i) * K + col0;
    double s = 0;
    for (int l = 0; l < length; ++l) s += q[l] * x[l];
    out[i] = s;
  }
}

}  // namespace tracker
}  // namespace p3d

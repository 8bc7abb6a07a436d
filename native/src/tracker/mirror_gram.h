// The Gram matrix of the mirror regulariser's residual bases (packages/tracker/src/objective/losses/regularizers.ts,
// MirrorQuadratic): Q[k][l] = 2 Σ_{i<n2} A[k][i] A[l][i] + Σ_{n2<=i<n} A[k][i] A[l][i] for the K float32 rows of A
// (row-major [K,n]), each sum in float64 over i in ascending order, as the TypeScript loop it replaces computed it, so
// the bits are the same. Q is [K,K] row-major, symmetric.
#pragma once
#include <cstdint>

namespace p3d {
namespace tracker {

void mirrorGram(const float* A, int K, int64_t n, int64_t n2, double* Q);

// out[i] = sum_{l < length} Q[(row0 + i) * K + col0 + l] * x[l] for i < rows: a block of Q's rows times a vector,
// each sum in float64 from +0 over l in ascending order, as the loops of MirrorQuadratic.evaluate computed it (so
// the bits are the same). The caller has checked row0 + rows <= K and col0 + length <= K.
void mirrorRowDots(const double* Q, int K, int row0, int rows, int col0, int length, const double* x, double* out);

}  // namespace tracker
}  // namespace p3d

// The Gram matrix of the mirror regulariser's residual bases (packages/tracker/src/objective/losses/regularizers.ts,
// MirrorQuadratic): Q[k][l] = 2 Σ_{i<n2} A[k][i] A[l][i] + Σ_{n2<=i<n} A[k][i] A[l][i] for the K float32 rows of A
// (row-major [K,n]), each sum in float64 over i in ascending order, as the TypeScript loop it replaces computed it, so
// the bits are the same. Q is [K,K] row-major, symmetric.
#pragma once
#include <cstdint>

namespace p3d {
namespace tracker {

void mirrorGram(const float* A, int K, int64_t n, int64_t n2, double* Q);

}  // namespace tracker
}  // namespace p3d

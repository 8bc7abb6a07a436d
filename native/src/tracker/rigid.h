// The tracker's rigid head transform of FLAME-space points and its backward (packages/tracker/src/objective/
// objective.ts, rigid / rigidBackward), operation for operation the TypeScript reference loops of
// packages/tracker/src/objective/rigid-reference.ts: float64 arithmetic on the float32 inputs, one rounding to float32
// per stored value, each frame's sums from 0 in point order, so the bits are the reference's for any thread count.
#pragma once
#include <cstdint>

namespace p3d {
namespace tracker {

/** out[b, i] = R_b p[b, i] + t_b for frames x numPoints points: R [B,3,3] row-major, t [B,3]. Points in parallel. */
void rigidTransform(int frames, int64_t numPoints, const double* R, const double* t, const float* points, float* out);

/**
 * Backward of rigidTransform for the output gradient grad [B,N,3]: cot = R_bᵀ grad (written, [B,N,3]); gradR [B,9]
 * += Σ_i grad_i p_iᵀ and gradT [B,3] = Σ_i grad_i (written), each frame's sums from 0 in point order. Frames in
 * parallel (a frame's sums are one chain each).
 */
void rigidBackward(int frames, int64_t numPoints, const double* R, const float* points, const float* grad, float* cot,
                   double* gradR, double* gradT);

}  // namespace tracker
}  // namespace p3d

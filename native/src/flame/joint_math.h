// Joint-level FLAME math in float64 on the host, shared by the CPU and CUDA backends: rotation maps and
// their derivatives, the kinematic chain and its vector-Jacobian product.
//
// Conventions (defined here, used everywhere in the FLAME kernel):
// - Matrices are row-major double[9] (3x3) and act on column vectors: v' = R v.
// - 6D rotation (Zhou et al., Pixel3DMM / PyTorch3D): x = (a1, a2), the first two ROWS of R before
//   Gram-Schmidt: b1 = n(a1), b2 = n(a2 - (b1.a2) b1), b3 = b1 x b2, R = rows (b1, b2, b3).
//   Identity: (1,0,0, 0,1,0).
// - Axis-angle: r = angle * axis, R = I + A(t)[r]x + B(t)[r]x^2 with t = |r| (Rodrigues); series near 0, so
//   the derivative at the identity is exact.
#pragma once

namespace p3d {

enum class RotationFormat { SixD = 6, AxisAngle = 3 };

inline int rotationDims(RotationFormat f) { return static_cast<int>(f); }

/** R from a 6D or axis-angle vector. Returns false when a 6D input is degenerate (zero or parallel rows). */
bool rotationFromParams(RotationFormat fmt, const double* x, double R[9]);
/** Accumulate g_x += (dR/dx)^T g_R for the rotation map at x. */
void rotationVjp(RotationFormat fmt, const double* x, const double gR[9], double* gx);
/** dR/dx_s for every parameter s: out[s*9 + k]. */
void rotationJacobian(RotationFormat fmt, const double* x, double* out);

constexpr int kFlameJoints = 5;

/**
 * The rigid chain of spec 4.2 step 4: G_0 = [R_0 | J_0], G_j = G_parent [R_j | J_j - J_parent],
 * A_j = [Rg_j | tg_j - Rg_j J_j]. `parents[j] < j` for j > 0 (validated when the model is created).
 */
struct ChainState {
  double R[kFlameJoints][9];   // local rotations
  double J[kFlameJoints][3];   // joint locations in the shaped rest pose
  double Rg[kFlameJoints][9];  // global rotations
  double tg[kFlameJoints][3];  // global joint positions
  double A[kFlameJoints][12];  // skinning transforms, 3x4 row-major
};

void chainForward(const int* parents, ChainState& s);

/**
 * Given dL/dA_j as gA[j] (3x4 row-major), accumulate dL/dR_j into gR[j] and dL/dJ_j into gJ[j].
 */
void chainVjp(const int* parents, const ChainState& s, const double gA[kFlameJoints][12], double gR[kFlameJoints][9],
              double gJ[kFlameJoints][3]);

/** Forward-mode: given dR_j for every joint (one direction), the resulting dA_j (J held fixed). */
void chainTangentRotation(const int* parents, const ChainState& s, const double dR[kFlameJoints][9],
                          double dA[kFlameJoints][12]);

/** d(translation of A_j)/d(J_m) as 3x3 blocks: out[j][m][9]. Rotational parts do not depend on J. */
void chainJointDerivative(const int* parents, const ChainState& s, double out[kFlameJoints][kFlameJoints][9]);

}  // namespace p3d

#include "joint_math.h"

#include <cmath>
#include <cstring>

namespace p3d {
namespace {

inline double dot3(const double* a, const double* b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
inline void cross3(const double* a, const double* b, double* out) {
  out[0] = a[1] * b[2] - a[2] * b[1];
  out[1] = a[2] * b[0] - a[0] * b[2];
  out[2] = a[0] * b[1] - a[1] * b[0];
}
inline void matmul3(const double* a, const double* b, double* out) {
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) out[3 * r + c] = a[3 * r] * b[c] + a[3 * r + 1] * b[3 + c] + a[3 * r + 2] * b[6 + c];
}
inline void matvec3(const double* m, const double* v, double* out) {
  for (int r = 0; r < 3; ++r) out[r] = m[3 * r] * v[0] + m[3 * r + 1] * v[1] + m[3 * r + 2] * v[2];
}
inline void matTvec3(const double* m, const double* v, double* out) {
  for (int c = 0; c < 3; ++c) out[c] = m[c] * v[0] + m[3 + c] * v[1] + m[6 + c] * v[2];
}
// out += a^T b (3x3)
inline void addMatTmul3(const double* a, const double* b, double* out) {
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) out[3 * r + c] += a[r] * b[c] + a[3 + r] * b[3 + c] + a[6 + r] * b[6 + c];
}
// out += a b^T (3x3)
inline void addMatmulT3(const double* a, const double* b, double* out) {
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c)
      out[3 * r + c] += a[3 * r] * b[3 * c] + a[3 * r + 1] * b[3 * c + 1] + a[3 * r + 2] * b[3 * c + 2];
}

// Rodrigues coefficients A = sin t / t, B = (1 - cos t) / t^2, C = A'/t, D = B'/t, with Taylor series below
// t = 1e-3 where the closed forms lose precision (the series error there is below 1e-19).
void rodriguesCoefficients(double t, double& A, double& B, double& C, double& D) {
  const double t2 = t * t;
  if (t < 1e-3) {
    A = 1.0 - t2 / 6.0 + t2 * t2 / 120.0;
    B = 0.5 - t2 / 24.0 + t2 * t2 / 720.0;
    C = -1.0 / 3.0 + t2 / 30.0 - t2 * t2 / 840.0;
    D = -1.0 / 12.0 + t2 / 180.0 - t2 * t2 / 6720.0;
  } else {
    const double s = std::sin(t), c = std::cos(t);
    A = s / t;
    B = (1.0 - c) / t2;
    C = (t * c - s) / (t2 * t);
    D = (t * s - 2.0 * (1.0 - c)) / (t2 * t2);
  }
}

void skew(const double* r, double* K) {
  K[0] = 0;     K[1] = -r[2]; K[2] = r[1];
  K[3] = r[2];  K[4] = 0;     K[5] = -r[0];
  K[6] = -r[1]; K[7] = r[0];  K[8] = 0;
}

void axisAngleJacobian(const double* r, double* out) {
  const double t = std::sqrt(dot3(r, r));
  double A, B, C, D;
  rodriguesCoefficients(t, A, B, C, D);
  double K[9], K2[9];
  skew(r, K);
  matmul3(K, K, K2);
  for (int k = 0; k < 3; ++k) {
    double e[3] = {0, 0, 0};
    e[k] = 1;
    double Ek[9], EkK[9], KEk[9];
    skew(e, Ek);
    matmul3(Ek, K, EkK);
    matmul3(K, Ek, KEk);
    double* d = out + 9 * k;
    for (int i = 0; i < 9; ++i) d[i] = C * r[k] * K[i] + A * Ek[i] + D * r[k] * K2[i] + B * (EkK[i] + KEk[i]);
  }
}

}  // namespace

bool rotationFromParams(RotationFormat fmt, const double* x, double R[9]) {
  if (fmt == RotationFormat::AxisAngle) {
    const double t = std::sqrt(dot3(x, x));
    double A, B, C, D;
    rodriguesCoefficients(t, A, B, C, D);
    double K[9], K2[9];
    skew(x, K);
    matmul3(K, K, K2);
    for (int i = 0; i < 9; ++i) R[i] = (i % 4 == 0 ? 1.0 : 0.0) + A * K[i] + B * K2[i];
    return true;
  }
  const double* a1 = x;
  const double* a2 = x + 3;
  const double n1 = std::sqrt(dot3(a1, a1));
  if (!(n1 > 0) || !std::isfinite(n1)) return false;
  double b1[3] = {a1[0] / n1, a1[1] / n1, a1[2] / n1};
  const double d = dot3(b1, a2);
  double b2p[3] = {a2[0] - d * b1[0], a2[1] - d * b1[1], a2[2] - d * b1[2]};
  const double n2 = std::sqrt(dot3(b2p, b2p));
  if (!(n2 > 0) || !std::isfinite(n2)) return false;
  double b2[3] = {b2p[0] / n2, b2p[1] / n2, b2p[2] / n2};
  double b3[3];
  cross3(b1, b2, b3);
  for (int c = 0; c < 3; ++c) {
    R[c] = b1[c];
    R[3 + c] = b2[c];
    R[6 + c] = b3[c];
  }
  return true;
}

void rotationVjp(RotationFormat fmt, const double* x, const double gR[9], double* gx) {
  if (fmt == RotationFormat::AxisAngle) {
    double J[27];
    axisAngleJacobian(x, J);
    for (int k = 0; k < 3; ++k) {
      double s = 0;
      for (int i = 0; i < 9; ++i) s += J[9 * k + i] * gR[i];
      gx[k] += s;
    }
    return;
  }
  const double* a1 = x;
  const double* a2 = x + 3;
  const double n1 = std::sqrt(dot3(a1, a1));
  const double b1[3] = {a1[0] / n1, a1[1] / n1, a1[2] / n1};
  const double d = dot3(b1, a2);
  const double b2p[3] = {a2[0] - d * b1[0], a2[1] - d * b1[1], a2[2] - d * b1[2]};
  const double n2 = std::sqrt(dot3(b2p, b2p));
  const double b2[3] = {b2p[0] / n2, b2p[1] / n2, b2p[2] / n2};
  double gb1[3] = {gR[0], gR[1], gR[2]};
  double gb2[3] = {gR[3], gR[4], gR[5]};
  const double gb3[3] = {gR[6], gR[7], gR[8]};
  // b3 = b1 x b2
  double t[3];
  cross3(b2, gb3, t);
  for (int i = 0; i < 3; ++i) gb1[i] += t[i];
  cross3(gb3, b1, t);
  for (int i = 0; i < 3; ++i) gb2[i] += t[i];
  // b2 = b2' / |b2'|
  const double p2 = dot3(b2, gb2);
  double gb2p[3];
  for (int i = 0; i < 3; ++i) gb2p[i] = (gb2[i] - b2[i] * p2) / n2;
  // b2' = a2 - (b1.a2) b1
  const double q = dot3(b1, gb2p);
  for (int i = 0; i < 3; ++i) {
    gx[3 + i] += gb2p[i] - b1[i] * q;
    gb1[i] -= a2[i] * q + d * gb2p[i];
  }
  // b1 = a1 / |a1|
  const double p1 = dot3(b1, gb1);
  for (int i = 0; i < 3; ++i) gx[i] += (gb1[i] - b1[i] * p1) / n1;
}

void rotationJacobian(RotationFormat fmt, const double* x, double* out) {
  if (fmt == RotationFormat::AxisAngle) {
    axisAngleJacobian(x, out);
    return;
  }
  // The rows of the 9x6 Jacobian are VJPs of unit cotangents (exact, no differencing).
  for (int k = 0; k < 9; ++k) {
    double g[9] = {0};
    g[k] = 1;
    double gx[6] = {0};
    rotationVjp(fmt, x, g, gx);
    for (int s = 0; s < 6; ++s) out[9 * s + k] = gx[s];
  }
}

void chainForward(const int* parents, ChainState& s) {
  for (int j = 0; j < kFlameJoints; ++j) {
    if (j == 0) {
      std::memcpy(s.Rg[0], s.R[0], sizeof(s.Rg[0]));
      std::memcpy(s.tg[0], s.J[0], sizeof(s.tg[0]));
    } else {
      const int p = parents[j];
      matmul3(s.Rg[p], s.R[j], s.Rg[j]);
      const double rel[3] = {s.J[j][0] - s.J[p][0], s.J[j][1] - s.J[p][1], s.J[j][2] - s.J[p][2]};
      matvec3(s.Rg[p], rel, s.tg[j]);
      for (int i = 0; i < 3; ++i) s.tg[j][i] += s.tg[p][i];
    }
    double RJ[3];
    matvec3(s.Rg[j], s.J[j], RJ);
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) s.A[j][4 * r + c] = s.Rg[j][3 * r + c];
      s.A[j][4 * r + 3] = s.tg[j][r] - RJ[r];
    }
  }
}

void chainVjp(const int* parents, const ChainState& s, const double gA[kFlameJoints][12], double gR[kFlameJoints][9],
              double gJ[kFlameJoints][3]) {
  double gRg[kFlameJoints][9];
  double gtg[kFlameJoints][3];
  // A_j = [Rg_j | tg_j - Rg_j J_j]
  for (int j = 0; j < kFlameJoints; ++j) {
    const double m[3] = {gA[j][3], gA[j][7], gA[j][11]};
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) gRg[j][3 * r + c] = gA[j][4 * r + c] - m[r] * s.J[j][c];
    for (int i = 0; i < 3; ++i) gtg[j][i] = m[i];
    double t[3];
    matTvec3(s.Rg[j], m, t);
    for (int i = 0; i < 3; ++i) gJ[j][i] -= t[i];
  }
  // Reverse topological sweep: children (larger index) before parents.
  for (int j = kFlameJoints - 1; j >= 1; --j) {
    const int p = parents[j];
    addMatTmul3(s.Rg[p], gRg[j], gR[j]);          // Rg_j = Rg_p R_j
    addMatmulT3(gRg[j], s.R[j], gRg[p]);
    const double rel[3] = {s.J[j][0] - s.J[p][0], s.J[j][1] - s.J[p][1], s.J[j][2] - s.J[p][2]};
    for (int r = 0; r < 3; ++r)                    // tg_j = Rg_p (J_j - J_p) + tg_p
      for (int c = 0; c < 3; ++c) gRg[p][3 * r + c] += gtg[j][r] * rel[c];
    for (int i = 0; i < 3; ++i) gtg[p][i] += gtg[j][i];
    double t[3];
    matTvec3(s.Rg[p], gtg[j], t);
    for (int i = 0; i < 3; ++i) {
      gJ[j][i] += t[i];
      gJ[p][i] -= t[i];
    }
  }
  for (int i = 0; i < 9; ++i) gR[0][i] += gRg[0][i];
  for (int i = 0; i < 3; ++i) gJ[0][i] += gtg[0][i];
}

void chainTangentRotation(const int* parents, const ChainState& s, const double dR[kFlameJoints][9],
                          double dA[kFlameJoints][12]) {
  double dRg[kFlameJoints][9];
  double dtg[kFlameJoints][3];
  for (int j = 0; j < kFlameJoints; ++j) {
    if (j == 0) {
      std::memcpy(dRg[0], dR[0], sizeof(dRg[0]));
      dtg[0][0] = dtg[0][1] = dtg[0][2] = 0;
    } else {
      const int p = parents[j];
      double a[9], b[9];
      matmul3(dRg[p], s.R[j], a);
      matmul3(s.Rg[p], dR[j], b);
      for (int i = 0; i < 9; ++i) dRg[j][i] = a[i] + b[i];
      const double rel[3] = {s.J[j][0] - s.J[p][0], s.J[j][1] - s.J[p][1], s.J[j][2] - s.J[p][2]};
      matvec3(dRg[p], rel, dtg[j]);
      for (int i = 0; i < 3; ++i) dtg[j][i] += dtg[p][i];
    }
    double dRJ[3];
    matvec3(dRg[j], s.J[j], dRJ);
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) dA[j][4 * r + c] = dRg[j][3 * r + c];
      dA[j][4 * r + 3] = dtg[j][r] - dRJ[r];
    }
  }
}

void chainJointDerivative(const int* parents, const ChainState& s, double out[kFlameJoints][kFlameJoints][9]) {
  // dtg_j/dJ_m, built root to leaves: tg_0 = J_0; tg_j = Rg_p (J_j - J_p) + tg_p.
  double dtg[kFlameJoints][kFlameJoints][9];
  std::memset(dtg, 0, sizeof(dtg));
  for (int j = 0; j < kFlameJoints; ++j) {
    if (j == 0) {
      dtg[0][0][0] = dtg[0][0][4] = dtg[0][0][8] = 1;
    } else {
      const int p = parents[j];
      for (int m = 0; m < kFlameJoints; ++m) std::memcpy(dtg[j][m], dtg[p][m], sizeof(dtg[j][m]));
      for (int i = 0; i < 9; ++i) {
        dtg[j][j][i] += s.Rg[p][i];
        dtg[j][p][i] -= s.Rg[p][i];
      }
    }
  }
  // translation of A_j = tg_j - Rg_j J_j
  for (int j = 0; j < kFlameJoints; ++j)
    for (int m = 0; m < kFlameJoints; ++m)
      for (int i = 0; i < 9; ++i) out[j][m][i] = dtg[j][m][i] - (m == j ? s.Rg[j][i] : 0.0);
}

}  // namespace p3d

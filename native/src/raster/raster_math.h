// Per-pixel rasterizer math shared by the CPU kernels and (later) the CUDA port (kernels-design.md 2.1, 2.7).
// Only + - * / and comparisons; translation units including this must be compiled without FMA contraction
// (-ffp-contract=off / nvcc --fmad=false) and without fast-math, so both backends produce identical bits.
#pragma once
#include <cstdint>
#include <cmath>
#include <cstring>

#if defined(__CUDACC__)
#define P3D_HD __host__ __device__ __forceinline__
#else
#define P3D_HD inline
#endif

namespace p3d {
namespace raster {

/** NDC coordinate of the centre of pixel i along an axis of n pixels: (2i+1)/n - 1, in float32. */
P3D_HD float pixelCentre(int i, int n) { return static_cast<float>(2 * i + 1) / static_cast<float>(n) - 1.0f; }

/** Raw homogeneous barycentrics of 2.1 at NDC (fx, fy) for clip-space vertices p0, p1, p2 ([x, y, z, w]). */
struct Bary {
  float q0x, q0y, q1x, q1y, q2x, q2y;
  float a0, a1, a2, s;
};

P3D_HD Bary baryAt(const float* p0, const float* p1, const float* p2, float fx, float fy) {
  Bary r;
  r.q0x = p0[0] - fx * p0[3];
  r.q0y = p0[1] - fy * p0[3];
  r.q1x = p1[0] - fx * p1[3];
  r.q1y = p1[1] - fy * p1[3];
  r.q2x = p2[0] - fx * p2[3];
  r.q2y = p2[1] - fy * p2[3];
  r.a0 = r.q1x * r.q2y - r.q1y * r.q2x;
  r.a1 = r.q2x * r.q0y - r.q2y * r.q0x;
  r.a2 = r.q0x * r.q1y - r.q0y * r.q1x;
  r.s = r.a0 + r.a1 + r.a2;
  return r;
}

/** z/w = (sum z_i a_i) / (sum w_i a_i). */
P3D_HD float zwOf(const Bary& r, const float* p0, const float* p1, const float* p2) {
  return (p0[2] * r.a0 + p1[2] * r.a1 + p2[2] * r.a2) / (p0[3] * r.a0 + p1[3] * r.a1 + p2[3] * r.a2);
}

/** Clamp to [lo, hi] with NaN -> 0 (the __saturatef semantics for [0, 1]). */
P3D_HD float clampNan(float x, float lo, float hi) {
  if (x != x) return 0.0f;
  return x < lo ? lo : (x > hi ? hi : x);
}

/**
 * Forward output (u, v, z/w) with the clamps of 2.1 from the raw u0 = a0/s, v0 = a1/s, zw: u, v to [0,1],
 * rescaled if u+v > 1, zw to [-1,1].
 */
P3D_HD void clampedOutputRaw(float u0, float v0, float zw, float out[3]) {
  float u = clampNan(u0, 0.0f, 1.0f);
  float v = clampNan(v0, 0.0f, 1.0f);
  const float sum = u + v;
  if (sum > 1.0f) {
    u = u / sum;
    v = v / sum;
  }
  out[0] = u;
  out[1] = v;
  out[2] = clampNan(zw, -1.0f, 1.0f);
}

/** Forward output (u, v, z/w) with the clamps of 2.1: u, v to [0,1], rescaled if u+v > 1, zw to [-1,1]. */
P3D_HD void clampedOutput(const Bary& r, float zw, float out[3]) { clampedOutputRaw(r.a0 / r.s, r.a1 / r.s, zw, out); }

/** Unsigned order == float order; -0 and +0 are made equal by the caller adding +0.0f first. */
P3D_HD uint32_t orderedBits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b ^ ((b & 0x80000000u) ? 0xFFFFFFFFu : 0x80000000u);
}

/** Depth key: smaller wins (nearer; on exact depth ties the smaller triangle id). */
P3D_HD uint64_t depthKey(float zw, uint32_t triId) {
  return (static_cast<uint64_t>(orderedBits(zw + 0.0f)) << 32) | triId;
}

/**
 * Backward of (u, v) = (a0/s, a1/s) at one pixel for incoming (du, dv): writes g[9] = (dx0, dy0, dw0, dx1, dy1,
 * dw1, dx2, dy2, dw2). Uses 1/(s + copysign(1e-6, s)) as in 2.1.
 */
P3D_HD void rasterBackwardPixel(const Bary& r, float fx, float fy, float du, float dv, float g[9]) {
  const float eps = std::signbit(r.s) ? -1e-6f : 1e-6f;  // copysign(1e-6, s)
  const float is = 1.0f / (r.s + eps);
  const float b0 = r.a0 * is;
  const float b1 = r.a1 * is;
  const float gb0 = du * is;
  const float gb1 = dv * is;
  const float gbb = gb0 * b0 + gb1 * b1;
  const float ga0 = gb0 - gbb;
  const float ga1 = gb1 - gbb;
  const float ga2 = -gbb;
  const float gq0x = r.q1y * ga2 - r.q2y * ga1;
  const float gq0y = r.q2x * ga1 - r.q1x * ga2;
  const float gq1x = r.q2y * ga0 - r.q0y * ga2;
  const float gq1y = r.q0x * ga2 - r.q2x * ga0;
  const float gq2x = r.q0y * ga1 - r.q1y * ga0;
  const float gq2y = r.q1x * ga0 - r.q0x * ga1;
  g[0] = gq0x;
  g[1] = gq0y;
  g[2] = -fx * gq0x - fy * gq0y;
  g[3] = gq1x;
  g[4] = gq1y;
  g[5] = -fx * gq1x - fy * gq1y;
  g[6] = gq2x;
  g[7] = gq2y;
  g[8] = -fx * gq2x - fy * gq2y;
}

/**
 * The order of a covered pixel's rast gradient sums (interpolate's backward), (du, dv) = the sums over the channels c
 * of g[c] * (a0[c] - a2[c]) and g[c] * (a1[c] - a2[c]): eight lane sums, lane i over the channels i, i + 8, i + 16,
 * ... in ascending order starting from +0, then the tree ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)). That is
 * the CPU's order with 8 channels per vector (a vector add per block of 8 channels, then a horizontal sum); a
 * single sum over the channels in order was a chain of C dependent adds per pixel, which the chained backward's loop
 * waited on (that op was 7-9% slower so). A lane without a channel stays +0, and adding +0 never changes a sum that
 * started at +0 (such a sum is never -0), so padding lanes change nothing.
 */
P3D_HD float laneTreeSum(const float l[8]) { return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7])); }

/** The rast gradient (du, dv) of a pixel from its gradient row g and its triangle's attribute rows, in the order above. */
P3D_HD void rastGradSums(const float* g, const float* a0, const float* a1, const float* a2, int C, float& du, float& dv) {
  float lu[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f}, lv[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  for (int c = 0; c < C; ++c) {
    lu[c & 7] += g[c] * (a0[c] - a2[c]);
    lv[c & 7] += g[c] * (a1[c] - a2[c]);
  }
  du = laneTreeSum(lu);
  dv = laneTreeSum(lv);
}

}  // namespace raster
}  // namespace p3d

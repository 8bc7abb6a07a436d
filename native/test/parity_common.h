// Shared by the parity programs (gpu_parity.cc, raster_parity.cc): the seeded random
// numbers their test problems are made from (fixed seeds: every run sees the same problems).
#pragma once

#include <cstdint>
#include <random>

namespace p3d_test {

constexpr double kPi = 3.14159265358979323846;

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  double uniform(double a, double b) { return std::uniform_real_distribution<double>(a, b)(gen_); }
  double normal() { return std::normal_distribution<double>(0.0, 1.0)(gen_); }
  int index(int n) { return std::uniform_int_distribution<int>(0, n - 1)(gen_); }

 private:
  std::mt19937_64 gen_;
};

}  // namespace p3d_test

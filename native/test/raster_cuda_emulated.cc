// raster_cuda_emulated: the CUDA rasterizer (cuda/raster_cuda.cu) compiled by the HOST compiler against a
// sequential emulation of the CUDA runtime (cuda/cuda_emulation.h), run through the rasterizer parity checks of
// gpu_parity (raster_parity.cc) against the CPU kernels. Runs anywhere, no GPU: it checks the CUDA port's logic
// (thread -> work mapping, indexing, sub-triangle setup, key min, segment grouping, reduction order, validation)
// bit for bit, but not nvcc's code generation (FMA contraction, NaN payloads): the real check is gpu_parity on a
// GPU. Kernels run one thread at a time (shuffled order), so timings are meaningless and left out. Every output
// must be bitwise equal to the CPU's (--strict-bits of gpu_parity).
//
// Usage: raster_cuda_emulated [--small] [--fuzz N] (random problems: default 1000, --small 100). Exit 0 when every
// check passes, 1 otherwise.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "flame/flame.h"  // p3d::Device

#include "raster_cuda.cu"  // NOLINT: the translation unit under test, with P3D_CUDA_EMULATION defined

void runRasterParity(p3d::Device device, bool small, bool timing, bool strictBits, int* passed, int* failed);
void runRasterFuzz(p3d::Device device, int count, bool strictBits, int* passed, int* failed);

int main(int argc, char** argv) {
  bool small = false;
  int fuzz = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--small") small = true;
    else if (arg == "--no-timing") continue;  // never timed
    else if (arg == "--fuzz" && i + 1 < argc) fuzz = std::max(0, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: raster_cuda_emulated [--small] [--fuzz N]\n");
      return 2;
    }
  }
  std::printf("raster_cuda_emulated: cuda/raster_cuda.cu on a sequential host emulation of CUDA (logic check, no GPU)\n");
  int passed = 0, failed = 0;
  try {
    runRasterParity(p3d::Device::Cuda, small, false, true, &passed, &failed);
    runRasterFuzz(p3d::Device::Cuda, fuzz >= 0 ? fuzz : (small ? 100 : 1000), true, &passed, &failed);
  } catch (const std::exception& e) {
    std::printf("raster_cuda_emulated: error: %s\n", e.what());
    ++failed;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

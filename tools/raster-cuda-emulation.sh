#!/bin/sh
# Build and run native/test/raster_cuda_emulated.cc: the CUDA rasterizer source (cuda/raster_cuda.cu) compiled by
# the host compiler on a sequential emulation of CUDA (cuda/cuda_emulation.h) and checked against the CPU kernels,
# every output bitwise. Needs cmake (>= 3.18), ninja and a C++17 compiler; no GPU, no nvcc, no Node. A logic check
# of the CUDA port (indexing, grouping, summation order), not of nvcc's code generation: tools/gpu-parity.sh on a
# GPU machine is the real check. Builds into build-gpu/ at the repository root. Arguments go to the program
# (--small). Runs the thread pool's stress test (native/test/thread_pool_test.cc) first. Exit code: 0 all passed, 1 something failed (or the build's when it fails).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cmake -S native -B build-gpu -G Ninja -DPIXEL3DMM_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=Release
cmake --build build-gpu --target raster_cuda_emulated thread_pool_test
./build-gpu/thread_pool_test
exec ./build-gpu/raster_cuda_emulated "$@"

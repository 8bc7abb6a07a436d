#!/bin/sh
# Build and run the CUDA-vs-CPU parity test (FLAME and every rasterizer op: native/test/gpu_parity.cc,
# raster_parity.cc) on a GPU machine.
# Needs cmake (>= 3.18), ninja and nvcc; no Node. Builds into build-gpu/ at the repository root.
# Arguments go to gpu_parity (e.g. --small, --no-timing). Exit code: the build's when it fails, otherwise
# gpu_parity's: 0 all passed, 1 something failed, 77 skipped (no usable CUDA device, or built without CUDA).
# GPU_PARITY_SANITIZE=1 first runs the small model under compute-sanitizer (memcheck, racecheck, initcheck,
# synccheck) when it is installed; a sanitizer finding ends the script with its exit code.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cmake -S native -B build-gpu -G Ninja -DPIXEL3DMM_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=Release
cmake --build build-gpu --target gpu_parity
if [ "${GPU_PARITY_SANITIZE:-0}" = 1 ]; then
  if command -v compute-sanitizer >/dev/null 2>&1; then
    for tool in memcheck racecheck initcheck synccheck; do
      echo "gpu-parity: compute-sanitizer --tool $tool"
      status=0
      compute-sanitizer --tool "$tool" --error-exitcode 99 ./build-gpu/gpu_parity --small --no-timing || status=$?
      if [ "$status" -ne 0 ] && [ "$status" -ne 77 ]; then exit "$status"; fi
    done
  else
    echo "gpu-parity: compute-sanitizer not found, sanitizer runs left out"
  fi
fi
exec ./build-gpu/gpu_parity "$@"

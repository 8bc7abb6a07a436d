// Measures the machine's sustainable read bandwidth with the kernels' own thread pool, so benchmarks can
// report how close a memory-bound kernel comes to it on the same machine in the same run.
#pragma once

namespace p3d {

/** Best-of-`repeats` read bandwidth in GB/s over a buffer of `megabytes` (much larger than the caches). */
double measureReadBandwidth(int megabytes, int repeats);

}  // namespace p3d

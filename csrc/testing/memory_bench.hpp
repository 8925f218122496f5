#pragma once
// Allocate+release pairs timed from C++: trtpipe's DevicePool next to cudaMalloc/cudaFree and
// cudaMallocAsync/cudaFreeAsync (the device's default memory pool), in one process.
#include <cstddef>
#include <vector>

#include "testing/pair_timer.hpp"

namespace trtpipe::testing {

std::vector<BenchSeries> memory_bench(const std::vector<std::size_t>& sizes, int iterations,
                                      int warmup, int device);

}  // namespace trtpipe::testing

#pragma once
// Allocate+release pairs timed from C++: trtpipe's DevicePool next to cudaMalloc/cudaFree and
// cudaMallocAsync/cudaFreeAsync (the device's default memory pool), in one process.
#include <cstddef>
#include <string>
#include <vector>

namespace trtpipe::memory {

struct BenchSeries {
  std::string impl;
  std::size_t bytes = 0;
  std::vector<double> ns;  // one sample per allocate+release pair
};

std::vector<BenchSeries> memory_bench(const std::vector<std::size_t>& sizes, int iterations,
                                      int warmup, int device);

}  // namespace trtpipe::memory

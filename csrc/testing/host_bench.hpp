#pragma once
// Allocate+release pairs timed from C++ without a GPU: HostPool (the policy every pool runs)
// next to the C library's aligned_alloc/free, in one process.
#include <cstddef>
#include <vector>

#include "testing/pair_timer.hpp"

namespace trtpipe::testing {

// Sizes are measured in the order given, on one pool, as the GPU benchmark does.
std::vector<BenchSeries> host_memory_bench(const std::vector<std::size_t>& sizes, int iterations,
                                           int warmup);

}  // namespace trtpipe::testing

#include "testing/host_bench.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "common/errors.hpp"
#include "memory/host_pool.hpp"

namespace trtpipe::testing {

using namespace memory;  // the pools under test
namespace {

// Keeps the compiler from dropping an allocation whose pointer is never used.
void keep(void* ptr) { asm volatile("" : : "g"(ptr) : "memory"); }

}  // namespace

std::vector<BenchSeries> host_memory_bench(const std::vector<std::size_t>& sizes, int iterations,
                                           int warmup) {
  if (sizes.empty()) throw InputError("sizes: expected at least one size, given none");
  if (iterations <= 0) {
    throw InputError("iterations: expected > 0, given " + std::to_string(iterations));
  }
  if (warmup < 0) throw InputError("warmup: expected >= 0, given " + std::to_string(warmup));
  const std::size_t largest = *std::max_element(sizes.begin(), sizes.end());
  PoolOptions options;
  options.initial_bytes = 2 * largest + (1u << 20);
  options.fallback = false;
  HostPool pool(options);
  constexpr StreamId kStream = 1;

  std::vector<BenchSeries> out;
  for (std::size_t bytes : sizes) {
    out.push_back(time_pairs("trtpipe", bytes, iterations, warmup, [&] {
      PoolBlock block = pool.allocate(bytes, kStream);
      keep(block.data());
      block.release();
    }));
    const std::size_t rounded = (bytes + kBlockAlignment - 1) / kBlockAlignment * kBlockAlignment;
    out.push_back(time_pairs("aligned_alloc/free", bytes, iterations, warmup, [&] {
      void* ptr = std::aligned_alloc(kBlockAlignment, rounded);
      keep(ptr);
      std::free(ptr);
    }));
  }
  return out;
}

}  // namespace trtpipe::testing

#pragma once
// Times allocate+release pairs one at a time (steady_clock per pair), for the memory benchmarks.
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace trtpipe::testing {

struct BenchSeries {
  std::string impl;
  std::size_t bytes = 0;
  std::vector<double> ns;  // one sample per allocate+release pair
};

template <typename Pair>
BenchSeries time_pairs(const char* impl, std::size_t bytes, int iterations, int warmup,
                       Pair pair) {
  using Clock = std::chrono::steady_clock;
  BenchSeries out{impl, bytes, {}};
  out.ns.reserve(static_cast<std::size_t>(iterations));
  for (int i = 0; i < warmup; ++i) pair();
  for (int i = 0; i < iterations; ++i) {
    const auto start = Clock::now();
    pair();
    const auto stop = Clock::now();
    out.ns.push_back(static_cast<double>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(stop - start).count()));
  }
  return out;
}

}  // namespace trtpipe::testing

#pragma once
// Hammers one pool from many threads at once and checks, independently of the pool, that no two
// live allocations ever overlap (and, for host-visible memory, that no block's bytes change while
// its owner holds it). A self-check for the pool's locking; it allocates only through the pool.
#include <cstddef>
#include <cstdint>

#include "memory/block_policy.hpp"

namespace trtpipe::testing {

using namespace memory;  // the pools under test

struct StressReport {
  std::uint64_t allocations = 0;
  std::uint64_t exhausted = 0;   // requests refused with PoolExhaustedError
  std::uint64_t overlaps = 0;    // a new allocation overlapped one still live
  std::uint64_t corrupted = 0;   // a held block's bytes changed under its owner
};

StressReport stress_pool(BlockPolicy& pool, int threads, int iterations, std::size_t max_request,
                         std::uint64_t seed, bool write_patterns);

}  // namespace trtpipe::testing

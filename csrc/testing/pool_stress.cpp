#include "testing/pool_stress.hpp"

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "common/errors.hpp"

namespace trtpipe::testing {

using namespace memory;  // the pools under test
namespace {

// Live allocations by start address, kept apart from the pool's own books.
class LiveRanges {
 public:
  bool insert(std::uintptr_t start, std::size_t size) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto next = ranges_.lower_bound(start);
    bool overlap = next != ranges_.end() && next->first < start + size;
    if (next != ranges_.begin()) {
      auto prev = std::prev(next);
      overlap = overlap || prev->first + prev->second > start;
    }
    ranges_.emplace(start, size);
    return !overlap;
  }
  void erase(std::uintptr_t start) {
    std::lock_guard<std::mutex> lock(mutex_);
    ranges_.erase(ranges_.find(start));
  }

 private:
  std::mutex mutex_;
  std::multimap<std::uintptr_t, std::size_t> ranges_;
};

struct Held {
  Allocation allocation;
  unsigned char stamp;
};

}  // namespace

StressReport stress_pool(BlockPolicy& pool, int threads, int iterations, std::size_t max_request,
                         std::uint64_t seed, bool write_patterns) {
  if (threads <= 0 || iterations <= 0 || max_request == 0) {
    throw InputError("stress_pool: expected threads > 0, iterations > 0 and max_request > 0");
  }
  if (write_patterns && !pool.host_accessible()) {
    throw InputError("write_patterns: expected a pool of host-visible memory, given " +
                     std::string(pool.kind()));
  }
  LiveRanges live;
  std::atomic<std::uint64_t> allocations{0}, exhausted{0}, overlaps{0}, corrupted{0};
  auto check = [&](const Held& held) {
    if (!write_patterns) return;
    const auto* bytes = static_cast<const unsigned char*>(held.allocation.ptr);
    for (std::size_t i = 0; i < held.allocation.size; ++i) {
      if (bytes[i] != held.stamp) {
        corrupted.fetch_add(1);
        return;
      }
    }
  };
  auto drop = [&](const Held& held, StreamId stream) {
    check(held);
    live.erase(reinterpret_cast<std::uintptr_t>(held.allocation.ptr));
    pool.release(held.allocation, stream);
  };
  auto worker = [&](int index) {
    std::mt19937_64 rng(seed + static_cast<std::uint64_t>(index));
    std::uniform_int_distribution<std::size_t> size_of(1, max_request);
    const auto stream = static_cast<StreamId>(index % 3);
    std::vector<Held> held;
    for (int i = 0; i < iterations; ++i) {
      try {
        Held h{pool.allocate(size_of(rng), stream), static_cast<unsigned char>(rng())};
        if (!live.insert(reinterpret_cast<std::uintptr_t>(h.allocation.ptr), h.allocation.size)) {
          overlaps.fetch_add(1);
        }
        if (write_patterns) std::memset(h.allocation.ptr, h.stamp, h.allocation.size);
        held.push_back(h);
        allocations.fetch_add(1);
      } catch (const PoolExhaustedError&) {
        exhausted.fetch_add(1);
      }
      if (!held.empty() && (held.size() > 4 || (rng() & 1))) {
        const std::size_t pick = rng() % held.size();
        drop(held[pick], stream);
        held.erase(held.begin() + static_cast<std::ptrdiff_t>(pick));
      }
    }
    for (const Held& h : held) drop(h, stream);
  };
  std::vector<std::thread> pool_threads;
  pool_threads.reserve(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) pool_threads.emplace_back(worker, t);
  for (std::thread& t : pool_threads) t.join();
  return StressReport{allocations.load(), exhausted.load(), overlaps.load(), corrupted.load()};
}

}  // namespace trtpipe::testing

#pragma once
// A block pool over plain (pageable) host memory. It runs the same BlockPolicy as the GPU
// pools, so the policy is exercised on machines without a GPU. Streams are plain ids here.
// With deferred fences, a fence completes only on complete_fences(), modelling streams whose
// queued work is still running; otherwise fences complete at once (host memory has no queue).
#include <atomic>
#include <cstddef>
#include <memory>

#include "memory/block_policy.hpp"
#include "memory/pool_block.hpp"

namespace trtpipe::memory {

class HostPool {
 public:
  explicit HostPool(const PoolOptions& options, bool deferred_fences = false);

  PoolBlock allocate(std::size_t bytes, StreamId stream = 0) {
    return PoolBlock(&policy_, policy_.allocate(bytes, stream));
  }
  // Completes every fence recorded so far (deferred mode): the "streams" caught up.
  void complete_fences() noexcept;
  PoolStats stats() const { return policy_.stats(); }
  void reset_peak() { policy_.reset_peak(); }
  BlockPolicy& policy() noexcept { return policy_; }
  const BlockPolicy& policy() const noexcept { return policy_; }

 private:
  struct FenceClock {
    std::atomic<Fence> recorded{0};
    std::atomic<Fence> completed{0};
  };
  HostPool(const PoolOptions& options, bool deferred, std::shared_ptr<FenceClock> clock);

  std::shared_ptr<FenceClock> clock_;
  BlockPolicy policy_;
};

}  // namespace trtpipe::memory

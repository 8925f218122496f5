#pragma once
// A block pool of device memory: arenas from cudaMalloc on one GPU.
#include <cuda_runtime_api.h>

#include <cstddef>

#include "memory/block_policy.hpp"
#include "memory/pool_block.hpp"

namespace trtpipe::memory {

class DevicePool {
 public:
  DevicePool(const PoolOptions& options, int device = 0);

  PoolBlock allocate(std::size_t bytes, cudaStream_t stream) {
    return PoolBlock(&policy_, policy_.allocate(bytes, reinterpret_cast<StreamId>(stream)));
  }
  PoolStats stats() const { return policy_.stats(); }
  void reset_peak() { policy_.reset_peak(); }
  int device() const noexcept { return device_; }
  BlockPolicy& policy() noexcept { return policy_; }
  const BlockPolicy& policy() const noexcept { return policy_; }

 private:
  int device_;
  BlockPolicy policy_;
};

}  // namespace trtpipe::memory

#pragma once
// A block pool of pinned host memory, mapped into the device address space, so kernels read
// it directly (zero-copy; on integrated GPUs such as Jetson it is the same DRAM).
#include <cuda_runtime_api.h>

#include <cstddef>

#include "memory/block_policy.hpp"
#include "memory/pool_block.hpp"

namespace trtpipe::memory {

class PinnedPool {
 public:
  PinnedPool(const PoolOptions& options, int device = 0);

  // The block's host_data() is the host address, device_data() the mapped device address.
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

#pragma once
// What DevicePool and PinnedPool share: a BlockPolicy over a CudaUpstream of one GPU, handing
// out blocks for CUDA streams. The two differ only in where their arenas come from.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <utility>

#include "memory/block_policy.hpp"
#include "memory/pool_block.hpp"
#include "memory/upstream.hpp"

namespace trtpipe::memory {

class CudaPool {
 public:
  PoolBlock allocate(std::size_t bytes, cudaStream_t stream) {
    return PoolBlock(&policy_, policy_.allocate(bytes, reinterpret_cast<StreamId>(stream)));
  }
  PoolStats stats() const { return policy_.stats(); }
  void reset_peak() { policy_.reset_peak(); }
  int device() const noexcept { return device_; }
  BlockPolicy& policy() noexcept { return policy_; }
  const BlockPolicy& policy() const noexcept { return policy_; }

 protected:
  CudaPool(std::unique_ptr<Upstream> upstream, const PoolOptions& options, int device)
      : device_(device), policy_(std::move(upstream), options) {}
  // Pools are owned as DevicePool or PinnedPool, never deleted through this base.
  ~CudaPool() = default;

 private:
  int device_;
  BlockPolicy policy_;
};

}  // namespace trtpipe::memory

#pragma once
// A block pool of device memory: arenas from cudaMalloc on one GPU.
#include "memory/cuda_pool.hpp"

namespace trtpipe::memory {

class DevicePool final : public CudaPool {
 public:
  DevicePool(const PoolOptions& options, int device = 0);
};

}  // namespace trtpipe::memory

#pragma once
// A block pool of pinned host memory, mapped into the device address space, so kernels read
// it directly (zero-copy; on integrated GPUs such as Jetson it is the same DRAM). A block's
// host_data() is the host address, its device_data() the mapped device address.
#include "memory/cuda_pool.hpp"

namespace trtpipe::memory {

class PinnedPool final : public CudaPool {
 public:
  PinnedPool(const PoolOptions& options, int device = 0);
};

}  // namespace trtpipe::memory

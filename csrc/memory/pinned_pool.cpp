#include "memory/pinned_pool.hpp"

#include <memory>
#include <string>

#include "common/cuda_check.hpp"
#include "memory/cuda_upstream.hpp"

namespace trtpipe::memory {
namespace {

class PinnedUpstream final : public CudaUpstream {
 public:
  explicit PinnedUpstream(int device)
      : CudaUpstream(device), kind_("pinned host memory mapped to GPU " + std::to_string(device)) {}

  Region allocate(std::size_t bytes) override {
    DeviceGuard guard(device_);
    void* host = nullptr;
    const cudaError_t status =
        cudaHostAlloc(&host, bytes, cudaHostAllocMapped | cudaHostAllocPortable);
    if (is_out_of_memory(status)) {
      cudaGetLastError();
      return Region{};
    }
    TRTPIPE_CUDA_CHECK(status, "allocating " + std::to_string(bytes) + " bytes of pinned memory");
    void* mapped = nullptr;
    const cudaError_t map_status = cudaHostGetDevicePointer(&mapped, host, 0);
    if (map_status != cudaSuccess) {
      static_cast<void>(cudaFreeHost(host));
      TRTPIPE_CUDA_CHECK(map_status, "mapping pinned pool memory into GPU " +
                                         std::to_string(device_));
    }
    return Region{host, mapped};
  }
  void deallocate(const Region& region, std::size_t /*bytes*/) noexcept override {
    try {
      DeviceGuard guard(device_);
      static_cast<void>(cudaFreeHost(region.ptr));
    } catch (...) {
      // The context is gone (process exit); so is the memory.
    }
  }
  bool host_accessible() const noexcept override { return true; }
  const char* kind() const noexcept override { return kind_.c_str(); }

 private:
  std::string kind_;
};

}  // namespace

PinnedPool::PinnedPool(const PoolOptions& options, int device)
    : CudaPool(std::make_unique<PinnedUpstream>(device), options, device) {}

}  // namespace trtpipe::memory

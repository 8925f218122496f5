#include "memory/device_pool.hpp"

#include <memory>
#include <string>

#include "common/cuda_check.hpp"
#include "memory/cuda_upstream.hpp"

namespace trtpipe::memory {
namespace {

class DeviceUpstream final : public CudaUpstream {
 public:
  explicit DeviceUpstream(int device)
      : CudaUpstream(device), kind_("device memory on GPU " + std::to_string(device)) {}

  Region allocate(std::size_t bytes) override {
    DeviceGuard guard(device_);
    void* ptr = nullptr;
    const cudaError_t status = cudaMalloc(&ptr, bytes);
    if (is_out_of_memory(status)) {
      cudaGetLastError();
      return Region{};
    }
    TRTPIPE_CUDA_CHECK(status, "allocating " + std::to_string(bytes) + " bytes for a pool");
    return Region{ptr, ptr};
  }
  void deallocate(const Region& region, std::size_t /*bytes*/) noexcept override {
    try {
      DeviceGuard guard(device_);
      static_cast<void>(cudaFree(region.ptr));
    } catch (...) {
      // The context is gone (process exit); so is the memory.
    }
  }
  bool host_accessible() const noexcept override { return false; }
  const char* kind() const noexcept override { return kind_.c_str(); }

 private:
  std::string kind_;
};

}  // namespace

DevicePool::DevicePool(const PoolOptions& options, int device)
    : CudaPool(std::make_unique<DeviceUpstream>(device), options, device) {}

}  // namespace trtpipe::memory

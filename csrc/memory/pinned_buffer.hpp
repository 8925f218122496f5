#pragma once
// An owning, move-only pinned host allocation that the GPU can also read in place through its
// mapped device pointer (RAII). For one-off staging; per-frame buffers come from the pools.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <utility>

#include "common/cuda_check.hpp"

namespace trtpipe {

class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(std::size_t bytes, const std::string& purpose) : bytes_(bytes) {
    TRTPIPE_CUDA_CHECK(cudaHostAlloc(&host_, bytes, cudaHostAllocMapped | cudaHostAllocPortable),
                       "allocating " + std::to_string(bytes) + " bytes of pinned host memory for " +
                           purpose);
    const cudaError_t status = cudaHostGetDevicePointer(&device_, host_, 0);
    if (status != cudaSuccess) {
      reset();
      TRTPIPE_CUDA_CHECK(status, "mapping the pinned host memory for " + purpose);
    }
  }
  ~PinnedBuffer() { reset(); }

  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  PinnedBuffer(PinnedBuffer&& other) noexcept
      : host_(std::exchange(other.host_, nullptr)),
        device_(std::exchange(other.device_, nullptr)),
        bytes_(std::exchange(other.bytes_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept {
    if (this != &other) {
      reset();
      host_ = std::exchange(other.host_, nullptr);
      device_ = std::exchange(other.device_, nullptr);
      bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
  }

  void* host_data() const noexcept { return host_; }
  void* device_data() const noexcept { return device_; }  // the same memory, as the GPU sees it
  std::size_t size() const noexcept { return bytes_; }

 private:
  void reset() noexcept {
    // A destructor cannot throw; a failing cudaFreeHost here means the context is already gone.
    if (host_ != nullptr) static_cast<void>(cudaFreeHost(host_));
    host_ = nullptr;
    device_ = nullptr;
    bytes_ = 0;
  }

  void* host_ = nullptr;
  void* device_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace trtpipe

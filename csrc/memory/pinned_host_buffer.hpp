#pragma once
// An owning, move-only page-locked host allocation (RAII), for one-off staging buffers. The
// per-frame path can take its pinned memory from the pinned block pool instead.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <utility>

#include "common/cuda_check.hpp"

namespace trtpipe {

class PinnedHostBuffer {
 public:
  PinnedHostBuffer() = default;
  PinnedHostBuffer(std::size_t bytes, const std::string& purpose) : bytes_(bytes) {
    TRTPIPE_CUDA_CHECK(cudaHostAlloc(&ptr_, bytes, cudaHostAllocDefault),
                       "allocating " + std::to_string(bytes) + " bytes of pinned host memory for " +
                           purpose);
  }
  ~PinnedHostBuffer() { reset(); }

  PinnedHostBuffer(const PinnedHostBuffer&) = delete;
  PinnedHostBuffer& operator=(const PinnedHostBuffer&) = delete;
  PinnedHostBuffer(PinnedHostBuffer&& other) noexcept
      : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  PinnedHostBuffer& operator=(PinnedHostBuffer&& other) noexcept {
    if (this != &other) {
      reset();
      ptr_ = std::exchange(other.ptr_, nullptr);
      bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
  }

  void* data() const noexcept { return ptr_; }
  std::size_t size() const noexcept { return bytes_; }

 private:
  void reset() noexcept {
    if (ptr_ != nullptr) static_cast<void>(cudaFreeHost(ptr_));
    ptr_ = nullptr;
    bytes_ = 0;
  }

  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace trtpipe

#pragma once
// An owning, move-only device allocation (RAII). Used where a one-off buffer is right; the
// per-frame path takes its memory from the block pools instead.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <utility>

#include "common/cuda_check.hpp"

namespace trtpipe {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(std::size_t bytes, const std::string& purpose) : bytes_(bytes) {
    TRTPIPE_CUDA_CHECK(cudaMalloc(&ptr_, bytes),
                       "allocating " + std::to_string(bytes) + " bytes of device memory for " +
                           purpose);
  }
  ~DeviceBuffer() { reset(); }

  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
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
    // A destructor cannot throw; a failing cudaFree here means the context is already gone.
    if (ptr_ != nullptr) static_cast<void>(cudaFree(ptr_));
    ptr_ = nullptr;
    bytes_ = 0;
  }

  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace trtpipe

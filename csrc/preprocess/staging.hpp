#pragma once
// The memory a host frame passes through on its way to the kernel: pinned staging for pageable
// frames (read mapped, or copied on) and device staging for the copy path. Both are reused from
// frame to frame; before reuse, the last kernel that read them must be done. One class, so that
// pool-backed staging can replace these one-off allocations without touching the callers.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstring>
#include <string>

#include "common/cuda_check.hpp"
#include "memory/device_buffer.hpp"
#include "memory/pinned_buffer.hpp"

namespace trtpipe::preprocess {

class Event {
 public:
  explicit Event(bool timing = false) {
    TRTPIPE_CUDA_CHECK(
        cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming),
        "creating a CUDA event for preprocessing");
  }
  ~Event() {
    if (event_ != nullptr) static_cast<void>(cudaEventDestroy(event_));
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const noexcept { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

class Staging {
 public:
  // Copies `bytes` of a pageable frame into pinned staging; returns the staging's host pointer.
  const void* host_copy(const void* frame, std::size_t bytes) {
    wait_until_free();
    if (host_.size() < bytes) host_ = PinnedBuffer(rounded(bytes), "staging pageable frames");
    std::memcpy(host_.host_data(), frame, bytes);
    return host_.host_data();
  }
  // The pinned staging as the GPU reads it in place.
  const void* host_mapped() const noexcept { return host_.device_data(); }

  // Enqueues a copy of `bytes` of pinned memory into device staging; returns the device copy.
  const void* device_copy(const void* pinned, std::size_t bytes, cudaStream_t stream) {
    if (device_.size() < bytes) {
      wait_until_free();
      device_ = DeviceBuffer(rounded(bytes), "staging host frames on the GPU");
    }
    TRTPIPE_CUDA_CHECK(cudaStreamWaitEvent(stream, done_.get(), 0),
                       "ordering the frame copy after the last kernel that read the staging");
    TRTPIPE_CUDA_CHECK(
        cudaMemcpyAsync(device_.data(), pinned, bytes, cudaMemcpyHostToDevice, stream),
        "copying a " + std::to_string(bytes) + "-byte frame to the GPU");
    return device_.data();
  }

  // Marks the staging busy until the work enqueued on `stream` so far (the kernel) is done.
  void release_after(cudaStream_t stream) {
    TRTPIPE_CUDA_CHECK(cudaEventRecord(done_.get(), stream), "marking the staging buffers' use");
    recorded_ = true;
  }

 private:
  void wait_until_free() {
    if (recorded_) {
      TRTPIPE_CUDA_CHECK(cudaEventSynchronize(done_.get()),
                         "waiting for the last kernel that read the staging buffers");
    }
  }
  static std::size_t rounded(std::size_t bytes) {
    constexpr std::size_t kGranule = std::size_t{1} << 20;
    return (bytes + kGranule - 1) / kGranule * kGranule;
  }

  PinnedBuffer host_;
  DeviceBuffer device_;
  Event done_;
  bool recorded_ = false;
};

}  // namespace trtpipe::preprocess

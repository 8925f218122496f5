#pragma once
// The memory a host frame passes through on its way to the kernel: pinned staging for pageable
// frames (read mapped, or copied on) and device staging for the copy path, two sets used in
// turn; before a set is reused, the last kernel that read it must be done. One class, so that
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
  // Moves on to the next set of buffers, for the next frame. Two sets: while the GPU still
  // reads one frame's staging (queued behind other work on the stream), the host fills the other.
  void next_frame() noexcept { current_ = (current_ + 1) % kSlots; }

  // Copies `bytes` of a pageable frame into pinned staging; returns the staging's host pointer.
  const void* host_copy(const void* frame, std::size_t bytes) {
    Slot& slot = slots_[current_];
    wait_until_free(slot);
    if (slot.host.size() < bytes) {
      slot.host = PinnedBuffer(rounded(bytes), "staging pageable frames");
    }
    std::memcpy(slot.host.host_data(), frame, bytes);
    return slot.host.host_data();
  }
  // The pinned staging as the GPU reads it in place.
  const void* host_mapped() const noexcept { return slots_[current_].host.device_data(); }

  // Enqueues a copy of `bytes` of pinned memory into device staging; returns the device copy.
  const void* device_copy(const void* pinned, std::size_t bytes, cudaStream_t stream) {
    Slot& slot = slots_[current_];
    if (slot.device.size() < bytes) {
      wait_until_free(slot);
      slot.device = DeviceBuffer(rounded(bytes), "staging host frames on the GPU");
    }
    TRTPIPE_CUDA_CHECK(cudaStreamWaitEvent(stream, slot.done.get(), 0),
                       "ordering the frame copy after the last kernel that read the staging");
    TRTPIPE_CUDA_CHECK(
        cudaMemcpyAsync(slot.device.data(), pinned, bytes, cudaMemcpyHostToDevice, stream),
        "copying a " + std::to_string(bytes) + "-byte frame to the GPU");
    return slot.device.data();
  }

  // Marks this frame's staging busy until the work enqueued on `stream` so far is done.
  void release_after(cudaStream_t stream) {
    Slot& slot = slots_[current_];
    TRTPIPE_CUDA_CHECK(cudaEventRecord(slot.done.get(), stream), "marking the staging's use");
    slot.recorded = true;
  }

 private:
  struct Slot {
    PinnedBuffer host;
    DeviceBuffer device;
    Event done;
    bool recorded = false;
  };
  static constexpr int kSlots = 2;

  static void wait_until_free(const Slot& slot) {
    if (slot.recorded) {
      TRTPIPE_CUDA_CHECK(cudaEventSynchronize(slot.done.get()),
                         "waiting for the last kernel that read the staging buffers");
    }
  }
  static std::size_t rounded(std::size_t bytes) {
    constexpr std::size_t kGranule = std::size_t{1} << 20;
    return (bytes + kGranule - 1) / kGranule * kGranule;
  }

  Slot slots_[kSlots];
  int current_ = 0;
};

}  // namespace trtpipe::preprocess

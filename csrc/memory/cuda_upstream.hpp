#pragma once
// The CUDA side shared by DevicePool and PinnedPool: fences made of CUDA events (recycled, so
// steady state creates none).
#include <cuda_runtime_api.h>

#include <mutex>
#include <vector>

#include "common/cuda_handles.hpp"
#include "memory/upstream.hpp"

namespace trtpipe::memory {

// Upstream with event fences on `device`; subclasses say where arenas come from.
class CudaUpstream : public Upstream {
 public:
  explicit CudaUpstream(int device);
  ~CudaUpstream() override;

  Fence record_fence(StreamId stream) override;
  bool fence_done(Fence fence) override;
  bool wait_fence(Fence fence) override;
  void destroy_fence(Fence fence) noexcept override;
  void wait_idle() noexcept override;
  int device() const noexcept { return device_; }

  // A fence that is complete from the start (no event behind it).
  static constexpr Fence kDoneFence = 0;

 protected:
  int device_;

 private:
  std::mutex mutex_;  // fences are recorded under the policy's lock; this guards the free list
  std::vector<cudaEvent_t> spare_events_;
};

// True for the allocation errors that mean "out of memory" (the pool then tries its next
// option); anything else is thrown by the caller.
bool is_out_of_memory(cudaError_t status) noexcept;

}  // namespace trtpipe::memory

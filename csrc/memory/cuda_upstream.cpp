#include "memory/cuda_upstream.hpp"

#include <string>

#include "common/cuda_check.hpp"

namespace trtpipe::memory {

bool is_out_of_memory(cudaError_t status) noexcept {
  return status == cudaErrorMemoryAllocation;
}

CudaUpstream::CudaUpstream(int device) : device_(device) {
  // Fails with NoGpuError here, before any arena, when there is no usable GPU.
  DeviceGuard guard(device_);
  TRTPIPE_CUDA_CHECK(cudaFree(nullptr), "initialising the CUDA context of GPU " +
                                            std::to_string(device_));
}

void CudaUpstream::wait_idle() noexcept {
  try {
    DeviceGuard guard(device_);
    static_cast<void>(cudaDeviceSynchronize());
  } catch (...) {
    // No context left (process exit): nothing can be running on it either.
  }
}

CudaUpstream::~CudaUpstream() {
  for (cudaEvent_t event : spare_events_) static_cast<void>(cudaEventDestroy(event));
}

Fence CudaUpstream::record_fence(StreamId stream) {
  cudaEvent_t event = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!spare_events_.empty()) {
      event = spare_events_.back();
      spare_events_.pop_back();
    }
  }
  DeviceGuard guard(device_);
  if (event == nullptr) {
    TRTPIPE_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming),
                       "creating a stream fence for a memory pool");
  }
  const cudaError_t status = cudaEventRecord(event, reinterpret_cast<cudaStream_t>(stream));
  if (status == cudaSuccess) return reinterpret_cast<Fence>(event);
  destroy_fence(reinterpret_cast<Fence>(event));
  if (status == cudaErrorInvalidResourceHandle) {
    // The stream was destroyed while the pool held blocks it released. Its last work may still
    // be running; only waiting for the whole device makes those blocks safe.
    cudaGetLastError();
    TRTPIPE_CUDA_CHECK(cudaDeviceSynchronize(),
                       "waiting for the device because a stream holding pool blocks is gone");
    return kDoneFence;
  }
  TRTPIPE_CUDA_CHECK(status, "recording a memory-pool fence on a stream");
  return kDoneFence;
}

bool CudaUpstream::fence_done(Fence fence) {
  if (fence == kDoneFence) return true;
  const cudaError_t status = cudaEventQuery(reinterpret_cast<cudaEvent_t>(fence));
  if (status == cudaErrorNotReady) return false;
  TRTPIPE_CUDA_CHECK(status, "querying a memory-pool fence");
  return true;
}

bool CudaUpstream::wait_fence(Fence fence) {
  if (fence == kDoneFence) return true;
  TRTPIPE_CUDA_CHECK(cudaEventSynchronize(reinterpret_cast<cudaEvent_t>(fence)),
                     "waiting for a stream to finish with released pool blocks");
  return true;
}

void CudaUpstream::destroy_fence(Fence fence) noexcept {
  if (fence == kDoneFence) return;
  auto event = reinterpret_cast<cudaEvent_t>(fence);
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    spare_events_.push_back(event);
  } catch (...) {
    static_cast<void>(cudaEventDestroy(event));
  }
}

}  // namespace trtpipe::memory

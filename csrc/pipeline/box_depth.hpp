#pragma once
// The depth statistics of every box of a frame on the GPU (decode/box_depth.hpp has the rule and
// the CPU implementation): one thread block per box, exact rank selection by radix passes over
// the float bits, so the numbers are the CPU's.
#include <cuda_runtime_api.h>

#include <vector>

#include "common/cuda_handles.hpp"
#include "decode/box_depth.hpp"
#include "decode/register_depth.hpp"
#include "memory/device_buffer.hpp"
#include "preprocess/depth_frame.hpp"

namespace trtpipe::pipeline {

// Enqueues the statistics of `count` boxes (device memory, x1 y1 x2 y2 in depth pixels) of a
// checked depth frame in device memory into `out` (device memory, `count` records).
void launch_box_depths(const preprocess::DepthFrame& depth, const float* boxes, int count,
                       const decode::DepthRule& rule, decode::BoxDepth* out, cudaStream_t stream);

// The statistics of a host or device depth frame's boxes, computed on the GPU: the depth frame
// (when on the host), the boxes and the results cross in buffers this object keeps and grows.
class GpuBoxDepths {
 public:
  // `stream`: where the copies and the kernel run (0: the default stream).
  explicit GpuBoxDepths(cudaStream_t stream = nullptr) : stream_(stream) {}

  // `depth_on_device`: whether depth.data is device memory, written on `producer` (waited on
  // first; 0: none). With `registration`, the depth is first registered to the colour camera
  // and the boxes are in the registered image. Blocks until the results are here.
  std::vector<decode::BoxDepth> run(const preprocess::DepthFrame& depth, bool depth_on_device,
                                    cudaStream_t producer, const float* boxes, int count,
                                    const decode::DepthRule& rule,
                                    const decode::Reprojection* registration = nullptr);

  // Milliseconds of GPU time the last run's kernel took (CUDA events).
  float last_kernel_ms() const noexcept { return last_kernel_ms_; }

 private:
  void grow(DeviceBuffer& buffer, std::size_t bytes, const char* purpose);

  cudaStream_t stream_;
  DeviceBuffer depth_, registered_, boxes_, out_;
  TimingEvent start_{"the box depth kernel"}, stop_{"the box depth kernel"};
  Event depth_ready_{"a depth image's producer"};
  float last_kernel_ms_ = 0.0f;
};

}  // namespace trtpipe::pipeline

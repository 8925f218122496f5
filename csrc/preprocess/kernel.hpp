#pragma once
// Launches the fused preprocessing kernel: one thread per output pixel, all three channels.
#include <cuda_runtime_api.h>

#include "preprocess/options.hpp"
#include "preprocess/pixel.hpp"

namespace trtpipe::preprocess {

// One launch of the fused kernel, described rather than enqueued: the frame pipeline records it
// once into a CUDA graph and then only gives the graph's kernel node each frame's arguments.
struct PreprocessLaunch {
  const void* kernel = nullptr;  // the instantiation for the output's dtype and layout
  dim3 grid;
  dim3 block;
  PixelParams params;
  void* slot = nullptr;  // the batch slot written
  bool staged = false;   // the frame passed through the preprocessor's host staging
};

// The launch writing one batch slot (dst_h x dst_w x 3 values) at `slot`. p.src (and p.uv)
// must be readable by the device: device memory or the mapped pointer of pinned memory.
PreprocessLaunch preprocess_launch(const PixelParams& p, void* slot, Layout layout, DType dtype);

// The argument array of `launch` as cudaLaunchKernel and kernel graph nodes take it.
struct PreprocessArgs {
  explicit PreprocessArgs(PreprocessLaunch& launch) noexcept
      : values{&launch.params, &launch.slot} {}
  void* values[2];
};

void enqueue_preprocess(PreprocessLaunch& launch, cudaStream_t stream);

inline void launch_preprocess(const PixelParams& p, void* slot, Layout layout, DType dtype,
                              cudaStream_t stream) {
  PreprocessLaunch launch = preprocess_launch(p, slot, layout, dtype);
  enqueue_preprocess(launch, stream);
}

}  // namespace trtpipe::preprocess

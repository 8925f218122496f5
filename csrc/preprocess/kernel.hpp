#pragma once
// Launches the fused preprocessing kernel: one thread per output pixel, all three channels.
#include <cuda_runtime_api.h>

#include "preprocess/options.hpp"
#include "preprocess/pixel.hpp"

namespace trtpipe::preprocess {

// Writes one batch slot (dst_h x dst_w x 3 values) at `slot` on `stream`. p.src (and p.uv)
// must be readable by the device: device memory or the mapped pointer of pinned memory.
void launch_preprocess(const PixelParams& p, void* slot, Layout layout, DType dtype,
                       cudaStream_t stream);

}  // namespace trtpipe::preprocess

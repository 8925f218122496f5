#pragma once
// The depth registration of decode/register_depth.hpp on the GPU: one thread per depth pixel,
// the z-buffer by atomicMin on the float bits.
#include <cuda_runtime_api.h>

#include "decode/box_depth.hpp"
#include "decode/register_depth.hpp"
#include "preprocess/depth_frame.hpp"

namespace trtpipe::pipeline {

// Enqueues the registered image of a checked depth frame in device memory into `out` (device
// memory, r.width * r.height floats).
void launch_register_depth(const preprocess::DepthFrame& depth, const decode::Reprojection& r,
                           const decode::DepthRule& rule, float* out, cudaStream_t stream);

}  // namespace trtpipe::pipeline

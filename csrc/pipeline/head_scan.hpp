#pragma once
// The threshold step of decoding a YOLOv8-style head ([4 + classes, anchors], float32,
// contiguous) on the GPU, on the stream the model ran on: every anchor's best class, and the
// anchors whose best score passes the threshold listed as decode::CompactCandidate records
// (in any order) at `out`, `count` of them. `out` may be mapped pinned memory, so only the
// candidates cross the bus; it must hold one record per anchor.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "decode/compact_candidates.hpp"

namespace trtpipe::pipeline {

struct HeadScan {
  const float* head = nullptr;  // device pointer of the model's output
  int classes = 0;
  int anchors = 0;
  float conf = 0.25f;  // keep best scores greater than this
};

// Zeroes `*count` (device memory) and enqueues the scan.
void launch_head_scan(const HeadScan& scan, decode::CompactCandidate* out, unsigned* count,
                      cudaStream_t stream);

}  // namespace trtpipe::pipeline

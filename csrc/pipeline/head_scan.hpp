#pragma once
// The threshold step of decoding a detection head on the GPU, on the stream the model ran on:
// every anchor's best class, and the anchors whose best score passes the threshold listed as
// decode::CompactCandidate records (in any order), per batch row: row b's at
// `out + b * anchors`, `count[b]` of them. `out` may be mapped pinned memory, so only the
// candidates cross the bus; it must hold one record per anchor of every row. Heads (float32,
// contiguous): YOLOv8's [batch, 4 + classes, anchors], or YOLOv5's [batch, anchors, 5 + classes]
// whose score is objectness x class score, as the CPU decode forms them
// (csrc/decode/candidates.cpp).
#include <cuda_runtime_api.h>

#include <cstdint>

#include "decode/compact_candidates.hpp"

namespace trtpipe::pipeline {

struct HeadScan {
  const float* head = nullptr;  // device pointer of the model's output
  int classes = 0;
  int anchors = 0;
  float conf = 0.25f;  // keep best scores greater than this
  bool objectness = false;  // YOLOv5's rows of cx, cy, w, h, objectness, class scores
  int batch = 1;  // rows of the head, each scanned into its own records and count
};

// The most batch rows one launch scans (a grid's y extent).
constexpr int kMaxScanBatch = 65535;

// Zeroes `count[0..batch)` (device memory) and enqueues the scan of every row.
void launch_head_scan(const HeadScan& scan, decode::CompactCandidate* out, unsigned* count,
                      cudaStream_t stream);

}  // namespace trtpipe::pipeline

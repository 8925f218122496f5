#include "pipeline/head_scan.hpp"

#include <cuda_runtime.h>

#include <cmath>

#include "common/cuda_check.hpp"

namespace trtpipe::pipeline {
namespace {

constexpr int kThreads = 256;

// One thread per anchor. Classes are visited in order and a score replaces the best only when
// greater, so the first class reaching the maximum wins and a NaN score never does, as in the
// CPU scan (csrc/decode/candidates.cpp).
__global__ void scan_head(const float* __restrict__ head, int classes, int anchors, float conf,
                          decode::CompactCandidate* out, unsigned* count) {
  const int a = blockIdx.x * blockDim.x + threadIdx.x;
  if (a >= anchors) return;
  const std::size_t n = static_cast<std::size_t>(anchors);
  const float* scores = head + 4 * n + a;
  float best = -INFINITY;
  int best_class = 0;
  for (int c = 0; c < classes; ++c) {
    const float s = scores[static_cast<std::size_t>(c) * n];
    if (s > best) {
      best = s;
      best_class = c;
    }
  }
  if (!(best > conf)) return;
  const unsigned k = atomicAdd(count, 1u);
  decode::CompactCandidate record;
  record.cx = head[a];
  record.cy = head[n + a];
  record.w = head[2 * n + a];
  record.h = head[3 * n + a];
  record.score = best;
  record.anchor = a;
  record.class_id = best_class;
  record.unused = 0;
  out[k] = record;
}

// YOLOv5: one thread per anchor row. As the CPU scan: an anchor whose objectness does not pass
// `conf` is skipped, the score is class score x objectness per class, the first class reaching
// the maximum wins.
__global__ void scan_rows_with_objectness(const float* __restrict__ head, int classes,
                                          int anchors, float conf,
                                          decode::CompactCandidate* out, unsigned* count) {
  const int a = blockIdx.x * blockDim.x + threadIdx.x;
  if (a >= anchors) return;
  const float* row = head + static_cast<std::size_t>(a) * (5 + classes);
  const float objectness = row[4];
  if (!(objectness > conf)) return;
  float best = -INFINITY;
  int best_class = 0;
  for (int c = 0; c < classes; ++c) {
    const float s = __fmul_rn(row[5 + c], objectness);  // rounded alone, never fused
    if (s > best) {
      best = s;
      best_class = c;
    }
  }
  if (!(best > conf)) return;
  const unsigned k = atomicAdd(count, 1u);
  decode::CompactCandidate record;
  record.cx = row[0];
  record.cy = row[1];
  record.w = row[2];
  record.h = row[3];
  record.score = best;
  record.anchor = a;
  record.class_id = best_class;
  record.unused = 0;
  out[k] = record;
}

}  // namespace

void launch_head_scan(const HeadScan& scan, decode::CompactCandidate* out, unsigned* count,
                      cudaStream_t stream) {
  TRTPIPE_CUDA_CHECK(cudaMemsetAsync(count, 0, sizeof(unsigned), stream),
                     "zeroing the candidate count of the head scan");
  if (scan.anchors <= 0) return;
  const int blocks = (scan.anchors + kThreads - 1) / kThreads;
  if (scan.objectness) {
    scan_rows_with_objectness<<<blocks, kThreads, 0, stream>>>(scan.head, scan.classes,
                                                               scan.anchors, scan.conf, out, count);
  } else {
    scan_head<<<blocks, kThreads, 0, stream>>>(scan.head, scan.classes, scan.anchors, scan.conf,
                                                out, count);
  }
  TRTPIPE_CUDA_CHECK(cudaGetLastError(), "launching the head scan");
}

}  // namespace trtpipe::pipeline

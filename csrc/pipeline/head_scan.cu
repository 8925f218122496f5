#include "pipeline/head_scan.hpp"

#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <string>

#include "common/cuda_check.hpp"
#include "common/errors.hpp"

namespace trtpipe::pipeline {
namespace {

constexpr int kThreads = 256;

// Appends anchor `a`'s record to its row's list: the box's cx, cy, w, h are `box[0]`,
// `box[stride]`, `box[2 * stride]`, `box[3 * stride]` (channels apart in YOLOv8's layout,
// adjacent in YOLOv5's).
__device__ __forceinline__ void append_candidate(const float* box, std::size_t stride,
                                                 float score, int a, int class_id,
                                                 decode::CompactCandidate* out,
                                                 unsigned* count) {
  const unsigned k = atomicAdd(count, 1u);
  decode::CompactCandidate record;
  record.cx = box[0];
  record.cy = box[stride];
  record.w = box[2 * stride];
  record.h = box[3 * stride];
  record.score = score;
  record.anchor = a;
  record.class_id = class_id;
  record.unused = 0;
  out[k] = record;
}

// One thread per anchor, one grid row (blockIdx.y) per batch row. Classes are visited in order
// and a score replaces the best only when greater, so the first class reaching the maximum wins
// and a NaN score never does, as in the CPU scan (csrc/decode/candidates.cpp).
__global__ void scan_head(const float* __restrict__ head, int classes, int anchors, float conf,
                          decode::CompactCandidate* out, unsigned* count) {
  const int a = blockIdx.x * blockDim.x + threadIdx.x;
  if (a >= anchors) return;
  const std::size_t n = static_cast<std::size_t>(anchors);
  const std::size_t row = blockIdx.y;
  head += row * (4 + static_cast<std::size_t>(classes)) * n;
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
  append_candidate(head + a, n, best, a, best_class, out + row * n, count + row);
}

// YOLOv5: one thread per anchor row, one grid row (blockIdx.y) per batch row. As the CPU scan:
// an anchor whose objectness does not pass `conf` is skipped, the score is class score x
// objectness per class, the first class reaching the maximum wins.
__global__ void scan_rows_with_objectness(const float* __restrict__ head, int classes,
                                          int anchors, float conf,
                                          decode::CompactCandidate* out, unsigned* count) {
  const int a = blockIdx.x * blockDim.x + threadIdx.x;
  if (a >= anchors) return;
  const std::size_t n = static_cast<std::size_t>(anchors);
  const std::size_t batch_row = blockIdx.y;
  const std::size_t channels = 5 + static_cast<std::size_t>(classes);
  const float* row = head + (batch_row * n + static_cast<std::size_t>(a)) * channels;
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
  append_candidate(row, 1, best, a, best_class, out + batch_row * n, count + batch_row);
}

}  // namespace

void launch_head_scan(const HeadScan& scan, decode::CompactCandidate* out, unsigned* count,
                      cudaStream_t stream) {
  if (scan.batch < 1 || scan.batch > kMaxScanBatch) {
    throw InputError("head scan: expected 1.." + std::to_string(kMaxScanBatch) +
                     " batch rows, given " + std::to_string(scan.batch));
  }
  TRTPIPE_CUDA_CHECK(cudaMemsetAsync(count, 0, sizeof(unsigned) * scan.batch, stream),
                     "zeroing the candidate counts of the head scan");
  if (scan.anchors <= 0) return;
  const dim3 blocks((scan.anchors + kThreads - 1) / kThreads, scan.batch);
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

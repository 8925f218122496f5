#pragma once
// Anchors of a dense head that passed the confidence threshold, as a scan elsewhere (the GPU's,
// csrc/pipeline/head_scan.cu) lists them in any order: each with its box, best score and class.
// Decoding them gives what decode_dense_head gives for the whole head. No CUDA here; the record
// layout is shared with the kernel.
#include <cstdint>

#include "decode/dense_head.hpp"

namespace trtpipe::decode {

struct CompactCandidate {
  float cx, cy, w, h;  // the anchor's box in network pixels
  float score;         // its best class's score
  std::int32_t anchor;
  std::int32_t class_id;  // the first class reaching `score`
  std::int32_t unused;
};
static_assert(sizeof(CompactCandidate) == 32, "eight 4-byte fields, as the kernel writes them");

// Detections of `count` candidates (in any order): ordered best first with equal scores in
// anchor order, then NMS and the mapping, as decode_dense_head does (candidates with a
// non-finite score or box skipped).
Detected decode_compact_candidates(const CompactCandidate* found, std::int64_t count,
                                   const DenseHeadOptions& options, const SourceMapping& mapping);

}  // namespace trtpipe::decode

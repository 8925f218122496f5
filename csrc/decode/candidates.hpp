#pragma once
// The first step of decoding a dense detector head: for every anchor the best class and its
// score, keeping the anchors whose score passes the confidence threshold, best first. One pass
// over the score matrix, the part of decoding that reads the most memory. No CUDA here.
#include <cstdint>
#include <vector>

#include "decode/strided_matrix.hpp"

namespace trtpipe::decode {

// float32 scores of a head: a row per class, a column per anchor.
using ScoreMatrix = StridedMatrix<float>;

// Per-anchor objectness (YOLOv5/v7 heads): a class's score is objectness × its class score.
struct Objectness {
  const float* data = nullptr;  // null: no objectness
  std::int64_t stride = 0;
};

struct Candidates {
  std::vector<std::int64_t> anchor;
  std::vector<float> score;
  std::vector<std::int64_t> class_id;
};

// Anchors whose best score is greater than `conf`, in descending score order (equal scores in
// anchor order). The best class is the first one reaching the anchor's highest score, as
// NumPy's argmax gives; NaN scores never win nor pass.
Candidates best_class_candidates(const ScoreMatrix& scores, float conf,
                                 const Objectness& objectness = {});

// The boxes of the given anchors as x1, y1, x2, y2 in double, from a 4 × anchors matrix of
// cx, cy, w, h rows, written to `out` (count × 4).
void cxcywh_to_xyxy(const ScoreMatrix& boxes, const std::int64_t* anchors, std::int64_t count,
                    double* out);

}  // namespace trtpipe::decode

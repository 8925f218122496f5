#pragma once
// A dense detector head (one row or column per anchor: YOLOv5/v7, YOLOv8/YOLO11) to final
// detections in one call: best class per anchor, threshold, boxes, class-aware NMS and the
// mapping back to source pixels; anchors whose box or score is not finite are skipped. Each
// step is its own file; this one only chains them, so a frame costs one trip from Python. No
// CUDA here.
#include <cstdint>
#include <vector>

#include "decode/candidates.hpp"
#include "decode/source_mapping.hpp"

namespace trtpipe::decode {

struct DenseHead {
  ScoreMatrix scores;      // classes × anchors
  ScoreMatrix boxes;       // 4 × anchors: cx, cy, w, h in network pixels
  Objectness objectness;   // YOLOv5/v7; null data for anchor-free heads
};

struct DenseHeadOptions {
  float conf = 0.25f;          // keep scores greater than this
  double iou = 0.45;           // suppress same-class boxes overlapping more than this
  std::int64_t max_output = 300;  // negative: no limit
  bool agnostic = false;       // NMS across classes
};


struct Detected {
  std::vector<float> boxes;  // count × 4, x1, y1, x2, y2
  std::vector<float> scores;
  std::vector<std::int64_t> class_ids;
};

Detected decode_dense_head(const DenseHead& head, const DenseHeadOptions& options,
                           const SourceMapping& mapping);

// The steps after the threshold: `found` (best first, as best_class_candidates gives them),
// their boxes in `boxes` (cx, cy, w, h of anchor found.anchor[k]), NMS and the mapping.
// Candidates with a non-finite score or box are skipped: never a detection, nor counted
// against max_output.
Detected detections_of(const Candidates& found, const ScoreMatrix& boxes,
                       const DenseHeadOptions& options, const SourceMapping& mapping);

}  // namespace trtpipe::decode

#pragma once
// Greedy non-maximum suppression over boxes already in descending score order. No CUDA here.
#include <cstdint>
#include <vector>

namespace trtpipe::decode {

// K boxes as x1, y1, x2, y2, strides in elements: coordinate j of box i is at
// data[i * box_stride + j * coord_stride].
struct BoxView {
  const double* data = nullptr;
  std::int64_t count = 0;
  std::int64_t box_stride = 0;
  std::int64_t coord_stride = 0;
};

// Positions of the boxes the classic greedy loop keeps: walking the boxes in order, a box is
// kept unless its IoU with a kept box of the same class (any kept box where `class_ids` is
// null) is greater than `iou_threshold`. Stops after `max_output` kept boxes (negative: no
// limit). IoU is computed in double as intersection / union (0 when the union is 0).
std::vector<std::int64_t> greedy_nms(const BoxView& boxes, const std::int64_t* class_ids,
                                     double iou_threshold, std::int64_t max_output);

// The same for boxes in any order: they are visited in descending `scores` order (equal scores
// in input order, NaN scores last, as NumPy's stable argsort of -scores gives); returns the
// input indices of the kept boxes, best first.
std::vector<std::int64_t> greedy_nms_by_score(const BoxView& boxes, const double* scores,
                                              const std::int64_t* class_ids,
                                              double iou_threshold, std::int64_t max_output);

}  // namespace trtpipe::decode

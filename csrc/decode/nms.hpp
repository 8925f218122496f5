#pragma once
// Greedy non-maximum suppression over boxes already in descending score order. No CUDA here.
#include <cstdint>
#include <vector>

#include "decode/strided_matrix.hpp"

namespace trtpipe::decode {

// Boxes as x1, y1, x2, y2: a row per box, a column per coordinate (4).
using BoxView = StridedMatrix<double>;

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

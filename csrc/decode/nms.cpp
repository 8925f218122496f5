#include "decode/nms.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

namespace trtpipe::decode {
namespace {

struct Box {
  double x1, y1, x2, y2, area;
};

// The textbook IoU: clipped intersection over union, 0 for an empty union.
inline double iou(const Box& kept, const Box& other) {
  const double w = std::max(std::min(kept.x2, other.x2) - std::max(kept.x1, other.x1), 0.0);
  const double h = std::max(std::min(kept.y2, other.y2) - std::max(kept.y1, other.y1), 0.0);
  const double inter = w * h;
  const double uni = kept.area + other.area - inter;
  return uni > 0.0 ? inter / uni : 0.0;
}

// Dense group numbers for the class ids, in order of first appearance (one group: agnostic).
// Class ids are usually small: a table then, a hash map otherwise.
std::vector<std::int32_t> groups_of(const std::int64_t* class_ids, std::int64_t n,
                                    std::size_t& count) {
  std::vector<std::int32_t> group(static_cast<std::size_t>(n), 0);
  count = n > 0 ? 1 : 0;
  if (class_ids == nullptr || n == 0) return group;
  const auto [lo, hi] = std::minmax_element(class_ids, class_ids + n);
  constexpr std::int64_t kTable = 1 << 16;
  if (*lo >= 0 && *hi < kTable) {
    std::vector<std::int32_t> number(static_cast<std::size_t>(*hi + 1), -1);
    std::int32_t next = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      std::int32_t& g = number[static_cast<std::size_t>(class_ids[i])];
      if (g < 0) g = next++;
      group[static_cast<std::size_t>(i)] = g;
    }
    count = static_cast<std::size_t>(next);
    return group;
  }
  std::unordered_map<std::int64_t, std::int32_t> number;
  for (std::int64_t i = 0; i < n; ++i) {
    auto found = number.try_emplace(class_ids[i], static_cast<std::int32_t>(number.size()));
    group[static_cast<std::size_t>(i)] = found.first->second;
  }
  count = number.size();
  return group;
}

}  // namespace

std::vector<std::int64_t> greedy_nms(const BoxView& view, const std::int64_t* class_ids,
                                     double iou_threshold, std::int64_t max_output) {
  std::vector<std::int64_t> out;
  const std::int64_t n = view.rows;
  if (n <= 0 || max_output == 0) return out;
  std::vector<Box> boxes(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double* p = view.data + i * view.row_stride;
    Box& b = boxes[static_cast<std::size_t>(i)];
    b.x1 = p[0];
    b.y1 = p[view.col_stride];
    b.x2 = p[2 * view.col_stride];
    b.y2 = p[3 * view.col_stride];
    b.area = std::max(b.x2 - b.x1, 0.0) * std::max(b.y2 - b.y1, 0.0);
  }
  std::size_t group_count = 0;
  const std::vector<std::int32_t> group = groups_of(class_ids, n, group_count);
  // A box is compared with the kept boxes of its class only: that is the greedy loop's answer
  // (later boxes are removed only by kept ones), at a cost of candidates × kept per class.
  std::vector<std::vector<std::int32_t>> kept(group_count);
  for (std::int64_t i = 0; i < n; ++i) {
    const Box& box = boxes[static_cast<std::size_t>(i)];
    std::vector<std::int32_t>& same = kept[static_cast<std::size_t>(group[static_cast<std::size_t>(i)])];
    const bool suppressed = std::any_of(same.begin(), same.end(), [&](std::int32_t k) {
      return iou(boxes[static_cast<std::size_t>(k)], box) > iou_threshold;
    });
    if (suppressed) continue;
    same.push_back(static_cast<std::int32_t>(i));
    out.push_back(i);
    if (max_output > 0 && static_cast<std::int64_t>(out.size()) >= max_output) break;
  }
  return out;
}

std::vector<std::int64_t> greedy_nms_by_score(const BoxView& view, const double* scores,
                                              const std::int64_t* class_ids,
                                              double iou_threshold, std::int64_t max_output) {
  const std::int64_t n = view.rows;
  if (n <= 0 || max_output == 0) return {};
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    const bool a_nan = std::isnan(scores[a]);
    const bool b_nan = std::isnan(scores[b]);
    if (a_nan || b_nan) return !a_nan && b_nan;
    return scores[a] > scores[b];
  });
  std::vector<double> sorted_boxes(static_cast<std::size_t>(4 * n));
  std::vector<std::int64_t> sorted_classes(class_ids != nullptr ? static_cast<std::size_t>(n) : 0);
  for (std::int64_t k = 0; k < n; ++k) {
    const double* p = view.data + order[static_cast<std::size_t>(k)] * view.row_stride;
    for (int j = 0; j < 4; ++j) {
      sorted_boxes[static_cast<std::size_t>(4 * k + j)] = p[j * view.col_stride];
    }
    if (class_ids != nullptr) {
      sorted_classes[static_cast<std::size_t>(k)] = class_ids[order[static_cast<std::size_t>(k)]];
    }
  }
  const BoxView sorted{sorted_boxes.data(), n, 4, 4, 1};
  std::vector<std::int64_t> kept = greedy_nms(
      sorted, class_ids != nullptr ? sorted_classes.data() : nullptr, iou_threshold, max_output);
  for (std::int64_t& k : kept) k = order[static_cast<std::size_t>(k)];
  return kept;
}

}  // namespace trtpipe::decode

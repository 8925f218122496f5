#include "decode/dense_head.hpp"

#include <algorithm>
#include <cmath>

#include "decode/nms.hpp"

namespace trtpipe::decode {

Detected decode_dense_head(const DenseHead& head, const DenseHeadOptions& options,
                           const SourceMapping& mapping) {
  return detections_of(best_class_candidates(head.scores, options.conf, head.objectness),
                       head.boxes, options, mapping);
}

Detected detections_of(const Candidates& found, const ScoreMatrix& boxes,
                       const DenseHeadOptions& options, const SourceMapping& mapping) {
  Detected out;
  const auto count = static_cast<std::int64_t>(found.anchor.size());
  if (count == 0 || options.max_output == 0) return out;
  std::vector<double> xyxy(static_cast<std::size_t>(4 * count));
  cxcywh_to_xyxy(boxes, found.anchor.data(), count, xyxy.data());
  // A candidate whose score or box is not finite (a NaN or an overflow in the model's output)
  // is never a detection. Every dense-head decode passes here, the CPU scan's candidates and
  // the GPU head scan's alike, so this is the one place the rule is applied; it runs before
  // NMS, where such a box would neither suppress nor be suppressed and would take a slot.
  std::vector<std::int64_t> source;  // position in `found` of each usable candidate
  std::vector<std::int64_t> class_ids;
  source.reserve(static_cast<std::size_t>(count));
  class_ids.reserve(static_cast<std::size_t>(count));
  for (std::int64_t k = 0; k < count; ++k) {
    const double* box = xyxy.data() + 4 * k;
    if (!std::isfinite(found.score[static_cast<std::size_t>(k)]) ||
        !std::all_of(box, box + 4, [](double v) { return std::isfinite(v); })) {
      continue;
    }
    // compacted in place: the usable candidates come first, in their order
    std::copy(box, box + 4, xyxy.data() + 4 * static_cast<std::int64_t>(source.size()));
    source.push_back(k);
    class_ids.push_back(found.class_id[static_cast<std::size_t>(k)]);
  }
  if (source.empty()) return out;
  const BoxView view{xyxy.data(), static_cast<std::int64_t>(source.size()), 4, 4, 1};
  const std::vector<std::int64_t> kept = greedy_nms(
      view, options.agnostic ? nullptr : class_ids.data(), options.iou, options.max_output);
  out.boxes.reserve(4 * kept.size());
  out.scores.reserve(kept.size());
  out.class_ids.reserve(kept.size());
  for (std::int64_t k : kept) {
    const double* box = xyxy.data() + 4 * k;
    for (int j = 0; j < 4; ++j) out.boxes.push_back(static_cast<float>(to_source(mapping, j, box[j])));
    const auto usable = static_cast<std::size_t>(k);
    out.scores.push_back(found.score[static_cast<std::size_t>(source[usable])]);
    out.class_ids.push_back(class_ids[usable]);
  }
  return out;
}

}  // namespace trtpipe::decode
